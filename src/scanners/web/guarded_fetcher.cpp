#include "scanners/web/guarded_fetcher.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>

#include "core/clock.h"
#include "scanners/web/target_url.h"

namespace secplat::scanners::web {
namespace {

constexpr std::size_t kMaxHeaderBytes = 32 * 1024;
constexpr std::size_t kMaxChainCerts = 10;

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string error_class_of(CURLcode rc) {
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
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
      return "tls";
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_WEIRD_SERVER_REPLY:
      return "connection";
    default:
      return "error";
  }
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// Per-transfer state the callbacks write into.
struct Transfer {
  CURL* easy = nullptr;
  const NetPolicy* net = nullptr;
  FetchResult* result = nullptr;
  std::size_t max_body = 0;
  std::size_t header_bytes = 0;
  bool tls_captured = false;
  std::string refused_reason;  // set when the guard refused an address

  void capture_tls() {
    tls_captured = true;
    curl_tlssessioninfo* info = nullptr;
    if (curl_easy_getinfo(easy, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || info == nullptr ||
        info->backend != CURLSSLBACKEND_OPENSSL || info->internals == nullptr)
      return;
    SSL* ssl = static_cast<SSL*>(info->internals);
    result->tls_version = SSL_get_version(ssl);
    result->tls_version_code = SSL_version(ssl);
    auto add = [&](X509* cert) {
      unsigned char* der = nullptr;
      const int n = i2d_X509(cert, &der);
      if (n > 0) result->peer_chain_der.emplace_back(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
      OPENSSL_free(der);
    };
    // On the client side the peer chain starts with the leaf; fall back to the leaf alone.
    if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl); chain != nullptr && sk_X509_num(chain) > 0) {
      const int n = std::min<int>(sk_X509_num(chain), static_cast<int>(kMaxChainCerts));
      for (int i = 0; i < n; ++i) add(sk_X509_value(chain, i));
    } else if (X509* leaf = SSL_get0_peer_certificate(ssl)) {
      add(leaf);
    }
  }
};

curl_socket_t open_socket(void* self, curlsocktype purpose, curl_sockaddr* address) {
  auto* t = static_cast<Transfer*>(self);
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  std::string why = refused_address_reason(&address->addr, *t->net);
  if (!why.empty()) {
    if (t->refused_reason.empty()) t->refused_reason = std::move(why);
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

size_t on_header(char* data, size_t size, size_t n, void* self) {
  auto* t = static_cast<Transfer*>(self);
  const std::size_t len = size * n;
  // The first header line means the handshake is done and the connection is still ours.
  if (!t->tls_captured) t->capture_tls();
  std::string_view line(data, len);
  if (line.substr(0, 5) == "HTTP/") {  // a new response (after a 1xx) starts over
    t->result->headers.clear();
    t->header_bytes = 0;
    return len;
  }
  t->header_bytes += len;
  if (t->header_bytes > kMaxHeaderBytes) return len;  // keep reading, stop recording
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return len;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  t->result->headers.emplace_back(std::move(name), trim(line.substr(colon + 1)));
  return len;
}

size_t on_body(char* data, size_t size, size_t n, void* self) {
  auto* t = static_cast<Transfer*>(self);
  const std::size_t len = size * n;
  std::string& body = t->result->body;
  const std::size_t take = std::min(len, t->max_body - std::min(t->max_body, body.size()));
  body.append(data, take);
  if (take < len) {
    t->result->body_cut = true;
    return 0;  // stop the transfer: CURLE_WRITE_ERROR, judged as a complete response
  }
  return len;
}

// Inspection connections may negotiate what the server offers, however old.
CURLcode relax_ssl_ctx(CURL*, void* ssl_ctx, void*) {
  SSL_CTX_set_security_level(static_cast<SSL_CTX*>(ssl_ctx), 0);
  return CURLE_OK;
}

}  // namespace

const std::string* FetchResult::header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return &v;
  return nullptr;
}

struct GuardedFetcher::Easy {
  CURL* handle = nullptr;
  ~Easy() {
    if (handle != nullptr) curl_easy_cleanup(handle);
  }
};

GuardedFetcher::GuardedFetcher(const CheckOptions& options, std::vector<std::string>& log)
    : options_(options), log_(log), easy_(std::make_unique<Easy>()) {
  init_curl_once();
}

GuardedFetcher::~GuardedFetcher() = default;

FetchResult GuardedFetcher::get(const FetchRequest& request) {
  FetchResult r;
  const std::string shown = redact_query(request.url);
  const std::string what = request.inspect_tls ? "GET " + shown + " (certificate inspection, unverified)" : "GET " + shown;
  if (!budget_left()) {
    r.error_class = "budget";
    r.error = "request budget of " + std::to_string(options_.max_requests) + " used up";
    log_.push_back(what + " -> skipped: " + r.error);
    return r;
  }
  ++requests_;
  r.sent = true;

  if (easy_->handle == nullptr) easy_->handle = curl_easy_init();
  CURL* easy = easy_->handle;
  if (easy == nullptr) {
    r.error_class = "error";
    r.error = "libcurl could not be initialised";
    log_.push_back(what + " -> error: " + r.error);
    return r;
  }
  curl_easy_reset(easy);

  Transfer t;
  t.easy = easy;
  t.net = &options_.net;
  t.result = &r;
  t.max_body = request.max_body;
  char error_buffer[CURL_ERROR_SIZE] = {};
  const long timeout_ms = std::max(1, options_.timeout_ms);

  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_PROXY, "");  // ignore http_proxy & co.: the guard must see the target
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &open_socket);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, &t);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
  // CAINFO replaces the bundle; the system CA directory (CAPATH, curl's default) stays in use.
  if (options_.ca_file) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_file->c_str());
  if (request.inspect_tls) {
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(easy, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_0));
    curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, &relax_ssl_ctx);
    curl_easy_setopt(easy, CURLOPT_SSL_SESSIONID_CACHE, 0L);
    curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
  } else {
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
  }

  const int64_t started = steady_ms();
  const CURLcode rc = curl_easy_perform(easy);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);  // the buffer lives on this stack frame
  curl_off_t total_us = 0;
  if (curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &total_us) == CURLE_OK && total_us > 0)
    r.elapsed_ms = (total_us + 500) / 1000;
  else
    r.elapsed_ms = std::max<int64_t>(0, steady_ms() - started);
  curl_easy_getinfo(easy, CURLINFO_SSL_VERIFYRESULT, &r.verify_result);
  long code = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
  r.status = static_cast<int>(code);

  r.responded = (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && r.body_cut)) && r.status > 0;
  if (r.responded) {
    log_.push_back(what + " -> " + std::to_string(r.status) + " in " + std::to_string(r.elapsed_ms) + " ms");
    return r;
  }
  if (rc == CURLE_COULDNT_CONNECT && !t.refused_reason.empty()) {
    r.error_class = "forbidden";
    r.error = t.refused_reason;
    log_.push_back(what + " -> refused by policy: " + r.error);
    return r;
  }
  r.error_class = error_class_of(rc);
  r.error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc);
  log_.push_back(what + " -> " + r.error_class + " after " + std::to_string(r.elapsed_ms) + " ms (" + r.error + ")");
  return r;
}

}  // namespace secplat::scanners::web
