#include "posture/probe/http_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>
#include <mutex>
#include <string_view>

#include "core/clock.h"

namespace secplat::posture {
namespace {

constexpr int kMaxConnectMs = 2000;
constexpr int kDefaultTimeoutMs = 5000;
// Credentials shorter than this are not scrubbed from error text: replacing every "a" of a
// message would garble it, and curl's messages name hosts, not user information.
constexpr std::size_t kMinScrubbed = 3;

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string sockaddr_text(const sockaddr* a) {
  char text[INET6_ADDRSTRLEN] = {};
  if (a->sa_family == AF_INET) {
    sockaddr_in sin{};
    std::memcpy(&sin, a, sizeof sin);
    inet_ntop(AF_INET, &sin.sin_addr, text, sizeof text);
  } else if (a->sa_family == AF_INET6) {
    sockaddr_in6 sin6{};
    std::memcpy(&sin6, a, sizeof sin6);
    inet_ntop(AF_INET6, &sin6.sin6_addr, text, sizeof text);
  }
  return text;
}

const char* error_class_of(CURLcode rc) {
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return "timeout";
    case CURLE_COULDNT_CONNECT:
      return "refused";
    case CURLE_COULDNT_RESOLVE_HOST:
      return "dns";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
      return "tls";
    default:
      return "error";
  }
}

std::string ranges_text(const std::vector<std::pair<int, int>>& ranges) {
  std::string out;
  for (const auto& [lo, hi] : ranges) {
    if (!out.empty()) out += ", ";
    out += std::to_string(lo);
    if (hi != lo) out += "-" + std::to_string(hi);
  }
  return out;
}

}  // namespace

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

ProbeSpec prepare_probe(ProbeTarget target) {
  ProbeSpec spec;
  spec.redacted_url = target.url;
  // scheme://[userinfo@]host... — the authority ends at the first '/', '?' or '#'.
  const auto scheme_end = target.url.find("://");
  if (scheme_end != std::string::npos) {
    const std::size_t auth_begin = scheme_end + 3;
    const std::size_t auth_end = std::min(target.url.find_first_of("/?#", auth_begin), target.url.size());
    const std::string_view authority = std::string_view(target.url).substr(auth_begin, auth_end - auth_begin);
    const auto at = authority.rfind('@');
    if (at != std::string_view::npos) {
      const std::string_view userinfo = authority.substr(0, at);
      std::vector<std::string> parts{std::string(userinfo)};
      const auto colon = userinfo.find(':');
      parts.emplace_back(userinfo.substr(0, colon));
      if (colon != std::string_view::npos) parts.emplace_back(userinfo.substr(colon + 1));
      for (const auto& p : std::vector<std::string>(parts)) parts.push_back(percent_decode(p));
      for (auto& p : parts)
        if (p.size() >= kMinScrubbed) spec.secrets.push_back(std::move(p));
      // Longest first, so a secret that contains another is scrubbed whole.
      std::sort(spec.secrets.begin(), spec.secrets.end(),
                [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
      spec.redacted_url = target.url.substr(0, auth_begin) + "***" + target.url.substr(auth_begin + at);
    }
  }
  spec.target = std::move(target);
  return spec;
}

HttpProbe::HttpProbe(std::shared_ptr<const ProbeSpec> spec, const ProberOptions& options)
    : spec_(std::move(spec)), options_(options) {}

std::string HttpProbe::configure(CURL* easy, CURLSH* share) {
  easy_ = easy;
  started_ms_ = SystemClock().now_ms();
  started_steady_ms_ = steady_ms();
  const ProbeTarget& t = spec_->target;
  if (t.url.empty()) return "no URL to probe";
  const bool head = t.method == "HEAD" || t.method == "head";
  if (!head && t.method != "GET" && t.method != "get") return "unsupported probe method '" + t.method + "'";

  const long timeout_ms = t.timeout_ms > 0 ? t.timeout_ms : kDefaultTimeoutMs;
  curl_easy_setopt(easy, CURLOPT_URL, t.url.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_PROXY, "");  // ignore http_proxy & co.: the guard must see the target
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  // Abandon a pending name lookup at once when a probe is aborted (stop(), removed target).
  curl_easy_setopt(easy, CURLOPT_QUICK_EXIT, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, std::min<long>(kMaxConnectMs, timeout_ms));
  curl_easy_setopt(easy, CURLOPT_DNS_CACHE_TIMEOUT, static_cast<long>(options_.dns_cache_seconds));
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (share != nullptr) curl_easy_setopt(easy, CURLOPT_SHARE, share);
  if (head) curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &HttpProbe::open_socket);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, this);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &HttpProbe::on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &HttpProbe::on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer_);
  return {};
}

curl_socket_t HttpProbe::open_socket(void* self_ptr, curlsocktype purpose, curl_sockaddr* address) {
  auto* self = static_cast<HttpProbe*>(self_ptr);
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  std::string why = refused_address_reason(&address->addr, self->options_.net);
  if (!why.empty()) {
    if (self->refused_reason_.empty()) {
      self->refused_reason_ = std::move(why);
      self->refused_ip_ = sockaddr_text(&address->addr);
    }
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

size_t HttpProbe::on_header(char*, size_t size, size_t n, void* self_ptr) {
  auto* self = static_cast<HttpProbe*>(self_ptr);
  // The first header line means the TLS handshake is done and the connection is still ours.
  if (!self->tls_captured_) self->capture_tls();
  return size * n;
}

size_t HttpProbe::on_body(char* data, size_t size, size_t n, void* self_ptr) {
  auto* self = static_cast<HttpProbe*>(self_ptr);
  const std::size_t len = size * n;
  const std::size_t take = std::min(len, kMaxProbeBody - self->body_bytes_);
  const auto& kw = self->spec_->target.keyword;
  if (kw && !self->keyword_found_ && take > 0) {
    const std::string_view chunk(data, take);
    const std::size_t keep = kw->empty() ? 0 : kw->size() - 1;
    if (!self->keyword_tail_.empty()) {
      const std::string seam = self->keyword_tail_ + std::string(chunk.substr(0, keep));
      self->keyword_found_ = seam.find(*kw) != std::string::npos;
    }
    if (!self->keyword_found_) self->keyword_found_ = chunk.find(*kw) != std::string_view::npos;
    if (chunk.size() >= keep) {
      self->keyword_tail_.assign(chunk.substr(chunk.size() - keep));
    } else {
      self->keyword_tail_ += chunk;
      if (self->keyword_tail_.size() > keep) self->keyword_tail_.erase(0, self->keyword_tail_.size() - keep);
    }
  }
  self->body_bytes_ += take;
  if (take < len) {
    self->body_cut_ = true;
    return 0;  // stop reading: CURLE_WRITE_ERROR, judged as a complete response
  }
  return len;
}

void HttpProbe::capture_tls() {
  tls_captured_ = true;
  curl_tlssessioninfo* info = nullptr;
  if (curl_easy_getinfo(easy_, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || info == nullptr ||
      info->backend != CURLSSLBACKEND_OPENSSL || info->internals == nullptr)
    return;
  SSL* ssl = static_cast<SSL*>(info->internals);
  tls_version_ = SSL_get_version(ssl);
  if (X509* cert = SSL_get0_peer_certificate(ssl)) {
    std::tm tm{};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1) cert_not_after_ms_ = int64_t{timegm(&tm)} * 1000;
  }
}

std::string HttpProbe::scrub(std::string text) const {
  for (const auto& secret : spec_->secrets) {
    for (auto pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos + 3))
      text.replace(pos, secret.size(), "***");
  }
  return text;
}

ProbeResult HttpProbe::base_result() const {
  ProbeResult r;
  r.asset_key = spec_->target.asset_key;
  r.url = spec_->redacted_url;
  r.started_ms = started_ms_;
  return r;
}

ProbeResult HttpProbe::failed(const std::string& message) const {
  ProbeResult r = base_result();
  r.error_class = "error";
  r.error = scrub(message);
  return r;
}

ProbeResult HttpProbe::finish(CURLcode rc) {
  ProbeResult r = base_result();
  curl_off_t total_us = 0;
  if (curl_easy_getinfo(easy_, CURLINFO_TOTAL_TIME_T, &total_us) == CURLE_OK && total_us > 0)
    r.latency_ms = (total_us + 500) / 1000;
  else
    r.latency_ms = std::max<int64_t>(0, steady_ms() - started_steady_ms_);
  long code = 0;
  curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &code);
  r.code = static_cast<int>(code);
  char* ip = nullptr;
  if (curl_easy_getinfo(easy_, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip != nullptr && *ip != '\0')
    r.remote_ip = ip;
  else if (!refused_ip_.empty())
    r.remote_ip = refused_ip_;
  r.tls_version = tls_version_;
  r.cert_not_after_ms = cert_not_after_ms_;

  const ProbeTarget& t = spec_->target;
  const bool responded = rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && body_cut_);
  if (!responded) {
    if (rc == CURLE_COULDNT_CONNECT && !refused_reason_.empty()) {
      r.error_class = "forbidden";
      r.error = refused_reason_;
    } else {
      r.error_class = error_class_of(rc);
      r.error = scrub(error_buffer_[0] != '\0' ? error_buffer_ : curl_easy_strerror(rc));
    }
    return r;
  }
  static const std::vector<std::pair<int, int>> kDefaultExpected{{200, 399}};
  const auto& expected = t.expected_status.empty() ? kDefaultExpected : t.expected_status;
  const bool status_ok =
      std::any_of(expected.begin(), expected.end(), [&](const auto& range) {
        return r.code >= range.first && r.code <= range.second;
      });
  if (!status_ok) {
    r.error_class = "http_error";
    r.error = "HTTP status " + std::to_string(r.code) + " is not expected (" + ranges_text(expected) + ")";
    return r;
  }
  if (t.keyword && !keyword_found_) {
    r.error_class = "keyword_missing";
    r.error = body_cut_ ? "keyword not found in the first 1 MiB of the response body"
                        : "keyword not found in the response body";
    return r;
  }
  r.up = true;
  return r;
}

}  // namespace secplat::posture
