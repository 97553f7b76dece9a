// The deriver role: folds health events into the one-row-per-asset `asset_status` table.
//
// A pass reads every event appended since its cursor (in batches), applies the posture rules
// (derive_rules.h) per asset, then sweeps every active asset against the clock, so a silent asset
// goes STALE without any new event. Changed rows and the cursor are written in one transaction;
// then each change is announced as a `posture.changed` event on `secplat.events.correlation` (the
// correlator turns them into incidents, whose events notify). The API reads this table; it never
// recomputes posture per request.
//
// Ownership: the deriver is the only writer of asset_status and keeps the rows in memory (loaded
// at the first pass). Running several derivers means sharding assets between them (issue 5).
// Assets with asset_type "repository" and no probe get their state from their active findings
// (reference §3.8): red with an open critical/high finding, amber with any, else green.
//
// Metrics (when DeriverOptions::metrics is set): secplat_derive_lag_seconds (event observed →
// its pass committed), secplat_derive_events_total, secplat_derive_batches_total (event reads
// that folded at least one event).
//
// Threading: run_once() is serialised by an internal mutex; start() runs passes on one thread,
// woken by `secplat.jobs.derive` messages and by the sweep timer.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/error.h"
#include "core/metrics.h"
#include "posture/derive_rules.h"
#include "queue/queue.h"
#include "store/db.h"

namespace secplat::posture {

struct DeriverOptions {
  DeriveConfig rules;
  int64_t sweep_interval_ms = 10000;
  int64_t retention_ms = int64_t{90} * 86400 * 1000;  // events older than this are deleted (hourly)
  int64_t batch = 20000;                            // events read per query
  std::string consumer = "deriver";
  Metrics* metrics = nullptr;  // must outlive the Deriver; null = no metrics
};

struct DerivePass {
  int64_t events = 0;          // events folded in
  int64_t rows_written = 0;
  int64_t rows_deleted = 0;    // states of assets that were removed or deactivated
  int64_t changes = 0;         // posture.changed events produced
};

class Deriver {
 public:
  // queue may be null (then no change events are published and start() only sweeps on the timer).
  Deriver(store::Db& db, queue::Queue* queue, const Clock& clock, DeriverOptions options);
  ~Deriver();
  Deriver(const Deriver&) = delete;
  Deriver& operator=(const Deriver&) = delete;

  // Folds new events, then (sweep=true) judges every active asset against the clock.
  Result<DerivePass> run_once(bool sweep = true);

  Status start();
  void stop();

  // Called (on the deriver thread) after a pass that wrote rows; e.g. to refresh a read cache.
  void set_on_change(std::function<void()> fn) { on_change_ = std::move(fn); }

  // Called on the deriver thread at most once a minute before a pass (e.g. to expire accepted
  // risks, which changes repository posture). Errors are the hook's to log.
  void set_housekeeping(std::function<void(int64_t now_ms)> fn) { housekeeping_ = std::move(fn); }

  // Asks the running loop for a pass now (e.g. after an asset was created or deleted).
  void nudge();

 private:
  struct AssetInfo {
    int64_t interval_ms = 60000;
    bool probed = false;
    bool repository = false;
    std::string criticality;
    int repo_worst = 0;  // 0 none, 1 some active finding, 2 an active critical/high finding
  };
  Status load_states();
  Status load_assets();
  Status write(const std::map<std::string, AssetState*>& dirty, const std::vector<std::string>& deleted,
               int64_t cursor);
  void publish(const std::vector<PostureChange>& changes);
  void loop();

  store::Db& db_;
  queue::Queue* queue_;
  const Clock& clock_;
  DeriverOptions opt_;
  Histogram* lag_seconds_ = nullptr;
  Counter* events_total_ = nullptr;
  Counter* batches_total_ = nullptr;

  std::mutex pass_mu_;  // one pass at a time
  bool loaded_ = false;
  int64_t cursor_ = 0;
  std::map<std::string, AssetState> states_;
  std::map<std::string, AssetInfo> assets_;
  int64_t assets_loaded_ms_ = -1;
  int64_t last_retention_ms_ = 0;

  std::function<void()> on_change_;
  std::function<void(int64_t)> housekeeping_;
  int64_t last_housekeeping_ms_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool nudged_ = false;
};

}  // namespace secplat::posture
