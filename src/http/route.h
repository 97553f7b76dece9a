// What a handler sees and returns, and the route table entry that binds them.
// The route table is the single source for dispatch, per-route roles, metrics labels and
// /openapi.json, so they cannot drift apart.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/error.h"

namespace secplat::http {

// Ordered: a route's min_role admits that role and every higher one. `service` is outside the
// order: the role of API keys held by role processes without database credentials (notifier,
// workers); it admits only Access::service routes (/internal/...), and those admit nothing else.
enum class Role { service = 0, viewer = 1, analyst = 2, admin = 3 };
const char* role_name(Role r);
std::optional<Role> parse_role(std::string_view s);

enum class Access { public_route, viewer, analyst, admin, service };

struct Principal {
  std::string subject;      // username, or "apikey:<name>"
  Role role = Role::viewer;
  std::string kind;         // "user" or "api_key"
  int64_t user_id = 0;      // users.id for kind "user", api_keys.id for "api_key"
};

struct Request {
  std::string method;       // "GET", ...
  std::string target;       // raw request target
  std::string path;         // percent-decoded path, valid UTF-8
  std::vector<std::pair<std::string, std::string>> query;    // decoded, in order
  std::vector<std::pair<std::string, std::string>> params;   // path parameters by template name
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  // For routes with spool_body: the body was streamed to this file instead of `body`. It is removed
  // after the handler returns; a handler that keeps it renames it away first.
  std::string body_file;
  std::string request_id;
  std::string client_ip;
  std::string route;        // matched template, e.g. "/auth/users/{username}"
  std::optional<Principal> principal;

  // First value or nullopt. Names compare case-insensitively for headers.
  std::optional<std::string> header(std::string_view name) const;
  std::optional<std::string> query_param(std::string_view name) const;
  std::string param(std::string_view name) const;  // "" if absent
};

struct Response {
  int status = 200;
  std::string body;
  // When set, the body instead of `body`: shared, not copied (a cached rendering of a large read).
  std::shared_ptr<const std::string> shared_body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;

  static Response json(int status, const nlohmann::json& body);
  static Response text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
  static Response no_content();
};

using Handler = std::function<Result<Response>(Request&)>;

// How an asynchronous handler answers: call it once, from any thread, with the response or the
// error (later calls are ignored). Copies share one answer. If every copy is dropped unanswered the
// request gets a 500, so a lost callback cannot hang the connection.
class Reply {
 public:
  using Sink = std::function<void(Result<Response>)>;
  explicit Reply(Sink sink);
  void operator()(Result<Response> r) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// A handler that never blocks: it validates, starts its work and returns; the work calls reply.
// The server may run it on an I/O thread (when the credential is known without the store and the
// body is small) or else on a worker after authentication. The Request stays valid until reply is
// called, but a handler that finishes on another thread should copy what it needs.
using AsyncHandler = std::function<void(Request&, Reply)>;

class WsSession;
// Called on a worker thread once the upgrade succeeded; keep the shared_ptr to keep sending.
using WsHandler = std::function<void(const std::shared_ptr<WsSession>&, const Request&)>;

struct RouteDoc {
  std::string summary;
  std::string tag;
  std::string request_schema;   // JSON Schema text for the body, "" if none
  std::string response_schema;  // JSON Schema text for a 2xx body, "" if unspecified
  std::vector<std::string> query_params;
  int success_status = 200;
};

// Per-WebSocket-route limits. The outbound queue is bounded so a slow subscriber costs at most
// this much memory: overflowing it closes the session with 1008 ("subscriber too slow").
struct WsLimits {
  std::size_t max_queued_messages = 1024;
  std::size_t max_queued_bytes = 8 << 20;
  std::size_t max_message_bytes = 1 << 20;  // inbound frames larger than this close the session
  int idle_timeout_s = 300;                 // a ping goes out after half of this with no traffic
};

struct Route {
  std::string method;           // "GET", "POST", ...
  std::string path;             // template: "/auth/users/{username}"
  Access access = Access::viewer;
  Handler handler;              // HTTP handler (null for WebSocket and asynchronous routes)
  WsHandler ws_handler;         // set for WebSocket routes (method "GET")
  bool inline_io = false;       // true only for handlers that never block (e.g. /health)
  RouteDoc doc;
  WsLimits ws_limits;           // only for WebSocket routes
  // Body cap for this route; 0 = the server's http.max_body_bytes. A larger Content-Length is
  // refused with 413 as soon as the header is read, before any of the body is.
  std::size_t max_body_bytes = 0;
  // Stream the body to a file in the server's spool dir (Request::body_file) instead of memory.
  bool spool_body = false;
  // Set instead of handler for a route whose work completes on another thread (see AsyncHandler).
  AsyncHandler async_handler = nullptr;
};

// Validates a bearer credential (JWT or API key). Runs on a worker thread (may hit the store).
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // Errc::unauthorized with a client-safe message when the credential is not acceptable.
  virtual Result<Principal> authenticate(std::string_view bearer) = 0;
  // The same answer when it can be given without blocking (no store access, e.g. a recently
  // checked user); nullopt when only authenticate() can tell. May run on an I/O thread.
  virtual std::optional<Result<Principal>> authenticate_cached(std::string_view /*bearer*/) { return std::nullopt; }
};

}  // namespace secplat::http
