// Parsing and validation of the URL a web check is pointed at. Internal to secplat_web_checks.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace secplat::scanners::web {

struct TargetUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // lower case; an IPv6 literal keeps its brackets ("[::1]")
  int port = 0;        // the explicit port, else 80/443
  bool explicit_port = false;
  std::string path = "/";  // path and query, always starting with '/'

  bool https() const { return scheme == "https"; }
  // The host without IPv6 brackets: what certificates and the SSRF guard are checked against.
  std::string bare_host() const;
  bool host_is_ip_literal() const;
  // "scheme://host[:port]" with the port only when it was given.
  std::string origin() const;
  // origin() + path; `path` must start with '/'.
  std::string with_path(std::string_view p) const { return origin() + std::string(p); }
  std::string url() const { return with_path(path); }
};

// `url` with every query value replaced by "***" (query strings may carry tokens), for log lines
// and evidence: "https://h/health?token=***&deep=***".
std::string redact_query(std::string_view url);

// http(s) URLs only; no user information, no control characters or spaces. With
// allow_path=false (a base URL) only an empty path or "/" is accepted. A fragment is dropped.
// Errors are Errc::bad_request with a message naming the problem.
Result<TargetUrl> parse_target_url(std::string_view text, bool allow_path);

}  // namespace secplat::scanners::web
