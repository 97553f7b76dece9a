// The ingest role: probes every active asset that has probe settings and appends each result to
// the health event log, then wakes the deriver through `secplat.jobs.derive`.
//
// Results are buffered and written in batches (one transaction and one derive message per batch,
// every `flush_ms` or `max_batch` results), so 10,000 targets cost a few writes a second. The
// target list is re-read from the asset inventory every `refresh_ms` (and on refresh_targets()),
// so assets created, edited or removed through the API are picked up without a restart.
//
// Metrics (when IngestOptions::metrics is set): secplat_probe_duration_seconds,
// secplat_probe_latency_seconds{asset}, secplat_probes_total{asset,result} and
// secplat_probe_failures_total{asset,reason}; per-asset series are looked up once per asset.
//
// Threading: start()/stop() from one thread; refresh_targets() and stats() from any.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/metrics.h"
#include "core/net_guard.h"
#include "posture/asset_repo.h"
#include "posture/events.h"
#include "posture/probe/prober.h"
#include "queue/queue.h"

namespace secplat::posture {

struct IngestOptions {
  NetPolicy net;
  int64_t refresh_ms = 5000;
  int64_t flush_ms = 200;
  std::size_t max_batch = 2000;
  int max_in_flight = 512;
  Metrics* metrics = nullptr;  // must outlive the Ingest; null = no metrics
};

// The probe settings of an asset as a prober target (nullopt when it is not probed).
std::optional<ProbeTarget> probe_target(const Asset& asset);

class Ingest {
 public:
  Ingest(AssetRepo& assets, EventStore& events, queue::Queue* queue, IngestOptions options);
  ~Ingest();
  Ingest(const Ingest&) = delete;
  Ingest& operator=(const Ingest&) = delete;

  Status start();
  void stop();
  Status refresh_targets();

  struct Stats {
    Prober::Stats prober;
    int64_t events_written = 0;
    int64_t write_failures = 0;
  };
  Stats stats() const;

 private:
  void on_result(ProbeResult r);
  void record_metrics(const ProbeResult& r);
  void writer_loop();
  void flush(std::vector<ProbeResult>& batch);

  AssetRepo& assets_;
  EventStore& events_;
  queue::Queue* queue_;
  IngestOptions opt_;
  std::unique_ptr<Prober> prober_;

  // Probe series, touched only on the prober thread (the sink).
  struct AssetSeries {
    Gauge* latency = nullptr;
    Counter* up = nullptr;
    Counter* down = nullptr;
    std::map<std::string, Counter*, std::less<>> failures;  // by reason
  };
  Histogram* probe_duration_ = nullptr;
  std::map<std::string, AssetSeries, std::less<>> series_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ProbeResult> pending_;
  bool stop_ = false;
  int64_t events_written_ = 0;
  int64_t write_failures_ = 0;
  std::thread writer_;
};

}  // namespace secplat::posture
