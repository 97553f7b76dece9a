// UploadGate over HTTP: a `secplat trust` role at `base_url` (trust.url), authenticated with an
// API key (trust.api_key). Transport failures, timeouts and 5xx answers are Errc::unavailable
// (fail closed); 401/403 are Errc::forbidden (http/service_client.h).
// Threading: thread-safe.
#pragma once

#include <string>

#include "assurance/upload_gate.h"
#include "http/service_client.h"

namespace secplat::assurance {

class HttpUploadGate final : public UploadGate {
 public:
  HttpUploadGate(std::string base_url, std::string api_key, long timeout_ms = 30000);
  Result<Json> verify_and_permit(const Json& request) override;
  Status redeem(const std::string& permit, const std::string& scan_id,
                const std::map<std::string, std::string>& digests, const std::string& redeemed_by) override;

 private:
  Result<Json> post(const std::string& path, const Json& body);
  http::ServiceClient client_;
};

}  // namespace secplat::assurance
