#include "assurance/http_upload_gate.h"

namespace secplat::assurance {

HttpUploadGate::HttpUploadGate(std::string base_url, std::string api_key, long timeout_ms)
    : client_("trust gate", std::move(base_url), std::move(api_key), timeout_ms) {}

Result<Json> HttpUploadGate::post(const std::string& path, const Json& body) { return client_.post(path, body); }

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
