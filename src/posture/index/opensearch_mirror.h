// The OpenSearch mirror: health events and derived asset status, written to the reference system's
// indices (`secplat-events`, `secplat-asset-status`) so Grafana dashboards that read OpenSearch keep
// working. The store stays the source of truth; the mirror is a follower with durable cursors, so
// nothing is lost while OpenSearch is down or this process restarts.
//
//   * At start both index templates are PUT (retried with backoff until they succeed); nothing is
//     indexed before that.
//   * Events: `health_events` after the cursor `opensearch.events` (table posture_cursor), in
//     batches, bulk-indexed with `_id` = event_id (so a re-sent document replaces itself). The
//     cursor moves over a prefix of the batch once each of its items is indexed or refused for good.
//   * Status: `asset_status` rows changed after the cursor `opensearch.status` (their derived_at,
//     in ms) joined to the inventory, indexed with `_id` = asset_key and @timestamp = derived_at.
//     Every `status_refresh_ms` every row is indexed again with @timestamp = now: the deriver
//     rewrites a row only when its state changes, while dashboards (like the reference, whose
//     deriver rewrote every document each minute) look for documents inside their time range.
//   * Bulk replies are read per item: 429 and 5xx items are sent again (only those) after an
//     exponential backoff with jitter; other refusals are logged (index, _id, error type and
//     reason) and counted, and the cursor passes them. A failed request (no answer, 429/5xx, or any
//     non-2xx) is retried whole; 413 halves the request size.
//
// Metrics (when MirrorOptions::metrics is set): secplat_opensearch_docs_total{index,outcome}
// (indexed|failed), secplat_opensearch_requests_total{outcome} (ok|item_errors|http_error|
// transport_error), secplat_opensearch_lag_seconds (age of the oldest event not yet mirrored).
//
// Threading: start() runs passes on one thread of its own (never the deriver's or the prober's);
// run_once() may be called instead (tests), not both. stop() returns once an in-flight request
// has ended (at most timeout_ms).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/metrics.h"
#include "store/db.h"

namespace secplat::posture::opensearch {

struct BulkItem;
struct ItemResult;

struct MirrorOptions {
  std::string url;          // base URL, http(s)://host:port[/prefix]
  std::string username;     // basic auth when set
  std::string password;     // never logged
  int64_t batch_size = 500;
  int64_t flush_interval_ms = 1000;
  int64_t timeout_ms = 10000;
  int64_t status_refresh_ms = 60000;
  int64_t backoff_base_ms = 500;   // retry delay: base·2^(n-1), capped, with equal jitter
  int64_t backoff_max_ms = 30000;
  Metrics* metrics = nullptr;      // must outlive the mirror; null = no metrics
};

struct MirrorPass {
  int64_t events_indexed = 0;
  int64_t events_failed = 0;
  int64_t status_indexed = 0;
  int64_t status_failed = 0;
  bool more = false;  // a batch was full: call again without waiting
};

class Mirror {
 public:
  Mirror(store::Db& db, const Clock& clock, MirrorOptions options);
  ~Mirror();
  Mirror(const Mirror&) = delete;
  Mirror& operator=(const Mirror&) = delete;

  // Templates (until they are in place), then one batch of events and one of status changes;
  // refresh = also re-index every status row. Returns once every item of those batches is final
  // (retrying as long as it takes), or an error if stop() was called or the store failed.
  Result<MirrorPass> run_once(bool refresh = false);

  Status start();
  void stop();

  // The persisted event cursor (0 before the first batch).
  Result<int64_t> events_cursor();

 private:
  struct Counters;
  Status ensure_templates();
  Status put_template(const std::string& name, const std::string& body);
  Result<std::vector<ItemResult>> send_bulk(const std::vector<const BulkItem*>& items, long& http_status);
  Status ship(const std::vector<BulkItem>& items, std::vector<ItemResult>& results,
              const std::function<Status(std::size_t prefix)>& on_progress);
  Status load_cursors();
  Status save_cursor(const char* name, int64_t value);
  Status mirror_events(MirrorPass& pass);
  Status mirror_status_changes(MirrorPass& pass);
  Status refresh_status(MirrorPass& pass);
  bool wait_ms(int64_t ms);  // false when stopping
  int64_t backoff(int attempt);
  void update_lag();
  bool stopping();
  void loop();

  store::Db& db_;
  const Clock& clock_;
  MirrorOptions opt_;
  std::string base_url_;
  std::unique_ptr<Counters> counters_;

  std::mutex pass_mu_;  // one pass at a time
  bool templates_ready_ = false;
  bool cursors_loaded_ = false;
  int64_t events_cursor_ = 0;
  int64_t status_cursor_ms_ = -1;
  std::string status_cursor_key_;
  std::size_t chunk_ = 0;            // items per request (batch_size, halved on 413)
  int64_t oldest_unsent_ms_ = 0;     // ts of the oldest event not yet mirrored; 0 = caught up
  uint64_t rng_state_ = 0;

  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace secplat::posture::opensearch
