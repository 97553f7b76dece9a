// Domain/ownership verification of external_web assets before any active scan (reference §5.6).
//
//   well_known: GET http://<name>/.well-known/secplat-verification.txt (3 s, no redirects, through
//               the SSRF guard); verified iff the answer is 200 and the body holds the asset's token.
//   dns_txt:    a TXT record of <name> contains "secplat-verification=<token>".
//
// Blocking (network I/O up to the timeout): call from a worker thread, never an I/O thread.
#pragma once

#include <string>

#include "core/json.h"
#include "core/net_guard.h"
#include "posture/asset_repo.h"

namespace secplat::posture {

struct VerificationOutcome {
  bool verified = false;
  std::string method;
  Json details = Json::object();  // method, url/host, and error or what was found — never the token
};

// Errc::validation for a method other than well_known/dns_txt or an asset that is not external_web
// or has no token.
Result<VerificationOutcome> verify_ownership(const Asset& asset, const std::string& method, const NetPolicy& net);

}  // namespace secplat::posture
