#include "http/service_client.h"

#include "http/client.h"

namespace secplat::http {

ServiceClient::ServiceClient(std::string what, std::string base_url, std::string api_key, long timeout_ms)
    : what_(std::move(what)), base_url_(std::move(base_url)), api_key_(std::move(api_key)), timeout_ms_(timeout_ms) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

Result<Json> ServiceClient::call(const std::string& method, const std::string& path, const Json* body) const {
  ClientRequest req;
  req.method = method;
  req.url = base_url_ + path;
  req.headers = {{"Accept", "application/json"}};
  if (body) {
    req.headers.emplace_back("Content-Type", "application/json");
    req.body = body->dump();
  }
  if (!api_key_.empty()) req.headers.emplace_back("Authorization", "Bearer " + api_key_);
  req.timeout_ms = timeout_ms_;
  auto resp = perform(req, connections_.get());
  const std::string who = what_ + " " + url_host(base_url_);
  if (!resp) return Error::unavailable(who + ": " + resp.error().message);
  Json reply = Json::parse(resp->body, nullptr, false);
  // Our error envelope repeats the message as "detail".
  std::string message;
  if (reply.is_object() && reply.contains("detail") && reply["detail"].is_string()) message = reply["detail"];
  const std::string code = std::to_string(resp->status);
  if (resp->status == 401 || resp->status == 403)
    return Error::forbidden(who + " refused the request (" + code + "): " + message);
  if (resp->status >= 500 || resp->status == 429 || resp->status == 408)
    return Error::unavailable(who + " answered " + code);
  if (resp->status == 404) return Error::not_found(who + " answered 404: " + message);
  if (resp->status == 409) return Error::conflict(who + " answered 409: " + message);
  if (resp->status < 200 || resp->status >= 300) return Error::bad_request(who + " answered " + code + ": " + message);
  if (!reply.is_object()) return Error::unavailable(who + " answered with something that is not JSON");
  return reply;
}

}  // namespace secplat::http
