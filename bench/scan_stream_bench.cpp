// Scan submission latency and live-log fan-out, measured through the real HTTP/WebSocket server and
// the real scan routes, event log and SQLite store, in one process over loopback:
//
//  1. submission: N sequential POST /v1/security-scans on one keep-alive connection (validation,
//     idempotency fingerprint, store insert, queue publish, audit row); latency percentiles.
//  2. fan-out: S WebSocket subscribers on one scan's /stream; once all are following, E log events
//     are appended at a fixed rate, then scan_complete. Each event carries the monotonic time it was
//     appended; every subscriber records the delay to receipt and checks that it got every event
//     exactly once and in order.
//
// No scan worker runs, so the events are the only load; the client threads share the machine's
// cores with the server (as wrk does in the HTTP bench).
//
// usage: scan_stream_bench [subscribers=1000] [events=100] [event_interval_us=100000] [submissions=500]
//                          [client_threads=2] [client=raw|beast]
//
// Clients: `raw` (default) reads frames straight off the sockets with epoll (see RawSubscriber);
// `beast` is a Boost.Beast websocket client per subscriber, several times the client-side CPU per
// frame, which on a 2-core machine shared with the server shows up in the delivery figure.
// BENCH_IO_THREADS overrides the server's http.io_threads (default 2).
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/scans_routes.h"
#include "assurance/scan_events.h"
#include "assurance/scan_service.h"
#include "assurance/scan_store.h"
#include "auth/audit_log.h"
#include "auth/migrations.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/json.h"
#include "core/metrics.h"
#include "http/server.h"
#include "queue/local_queue.h"
#include "store/sqlite_db.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace fs = std::filesystem;
using namespace secplat;

namespace {

constexpr const char* kToken = "bench-token";

class BenchAuth final : public http::Authenticator {
 public:
  Result<http::Principal> authenticate(std::string_view bearer) override {
    if (bearer == kToken) return http::Principal{"bench", http::Role::admin, "user", 1};
    return Error::unauthorized("Invalid token");
  }
};

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double pct(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i];
}

// The integer after `key` in `text`, or -1.
int64_t number_after(std::string_view text, std::string_view key) {
  auto pos = text.find(key);
  if (pos == std::string_view::npos) return -1;
  int64_t v = 0;
  auto first = text.data() + pos + key.size();
  auto [end, ec] = std::from_chars(first, text.data() + text.size(), v);
  return ec == std::errc() && end != first ? v : -1;
}

// One subscriber: connect, handshake, read until the server closes the stream.
struct Subscriber : std::enable_shared_from_this<Subscriber> {
  websocket::stream<beast::tcp_stream> ws;
  beast::flat_buffer buf;
  std::string target;
  int64_t last_seq = 0;
  int64_t bench_events = 0;
  bool out_of_order = false;
  bool done = false;
  std::vector<double> latencies_ms;
  std::atomic<int>* ready;

  Subscriber(asio::io_context& io, std::string t, std::atomic<int>* r) : ws(io), target(std::move(t)), ready(r) {}

  void start(uint16_t port) {
    auto self = shared_from_this();
    beast::get_lowest_layer(ws).async_connect(
        asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), [self](beast::error_code ec) {
          if (ec) return self->fail("connect", ec);
          self->ws.async_handshake("127.0.0.1", self->target, [self](beast::error_code ec2) {
            if (ec2) return self->fail("handshake", ec2);
            self->ready->fetch_add(1);
            self->read();
          });
        });
  }
  void read() {
    auto self = shared_from_this();
    ws.async_read(buf, [self](beast::error_code ec, std::size_t) {
      if (ec) {
        self->done = true;
        if (ec != websocket::error::closed) self->fail("read", ec);
        return;
      }
      int64_t received = now_ns();
      // The two numbers this needs, without a full JSON parse (the client shares the cores).
      auto data = self->buf.cdata();
      std::string_view text(static_cast<const char*>(data.data()), data.size());
      int64_t seq = number_after(text, "\"seq\":");
      if (seq <= self->last_seq) self->out_of_order = true;
      self->last_seq = seq;
      if (int64_t sent = number_after(text, "\"sent_ns\":"); sent > 0) {
        self->bench_events++;
        self->latencies_ms.push_back(static_cast<double>(received - sent) / 1e6);
      }
      self->buf.consume(self->buf.size());
      self->read();
    });
  }
  void fail(const char* what, beast::error_code ec) {
    done = true;
    std::fprintf(stderr, "subscriber %s: %s\n", what, ec.message().c_str());
  }
};


// The lean client: the upgrade written and read by hand, then frames parsed straight from the
// socket with epoll, one thread per share of the sockets. It does what a subscriber must (every
// frame's header, the seq check, the latency) and nothing else, so that on a machine where the
// clients share the server's cores the figure is mostly the server's.
struct RawSubscriber {
  int fd = -1;
  std::string buf;  // bytes not parsed yet
  int64_t last_seq = 0;
  int64_t bench_events = 0;
  bool out_of_order = false;
  bool done = false;
  std::vector<double> latencies_ms;
  std::vector<int64_t> seqs;  // the event of each latency

  bool connect_and_upgrade(uint16_t port, const std::string& target) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return false;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) return false;
    char tmp[4096];
    while (buf.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n <= 0) return false;
      buf.append(tmp, static_cast<std::size_t>(n));
    }
    if (!buf.starts_with("HTTP/1.1 101")) return false;
    buf.erase(0, buf.find("\r\n\r\n") + 4);  // frames sent right after the upgrade stay
    return true;
  }

  // Parses every whole frame in buf; false once the server's close frame arrived.
  bool parse(int64_t received) {
    std::size_t pos = 0;
    while (buf.size() - pos >= 2) {
      auto b0 = static_cast<unsigned char>(buf[pos]), b1 = static_cast<unsigned char>(buf[pos + 1]);
      std::size_t len = b1 & 0x7f, head = 2;
      if (b1 & 0x80) return fail("masked frame from the server");
      if (len == 126) {
        if (buf.size() - pos < 4) break;
        len = (static_cast<unsigned char>(buf[pos + 2]) << 8) | static_cast<unsigned char>(buf[pos + 3]);
        head = 4;
      } else if (len == 127) {
        return fail("frame over 64 KiB");
      }
      if (buf.size() - pos < head + len) break;
      std::string_view text(buf.data() + pos + head, len);
      pos += head + len;
      int opcode = b0 & 0x0f;
      if (opcode == 8) return false;
      if (opcode != 1 || !(b0 & 0x80)) continue;  // pings; the server sends no fragments
      int64_t seq = number_after(text, "\"seq\":");
      if (seq <= last_seq) out_of_order = true;
      last_seq = seq;
      if (int64_t sent = number_after(text, "\"sent_ns\":"); sent > 0) {
        bench_events++;
        latencies_ms.push_back(static_cast<double>(received - sent) / 1e6);
        seqs.push_back(seq);
      }
    }
    buf.erase(0, pos);
    return true;
  }
  bool fail(const char* what) {
    std::fprintf(stderr, "raw subscriber: %s\n", what);
    return false;
  }
};

// Reads `subs` until every one has seen its close frame (or its socket ended).
void run_raw_clients(std::vector<RawSubscriber*> subs) {
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  for (std::size_t i = 0; i < subs.size(); ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, subs[i]->fd, &ev);
  }
  std::size_t open = subs.size();
  std::vector<epoll_event> ready(256);
  char tmp[65536];
  while (open > 0) {
    int n = ::epoll_wait(ep, ready.data(), static_cast<int>(ready.size()), 30000);
    if (n <= 0) break;
    int64_t received = now_ns();
    for (int k = 0; k < n; ++k) {
      RawSubscriber* s = subs[ready[k].data.u64];
      ssize_t got = ::recv(s->fd, tmp, sizeof tmp, MSG_DONTWAIT);
      if (got > 0) s->buf.append(tmp, static_cast<std::size_t>(got));
      if (got == 0 || (got > 0 && !s->parse(received))) {
        s->done = true;
        ::epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, nullptr);
        ::close(s->fd);
        open--;
      }
    }
  }
  ::close(ep);
}

}  // namespace

int main(int argc, char** argv) {
  const int subscribers = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int events = argc > 2 ? std::atoi(argv[2]) : 100;
  const int interval_us = argc > 3 ? std::atoi(argv[3]) : 100000;
  const int submissions = argc > 4 ? std::atoi(argv[4]) : 500;
  const int client_threads = argc > 5 ? std::max(1, std::atoi(argv[5])) : 2;
  const std::string client_kind = argc > 6 ? argv[6] : "raw";
  if (client_kind != "raw" && client_kind != "beast") return std::fprintf(stderr, "client: raw or beast\n"), 2;

  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  setrlimit(RLIMIT_NOFILE, &nofile);
  if (nofile.rlim_cur < static_cast<rlim_t>(2 * subscribers + 64)) {
    std::fprintf(stderr, "open-file limit %llu is too low for %d subscribers\n",
                 static_cast<unsigned long long>(nofile.rlim_cur), subscribers);
    return 2;
  }

  fs::path root = fs::temp_directory_path() / ("secplat-stream-bench-" + std::to_string(::getpid()));
  fs::create_directories(root / "data");
  fs::create_directories(root / "src");
  std::ofstream(root / "src/app.py") << "print('hello')\n";

  auto db = store::open_sqlite({(root / "data/db.sqlite").string(), 4, 5000});
  if (!db) return std::fprintf(stderr, "db: %s\n", db.error().message.c_str()), 1;
  for (const auto& m : {assurance::scan_migrations(), queue::local_queue_migrations(), auth::auth_migrations()})
    if (auto s = store::migrate(**db, m); !s) return std::fprintf(stderr, "migrate: %s\n", s.error().message.c_str()), 1;
  auto q = queue::open_local_queue(**db, {});
  if (!q) return std::fprintf(stderr, "queue: %s\n", q.error().message.c_str()), 1;
  SystemClock clock;
  Config config;
  config.data_dir = (root / "data").string();
  config.allowed_source_roots = {root.string()};
  assurance::ScanStore scans(**db, clock);
  assurance::ScanEventLog log(scans, clock);
  auth::AuditLog audit(**db, clock);
  assurance::ScanService service(scans, log, **q, audit, clock, nullptr, config);
  auto routes = api::scan_routes({service, "", 1 << 20, nullptr});
  BenchAuth auth;
  Metrics metrics;
  HttpConfig limits = config.http;
  if (const char* n = std::getenv("BENCH_IO_THREADS")) limits.io_threads = std::atoi(n);
  http::Server server(http::ServerOptions{"127.0.0.1", 0, limits, ""}, std::move(routes), &auth, &metrics);
  auto port = server.start();
  if (!port) return std::fprintf(stderr, "server: %s\n", port.error().message.c_str()), 1;

  const std::string body =
      Json{{"workspace_id", "bench"}, {"component_id", "c"}, {"assessment_id", "a"}, {"source_type", "directory"},
           {"directory_path", (root / "src").string()}, {"profile", "light"},
           {"manifest", {{"profiles", Json::array({{{"name", "light"}, {"tools", {"secrets"}}}})}}}}
          .dump();

  // 1. Submission latency on one keep-alive connection.
  asio::io_context io;
  std::string first_test_id;
  {
    beast::tcp_stream conn(io);
    conn.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), *port));
    std::vector<double> lat;
    int errors = 0;
    auto t0 = now_ns();
    for (int i = 0; i < submissions + 1; ++i) {
      beast::http::request<beast::http::string_body> req{beast::http::verb::post, "/v1/security-scans", 11};
      req.set(beast::http::field::host, "127.0.0.1");
      req.set(beast::http::field::authorization, std::string("Bearer ") + kToken);
      req.set(beast::http::field::content_type, "application/json");
      req.body() = body;
      req.prepare_payload();
      auto start = now_ns();
      beast::http::write(conn, req);
      beast::flat_buffer b;
      beast::http::response<beast::http::string_body> res;
      beast::http::read(conn, b, res);
      if (res.result_int() != 202) {
        errors++;
        if (errors == 1) std::fprintf(stderr, "submit: %d %s\n", res.result_int(), res.body().c_str());
      } else if (first_test_id.empty()) {
        first_test_id = Json::parse(res.body())["test_id"].get<std::string>();
      }
      if (i > 0) lat.push_back(static_cast<double>(now_ns() - start) / 1e6);  // first one warms caches
    }
    double secs = static_cast<double>(now_ns() - t0) / 1e9;
    std::printf("submission: %d POST /v1/security-scans, %d errors, %.0f req/s sequential, latency p50 %.3f ms, "
                "p99 %.3f ms, max %.3f ms\n",
                submissions, errors, (submissions + 1) / secs, pct(lat, 50), pct(lat, 99), pct(lat, 100));
    if (errors) return 1;
  }

  // 2. Fan-out: every subscriber follows first_test_id's stream. The first log line of a process
  // compiles the redaction rules (~0.6 s, once); that happens here, before anyone listens.
  (void)log.append(first_test_id, "log", Json{{"line", "bench warm-up"}});
  std::atomic<int> ready{0};
  std::vector<std::shared_ptr<Subscriber>> subs;
  std::vector<RawSubscriber> raw(client_kind == "raw" ? subscribers : 0);
  const std::string target = "/v1/security-scans/" + first_test_id + "/stream?access_token=" + kToken;
  auto connect_start = now_ns();
  std::vector<std::thread> client;
  if (client_kind == "beast") {
    for (int i = 0; i < subscribers; ++i) {
      subs.push_back(std::make_shared<Subscriber>(io, target, &ready));
      subs.back()->start(*port);
    }
    for (int i = 0; i < client_threads; ++i) client.emplace_back([&] { io.run(); });
  } else {
    for (auto& r : raw) {
      if (!r.connect_and_upgrade(*port, target)) return std::fprintf(stderr, "raw subscriber: upgrade failed\n"), 1;
      r.parse(now_ns());
    }
    for (int t = 0; t < client_threads; ++t) {
      std::vector<RawSubscriber*> share;
      for (int i = t; i < subscribers; i += client_threads) share.push_back(&raw[static_cast<std::size_t>(i)]);
      client.emplace_back([share] { run_raw_clients(share); });
    }
  }
  while (log.live_subscribers() < subscribers && now_ns() - connect_start < 60'000'000'000LL)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::printf("fan-out: %d subscribers following after %.0f ms\n", static_cast<int>(log.live_subscribers()),
              static_cast<double>(now_ns() - connect_start) / 1e6);
  if (log.live_subscribers() < subscribers) return std::fprintf(stderr, "not every subscriber attached\n"), 1;

  auto next = std::chrono::steady_clock::now();
  std::vector<double> append_ms;  // store insert + hand-off to every subscriber, on the appending thread
  for (int i = 0; i < events; ++i) {
    next += std::chrono::microseconds(interval_us);
    std::this_thread::sleep_until(next);
    const int64_t sent = now_ns();
    Json fields{{"line", "[secrets] scanned batch " + std::to_string(i) + " of the bench tree"}, {"sent_ns", sent}};
    if (auto s = log.append(first_test_id, "log", std::move(fields)); !s)
      return std::fprintf(stderr, "append: %s\n", s.error().message.c_str()), 1;
    append_ms.push_back(static_cast<double>(now_ns() - sent) / 1e6);
  }
  (void)log.append(first_test_id, "scan_complete", Json{{"status", "SUCCEEDED"}});
  for (auto& t : client) t.join();

  std::vector<double> all;
  int complete = 0, disordered = 0;
  auto tally = [&](int64_t got, bool disorder, const std::vector<double>& lat) {
    if (got == events) complete++;
    if (disorder) disordered++;
    all.insert(all.end(), lat.begin(), lat.end());
  };
  for (auto& s : subs) tally(s->bench_events, s->out_of_order, s->latencies_ms);
  for (auto& r : raw) tally(r.bench_events, r.out_of_order, r.latencies_ms);
  std::printf(
      "fan-out: %d events at %d/s to %d subscribers (%d %s client threads): %zu deliveries, %d subscribers got all %d, "
      "%d out of order; delivery latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
      events, 1000000 / std::max(1, interval_us), subscribers, client_threads, client_kind.c_str(), all.size(), complete, events,
      disordered, pct(all, 50), pct(all, 99), pct(all, 100));
  // Where the tail comes from: the appending thread's share, and how the last delivery of each
  // event is spread (a few slow events, or every event slow for its last subscribers).
  std::map<int64_t, double> last_of_event;
  for (auto& r : raw)
    for (std::size_t k = 0; k < r.seqs.size(); ++k)
      last_of_event[r.seqs[k]] = std::max(last_of_event[r.seqs[k]], r.latencies_ms[k]);
  std::vector<double> last;
  for (auto& [_, v] : last_of_event) last.push_back(v);
  std::printf("fan-out: append + hand-off p50 %.2f ms, p99 %.2f ms, max %.2f ms", pct(append_ms, 50), pct(append_ms, 99),
              pct(append_ms, 100));
  if (!last.empty())
    std::printf("; last delivery per event p50 %.2f ms, p90 %.2f ms, max %.2f ms", pct(last, 50), pct(last, 90),
                pct(last, 100));
  std::printf("\n");
  server.shutdown();
  fs::remove_all(root);
  return complete == subscribers && disordered == 0 ? 0 : 1;
}
