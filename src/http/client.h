// A blocking HTTP(S) client over libcurl for outbound calls to services we talk to (S3, OCI
// registries, the trust gate, notification channels). One call = one request; no redirects, no
// proxy (a proxy from the environment could see credentials), TLS verified unless told not to.
//
// Transport failures (DNS, connect, TLS, timeout, a socket refused by the SSRF guard) are
// Errc::unavailable with a message naming the host; any HTTP status, 5xx included, is a response:
// the caller decides what it means. Credentials are never put in error messages.
//
// Threading: perform() is thread-safe (each call has its own easy handle); do not call it on an
// I/O thread.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/net_guard.h"

namespace secplat::http {

struct ClientRequest {
  std::string method = "GET";  // GET, HEAD, PUT, POST, PATCH, DELETE
  std::string url;             // scheme://host[:port]/path?query, already percent-encoded
  std::vector<std::pair<std::string, std::string>> headers;

  // Request body: `body`, or a byte range of a file (streamed, never loaded whole) when
  // body_file is set. body_length < 0 means "to the end of the file".
  std::string body;
  std::string body_file;
  int64_t body_offset = 0;
  int64_t body_length = -1;

  // Credentials: "user:password". With aws_sigv4 ("aws:amz:REGION:SERVICE") libcurl signs the
  // request with AWS Signature V4 (the caller must add x-amz-content-sha256 itself and sort the
  // query string); otherwise they are sent as HTTP basic auth.
  std::string userpwd;
  std::string aws_sigv4;

  long timeout_ms = 30000;
  long connect_timeout_ms = 5000;
  bool verify_tls = true;

  // Response body: kept in ClientResponse::body up to max_response_bytes (more is an
  // Errc::too_large error), or, when `sink` is set and the status is 2xx, handed to it chunk by
  // chunk (return false to abort: the call then fails with Errc::internal "response body
  // refused"). A non-2xx body (an error document) always lands in ClientResponse::body.
  std::size_t max_response_bytes = 16u << 20;
  std::function<bool(std::string_view)> sink;

  // When set, every socket the transfer opens is checked against it (core/net_guard.h).
  const NetPolicy* net = nullptr;
};

struct ClientResponse {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in order
  std::string body;

  // First header of that (lower-case) name, or "".
  std::string header(std::string_view lower_name) const;
};

Result<ClientResponse> perform(const ClientRequest& request);

// Connections kept open between calls (HTTP keep-alive) for a caller that talks to the same servers
// again and again (a role process calling the API for every step of its work): perform(request,
// &pool) borrows a transfer handle from the pool, whose open connections libcurl reuses, and gives
// it back. Every other setting is per request, as with perform(request).
// Threading: thread-safe; one handle per call in flight, at most `max_idle` kept.
class ConnectionPool {
 public:
  explicit ConnectionPool(std::size_t max_idle = 8) : max_idle_(max_idle) {}
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

 private:
  friend Result<ClientResponse> perform(const ClientRequest& request, ConnectionPool* pool);
  void* take();           // a CURL*, reset, or a new one (nullptr if libcurl cannot make one)
  void give_back(void* handle);
  std::size_t max_idle_;
  std::mutex mu_;
  std::vector<void*> idle_;
};

Result<ClientResponse> perform(const ClientRequest& request, ConnectionPool* pool);

// "host:port" (or "host") of a URL, for messages. Never includes userinfo.
std::string url_host(std::string_view url);

// RFC 3986 percent-encoding of everything outside the unreserved set; '/' is kept when
// keep_slash is true (object keys in paths).
std::string percent_encode(std::string_view text, bool keep_slash);

}  // namespace secplat::http
