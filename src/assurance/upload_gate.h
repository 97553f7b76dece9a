// The port through which publishing reaches the trust gate (trust/trust_gate.h): in-process in
// `serve`, over HTTP to a `secplat trust` role otherwise (assurance/http_upload_gate.h).
//
// Fail closed: an adapter that cannot get an answer returns Errc::unavailable, and the caller
// publishes nothing.
// Threading: implementations are thread-safe.
#pragma once

#include <map>
#include <string>

#include "core/error.h"
#include "core/json.h"

namespace secplat::assurance {

class UploadGate {
 public:
  virtual ~UploadGate() = default;
  // The gate's reply to POST /v1/verify-and-permit-upload (permitted or denied).
  virtual Result<Json> verify_and_permit(const Json& request) = 0;
  // Redeems a permit for this scan and exactly these digests (path -> sha256 hex), once.
  // Errc::forbidden with the reason when the gate refuses it.
  virtual Status redeem(const std::string& permit, const std::string& scan_id,
                        const std::map<std::string, std::string>& digests, const std::string& redeemed_by) = 0;
};

}  // namespace secplat::assurance
