// The write path of POST /findings/ without HTTP: FindingsService::upsert_async on a real SQLite
// store, `window` upserts in flight (as many connections): first with new keys, then the same keys
// again (updates). Prints upserts/s and the CPU each thread spent per upsert; the store's writer
// thread's bounds the route's rate on this machine.
// usage: findings_upsert_bench [upserts=200000] [window=64] [assets=1000]
#include <dirent.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>

#include "auth/audit_log.h"
#include "auth/migrations.h"
#include "core/clock.h"
#include "core/ids.h"
#include "findings/findings_service.h"
#include "findings/migrations.h"
#include "store/sqlite_db.h"

using namespace secplat;

namespace {

// CPU seconds (user + system) of each thread of this process, by thread name.
std::map<std::string, double> thread_cpu() {
  std::map<std::string, double> out;
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  for (const auto& t : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream f(t.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    double ticks = 0;
    for (int i = 0; i < 13 && rest >> field; ++i)
      if (i >= 11) ticks += std::stod(field);  // utime, stime
    out[stat.substr(open + 1, close - open - 1)] += ticks / hz;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 200000;
  const int64_t window = argc > 2 ? std::atoll(argv[2]) : 64;
  const int64_t n_assets = argc > 3 ? std::atoll(argv[3]) : 1000;
  auto dir = std::filesystem::temp_directory_path() / ("secplat-upsert-bench-" + random_hex(6));
  std::filesystem::create_directories(dir);
  auto db = store::open_sqlite({.path = (dir / "b.db").string(), .readers = 2, .busy_timeout_ms = 10000});
  if (!db.ok()) return std::fprintf(stderr, "%s\n", db.error().message.c_str()), 1;
  auto migrations = auth::auth_migrations();
  for (auto& m : findings::findings_migrations()) migrations.push_back(std::move(m));
  if (auto s = store::migrate(**db, migrations); !s.ok()) return std::fprintf(stderr, "%s\n", s.error().message.c_str()), 1;
  SystemClock clock;
  const int64_t now = clock.now_ms();
  (void)(*db)->transact([&](store::Tx& tx) -> Status {
    for (int64_t a = 0; a < n_assets; ++a)
      (void)tx.exec("INSERT INTO assets (asset_key, type, name, environment, criticality, created_at, updated_at) "
                    "VALUES ($1, 'app', $1, 'prod', 'high', $2, $2)",
                    {"asset-" + std::to_string(a), now});
    return ok_status();
  });
  auth::AuditLog audit(**db, clock);
  findings::FindingsService svc(**db, clock, audit);

  // One phase: n upserts, `window` in flight; `fresh` says whether each must create its finding.
  auto phase = [&](const char* label, bool fresh) -> bool {
    std::mutex mu;
    std::condition_variable cv;
    int64_t in_flight = 0, done = 0, failed = 0;
    auto before = thread_cpu();
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < n; ++i) {
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return in_flight < window; });
        ++in_flight;
      }
      findings::FindingInput in;
      in.asset_key = "asset-" + std::to_string(i % n_assets);
      in.finding_key = "k-" + std::to_string(i);
      in.title = "Missing CSP header";
      in.severity = "medium";
      svc.upsert_async(std::move(in), auth::Actor{"admin", "req-" + std::to_string(i)},
                       [&](Result<findings::UpsertResult> r) {
                         std::lock_guard<std::mutex> lock(mu);
                         if (!r.ok() || r->created != fresh) ++failed;
                         ++done;
                         --in_flight;
                         cv.notify_all();
                       });
    }
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return done == n; });
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto after = thread_cpu();
    std::printf("%s: %lld upserts (window %lld, %lld assets) in %.2f s: %.0f upserts/s, %lld failed\n", label,
                static_cast<long long>(n), static_cast<long long>(window), static_cast<long long>(n_assets), secs,
                static_cast<double>(n) / secs, static_cast<long long>(failed));
    for (auto& [name, cpu] : after) {
      const double used = cpu - before[name];
      if (used > 0.005)
        std::printf("  %-16s %6.1f us CPU per upsert (%.0f%% of a core)\n", name.c_str(),
                    used * 1e6 / static_cast<double>(n), used / secs * 100);
    }
    return failed == 0;
  };
  const bool ok = phase("new keys", true) && phase("the same keys again (updates)", false);
  std::filesystem::remove_all(dir);
  return ok ? 0 : 1;
}
