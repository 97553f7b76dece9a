#include "http/server.h"

#include <strings.h>

#include <utility>  // before Asio: Boost 1.74 on GCC 12

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "core/ids.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/scratch.h"
#include "core/thread_name.h"
#include "core/worker_pool.h"
#include "http/error_envelope.h"
#include "http/json_body.h"
#include "http/router.h"
#include "http/spool_body.h"
#include "http/ws_session.h"

namespace secplat::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// The head of a response, as Beast wrote it (status line, fields in order, Content-Length unless
// the status has no body, Connection: close when the connection ends), into a buffer reused for
// the session's every answer. Beast's generic serializer (a field list, then a chain of buffer
// views walked per write) was a fifth of an I/O thread's time per POST /findings/. Field names and
// values cannot break the head: CR, LF and NUL in them become spaces.
bool status_has_body(int status) { return !(status < 200 || status == 204 || status == 304); }

void append_field_text(std::string& out, std::string_view text) {
  const std::size_t at = out.size();
  out.append(text);
  for (std::size_t i = at; i < out.size(); ++i)
    if (out[i] == '\r' || out[i] == '\n' || out[i] == '\0') out[i] = ' ';
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  append_field_text(out, name);
  out.append(": ");
  append_field_text(out, value);
  out.append("\r\n");
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

void write_response_head(std::string& out, const Response& r, std::string_view request_id, std::size_t body_size,
                         bool keep_alive) {
  out.clear();
  const auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(r.status));
  out.append("HTTP/1.1 ");
  out.append(std::to_string(r.status));
  out.push_back(' ');
  out.append(reason.data(), reason.size());
  out.append("\r\n");
  // The route's own fields replace ours of the same name (and a later one an earlier one).
  auto overridden = [&](std::string_view name, std::size_t from) {
    for (std::size_t i = from; i < r.headers.size(); ++i)
      if (iequals(r.headers[i].first, name)) return true;
    return false;
  };
  const bool json = r.content_type.starts_with("application/json");
  if (!overridden("Server", 0)) append_field(out, "Server", "secplat");
  if (!overridden("X-Request-Id", 0)) append_field(out, "X-Request-Id", request_id);
  if (!r.content_type.empty() && !overridden("Content-Type", 0)) append_field(out, "Content-Type", r.content_type);
  if (!r.content_type.empty() && json && !overridden("Cache-Control", 0)) append_field(out, "Cache-Control", "no-store");
  for (std::size_t i = 0; i < r.headers.size(); ++i) {
    const auto& [name, value] = r.headers[i];
    if (iequals(name, "Content-Length") || iequals(name, "Connection") || iequals(name, "Transfer-Encoding")) continue;
    if (!overridden(name, i + 1)) append_field(out, name, value);
  }
  if (status_has_body(r.status)) {
    out.append("Content-Length: ");
    out.append(std::to_string(body_size));
    out.append("\r\n");
  }
  if (!keep_alive) out.append("Connection: close\r\n");
  out.append("\r\n");
}

namespace {

// After a refused request (413, 431, 400) the rest of it is read and dropped for up to 2 s, so a
// client that writes its whole body before reading gets our answer instead of a reset. The byte
// cap only matters on fast links: loopback drains 64 MiB in tens of milliseconds; 1 MiB (the
// previous cap) reset clients that sent a 2 MiB body (CI caught it, test
// Server.AClientThatSendsAllOfAnOversizedBodyBeforeReadingStillGets413).
constexpr std::chrono::seconds kLingerTime{2};
constexpr std::size_t kLingerMaxBytes = std::size_t{64} << 20;
// Asynchronous routes parse bodies up to this size on the I/O thread; larger ones on a worker.
constexpr std::size_t kInlineBodyBytes = std::size_t{64} << 10;
constexpr std::chrono::seconds kWsCloseTimeout{5};

const char* method_label(bhttp::verb v) {
  switch (v) {
    case bhttp::verb::get: return "GET";
    case bhttp::verb::post: return "POST";
    case bhttp::verb::put: return "PUT";
    case bhttp::verb::delete_: return "DELETE";
    case bhttp::verb::patch: return "PATCH";
    case bhttp::verb::head: return "HEAD";
    case bhttp::verb::options: return "OPTIONS";
    default: return "OTHER";
  }
}

std::string_view to_sv(beast::string_view s) { return {s.data(), s.size()}; }

int role_rank(Role r) { return static_cast<int>(r); }
int required_rank(Access a) {
  switch (a) {
    case Access::public_route: return 0;
    case Access::viewer: return role_rank(Role::viewer);
    case Access::analyst: return role_rank(Role::analyst);
    case Access::admin: return role_rank(Role::admin);
    case Access::service: return role_rank(Role::service);
  }
  return role_rank(Role::admin);
}

bool iprefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char a = s[i], b = prefix[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
    if (a != b) return false;
  }
  return true;
}

// Things the server must be able to reach on shutdown: HTTP sessions and WebSocket sessions.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual void server_shutdown() = 0;  // any thread; posts to the connection's I/O thread
  virtual void server_detach() {}      // after the I/O threads are joined
  virtual void start_writing() {}      // on the connection's I/O thread (IoShard::flush)
};

// One I/O thread and its own io_context (and so its own epoll set). A connection lives on one
// shard for its whole life, so its handlers never run concurrently and need no strand.
struct IoShard {
  net::io_context ioc{1};  // one thread runs it; posts from other threads still lock
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;

  // WebSocket sessions that have frames to start writing. A fan-out from another thread to many
  // sessions of this shard costs one post here, not one per session.
  void schedule_write(std::shared_ptr<Connection> c) {
    {
      std::lock_guard lk(mu);
      ready.push_back(std::move(c));
      if (flush_posted) return;
      flush_posted = true;
    }
    net::post(ioc, [this] { flush(); });
  }
  void flush() {
    std::vector<std::shared_ptr<Connection>> batch;
    {
      std::lock_guard lk(mu);
      batch.swap(ready);
      flush_posted = false;
    }
    for (auto& c : batch) c->start_writing();
  }
  void clear() {
    std::lock_guard lk(mu);
    ready.clear();
  }

 private:
  std::mutex mu;
  std::vector<std::shared_ptr<Connection>> ready;
  bool flush_posted = false;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Server::Impl: shared state. Declared so that the io_contexts are destroyed before the state
// sessions touch.

class Server::Impl {
 public:
  Impl(ServerOptions options, std::vector<Route> routes, Authenticator* auth, Metrics* metrics);
  ~Impl();

  Result<uint16_t> start();
  void shutdown();
  void wait();

  // Connection accounting (any thread).
  void connection_opened();
  void connection_closed();
  uint64_t register_connection(std::weak_ptr<Connection> c);
  void unregister_connection(uint64_t id);

  void record(const char* method, int status, std::size_t route_index, bool matched, const std::string& route_tmpl,
              double seconds);

  struct RouteMetrics {
    Histogram* duration = nullptr;
    std::unique_ptr<std::atomic<Counter*>[]> by_status;  // index status - 100, 100..599
  };

  ServerOptions options_;  // spool_dir is resolved in the constructor, then never changes
  const Router router_;
  // The parser's limit before the route is known: the largest any route allows. Once the header
  // is parsed, the matched route's own limit applies (route_body_limit()).
  std::size_t parser_body_limit_ = 0;
  bool any_route_limit_ = false;
  std::size_t route_body_limit(std::string_view method, std::string_view target, bool& spool) const;
  Authenticator* const auth_;
  Metrics* const metrics_;
  std::vector<RouteMetrics> route_metrics_;
  Gauge* connections_gauge_ = nullptr;
  struct PoolProbe {
    std::mutex mu;
    WorkerPool* pool = nullptr;
  };
  std::shared_ptr<PoolProbe> pool_probe_ = std::make_shared<PoolProbe>();

  std::unique_ptr<WorkerPool> pool_;
  std::atomic<bool> stopping_{false};
  // Asynchronous requests whose reply is still held somewhere (see HttpSession::run_async_handler).
  std::atomic<std::size_t> async_in_flight_{0};
  void async_started() { async_in_flight_.fetch_add(1); }
  void async_finished() {
    // Under the lock: shutdown must not see zero (and go on to destroy mu_) before this is done.
    std::lock_guard lk(mu_);
    if (async_in_flight_.fetch_sub(1) == 1) cv_.notify_all();
  }
  std::atomic<std::size_t> open_{0};

  std::mutex mu_;  // guards the fields below
  std::condition_variable cv_;
  std::map<uint64_t, std::weak_ptr<Connection>> connections_;
  uint64_t next_connection_id_ = 1;
  bool started_ = false;
  bool shutdown_started_ = false;
  bool shutdown_done_ = false;

  std::vector<std::thread> io_threads_;
  std::vector<std::unique_ptr<IoShard>> shards_;  // the acceptor lives on the first
  std::size_t next_shard_ = 0;                    // the acceptor's thread only
  std::optional<tcp::acceptor> acceptor_;

 private:
  void do_accept();
};

namespace {

// Holds one unit of Server::Impl::open_ while a connection (HTTP or WebSocket) is open.
class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  explicit ConnectionSlot(Server::Impl* srv) : srv_(srv) { srv_->connection_opened(); }
  ConnectionSlot(ConnectionSlot&& o) noexcept : srv_(std::exchange(o.srv_, nullptr)) {}
  ConnectionSlot& operator=(ConnectionSlot&& o) noexcept {
    if (this != &o) {
      release();
      srv_ = std::exchange(o.srv_, nullptr);
    }
    return *this;
  }
  ~ConnectionSlot() { release(); }
  void release() {
    if (srv_) std::exchange(srv_, nullptr)->connection_closed();
  }

 private:
  Server::Impl* srv_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// WebSocket session

class WsConnection final : public WsSession, public Connection, public std::enable_shared_from_this<WsConnection> {
 public:
  WsConnection(Server::Impl* srv, IoShard* shard, tcp::socket socket, ConnectionSlot slot, const Route& route,
               Request req)
      : srv_(srv),
        shard_(shard),
        ex_(socket.get_executor()),
        ws_(std::in_place, std::move(socket)),
        close_timer_(std::in_place, ex_),
        limits_(route.ws_limits),
        handler_(route.ws_handler),
        req_(std::move(req)),
        slot_(std::move(slot)) {}

  ~WsConnection() override {
    if (srv_ && id_) srv_->unregister_connection(id_);
  }

  void start(bhttp::request<SpoolBody> upgrade) {
    id_ = srv_->register_connection(weak_from_this());
    websocket::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::seconds(30);
    t.idle_timeout = std::chrono::seconds(std::max(1, limits_.idle_timeout_s));
    t.keep_alive_pings = true;
    ws_->set_option(t);
    ws_->read_message_max(limits_.max_message_bytes);
    std::string rid = req_.request_id;
    ws_->set_option(websocket::stream_base::decorator([rid](websocket::response_type& res) {
      res.set(bhttp::field::server, "secplat");
      res.set("X-Request-Id", rid);
    }));
    upgrade_ = std::move(upgrade);
    ws_->async_accept(upgrade_, [self = shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
  }

  bool send_text(std::string message) override {
    bool start_write = false;
    {
      std::lock_guard lk(mu_);
      if (!open_) return false;
      if (queue_.size() + 1 > limits_.max_queued_messages ||
          queued_bytes_ + message.size() > limits_.max_queued_bytes) {
        request_close_locked(1008, "subscriber too slow");
        return false;
      }
      queued_bytes_ += message.size();
      queue_.push_back(std::move(message));
      if (!writing_) start_write = writing_ = true;
    }
    if (start_write) shard_->schedule_write(shared_from_this());
    return true;
  }

  void start_writing() override { do_write(); }

  void close(uint16_t code, std::string reason) override {
    std::lock_guard lk(mu_);
    request_close_locked(code, std::move(reason));
  }

  void on_message(std::function<void(std::string)> cb) override {
    std::lock_guard lk(mu_);
    on_message_ = std::move(cb);
  }

  void on_close(std::function<void()> cb) override {
    bool already_ended = false;
    {
      std::lock_guard lk(mu_);
      if (ended_) already_ended = true;
      else on_close_ = std::move(cb);
    }
    if (already_ended && cb) cb();
  }

  bool is_open() const override {
    std::lock_guard lk(mu_);
    return open_;
  }

  void server_shutdown() override { close(1001, "server shutting down"); }

  void server_detach() override {
    std::lock_guard lk(mu_);
    open_ = false;
    ended_ = true;
    queue_.clear();
    queued_bytes_ = 0;
    ws_.reset();
    close_timer_.reset();
    slot_.release();
    if (srv_ && id_) srv_->unregister_connection(id_);
    srv_ = nullptr;
  }

 private:
  // Caller holds mu_. Drops frames not yet being written so the close frame goes out next.
  void request_close_locked(uint16_t code, std::string reason) {
    if (close_requested_ || ended_) return;
    close_requested_ = true;
    open_ = false;
    // A normal close goes out after the frames already queued (a stream's last events must
    // arrive); only a subscriber dropped for being too slow loses what it had not read yet.
    if (code == 1008) {
      while (queue_.size() > (writing_ ? 1u : 0u)) {
        queued_bytes_ -= queue_.back().size();
        queue_.pop_back();
      }
    }
    close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code), reason);
    net::post(ex_, [self = shared_from_this()] { self->begin_close(); });
  }

  void on_accept(beast::error_code ec) {
    accepted_ = true;
    if (ec) return finish();
    log::info("websocket open", {log::str("route", req_.route), log::str("request_id", req_.request_id)});
    {
      std::lock_guard lk(mu_);
      open_ = !close_requested_;
    }
    auto self = shared_from_this();
    bool queued = srv_->pool_->try_submit([self] {
      try {
        self->handler_(self, self->req_);
      } catch (const std::exception& e) {
        log::error("websocket handler threw", {log::str("error", e.what()), log::str("request_id", self->req_.request_id)});
        self->close(1011, "internal error");
      }
      net::post(self->ex_, [self] { self->do_read(); });
    });
    if (!queued) {
      close(1013, "try again later");
      do_read();
    }
    if (close_deferred_) begin_close();
  }

  void do_read() {
    if (!ws_) return;
    ws_->async_read(rbuf_, [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) return finish();
    std::string msg = beast::buffers_to_string(rbuf_.data());
    rbuf_.consume(rbuf_.size());
    std::function<void(std::string)> cb;
    {
      std::lock_guard lk(mu_);
      cb = on_message_;
    }
    if (cb) {
      try {
        cb(std::move(msg));
      } catch (const std::exception& e) {
        log::error("websocket on_message threw", {log::str("error", e.what())});
      }
    }
    do_read();
  }

  void do_write() {
    if (!ws_) return;
    const std::string* front = nullptr;
    {
      std::lock_guard lk(mu_);
      if (queue_.empty()) {
        writing_ = false;
        if (close_requested_ && !close_sent_) {
          close_sent_ = true;
          net::post(ex_, [self = shared_from_this()] { self->send_close(); });
        }
        return;
      }
      front = &queue_.front();  // deque::push_back keeps references valid
    }
    ws_->text(true);
    ws_->async_write(net::buffer(*front), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_write(ec);
    });
  }

  void on_write(beast::error_code ec) {
    {
      std::lock_guard lk(mu_);
      if (!queue_.empty()) {
        queued_bytes_ -= queue_.front().size();
        queue_.pop_front();
      }
      if (ec) {
        open_ = false;
        writing_ = false;
        return;  // the read side sees the failure and finishes
      }
    }
    do_write();
  }

  // On the I/O thread, after close() was requested.
  void begin_close() {
    if (!ws_ || !close_timer_) return;
    if (!accepted_) {
      close_deferred_ = true;  // the handshake is still running; on_accept comes back here
      return;
    }
    close_deferred_ = false;
    close_timer_->expires_after(kWsCloseTimeout);
    close_timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || !self->ws_) return;
      beast::error_code ignored;
      beast::get_lowest_layer(*self->ws_).socket().close(ignored);  // peer never let the close out
    });
    bool send_now = false;
    {
      std::lock_guard lk(mu_);
      if (!writing_ && !close_sent_) send_now = close_sent_ = true;
    }
    if (send_now) send_close();
  }

  void send_close() {
    if (!ws_ || !ws_->is_open()) return;
    ws_->async_close(close_reason_, [self = shared_from_this()](beast::error_code) {
      // The read loop observes the end and calls finish().
    });
  }

  void finish() {
    std::function<void()> cb;
    {
      std::lock_guard lk(mu_);
      if (ended_) return;
      ended_ = true;
      open_ = false;
      queue_.clear();
      queued_bytes_ = 0;
      cb = std::move(on_close_);
      on_message_ = nullptr;
    }
    if (close_timer_) close_timer_->cancel();
    if (ws_) {
      beast::error_code ignored;
      beast::get_lowest_layer(*ws_).socket().close(ignored);
    }
    slot_.release();
    if (cb) {
      try {
        cb();
      } catch (const std::exception& e) {
        log::error("websocket on_close threw", {log::str("error", e.what())});
      }
    }
  }

  Server::Impl* srv_;
  IoShard* const shard_;
  uint64_t id_ = 0;
  net::any_io_executor ex_;
  std::optional<websocket::stream<beast::tcp_stream>> ws_;  // reset by server_detach
  std::optional<net::steady_timer> close_timer_;
  beast::flat_buffer rbuf_;
  bhttp::request<SpoolBody> upgrade_;
  const WsLimits limits_;
  const WsHandler handler_;
  const Request req_;
  websocket::close_reason close_reason_;
  bool accepted_ = false;        // I/O thread only
  bool close_deferred_ = false;  // I/O thread only

  mutable std::mutex mu_;  // guards the fields below
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool open_ = false;
  bool close_requested_ = false;
  bool close_sent_ = false;
  bool ended_ = false;
  std::function<void(std::string)> on_message_;
  std::function<void()> on_close_;
  ConnectionSlot slot_;
};

// ---------------------------------------------------------------------------------------------
// HTTP session

class HttpSession final : public Connection, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(Server::Impl* srv, IoShard* shard, tcp::socket socket)
      : srv_(srv), shard_(shard), stream_(std::move(socket)), deadline_(stream_.get_executor()), slot_(srv) {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) client_ip_ = ep.address().to_string();
  }

  ~HttpSession() override {
    discard_body_file();
    if (id_) srv_->unregister_connection(id_);
  }

  void run() {
    id_ = srv_->register_connection(weak_from_this());
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); });
  }

  void server_shutdown() override {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      self->keep_alive_ = false;
      if (self->state_ == State::waiting) self->close_now();
    });
  }

 private:
  enum class State { waiting, reading, processing, writing, closing };

  int limit_s(int s) const { return std::max(1, s); }

  // One lazily re-armed timer per connection guards every read and write. Arming only moves
  // deadline_at_ (the timer is touched only when the new deadline is earlier than the pending
  // expiry), so a keep-alive request costs no timer syscalls in the common case.
  void arm_deadline(int seconds) {
    timed_out_ = false;
    deadline_active_ = true;
    deadline_at_ = Clock::now() + std::chrono::seconds(limit_s(seconds));
    if (!timer_pending_ || deadline_at_ < timer_expiry_) start_timer();
  }

  void disarm_deadline() { deadline_active_ = false; }

  void start_timer() {
    timer_pending_ = true;
    timer_expiry_ = deadline_at_;
    deadline_.expires_at(deadline_at_);  // aborts a pending wait; that handler ignores the abort
    deadline_.async_wait([self = shared_from_this()](beast::error_code ec) { self->on_timer(ec); });
  }

  void on_timer(beast::error_code ec) {
    if (ec == net::error::operation_aborted) return;  // re-armed earlier, or the session closed
    timer_pending_ = false;
    if (!deadline_active_ || state_ == State::closing) return;
    if (Clock::now() < deadline_at_) return start_timer();
    timed_out_ = true;
    beast::error_code ignored;
    stream_.socket().cancel(ignored);
  }

  void do_read() {
    if (srv_->stopping_.load()) return close_now();
    state_ = State::waiting;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(srv_->options_.limits.max_header_bytes));
    parser_->body_limit(srv_->parser_body_limit_);
    route_limit_applied_ = !srv_->any_route_limit_;
    if (buffer_.size() > 0) return read_request();
    // A fresh connection must send its request within the read timeout; a kept-alive one may idle.
    arm_deadline(first_request_ ? srv_->options_.limits.read_timeout_s : srv_->options_.limits.idle_timeout_s);
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->on_first_bytes(ec, n);
    });
  }

  void on_first_bytes(beast::error_code ec, std::size_t n) {
    if (ec) return close_now();  // idle timeout, peer closed, or shutdown
    buffer_.commit(n);
    read_request();
  }

  void read_request() {
    state_ = State::reading;
    started_ = Clock::now();
    // Fast path: the whole request usually arrived in one segment; parse it without another
    // trip through the reactor.
    for (;;) {
      beast::error_code ec;
      std::size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == bhttp::error::need_more) break;
      if (!ec && !apply_route_limit()) ec = bhttp::error::body_limit;
      if (ec || parser_->is_done()) return on_read(ec);
      if (used == 0) break;
    }
    arm_deadline(srv_->options_.limits.read_timeout_s);
    if (!route_limit_applied_ && !parser_->is_header_done()) {
      bhttp::async_read_header(stream_, buffer_, *parser_,
                               [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                 if (!ec && !self->apply_route_limit()) ec = bhttp::error::body_limit;
                                 if (ec || self->parser_->is_done()) return self->on_read(ec);
                                 bhttp::async_read(self->stream_, self->buffer_, *self->parser_,
                                                   [self](beast::error_code ec2, std::size_t) { self->on_read(ec2); });
                               });
      return;
    }
    bhttp::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  // Once the header is in, holds the body to the matched route's limit. False = refuse with 413.
  bool apply_route_limit() {
    if (route_limit_applied_ || !parser_->is_header_done()) return true;
    route_limit_applied_ = true;
    const auto& h = parser_->get();
    bool spool = false;
    std::size_t limit = srv_->route_body_limit(to_sv(h.method_string()), to_sv(h.target()), spool);
    if (auto len = parser_->content_length(); len && *len > limit) return false;
    parser_->body_limit(limit);  // chunked bodies are counted against it as they arrive
    if (spool) parser_->get().body().spool_dir = srv_->options_.spool_dir;
    return true;
  }

  void on_read(beast::error_code ec) {
    const bool timed_out = timed_out_;
    disarm_deadline();
    if (!ec) return on_request();
    if (ec == bhttp::error::end_of_stream && buffer_.size() == 0) return close_now();

    std::optional<Error> err;
    if (timed_out) {
      err = Error{Errc::timeout, "Request not received in time", {}, 0};
    } else if (ec == bhttp::error::header_limit) {
      err = Error{Errc::header_too_large, "Request header fields too large", {}, 0};
    } else if (ec == bhttp::error::body_limit) {
      err = Error::too_large("Request body too large");
    } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
               ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
      err = Error::bad_request("Malformed HTTP request");
    }
    if (!err) return close_now();
    // Answer what we can, then close: the rest of the request is not worth reading.
    keep_alive_ = false;
    const char* method = parser_->is_header_done() ? method_label(parser_->get().method()) : "OTHER";
    std::string rid;
    if (parser_->is_header_done()) {
      auto it = parser_->get().find("x-request-id");
      if (it != parser_->get().end() && is_sane_request_id(to_sv(it->value()))) rid = std::string(to_sv(it->value()));
    }
    if (rid.empty()) rid = new_request_id();
    req_ = Request{};
    req_.method = method;
    req_.request_id = std::move(rid);
    route_index_ = kNoRoute;
    route_label_ = "unmatched";
    if (started_ == Clock::time_point{}) started_ = Clock::now();
    write_response(error_response(*err, req_.request_id), method);
  }

  static constexpr std::size_t kNoRoute = static_cast<std::size_t>(-1);

  void on_request() {
    state_ = State::processing;
    msg_ = parser_->release();
    keep_alive_ = msg_.keep_alive() && !srv_->stopping_.load();
    method_ = method_label(msg_.method());

    req_ = Request{};
    req_.method = std::string(msg_.method_string());
    req_.target = std::string(msg_.target());
    req_.client_ip = client_ip_;
    req_.headers.reserve(std::distance(msg_.begin(), msg_.end()));
    for (const auto& f : msg_) {
      std::string name(f.name_string());
      for (char& c : name)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      req_.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    if (auto it = msg_.find("x-request-id"); it != msg_.end() && is_sane_request_id(to_sv(it->value())))
      req_.request_id = std::string(to_sv(it->value()));
    else
      req_.request_id = new_request_id();

    route_index_ = kNoRoute;
    route_label_ = "unmatched";
    std::string_view target = req_.target;
    std::string_view raw_path = target.substr(0, target.find('?'));
    std::string_view raw_query = raw_path.size() < target.size() ? target.substr(raw_path.size() + 1) : "";

    RouteMatch m = srv_->router_.find(req_.method, raw_path);
    switch (m.outcome) {
      case RouteMatch::Outcome::bad_path:
        return write_response(error_response(Error::bad_request("invalid path encoding"), req_.request_id), method_);
      case RouteMatch::Outcome::not_found:
        return write_response(error_response(Error::not_found("Not Found"), req_.request_id), method_);
      case RouteMatch::Outcome::method_not_allowed: {
        route_label_ = m.matched_template;
        Response r = error_response(Error{Errc::method_not_allowed, "Method Not Allowed", {}, 0}, req_.request_id);
        r.headers.emplace_back("Allow", m.allow);
        return write_response(std::move(r), method_);
      }
      case RouteMatch::Outcome::found: break;
    }
    route_ = m.route;
    route_index_ = m.index;
    req_.path = std::move(m.path);
    req_.params = std::move(m.params);
    req_.route = route_->path;
    req_.body = std::move(msg_.body().data);
    req_.body_file = msg_.body().release_file();
    if (!raw_query.empty() && !parse_query(raw_query, req_.query))
      return write_response(error_response(Error::bad_request("invalid query encoding"), req_.request_id), method_);

    ws_upgrade_ = route_->ws_handler && websocket::is_upgrade(msg_);

    if (route_->inline_io && route_->access == Access::public_route && !route_->ws_handler)
      return write_response(run_handler(), method_);
    if (route_->async_handler && !route_->ws_handler) return dispatch_async();

    auto self = shared_from_this();
    bool queued = srv_->pool_->try_submit([self] {
      Result<Response> authed = self->authenticate();
      if (authed.ok() && self->ws_upgrade_) {
        net::post(self->stream_.get_executor(), [self] { self->upgrade(); });
        return;
      }
      // Auth comes first: an anonymous plain GET of a WebSocket route is a 401, not a hint.
      Response r = !authed.ok()               ? error_response(authed.error(), self->req_.request_id)
                   : self->route_->ws_handler ? error_response(Error::bad_request("WebSocket upgrade required"),
                                                               self->req_.request_id)
                                              : self->run_handler();
      self->discard_body_file();
      net::post(self->stream_.get_executor(),
                [self, r = std::move(r)]() mutable { self->write_response(std::move(r), self->method_); });
    });
    if (!queued) reply_busy();
  }

  void reply_busy() {
    discard_body_file();
    Error busy = Error::unavailable("Server busy, retry later");
    busy.retry_after_s = 1;
    write_response(error_response(busy, req_.request_id), method_);
  }

  // An asynchronous route. It runs right here on the I/O thread when nothing in its way can block:
  // the credential is answered without the store and the body is small enough to parse here.
  // Otherwise a worker authenticates first (as for every other route) and starts it.
  void dispatch_async() {
    if (req_.body_file.empty() && req_.body.size() <= kInlineBodyBytes) {
      if (std::optional<Result<Response>> authed = authenticate_cached()) {
        if (!authed->ok()) return write_response(error_response(authed->error(), req_.request_id), method_);
        return run_async_handler();
      }
    }
    auto self = shared_from_this();
    bool queued = srv_->pool_->try_submit([self] {
      Result<Response> authed = self->authenticate();
      if (authed.ok()) return self->run_async_handler();
      self->discard_body_file();
      Response r = error_response(authed.error(), self->req_.request_id);
      net::post(self->stream_.get_executor(),
                [self, r = std::move(r)]() mutable { self->write_response(std::move(r), self->method_); });
    });
    if (!queued) reply_busy();
  }

  // The reply may come from any thread; the response is written on this session's I/O thread.
  // In flight until the last copy of the reply is gone (the server's shutdown waits for that).
  void run_async_handler() {
    struct InFlight {
      std::shared_ptr<HttpSession> self;
      explicit InFlight(std::shared_ptr<HttpSession> s) : self(std::move(s)) { self->srv_->async_started(); }
      InFlight(const InFlight&) = delete;
      InFlight& operator=(const InFlight&) = delete;
      ~InFlight() {
        Server::Impl* srv = self->srv_;
        self.reset();  // the session may end here, while the server is certainly still there
        srv->async_finished();
      }
    };
    auto flight = std::make_shared<InFlight>(shared_from_this());
    Reply reply([flight](Result<Response> r) {
      const std::shared_ptr<HttpSession>& self = flight->self;
      Response resp = self->to_response(std::move(r));
      self->discard_body_file();
      net::post(self->stream_.get_executor(),
                [self, resp = std::move(resp)]() mutable { self->write_response(std::move(resp), self->method_); });
    });
    flight.reset();
    try {
      route_->async_handler(req_, reply);
    } catch (const std::exception& e) {
      log::error("handler threw", {log::str("error", e.what()), log::str("route", req_.route),
                                   log::str("request_id", req_.request_id)});
      reply(Error::internal("exception"));
    } catch (...) {
      log::error("handler threw", {log::str("error", "non-standard exception"), log::str("route", req_.route),
                                   log::str("request_id", req_.request_id)});
      reply(Error::internal("exception"));
    }
  }

  // A spooled body the handler did not move away is removed once the request is answered.
  void discard_body_file() {
    if (req_.body_file.empty()) return;
    ::unlink(req_.body_file.c_str());
    req_.body_file.clear();
  }

  std::string bearer_token() const {
    if (auto h = req_.header("authorization"); h && iprefix(*h, "bearer ")) {
      std::string_view t = std::string_view(*h).substr(7);
      while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
      while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
      return std::string(t);
    }
    if (route_->ws_handler) return req_.query_param("access_token").value_or("");
    return {};
  }

  // Worker thread. Ok (with an unused Response) when the route may run.
  Result<Response> authenticate() {
    if (route_->access == Access::public_route) return Response{};
    std::string token = bearer_token();
    if (token.empty() || !srv_->auth_) return Error::unauthorized("Not authenticated");
    try {
      return admit(srv_->auth_->authenticate(token));
    } catch (const std::exception& e) {
      log::error("authenticator threw", {log::str("error", e.what()), log::str("request_id", req_.request_id)});
      return Error::internal("authenticator threw");
    }
  }

  // I/O thread: authenticate() when the authenticator can answer without blocking, else nullopt.
  std::optional<Result<Response>> authenticate_cached() {
    if (route_->access == Access::public_route) return Result<Response>(Response{});
    std::string token = bearer_token();
    if (token.empty() || !srv_->auth_) return Result<Response>(Error::unauthorized("Not authenticated"));
    try {
      std::optional<Result<Principal>> p = srv_->auth_->authenticate_cached(token);
      if (!p) return std::nullopt;
      return admit(std::move(*p));
    } catch (const std::exception&) {
      return std::nullopt;  // the worker path asks again and reports it
    }
  }

  Result<Response> admit(Result<Principal> p) {
    if (!p) {
      Error e = p.error();
      if (e.code != Errc::unauthorized && e.code != Errc::unavailable && e.code != Errc::rate_limited) {
        log::error("authenticator failed", {log::str("error", e.message), log::str("request_id", req_.request_id)});
        e = Error::unauthorized("Not authenticated");
      }
      return e;
    }
    // A service key reaches only the internal routes, and only a service key reaches those.
    if ((route_->access == Access::service) != (p->role == Role::service) ||
        role_rank(p->role) < required_rank(route_->access))
      return Error::forbidden("Insufficient permissions");
    req_.principal = std::move(*p);
    return Response{};
  }

  Response to_response(Result<Response> r) {
    if (r.ok()) return std::move(r).value();
    if (r.error().code == Errc::internal)
      log::error("handler failed", {log::str("error", r.error().message), log::str("route", req_.route),
                                    log::str("request_id", req_.request_id)});
    return error_response(r.error(), req_.request_id);
  }

  Response run_handler() {
    try {
      return to_response(route_->handler(req_));
    } catch (const std::exception& e) {
      log::error("handler threw", {log::str("error", e.what()), log::str("route", req_.route),
                                   log::str("request_id", req_.request_id)});
    } catch (...) {
      log::error("handler threw", {log::str("error", "non-standard exception"), log::str("route", req_.route),
                                   log::str("request_id", req_.request_id)});
    }
    return error_response(Error::internal("exception"), req_.request_id);
  }

  void upgrade() {
    if (srv_->stopping_.load()) return close_now();
    state_ = State::closing;  // this session is done; the WebSocket connection takes the socket
    disarm_deadline();
    deadline_.cancel();
    record(101, 0);
    auto ws = std::make_shared<WsConnection>(srv_, shard_, stream_.release_socket(), std::move(slot_), *route_,
                                             std::move(req_));
    ws->start(std::move(msg_));
  }

  void record(int status, std::size_t bytes) {
    const double seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    srv_->record(method_, status, route_index_, route_index_ != kNoRoute, route_label_, seconds);
    if (log::level() <= log::Level::info) {
      log::info("request", {log::str("method", req_.method),
                            log::str("route", route_index_ != kNoRoute ? std::string_view(req_.route) : route_label_),
                            log::integer("status", status), log::num("duration_ms", seconds * 1000.0),
                            log::str("request_id", req_.request_id), log::integer("bytes", static_cast<long long>(bytes)),
                            log::str("client_ip", client_ip_)});
    }
  }

  void write_response(Response r, const char* method) {
    method_ = method;
    state_ = State::writing;
    reply_owned_ = std::move(r.body);
    reply_shared_ = std::move(r.shared_body);
    std::string_view body = reply_shared_ ? std::string_view(*reply_shared_) : std::string_view(reply_owned_);
    if (!status_has_body(r.status)) body = {};
    reply_keep_alive_ = keep_alive_ && !srv_->stopping_.load();
    write_response_head(reply_head_, r, req_.request_id, body.size(), reply_keep_alive_);
    record(r.status, body.size());
    arm_deadline(srv_->options_.limits.read_timeout_s);  // a client that never reads is cut off
    const std::array<net::const_buffer, 2> out{net::buffer(reply_head_), net::buffer(body.data(), body.size())};
    // Asio's own transfer_all() hands the socket at most 64 KiB per send: a 600 KB /posture body
    // took ten sends. As much as the socket takes per send, as Beast's serializer did.
    auto as_much_as_the_socket_takes = [](const beast::error_code& ec, std::size_t) -> std::size_t {
      return ec ? 0 : std::size_t{1} << 30;
    };
    net::async_write(stream_, out, as_much_as_the_socket_takes,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(beast::error_code ec) {
    disarm_deadline();
    reply_owned_ = std::string();  // an answer's body (an export may be megabytes) is not kept
    reply_shared_.reset();          // while the connection waits for its next request
    if (ec) return close_now();
    if (!reply_keep_alive_) return linger_close();
    first_request_ = false;
    do_read();
  }

  // Half-close, then drain what the client still sends for a moment so our answer is not lost to
  // a TCP reset caused by unread request bytes.
  void linger_close() {
    state_ = State::closing;
    disarm_deadline();
    deadline_.cancel();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kLingerTime);
    drain();
  }

  void drain() {
    if (drained_ > kLingerMaxBytes) return close_now();
    stream_.async_read_some(net::buffer(discard_), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      if (ec) return self->close_now();
      self->drained_ += n;
      self->drain();
    });
  }

  void close_now() {
    state_ = State::closing;
    disarm_deadline();
    deadline_.cancel();  // releases the timer's hold on this session
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  Server::Impl* srv_;
  IoShard* const shard_;
  uint64_t id_ = 0;
  beast::tcp_stream stream_;
  net::steady_timer deadline_;
  Clock::time_point deadline_at_{};
  Clock::time_point timer_expiry_{};
  bool deadline_active_ = false;
  bool timer_pending_ = false;
  bool timed_out_ = false;
  ConnectionSlot slot_;
  std::string client_ip_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<SpoolBody>> parser_;
  bhttp::request<SpoolBody> msg_;
  std::string reply_head_;  // reused: no allocation per answer once it has grown
  std::string reply_owned_;
  std::shared_ptr<const std::string> reply_shared_;
  bool reply_keep_alive_ = true;
  State state_ = State::waiting;
  bool first_request_ = true;
  bool route_limit_applied_ = true;
  bool ws_upgrade_ = false;  // the matched route is a WebSocket route and this request upgrades
  bool keep_alive_ = true;
  Clock::time_point started_{};
  const char* method_ = "OTHER";
  Request req_;
  const Route* route_ = nullptr;
  std::size_t route_index_ = kNoRoute;
  std::string route_label_ = "unmatched";
  std::array<char, 8192> discard_{};
  std::size_t drained_ = 0;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Server::Impl

Server::Impl::Impl(ServerOptions options, std::vector<Route> routes, Authenticator* auth, Metrics* metrics)
    : options_(std::move(options)),
      router_(std::move(routes)),
      auth_(auth),
      metrics_(metrics) {
  for (int i = 0; i < std::max(1, options_.limits.io_threads); ++i) shards_.push_back(std::make_unique<IoShard>());
  parser_body_limit_ = options_.limits.max_body_bytes;
  for (const Route& r : router_.routes()) {
    if (r.spool_body) any_route_limit_ = true;
    if (r.max_body_bytes == 0) continue;
    any_route_limit_ = true;
    parser_body_limit_ = std::max(parser_body_limit_, r.max_body_bytes);
  }
  if (options_.spool_dir.empty()) {
    options_.spool_dir = scratch::root();
  }
  if (metrics_) {
    for (const Route& r : router_.routes()) {
      RouteMetrics rm;
      rm.duration = &metrics_->histogram("secplat_http_request_duration_seconds", "HTTP request latency by route",
                                         default_latency_buckets(), {{"method", r.method}, {"route", r.path}});
      rm.by_status = std::make_unique<std::atomic<Counter*>[]>(500);
      for (int i = 0; i < 500; ++i) rm.by_status[i].store(nullptr, std::memory_order_relaxed);
      route_metrics_.push_back(std::move(rm));
    }
    connections_gauge_ = &metrics_->gauge("secplat_http_connections_open", "Open HTTP and WebSocket connections");
    std::weak_ptr<PoolProbe> probe = pool_probe_;
    metrics_->add_collector([probe](std::string& out) {
      auto p = probe.lock();
      if (!p) return;
      std::lock_guard lk(p->mu);
      if (!p->pool) return;
      out += "# HELP secplat_http_worker_queue_depth Handler tasks waiting for a worker\n"
             "# TYPE secplat_http_worker_queue_depth gauge\n"
             "secplat_http_worker_queue_depth " + std::to_string(p->pool->queued()) + "\n"
             "# HELP secplat_http_worker_busy Workers running a handler\n"
             "# TYPE secplat_http_worker_busy gauge\n"
             "secplat_http_worker_busy " + std::to_string(p->pool->busy()) + "\n";
    });
  }
}

std::size_t Server::Impl::route_body_limit(std::string_view method, std::string_view target, bool& spool) const {
  RouteMatch m = router_.find(method, target.substr(0, target.find('?')));
  spool = m.outcome == RouteMatch::Outcome::found && m.route->spool_body;
  if (m.outcome == RouteMatch::Outcome::found && m.route->max_body_bytes != 0) return m.route->max_body_bytes;
  return options_.limits.max_body_bytes;
}

Server::Impl::~Impl() {
  shutdown();
  std::lock_guard lk(pool_probe_->mu);
  pool_probe_->pool = nullptr;
}

void Server::Impl::record(const char* method, int status, std::size_t route_index, bool matched,
                          const std::string& route_tmpl, double seconds) {
  if (!metrics_) return;
  static constexpr const char* kRequestsHelp = "HTTP requests by method, route template and status";
  if (matched && status >= 100 && status < 600) {
    RouteMetrics& rm = route_metrics_[route_index];
    std::atomic<Counter*>& slot = rm.by_status[status - 100];
    Counter* c = slot.load(std::memory_order_acquire);
    if (!c) {
      const Route& r = router_.routes()[route_index];
      c = &metrics_->counter("secplat_http_requests_total", kRequestsHelp,
                             {{"method", r.method}, {"route", r.path}, {"status", std::to_string(status)}});
      slot.store(c, std::memory_order_release);
    }
    c->inc();
    rm.duration->observe(seconds);
    return;
  }
  // Unmatched and early-error requests: labels are bounded (method verb set, "unmatched" or a template).
  metrics_->counter("secplat_http_requests_total", kRequestsHelp,
                    {{"method", method}, {"route", route_tmpl}, {"status", std::to_string(status)}})
      .inc();
  metrics_
      ->histogram("secplat_http_request_duration_seconds", "HTTP request latency by route", default_latency_buckets(),
                  {{"method", method}, {"route", route_tmpl}})
      .observe(seconds);
}

void Server::Impl::connection_opened() {
  open_.fetch_add(1);
  if (connections_gauge_) connections_gauge_->inc();
}

void Server::Impl::connection_closed() {
  if (connections_gauge_) connections_gauge_->dec();
  if (open_.fetch_sub(1) == 1) {
    std::lock_guard lk(mu_);
    cv_.notify_all();
  }
}

uint64_t Server::Impl::register_connection(std::weak_ptr<Connection> c) {
  std::lock_guard lk(mu_);
  uint64_t id = next_connection_id_++;
  connections_.emplace(id, std::move(c));
  return id;
}

void Server::Impl::unregister_connection(uint64_t id) {
  std::lock_guard lk(mu_);
  connections_.erase(id);
}

Result<uint16_t> Server::Impl::start() {
  {
    std::lock_guard lk(mu_);
    if (started_) return Error::internal("server already started");
    started_ = true;
  }
  beast::error_code ec;
  net::ip::address addr = net::ip::make_address(options_.host, ec);
  if (ec) {
    tcp::resolver resolver(shards_.front()->ioc);
    auto results = resolver.resolve(options_.host, "", ec);
    if (ec || results.empty())
      return Error::unavailable("cannot resolve listen host '" + options_.host + "'");
    addr = results.begin()->endpoint().address();
  }
  tcp::endpoint ep(addr, options_.port);
  acceptor_.emplace(shards_.front()->ioc);
  auto fail = [&](const char* what) -> Error {
    return Error::unavailable(std::string("cannot listen on ") + options_.host + ":" + std::to_string(options_.port) +
                              ": " + what + ": " + ec.message());
  };
  acceptor_->open(ep.protocol(), ec);
  if (ec) return fail("open");
  acceptor_->set_option(net::socket_base::reuse_address(true), ec);
  acceptor_->bind(ep, ec);
  if (ec) return fail("bind");
  acceptor_->listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  const uint16_t port = acceptor_->local_endpoint().port();

  pool_ = std::make_unique<WorkerPool>(static_cast<std::size_t>(std::max(1, options_.limits.worker_threads)),
                                       static_cast<std::size_t>(std::max(1, options_.limits.worker_queue)));
  {
    std::lock_guard lk(pool_probe_->mu);
    pool_probe_->pool = pool_.get();
  }
  for (auto& sh : shards_) sh->work.emplace(sh->ioc.get_executor());
  net::dispatch(acceptor_->get_executor(), [this] { do_accept(); });
  for (auto& sh : shards_)
    io_threads_.emplace_back([io = &sh->ioc] {
      set_thread_name("secplat-http-io");
      io->run();
    });
  log::info("http server listening", {log::str("host", options_.host), log::integer("port", port)});
  return port;
}

void Server::Impl::do_accept() {
  // Connections go to the shards in turn; each is served by its shard's thread from here on.
  IoShard* shard = shards_[next_shard_++ % shards_.size()].get();
  acceptor_->async_accept(shard->ioc, [this, shard](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (!acceptor_->is_open() || stopping_.load()) return;
      // Transient (e.g. EMFILE): keep accepting.
      log::warn("accept failed", {log::str("error", ec.message())});
      return do_accept();
    }
    if (stopping_.load()) return;
    if (open_.load() >= static_cast<std::size_t>(std::max(1, options_.limits.max_connections))) {
      beast::error_code ignored;
      socket.close(ignored);  // over the limit: refuse by closing at once
    } else {
      // Small writes (WebSocket events, short responses) go out at once, not after the peer's ACK.
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<HttpSession>(this, shard, std::move(socket))->run();
    }
    do_accept();
  });
}

void Server::Impl::shutdown() {
  {
    std::unique_lock lk(mu_);
    if (shutdown_started_) {
      cv_.wait(lk, [&] { return shutdown_done_; });
      return;
    }
    shutdown_started_ = true;
    if (!started_ || io_threads_.empty()) {
      shutdown_done_ = true;
      cv_.notify_all();
      return;
    }
  }
  stopping_.store(true);
  // 1. Stop accepting: new connections are refused from here on.
  {
    std::promise<void> closed;
    net::post(acceptor_->get_executor(), [&] {
      beast::error_code ignored;
      acceptor_->close(ignored);
      closed.set_value();
    });
    closed.get_future().wait();
  }
  // 2. Ask every connection to wind down: idle ones close now, busy ones after their response,
  //    WebSockets get a 1001 close.
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard lk(mu_);
    for (auto& [id, w] : connections_)
      if (auto c = w.lock()) live.push_back(std::move(c));
  }
  for (auto& c : live) c->server_shutdown();
  live.clear();
  // 3. Drain within the grace period.
  {
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, std::chrono::seconds(std::max(0, options_.limits.shutdown_grace_s)),
                 [&] { return open_.load() == 0; });
  }
  if (open_.load() != 0)
    log::warn("shutdown grace period over; dropping connections", {log::integer("open", static_cast<long long>(open_.load()))});
  // 4. Stop I/O, then the workers (their late posts are dropped with the io_context).
  for (auto& sh : shards_) {
    sh->work.reset();
    sh->ioc.stop();
  }
  for (auto& t : io_threads_) t.join();
  io_threads_.clear();
  for (auto& sh : shards_) sh->clear();
  pool_->shutdown();
  // Asynchronous work (a store write) still answers requests whose connection is gone; its
  // replies post to the stopped I/O contexts, which must outlive them.
  {
    std::unique_lock lk(mu_);
    while (!cv_.wait_for(lk, std::chrono::seconds(10), [&] { return async_in_flight_.load() == 0; }))
      log::warn("waiting for asynchronous requests to finish",
                {log::integer("in_flight", static_cast<long long>(async_in_flight_.load()))});
  }
  {
    std::lock_guard lk(mu_);
    for (auto& [id, w] : connections_)
      if (auto c = w.lock()) live.push_back(std::move(c));
  }
  for (auto& c : live) c->server_detach();
  live.clear();
  {
    std::lock_guard lk(mu_);
    shutdown_done_ = true;
  }
  cv_.notify_all();
  log::info("http server stopped");
}

void Server::Impl::wait() {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return shutdown_done_; });
}

// ---------------------------------------------------------------------------------------------
// Server

Server::Server(ServerOptions options, std::vector<Route> routes, Authenticator* auth, Metrics* metrics)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(routes), auth, metrics)) {}

Server::~Server() { impl_->shutdown(); }

Result<uint16_t> Server::start() { return impl_->start(); }
void Server::shutdown() { impl_->shutdown(); }
void Server::wait() { impl_->wait(); }
std::size_t Server::open_connections() const { return impl_->open_.load(); }

}  // namespace secplat::http
