#include "assurance/http_upload_gate.h"

#include "http/client.h"

namespace secplat::assurance {

HttpUploadGate::HttpUploadGate(std::string base_url, std::string api_key, long timeout_ms)
    : base_url_(std::move(base_url)), api_key_(std::move(api_key)), timeout_ms_(timeout_ms) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

Result<Json> HttpUploadGate::post(const std::string& path, const Json& body) {
  http::ClientRequest req;
  req.method = "POST";
  req.url = base_url_ + path;
  req.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
  if (!api_key_.empty()) req.headers.emplace_back("Authorization", "Bearer " + api_key_);
  req.body = body.dump();
  req.timeout_ms = timeout_ms_;
  auto resp = http::perform(req);
  const std::string host = http::url_host(base_url_);
  if (!resp) return Error::unavailable("trust gate " + host + ": " + resp.error().message);
  Json reply = Json::parse(resp->body, nullptr, false);
  // Our error envelope repeats the message as "detail".
  std::string message;
  if (reply.is_object() && reply.contains("detail") && reply["detail"].is_string()) message = reply["detail"];
  if (resp->status == 401 || resp->status == 403)
    return Error::forbidden("trust gate " + host + " refused the request (" + std::to_string(resp->status) + "): " + message);
  if (resp->status >= 500 || resp->status == 429 || resp->status == 408)
    return Error::unavailable("trust gate " + host + " answered " + std::to_string(resp->status));
  if (resp->status < 200 || resp->status >= 300)
    return Error::bad_request("trust gate " + host + " answered " + std::to_string(resp->status) + ": " + message);
  if (!reply.is_object()) return Error::unavailable("trust gate " + host + " answered with something that is not JSON");
  return reply;
}

Result<Json> HttpUploadGate::verify_and_permit(const Json& request) {
  return post("/v1/verify-and-permit-upload", request);
}

Status HttpUploadGate::redeem(const std::string& permit, const std::string& scan_id,
                              const std::map<std::string, std::string>& digests, const std::string& redeemed_by) {
  Json d = Json::object();
  for (const auto& [k, v] : digests) d[k] = v;
  auto r = post("/v1/permits/redeem", {{"permit", permit}, {"scan_id", scan_id}, {"digests", d}, {"redeemed_by", redeemed_by}});
  if (!r) return std::move(r).take_error();
  return ok_status();
}

}  // namespace secplat::assurance
