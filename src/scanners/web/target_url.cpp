#include "scanners/web/target_url.h"

#include <arpa/inet.h>
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>

namespace secplat::scanners::web {
namespace {

constexpr std::size_t kMaxUrlLength = 2048;

struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};

// One part of a parsed URL, or "" when it is absent.
std::string part(CURLU* u, CURLUPart what) {
  char* value = nullptr;
  if (curl_url_get(u, what, &value, 0) != CURLUE_OK || value == nullptr) return {};
  std::string out(value);
  curl_free(value);
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

Error invalid(const std::string& why) { return Error::bad_request("invalid URL: " + why); }

}  // namespace

std::string TargetUrl::bare_host() const {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') return host.substr(1, host.size() - 2);
  return host;
}

bool TargetUrl::host_is_ip_literal() const {
  const std::string h = bare_host();
  unsigned char buf[16];
  if (h.find(':') != std::string::npos) {
    const std::string addr = h.substr(0, h.find('%'));
    return inet_pton(AF_INET6, addr.c_str(), buf) == 1;
  }
  return inet_pton(AF_INET, h.c_str(), buf) == 1;
}

std::string TargetUrl::origin() const {
  std::string out = scheme + "://" + host;
  if (explicit_port) out += ":" + std::to_string(port);
  return out;
}

std::string redact_query(std::string_view url) {
  const auto q = url.find('?');
  if (q == std::string_view::npos) return std::string(url);
  std::string out(url.substr(0, q + 1));
  std::string_view rest = url.substr(q + 1);
  const auto hash = rest.find('#');
  rest = rest.substr(0, hash);
  bool first = true;
  while (true) {
    const auto amp = rest.find('&');
    const std::string_view param = rest.substr(0, amp);
    if (!first) out += '&';
    first = false;
    const auto eq = param.find('=');
    out += eq == std::string_view::npos ? std::string(param) : std::string(param.substr(0, eq)) + "=***";
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return out;
}

Result<TargetUrl> parse_target_url(std::string_view text, bool allow_path) {
  if (text.empty()) return invalid("empty");
  if (text.size() > kMaxUrlLength) return invalid("longer than 2048 characters");
  for (unsigned char c : text)
    if (c <= 0x20 || c >= 0x7F) return invalid("contains spaces, control or non-ASCII characters");

  std::unique_ptr<CURLU, UrlDeleter> u(curl_url());
  if (!u) return Error::internal("out of memory");
  const std::string s(text);
  if (curl_url_set(u.get(), CURLUPART_URL, s.c_str(), 0) != CURLUE_OK) return invalid("'" + s + "' cannot be parsed");

  TargetUrl t;
  t.scheme = lower(part(u.get(), CURLUPART_SCHEME));
  if (t.scheme != "http" && t.scheme != "https") return invalid("only http and https are supported");
  // "scheme://" must be spelled out: curl would otherwise guess a scheme for "example.com".
  if (lower(s.substr(0, t.scheme.size() + 3)) != t.scheme + "://") return invalid("must start with http:// or https://");
  const std::size_t authority_end = std::min(s.find_first_of("/?#", t.scheme.size() + 3), s.size());
  if (!part(u.get(), CURLUPART_USER).empty() || !part(u.get(), CURLUPART_PASSWORD).empty() ||
      s.substr(0, authority_end).find('@') != std::string::npos)
    return invalid("user information is not allowed");
  t.host = lower(part(u.get(), CURLUPART_HOST));
  if (t.host.empty()) return invalid("no host");
  if (!part(u.get(), CURLUPART_ZONEID).empty()) return invalid("IPv6 zone ids are not allowed");

  const std::string port = part(u.get(), CURLUPART_PORT);
  if (!port.empty()) {
    t.explicit_port = true;
    t.port = std::stoi(port);  // curl has checked it is a number in 0..65535
    if (t.port <= 0) return invalid("port 0");
  } else {
    t.port = t.https() ? 443 : 80;
  }

  std::string path = part(u.get(), CURLUPART_PATH);
  if (path.empty()) path = "/";
  const std::string query = part(u.get(), CURLUPART_QUERY);
  if (!allow_path && (path != "/" || !query.empty()))
    return invalid("expected scheme://host[:port] without a path or query");
  t.path = query.empty() ? path : path + "?" + query;
  return t;
}

}  // namespace secplat::scanners::web
