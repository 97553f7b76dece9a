#include "http/client.h"

#include <curl/curl.h>
#include <strings.h>
#include <sys/socket.h>

#include <cctype>
#include <cstdio>
#include <memory>
#include <mutex>

namespace secplat::http {

namespace {

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  CURL* handle = nullptr;
  const ClientRequest* req = nullptr;
  ClientResponse* resp = nullptr;
  bool too_large = false;
  bool refused_by_sink = false;
  std::string refused_address;
  // Upload from a file range.
  std::FILE* file = nullptr;
  int64_t remaining = 0;
  // Upload from memory.
  std::size_t mem_pos = 0;
};

curl_socket_t open_socket(void* self, curlsocktype purpose, curl_sockaddr* address) {
  auto* t = static_cast<Transfer*>(self);
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  if (t->req->net != nullptr) {
    std::string why = refused_address_reason(&address->addr, *t->req->net);
    if (!why.empty()) {
      if (t->refused_address.empty()) t->refused_address = std::move(why);
      return CURL_SOCKET_BAD;
    }
  }
  return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

size_t on_body(char* data, size_t size, size_t n, void* self) {
  auto* t = static_cast<Transfer*>(self);
  const std::size_t len = size * n;
  // Only a 2xx body is the content the sink asked for; an error page stays in resp->body.
  long status = 0;
  curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &status);
  if (t->req->sink && status >= 200 && status < 300) {
    if (!t->req->sink(std::string_view(data, len))) {
      t->refused_by_sink = true;
      return 0;
    }
    return len;
  }
  if (t->resp->body.size() + len > t->req->max_response_bytes) {
    t->too_large = true;
    return 0;
  }
  t->resp->body.append(data, len);
  return len;
}

size_t on_header(char* data, size_t size, size_t n, void* self) {
  auto* t = static_cast<Transfer*>(self);
  const std::size_t len = size * n;
  std::string_view line(data, len);
  if (line.starts_with("HTTP/")) {
    t->resp->headers.clear();  // a 100 Continue's headers are not the response's
    return len;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return len;
  std::string name(line.substr(0, colon));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
  t->resp->headers.emplace_back(std::move(name), std::string(value));
  return len;
}

size_t on_read(char* buffer, size_t size, size_t n, void* self) {
  auto* t = static_cast<Transfer*>(self);
  std::size_t want = size * n;
  if (t->file != nullptr) {
    if (t->remaining <= 0) return 0;
    if (static_cast<int64_t>(want) > t->remaining) want = static_cast<std::size_t>(t->remaining);
    std::size_t got = std::fread(buffer, 1, want, t->file);
    if (got == 0 && want > 0) return CURL_READFUNC_ABORT;  // file shrank under us
    t->remaining -= static_cast<int64_t>(got);
    return got;
  }
  const std::string& body = t->req->body;
  std::size_t left = body.size() - t->mem_pos;
  if (want > left) want = left;
  body.copy(buffer, want, t->mem_pos);
  t->mem_pos += want;
  return want;
}

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f != nullptr) std::fclose(f);
  }
};
struct SlistFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

std::string ClientResponse::header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers)
    if (k == lower_name) return v;
  return "";
}

std::string url_host(std::string_view url) {
  auto scheme_end = url.find("://");
  std::size_t start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  std::size_t end = url.find_first_of("/?#", start);
  std::string_view authority = url.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority = authority.substr(at + 1);
  return std::string(authority);
}

std::string percent_encode(std::string_view text, bool keep_slash) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

ConnectionPool::~ConnectionPool() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* ConnectionPool::take() {
  {
    std::lock_guard lk(mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      curl_easy_reset(static_cast<CURL*>(h));  // options back to defaults; open connections kept
      return h;
    }
  }
  return curl_easy_init();
}

void ConnectionPool::give_back(void* h) {
  {
    std::lock_guard lk(mu_);
    if (idle_.size() < max_idle_) {
      idle_.push_back(h);
      return;
    }
  }
  curl_easy_cleanup(static_cast<CURL*>(h));
}

Result<ClientResponse> perform(const ClientRequest& req) { return perform(req, nullptr); }

Result<ClientResponse> perform(const ClientRequest& req, ConnectionPool* pool) {
  global_init_once();
  const std::string host = url_host(req.url);
  // The handle goes back to the pool (its connections with it) or is cleaned up, however this ends.
  struct Handle {
    ConnectionPool* pool;
    CURL* h;
    ~Handle() {
      if (!h) return;
      if (pool) pool->give_back(h);
      else curl_easy_cleanup(h);
    }
  } handle{pool, static_cast<CURL*>(pool ? pool->take() : curl_easy_init())};
  if (!handle.h) return Error::internal("could not start an HTTP transfer");
  CURL* h = handle.h;

  ClientResponse resp;
  Transfer t;
  t.handle = h;
  t.req = &req;
  t.resp = &resp;

  std::unique_ptr<std::FILE, FileCloser> file;
  int64_t upload_size = -1;
  if (!req.body_file.empty()) {
    file.reset(std::fopen(req.body_file.c_str(), "rb"));
    if (!file) return Error::not_found("cannot read " + req.body_file);
    int64_t length = req.body_length;
    if (length < 0) {
      if (std::fseek(file.get(), 0, SEEK_END) != 0) return Error::internal("cannot size " + req.body_file);
      length = static_cast<int64_t>(std::ftell(file.get())) - req.body_offset;
      if (length < 0) length = 0;
    }
    if (std::fseek(file.get(), static_cast<long>(req.body_offset), SEEK_SET) != 0)
      return Error::internal("cannot seek in " + req.body_file);
    t.file = file.get();
    t.remaining = length;
    upload_size = length;
  } else if (!req.body.empty() || req.method == "PUT" || req.method == "POST" || req.method == "PATCH") {
    upload_size = static_cast<int64_t>(req.body.size());
  }

  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req.timeout_ms);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, req.connect_timeout_ms);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, req.verify_tls ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, req.verify_tls ? 2L : 0L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &t);

  if (req.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (req.method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (upload_size >= 0) {
    // UPLOAD streams from on_read with a known Content-Length; the verb is set explicitly.
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &t);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(upload_size));
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  } else {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }

  std::unique_ptr<curl_slist, SlistFree> headers;
  bool has_expect = false;
  for (const auto& [name, value] : req.headers) {
    std::string line = name + ": " + value;
    if (value.empty()) line = name + ";";  // curl's syntax for a header with an empty value
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
    if (name.size() == 6 && strncasecmp(name.c_str(), "expect", 6) == 0) has_expect = true;
  }
  // No "Expect: 100-continue" round trip unless the caller asked for one. Not with SigV4: curl
  // 7.88 would list the suppressed `expect` header in SignedHeaders although it is never sent, and
  // the server's signature would then differ (reference/stack.md 6.5, gotcha 3).
  if (!has_expect && req.aws_sigv4.empty()) headers.reset(curl_slist_append(headers.release(), "Expect:"));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());

  if (!req.userpwd.empty()) {
    curl_easy_setopt(h, CURLOPT_USERPWD, req.userpwd.c_str());
    if (!req.aws_sigv4.empty()) {
      curl_easy_setopt(h, CURLOPT_AWS_SIGV4, req.aws_sigv4.c_str());
    } else {
      curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    }
  }

  CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    if (!t.refused_address.empty()) return Error::forbidden("request to " + host + " refused: " + t.refused_address);
    if (t.too_large)
      return Error::too_large("response from " + host + " is larger than " + std::to_string(req.max_response_bytes) + " bytes");
    if (t.refused_by_sink) return Error::internal("response body from " + host + " refused");
    if (rc == CURLE_OPERATION_TIMEDOUT) return Error::unavailable(host + " did not answer in time");
    return Error::unavailable(host + " could not be reached: " + curl_easy_strerror(rc));
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
  return resp;
}

}  // namespace secplat::http
