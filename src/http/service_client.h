// Calls from a role process to another SecPlat process's API with an API key (the trust gate,
// the API's /internal routes): JSON in, JSON object out, failures mapped so callers can tell
// "try again" from "refused".
//
// Transport failures, timeouts, 408, 429 and 5xx are Errc::unavailable; 401/403 Errc::forbidden;
// 404 Errc::not_found; 409 Errc::conflict; other non-2xx Errc::bad_request with the server's `detail`; a 2xx answer
// that is not a JSON object Errc::unavailable. Messages name `what` and the host, never the key.
//
// Threading: thread-safe (one request per call; connections to the server are kept open and reused).
#pragma once

#include <memory>
#include <string>

#include "core/error.h"
#include "core/json.h"
#include "http/client.h"

namespace secplat::http {

class ServiceClient {
 public:
  ServiceClient(std::string what, std::string base_url, std::string api_key, long timeout_ms = 30000);
  Result<Json> call(const std::string& method, const std::string& path, const Json* body = nullptr) const;
  Result<Json> post(const std::string& path, const Json& body) const { return call("POST", path, &body); }
  const std::string& base_url() const { return base_url_; }

 private:
  std::string what_;
  std::string base_url_;
  std::string api_key_;
  long timeout_ms_;
  // Keep-alive to the one server this client calls (shared by copies of the client).
  std::shared_ptr<ConnectionPool> connections_ = std::make_shared<ConnectionPool>();
};

}  // namespace secplat::http
