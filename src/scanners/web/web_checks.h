// Active web checks for scan jobs: web_exposure (security headers, banners, exposed files,
// directory listings), tls_headers (protocol, certificate, HSTS) and health_http (availability).
//
// Every request goes through the SSRF guard (core/net_guard.h) at socket open, after name
// resolution, so a name that resolves or re-binds to a refused address is never contacted.
// Redirects are never followed; a redirect is reported as what it is. Proxies from the
// environment are ignored. Bodies are read up to 64 KiB and never copied into findings.
//
// Findings carry a deterministic key, so a re-run updates the same findings and the caller can
// remediate the ones a complete run no longer produces:
//   finding_key = first 32 hex chars of sha256("<asset_key>:<category>:<title>:<detail>")
// where title is a fixed string per kind of finding (numbers and values go to evidence) and
// detail names the instance (a header or a path; "" when there is one per target).
//
// Threading: the functions are blocking (at most max_requests requests of timeout_ms each) and
// keep all state on the stack; call them from worker threads, any number at once.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/net_guard.h"

namespace secplat::scanners::web {

struct WebFinding {
  std::string finding_key;  // see finding_key() below
  std::string category;     // security_headers | exposure | tls | transport | banner | availability
  std::string title;
  std::string severity;     // critical | high | medium | low | info
  std::string confidence = "high";
  std::string evidence;     // short, never a response body dump; no secret values
  std::string remediation;
  std::string source;       // "web_exposure" | "tls_headers" | "health_http"
};

struct CheckOptions {
  NetPolicy net;
  int timeout_ms = 8000;    // per request (whole transfer)
  int max_requests = 40;    // hard cap per call; checks beyond it are skipped (and inconclusive)
  std::string user_agent = "secplat-webscan/1";
  // An extra trust anchor (PEM file) on top of the system store, e.g. a test or internal CA.
  std::optional<std::string> ca_file;
};

struct CheckResult {
  std::vector<WebFinding> findings;
  // Human log lines, one per step: "GET https://x/ -> 200 in 12 ms".
  std::vector<std::string> log;
  // Non-empty when the target could not be checked at all (invalid URL, refused address,
  // unreachable); then findings are empty and nothing may be concluded from their absence.
  std::string error;
  bool retryable = false;   // timeout/refused/DNS vs refused by policy/invalid URL/untrusted TLS
  // Keys of findings this run could not decide (a check was skipped or its request failed, e.g.
  // the request budget ran out or the root answered with a redirect). A caller that remediates
  // absent findings must leave these alone: their absence proves nothing.
  std::vector<std::string> inconclusive_keys;
};

// base_url: "https://host[:port]" or "http://host[:port]" (a trailing "/" is fine; a path,
// query, fragment or user information is an invalid URL). asset_key is used in finding keys.
CheckResult web_exposure(const std::string& asset_key, const std::string& base_url, const CheckOptions& o);
CheckResult tls_headers(const std::string& asset_key, const std::string& base_url, const CheckOptions& o);
// url: any http(s) URL with an optional path and query. One GET; an "Endpoint unavailable"
// finding when it fails (timeout, refused, dns, tls, or an HTTP status >= 400), else none.
CheckResult health_http(const std::string& asset_key, const std::string& url, const CheckOptions& o);

// The deterministic key described above.
std::string finding_key(std::string_view asset_key, std::string_view category, std::string_view title,
                        std::string_view detail);

}  // namespace secplat::scanners::web
