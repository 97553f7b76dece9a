// Offline verification of a scan bundle directory against the instance's public key
// (what `secplat verify BUNDLE --key signing.pub` runs).
// Threading: no shared state; the bundle must not change while it is checked.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace secplat::assurance {

struct BundleReport {
  bool ok = false;             // true iff problems is empty
  int64_t files_checked = 0;   // attested files found on disk with the attested sha256
  std::vector<std::string> problems;  // one line each, naming the file concerned
};

// Checks, reporting every failure rather than stopping at the first:
//  * reports/signing/attestation.intoto.json is a DSSE envelope of an in-toto Statement v1
//    signed by public_pem (if not, nothing else is checked: unsigned subjects prove nothing);
//  * every subject names a path inside the dir whose file has that sha256;
//  * every regular file of the bundle (except the attestation) is a subject; symlinks and
//    special files are problems;
//  * manifest.sig, when present, is a valid signature of manifest.json by public_pem.
// Errors (not problems): Errc::not_found when bundle_dir is not a directory; Errc::bad_request
// "not a P-256 public key".
Result<BundleReport> verify_bundle(const std::string& bundle_dir, std::string_view public_pem);

}  // namespace secplat::assurance
