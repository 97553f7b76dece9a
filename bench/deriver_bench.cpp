// Deriver throughput: events appended to a real SQLite store, then derived end to end (read from
// the store, rules applied, state rows and cursor written) by Deriver::run_once().
// usage: deriver_bench [events=1000000] [assets=1000]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "auth/migrations.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/log.h"
#include "findings/migrations.h"
#include "posture/deriver.h"
#include "posture/events.h"
#include "posture/migrations.h"
#include "queue/local_queue.h"
#include "store/sqlite_db.h"

using namespace secplat;

static double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int main(int argc, char** argv) {
  const int64_t n_events = argc > 1 ? std::atoll(argv[1]) : 1000000;
  const int64_t n_assets = argc > 2 ? std::atoll(argv[2]) : 1000;
  auto dir = std::filesystem::temp_directory_path() / ("secplat-derive-bench-" + random_hex(6));
  std::filesystem::create_directories(dir);
  auto db = store::open_sqlite({.path = (dir / "b.db").string(), .readers = 2, .busy_timeout_ms = 10000});
  if (!db.ok()) return std::fprintf(stderr, "%s\n", db.error().message.c_str()), 1;
  auto migrations = auth::auth_migrations();
  for (auto& m : findings::findings_migrations()) migrations.push_back(std::move(m));
  for (auto& m : posture::posture_migrations()) migrations.push_back(std::move(m));
  for (auto& m : queue::local_queue_migrations()) migrations.push_back(std::move(m));
  if (auto s = store::migrate(**db, migrations); !s.ok()) return std::fprintf(stderr, "%s\n", s.error().message.c_str()), 1;

  const int64_t now = SystemClock().now_ms();
  (void)(*db)->transact([&](store::Tx& tx) -> Status {
    for (int64_t a = 0; a < n_assets; ++a)
      (void)tx.exec("INSERT INTO assets (asset_key, type, name, probe, created_at, updated_at) "
                    "VALUES ($1, 'app', $1, '{\"url\":\"http://x/\",\"interval_seconds\":60}', $2, $2)",
                    {"asset-" + std::to_string(a), now});
    return ok_status();
  });
  posture::EventStore events(**db);
  auto t0 = std::chrono::steady_clock::now();
  const int64_t per_asset = std::max<int64_t>(1, n_events / n_assets);
  std::vector<posture::HealthEvent> batch;
  for (int64_t i = 0; i < n_events; ++i) {
    posture::HealthEvent e;
    e.asset_key = "asset-" + std::to_string(i % n_assets);
    e.ts_ms = now - (per_asset - i / n_assets) * 60000;
    e.up = (i / n_assets) % 7 != 3;
    e.code = e.up ? 200 : 503;
    e.latency_ms = 20 + i % 50;
    if (!e.up) e.error_class = "http_error";
    batch.push_back(std::move(e));
    if (batch.size() == 10000) {
      if (auto r = events.append(batch); !r.ok()) return std::fprintf(stderr, "%s\n", r.error().message.c_str()), 1;
      batch.clear();
    }
  }
  if (!batch.empty()) (void)events.append(batch);
  const double append_s = seconds_since(t0);

  // Fold the append's WAL into the database first, so the derive figure does not pay for it. The
  // store's own checkpointer may be at it: then it is busy for a moment (quietly retried here).
  log::set_level(log::Level::error);
  for (int i = 0; i < 200 && !(*db)->query("PRAGMA wal_checkpoint(TRUNCATE)").ok(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  log::set_level(log::Level::info);
  {
    auto tr = std::chrono::steady_clock::now();
    int64_t cursor = 0, seen = 0;
    for (;;) {
      auto evs = events.read_after(cursor, 20000);
      if (!evs.ok() || evs->empty()) break;
      cursor = evs->back().event_id;
      seen += static_cast<int64_t>(evs->size());
    }
    std::printf("read   : %lld events in %.2f s (store reads alone)\n", static_cast<long long>(seen), seconds_since(tr));
  }
  auto q = queue::open_local_queue(**db, {});
  SystemClock clock;
  posture::Deriver deriver(**db, q->get(), clock, {});
  rusage r0{}, r1{};
  getrusage(RUSAGE_SELF, &r0);
  t0 = std::chrono::steady_clock::now();
  auto pass = deriver.run_once();
  const double derive_s = seconds_since(t0);
  getrusage(RUSAGE_SELF, &r1);
  if (!pass.ok()) return std::fprintf(stderr, "%s\n", pass.error().message.c_str()), 1;
  auto cpu = [](const rusage& r) { return r.ru_utime.tv_sec + r.ru_stime.tv_sec + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6; };
  std::printf("append : %lld events in %.2f s (%.0f events/s, batches of 10,000)\n", static_cast<long long>(n_events),
              append_s, double(n_events) / append_s);
  std::printf("derive : %lld events, %lld assets, %lld rows written in %.2f s → %.0f events/s (target >= 100,000), "
              "cpu %.2f s\n",
              static_cast<long long>(pass->events), static_cast<long long>(n_assets),
              static_cast<long long>(pass->rows_written), derive_s, double(pass->events) / derive_s, cpu(r1) - cpu(r0));
  std::filesystem::remove_all(dir);
  return 0;
}
