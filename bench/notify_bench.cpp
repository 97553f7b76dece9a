// Notification pipeline, end to end in one process on SQLite + the local queue: `posture.changed`
// down events published on secplat.events.correlation → a running Correlator (one incident per
// asset, outbox relayed to secplat.events.notify) → a running Notifier → one WebhookChannel → an
// in-process http::Server that records when each asset's message arrives.
//   burst   : N events for N distinct assets published back to back; events/s from the first
//             publish to the last delivery, and the publish → arrival delay per event.
//   trickle : M events for M other assets, one every gap_ms; the same delay figures at low load.
//   anchor  : WebhookChannel::send() alone to the same receiver, N times in a row: the floor the
//             last hop costs without the store, the queue or the correlation in front of it.
// The notifier's rate limit is raised out of the way (it would otherwise hold the burst to 30 sends
// per minute); the Correlator and Notifier run one reader/worker each, as `secplat serve` does.
// usage: notify_bench [burst=2000] [trickle=200] [gap_ms=20]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "auth/audit_log.h"
#include "auth/migrations.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/json.h"
#include "core/log.h"
#include "http/server.h"
#include "incidents/correlator.h"
#include "incidents/incident_service.h"
#include "incidents/suppression.h"
#include "notify/channels.h"
#include "notify/notifier.h"
#include "queue/envelope.h"
#include "queue/local_queue.h"
#include "queue/streams.h"
#include "store/sqlite_db.h"

using namespace secplat;
using SteadyTime = std::chrono::steady_clock::time_point;

namespace {

constexpr int64_t kNotifierRateLimit = 1'000'000;  // sends per channel per minute: never the bottleneck
constexpr auto kDeliveryDeadline = std::chrono::seconds(300);

double seconds_between(SteadyTime a, SteadyTime b) { return std::chrono::duration<double>(b - a).count(); }
double ms_between(SteadyTime a, SteadyTime b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

[[noreturn]] void die(const char* what, const Error& e) {
  std::fprintf(stderr, "%s: %s\n", what, e.message.c_str());
  std::exit(1);
}

// The webhook endpoint: records the first arrival (steady clock) per asset_key of the body.
// Runs on the server's I/O thread (inline_io): it only parses a small body and takes one mutex.
class Receiver {
 public:
  http::Route route() {
    http::Route r;
    r.method = "POST";
    r.path = "/hook";
    r.access = http::Access::public_route;
    r.inline_io = true;
    r.handler = [this](http::Request& req) -> Result<http::Response> {
      const auto now = std::chrono::steady_clock::now();
      const Json body = Json::parse(req.body, nullptr, false);
      const std::string asset = body.is_object() ? body.value("asset_key", std::string()) : std::string();
      {
        std::lock_guard lk(mu_);
        if (arrivals_.emplace(asset, now).second) cv_.notify_all();
      }
      return http::Response::no_content();
    };
    return r;
  }

  // Waits until `n` distinct assets have arrived since the last reset(), or the deadline passes.
  bool wait_for(std::size_t n, std::chrono::seconds timeout) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return arrivals_.size() >= n; });
  }
  std::map<std::string, SteadyTime> take() {
    std::lock_guard lk(mu_);
    return std::exchange(arrivals_, {});
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, SteadyTime> arrivals_;
};

// Nearest-rank percentiles of a set of delays in ms.
struct Delays {
  std::size_t n = 0;
  double p50 = 0, p99 = 0, max = 0;
};
Delays summarize(std::vector<double> ms) {
  Delays d;
  d.n = ms.size();
  if (ms.empty()) return d;
  std::sort(ms.begin(), ms.end());
  auto rank = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<std::size_t>(std::ceil(q * ms.size())) - 1)]; };
  d.p50 = rank(0.50);
  d.p99 = rank(0.99);
  d.max = ms.back();
  return d;
}

// What the deriver publishes when an asset goes down.
queue::Fields down_event(const std::string& asset, int64_t now_ms) {
  const Json payload{{"asset_key", asset}, {"change", "status"}, {"from", "up"},
                     {"to", "down"},       {"status", "down"},   {"flapping", false}};
  return queue::make_envelope("posture.changed", asset, "high", payload, "", now_ms);
}

struct PhaseResult {
  SteadyTime first_publish{}, last_publish{}, last_arrival{};
  std::size_t delivered = 0;
  Delays delay;
};

// Publishes one down event per asset "<prefix>-<i>", `gap` apart (zero: back to back), then waits
// for their deliveries and matches each arrival to its publish time.
PhaseResult run_phase(queue::Queue& queue, Receiver& receiver, const Clock& clock, const std::string& prefix, int n,
                      std::chrono::milliseconds gap) {
  std::map<std::string, SteadyTime> published;
  PhaseResult r;
  const std::string stream(queue::kCorrelationEvents);
  auto next = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    if (gap.count() > 0) {
      std::this_thread::sleep_until(next);
      next += gap;
    }
    const std::string asset = prefix + "-" + std::to_string(i);
    const auto fields = down_event(asset, clock.now_ms());
    const auto t = std::chrono::steady_clock::now();
    if (auto id = queue.publish(stream, fields); !id.ok()) die("publish", id.error());
    published.emplace(asset, t);
    if (i == 0) r.first_publish = t;
  }
  r.last_publish = std::chrono::steady_clock::now();
  if (!receiver.wait_for(static_cast<std::size_t>(n), kDeliveryDeadline))
    std::fprintf(stderr, "%s: not every message arrived within %lld s\n", prefix.c_str(),
                 static_cast<long long>(kDeliveryDeadline.count()));
  std::vector<double> delays;
  for (const auto& [asset, at] : receiver.take()) {
    auto it = published.find(asset);
    if (it == published.end()) continue;
    delays.push_back(ms_between(it->second, at));
    r.last_arrival = std::max(r.last_arrival, at);
  }
  r.delivered = delays.size();
  r.delay = summarize(std::move(delays));
  return r;
}

void print_delays(const char* label, const Delays& d) {
  std::printf("%s: publish → webhook arrival over %zu events: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", label, d.n,
              d.p50, d.p99, d.max);
}

}  // namespace

int main(int argc, char** argv) {
  const int n_burst = argc > 1 ? std::max(1, std::atoi(argv[1])) : 2000;
  const int n_trickle = argc > 2 ? std::max(1, std::atoi(argv[2])) : 200;
  const auto gap = std::chrono::milliseconds(argc > 3 ? std::max(1, std::atoi(argv[3])) : 20);
  // One info line per incident, delivery and HTTP request would be a large share of the work.
  log::set_level(log::Level::warn);

  const auto dir = std::filesystem::temp_directory_path() / ("secplat-notify-bench-" + random_hex(6));
  std::filesystem::create_directories(dir);
  auto db = store::open_sqlite({.path = (dir / "bench.db").string(), .readers = 2, .busy_timeout_ms = 10000});
  if (!db.ok()) die("open", db.error());
  auto migrations = auth::auth_migrations();
  for (auto& m : queue::local_queue_migrations()) migrations.push_back(std::move(m));
  for (auto& m : incidents::incident_migrations()) migrations.push_back(std::move(m));
  for (auto& m : incidents::suppression_migrations()) migrations.push_back(std::move(m));
  for (auto& m : incidents::correlator_migrations()) migrations.push_back(std::move(m));
  for (auto& m : notify::notify_migrations()) migrations.push_back(std::move(m));
  if (auto s = store::migrate(**db, migrations); !s.ok()) die("migrate", s.error());

  SystemClock clock;
  auto queue = queue::open_local_queue(**db, {});
  if (!queue.ok()) die("queue", queue.error());

  // The receiver, on a free loopback port.
  Receiver receiver;
  HttpConfig limits;
  limits.io_threads = 1;
  limits.worker_threads = 1;
  http::Server server({.host = "127.0.0.1", .port = 0, .limits = limits}, {receiver.route()}, nullptr, nullptr);
  auto port = server.start();
  if (!port.ok()) die("receiver", port.error());
  const std::string hook_url = "http://127.0.0.1:" + std::to_string(*port) + "/hook";

  // The pipeline. Every asset of the bench is down; there are no suppression rules.
  auth::AuditLog audit(**db, clock);
  incidents::IncidentService incidents(**db, clock, audit);
  incidents::Suppression suppression(**db, clock, audit);
  incidents::HealthLookup health = [](const std::string&) -> std::optional<std::string> { return "down"; };
  suppression.set_health_lookup(health);
  incidents::Correlator correlator(**db, **queue, incidents, suppression, health, {}, clock);

  notify::ChannelOptions co;
  co.clock = &clock;
  std::vector<std::unique_ptr<notify::Channel>> channels;
  channels.push_back(std::make_unique<notify::WebhookChannel>(hook_url, "", co));
  notify::NotifierOptions no;
  no.rate_limit = kNotifierRateLimit;
  notify::Notifier notifier(**db, **queue, std::move(channels), no, clock);

  if (auto s = correlator.start(); !s.ok()) die("correlator", s.error());
  if (auto s = notifier.start(); !s.ok()) die("notifier", s.error());

  const auto burst = run_phase(**queue, receiver, clock, "burst", n_burst, std::chrono::milliseconds(0));
  const auto trickle = run_phase(**queue, receiver, clock, "trickle", n_trickle, gap);
  notifier.stop();
  correlator.stop();

  // Anchor: the bare webhook send, same receiver, one after another.
  notify::WebhookChannel anchor(hook_url, "", co);
  notify::Notification probe;
  probe.event_type = "incident.created";
  probe.severity = "high";
  probe.title = "anchor is down";
  probe.status = "firing";
  std::vector<double> send_ms;
  const auto a0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n_burst; ++i) {
    probe.asset_key = "anchor-" + std::to_string(i);
    const auto t = std::chrono::steady_clock::now();
    if (auto r = anchor.send(probe); !r.ok) die("anchor send", Error::unavailable(r.error));
    send_ms.push_back(ms_between(t, std::chrono::steady_clock::now()));
  }
  const double anchor_s = seconds_between(a0, std::chrono::steady_clock::now());
  const Delays anchor_send = summarize(std::move(send_ms));
  server.shutdown();

  const double burst_s = seconds_between(burst.first_publish, burst.last_arrival);
  const double burst_rate = burst.delivered > 0 ? burst.delivered / burst_s : 0.0;
  const double anchor_rate = n_burst / anchor_s;
  std::printf("setup  : SQLite + local queue, Correlator (1 reader) → Notifier (1 worker) → 1 webhook; "
              "notifier rate_limit raised to %lld/min so the limiter is not measured\n",
              static_cast<long long>(kNotifierRateLimit));
  std::printf("burst  : %zu/%d delivered in %.2f s from first publish to last delivery → %.0f events/s "
              "(publishing alone took %.2f s)\n",
              burst.delivered, n_burst, burst_s, burst_rate, seconds_between(burst.first_publish, burst.last_publish));
  print_delays("burst  ", burst.delay);
  std::printf("trickle: %zu/%d delivered, one published every %lld ms\n", trickle.delivered, n_trickle,
              static_cast<long long>(gap.count()));
  print_delays("trickle", trickle.delay);
  std::printf("anchor : WebhookChannel::send alone, %d sends in %.2f s → %.0f sends/s, p50 %.2f ms, p99 %.2f ms; "
              "pipeline burst rate = %.2f× the anchor\n",
              n_burst, anchor_s, anchor_rate, anchor_send.p50, anchor_send.p99, burst_rate / anchor_rate);

  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  // Not a speed verdict: a non-zero exit only says some message never arrived (figures incomplete).
  return burst.delivered == static_cast<std::size_t>(n_burst) && trickle.delivered == static_cast<std::size_t>(n_trickle)
             ? 0
             : 1;
}
