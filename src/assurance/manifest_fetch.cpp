#include "assurance/manifest_fetch.h"

#include <curl/curl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

namespace secplat::assurance {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Transfer {
  const HttpFetchPolicy* policy = nullptr;
  std::string body;
  bool too_large = false;
  std::string refused;
};

curl_socket_t open_socket(void* self, curlsocktype purpose, curl_sockaddr* address) {
  auto* t = static_cast<Transfer*>(self);
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  std::string why = refused_address_reason(&address->addr, t->policy->net);
  if (!why.empty()) {
    if (t->refused.empty()) t->refused = std::move(why);
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

size_t on_body(char* data, size_t size, size_t n, void* self) {
  auto* t = static_cast<Transfer*>(self);
  const std::size_t len = size * n;
  if (t->body.size() + len > t->policy->max_bytes) {
    t->too_large = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  t->body.append(data, len);
  return len;
}

std::string size_text(std::size_t bytes) {
  if (bytes % (1 << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes % 1024 == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

// "user@host:port" of scheme://user@host:port/path.
std::string authority_of(const std::string& url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return "";
  std::size_t start = scheme_end + 3;
  std::size_t end = url.find_first_of("/?#", start);
  return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

}  // namespace

HttpFetchPolicy manifest_http_policy(const AssuranceConfig& config) {
  HttpFetchPolicy p;
  p.allowed_hosts = config.manifest_http_hosts;
  p.net.allow_private = config.manifest_allow_private;
  p.timeout_s = config.manifest_fetch_timeout_s;
  return p;
}

std::string http_url_host(const std::string& url) {
  std::string authority = authority_of(url);
  if (auto at = authority.rfind('@'); at != std::string::npos) authority = authority.substr(at + 1);
  if (authority.starts_with("[")) {
    auto close = authority.find(']');
    return close == std::string::npos ? "" : lower(authority.substr(1, close - 1));
  }
  if (auto colon = authority.find(':'); colon != std::string::npos) authority = authority.substr(0, colon);
  return lower(authority);
}

std::string http_host_refusal(const std::string& field, const std::string& url, const HttpFetchPolicy& policy) {
  if (url.find_first_of(" \t\r\n\\") != std::string::npos) return field + " is not a valid URL";
  std::string host = http_url_host(url);
  if (host.empty()) return field + " has no host";
  if (authority_of(url).find('@') != std::string::npos) return field + " must not carry credentials";
  bool allowed = std::any_of(policy.allowed_hosts.begin(), policy.allowed_hosts.end(),
                             [&](const std::string& h) { return lower(h) == host; });
  if (!allowed)
    return field + " host '" + host + "' is not in assurance.manifest_http_hosts";
  return "";
}

Result<std::string> fetch_http_text(const std::string& url, const std::string& what, const HttpFetchPolicy& policy) {
  if (std::string why = http_host_refusal(what, url, policy); !why.empty()) return Error::bad_request(why);
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> easy(curl_easy_init(), curl_easy_cleanup);
  if (!easy) return Error::internal("curl_easy_init failed");
  CURL* e = easy.get();
  Transfer t;
  t.policy = &policy;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(policy.timeout_s) * 1000L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, std::min(static_cast<long>(policy.timeout_s) * 1000L, 5000L));
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(policy.max_bytes));
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "secplat-assurance");
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &open_socket);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, &t);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, error_buffer);
  CURLcode rc = curl_easy_perform(e);
  // The URL without its query: a pre-signed URL's signature must not end up in a scan's errors.
  const std::string prefix = what + " " + url.substr(0, url.find_first_of("?#")) + ": ";
  if (!t.refused.empty()) return Error::bad_request(prefix + t.refused);
  if (t.too_large || rc == CURLE_FILESIZE_EXCEEDED)
    return Error::bad_request(prefix + "larger than " + size_text(policy.max_bytes));
  if (rc == CURLE_OPERATION_TIMEDOUT)
    return Error::bad_request(prefix + "timed out after " + std::to_string(policy.timeout_s) + " s");
  if (rc != CURLE_OK)
    return Error::bad_request(prefix + (error_buffer[0] ? std::string(error_buffer) : curl_easy_strerror(rc)));
  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 300 && status < 400)
    return Error::bad_request(prefix + "answered " + std::to_string(status) + "; redirects are not followed");
  if (status != 200) return Error::bad_request(prefix + "answered HTTP " + std::to_string(status));
  return std::move(t.body);
}

}  // namespace secplat::assurance
