// One GET at a time through libcurl with everything a web check needs: the SSRF guard at socket
// open, no redirects, no proxies, http/https only, a per-call request budget, a body cap, the
// negotiated TLS version and the peer's certificate chain, and a log line per request.
// Internal to secplat_web_checks. Not thread-safe: one fetcher per check call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "scanners/web/web_checks.h"

namespace secplat::scanners::web {

struct FetchRequest {
  std::string url;                   // validated by parse_target_url
  std::size_t max_body = 64 * 1024;  // the rest of a longer body is not read (not an error)
  // Certificate/protocol inspection only, never to trust content: no certificate verification,
  // TLS 1.0 and OpenSSL security level 0 allowed, on a fresh connection that is not kept.
  bool inspect_tls = false;
};

struct FetchResult {
  bool sent = false;       // false: not attempted because the request budget is used up
  bool responded = false;  // a response arrived (its body may be cut at max_body)
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case, in order
  std::string body;
  bool body_cut = false;
  int64_t elapsed_ms = 0;
  // When !responded: "forbidden" (SSRF guard), "timeout", "refused", "dns", "tls",
  // "connection" (reset, nothing received), "budget" or "error"; `error` says more.
  std::string error_class;
  std::string error;
  long verify_result = 0;     // OpenSSL X509 verify result of the connection (0 = ok)
  std::string tls_version;    // e.g. "TLSv1.3"; empty for http or without a handshake
  int tls_version_code = 0;   // e.g. TLS1_2_VERSION
  std::vector<std::string> peer_chain_der;  // leaf first; empty without a handshake

  // The first header with this (lower-case) name, or nullptr.
  const std::string* header(std::string_view lower_name) const;
};

class GuardedFetcher {
 public:
  // Log lines are appended to `log`, which must outlive the fetcher.
  GuardedFetcher(const CheckOptions& options, std::vector<std::string>& log);
  ~GuardedFetcher();
  GuardedFetcher(const GuardedFetcher&) = delete;
  GuardedFetcher& operator=(const GuardedFetcher&) = delete;

  FetchResult get(const FetchRequest& request);

  bool budget_left() const { return requests_ < options_.max_requests; }
  int requests() const { return requests_; }

 private:
  struct Easy;
  const CheckOptions& options_;
  std::vector<std::string>& log_;
  std::unique_ptr<Easy> easy_;  // kept across requests so keep-alive connections are reused
  int requests_ = 0;
};

}  // namespace secplat::scanners::web
