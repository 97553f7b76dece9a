// The HTTP/1.1 + WebSocket server (Boost.Beast): http.io_threads I/O threads, each with its own
// io_context; a connection is handed to one of them at accept and served only by it.
//
// Per request, in order: request id (caller's X-Request-Id if sane, else a new UUID; always echoed),
// route match (404/405 envelopes), auth (Bearer → Authenticator on the worker pool; public routes
// skip it), handler, error mapping (Result errors and exceptions → error envelope; exception text is
// logged, never sent), access log (one JSON line), metrics.
//
// I/O threads never block: only routes with inline_io (and public access) run on an I/O thread;
// everything else runs on a bounded WorkerPool and a full queue answers 503 with Retry-After: 1.
// Limits (HttpConfig): header bytes → 431, body bytes → 413 (from Content-Length, before reading),
// a whole request must arrive within read_timeout_s (→ 408, then close), idle keep-alive
// connections close after idle_timeout_s, connections beyond max_connections are closed at accept.
//
// Threading: start/shutdown/wait may be called from any thread; shutdown() is idempotent and also
// run by the destructor. WsSession objects kept after the Server is destroyed are inert (closed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "http/route.h"

namespace secplat {
class Metrics;
}

namespace secplat::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0 = pick a free port
  HttpConfig limits;
  std::string spool_dir = {};  // where spool_body routes write request bodies; "" = the system temp dir
};

// Writes the head of an answer into `out` (cleared first): status line and reason, Server,
// X-Request-Id, Content-Type (+ Cache-Control: no-store for JSON), the route's own fields (which
// replace ours of the same name; Content-Length, Connection and Transfer-Encoding are the server's),
// Content-Length unless the status has no body (1xx, 204, 304), Connection: close when !keep_alive.
// CR, LF and NUL in a field name or value are written as spaces.
void write_response_head(std::string& out, const Response& r, std::string_view request_id, std::size_t body_size,
                         bool keep_alive);

class Server {
 public:
  // auth may be null: every non-public route then answers 401. metrics may be null.
  // Both must outlive the Server.
  Server(ServerOptions options, std::vector<Route> routes, Authenticator* auth, Metrics* metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts the I/O threads and the worker pool; returns the bound port.
  // Errc::unavailable when the address cannot be bound. Call once.
  Result<uint16_t> start();

  // Graceful: stops accepting, lets in-flight requests finish (up to limits.shutdown_grace_s), closes
  // idle keep-alive connections and WebSockets (1001), joins all threads. Idempotent.
  void shutdown();

  // Blocks until shutdown() has completed.
  void wait();

  std::size_t open_connections() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace secplat::http
