// Fetches a manifest (or its signature) from an http(s) URI: the host must be on the configured
// allow-list, the connection goes through the SSRF guard at socket open (so a name that resolves
// to a metadata or, unless allowed, a private address is refused), no redirects, no proxies,
// a size cap and a whole-request timeout. Blocking; run it on a worker thread, never an I/O one.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "core/net_guard.h"

namespace secplat::assurance {

struct HttpFetchPolicy {
  std::vector<std::string> allowed_hosts;  // exact host names (case-insensitive); empty = none
  NetPolicy net;
  std::size_t max_bytes = 1 << 20;
  int timeout_s = 10;
};

// From assurance.manifest_http_hosts, manifest_allow_private and manifest_fetch_timeout_s.
HttpFetchPolicy manifest_http_policy(const AssuranceConfig& config);

// The host part of an http(s) URL in lower case ("" if it has none): no user info, port or
// brackets. Used for the allow-list check at submit time and before the fetch.
std::string http_url_host(const std::string& url);

// "" if `url` (http or https) names an allowed host, else the reason, naming `field`.
std::string http_host_refusal(const std::string& field, const std::string& url, const HttpFetchPolicy& policy);

// GET `url`. Errors (Errc::bad_request) name `what` and the cause: not allowed, refused address,
// timeout, HTTP status other than 200, larger than max_bytes, TLS or connection failure.
Result<std::string> fetch_http_text(const std::string& url, const std::string& what, const HttpFetchPolicy& policy);

}  // namespace secplat::assurance
