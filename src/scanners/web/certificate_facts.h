// What a server's certificate says, judged independently of the connection it came from: names,
// validity window, self-signature, whether it chains to a trust anchor (time ignored, so an
// expired certificate from a trusted CA is "trusted" here and reported as expired instead), and
// whether it is valid for the host. Internal to secplat_web_checks. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace secplat::scanners::web {

struct CertificateFacts {
  bool present = false;            // false: no parseable leaf certificate
  std::string subject;             // RFC 2253, e.g. "CN=localhost"
  std::string issuer;
  std::vector<std::string> names;  // subjectAltName DNS names and IPs (the CN without a SAN)
  int64_t not_before_ms = 0;
  int64_t not_after_ms = 0;
  bool self_signed = false;
  bool chain_trusted = false;      // chains to the system store or ca_file (time not checked)
  std::string trust_error;         // OpenSSL's reason when !chain_trusted
  bool host_matches = false;       // valid for `host` (DNS name or IP literal, no brackets)
};

// chain_der: DER certificates, leaf first, as the server sent them.
CertificateFacts inspect_certificate(const std::vector<std::string>& chain_der, const std::string& host,
                                     const std::optional<std::string>& ca_file);

}  // namespace secplat::scanners::web
