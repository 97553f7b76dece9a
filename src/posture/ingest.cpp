#include "posture/ingest.h"

#include <chrono>
#include <string_view>

#include "core/json.h"
#include "core/log.h"
#include "queue/envelope.h"
#include "queue/streams.h"

namespace secplat::posture {
namespace {

// The prober's error classes, folded into the reasons the metrics promise.
std::string_view failure_reason(const std::string& error_class) {
  if (error_class == "timeout") return "timeout";
  if (error_class == "refused" || error_class == "dns") return "connect";
  if (error_class == "tls") return "tls";
  if (error_class == "http_error") return "http_status";
  return "other";
}

}  // namespace

std::optional<ProbeTarget> probe_target(const Asset& a) {
  if (!a.is_active || !a.probe || a.probe->url.empty()) return std::nullopt;
  ProbeTarget t;
  t.asset_key = a.asset_key;
  t.url = a.probe->url;
  t.method = a.probe->method;
  t.expected_status.clear();
  for (const auto& r : a.probe->expected_status) t.expected_status.emplace_back(r.from, r.to);
  t.keyword = a.probe->keyword;
  t.interval_seconds = a.probe->interval_seconds;
  t.timeout_ms = a.probe->timeout_ms;
  return t;
}

Ingest::Ingest(AssetRepo& assets, EventStore& events, queue::Queue* queue, IngestOptions options)
    : assets_(assets), events_(events), queue_(queue), opt_(std::move(options)) {
  if (opt_.metrics)
    probe_duration_ = &opt_.metrics->histogram("secplat_probe_duration_seconds", "Duration of health probes",
                                               default_latency_buckets());
}

Ingest::~Ingest() { stop(); }

Status Ingest::refresh_targets() {
  auto probed = assets_.list_probed();
  if (!probed.ok()) return std::move(probed).take_error();
  std::vector<ProbeTarget> targets;
  targets.reserve(probed->size());
  for (const auto& a : *probed)
    if (auto t = probe_target(a)) targets.push_back(std::move(*t));
  if (prober_) prober_->set_targets(std::move(targets));
  return ok_status();
}

Status Ingest::start() {
  if (prober_) return ok_status();
  ProberOptions po;
  po.net = opt_.net;
  po.max_in_flight = opt_.max_in_flight;
  prober_ = std::make_unique<Prober>(po, [this](ProbeResult r) { on_result(std::move(r)); });
  SECPLAT_TRY(refresh_targets());
  {
    std::lock_guard lk(mu_);
    stop_ = false;
  }
  prober_->start();
  writer_ = std::thread([this] { writer_loop(); });
  return ok_status();
}

void Ingest::stop() {
  if (prober_) prober_->stop();  // no sink calls after this returns
  {
    std::lock_guard lk(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (writer_.joinable()) writer_.join();  // flushes what is buffered
  prober_.reset();
}

void Ingest::record_metrics(const ProbeResult& r) {
  if (!opt_.metrics) return;
  const double seconds = static_cast<double>(r.latency_ms) / 1000.0;
  probe_duration_->observe(seconds);
  auto it = series_.find(r.asset_key);
  if (it == series_.end()) {
    AssetSeries s;
    Metrics& m = *opt_.metrics;
    s.latency = &m.gauge("secplat_probe_latency_seconds", "Latency of the last probe of the asset",
                         {{"asset", r.asset_key}});
    const char* help = "Probes completed, by asset and result";
    s.up = &m.counter("secplat_probes_total", help, {{"asset", r.asset_key}, {"result", "up"}});
    s.down = &m.counter("secplat_probes_total", help, {{"asset", r.asset_key}, {"result", "down"}});
    it = series_.emplace(r.asset_key, std::move(s)).first;
  }
  AssetSeries& s = it->second;
  s.latency->set(seconds);
  if (r.up) {
    s.up->inc();
    return;
  }
  s.down->inc();
  const std::string_view reason = failure_reason(r.error_class);
  auto f = s.failures.find(reason);
  if (f == s.failures.end()) {
    Counter& c = opt_.metrics->counter("secplat_probe_failures_total", "Failed probes, by asset and reason",
                                       {{"asset", r.asset_key}, {"reason", std::string(reason)}});
    f = s.failures.emplace(std::string(reason), &c).first;
  }
  f->second->inc();
}

void Ingest::on_result(ProbeResult r) {
  record_metrics(r);
  std::lock_guard lk(mu_);
  pending_.push_back(std::move(r));
  if (pending_.size() >= opt_.max_batch) cv_.notify_all();
}

Ingest::Stats Ingest::stats() const {
  Stats s;
  if (prober_) s.prober = prober_->stats();
  std::lock_guard lk(mu_);
  s.events_written = events_written_;
  s.write_failures = write_failures_;
  return s;
}

void Ingest::flush(std::vector<ProbeResult>& batch) {
  if (batch.empty()) return;
  std::vector<HealthEvent> events;
  events.reserve(batch.size());
  for (auto& r : batch) {
    HealthEvent e;
    e.asset_key = r.asset_key;
    e.service = r.asset_key;
    e.ts_ms = r.started_ms;
    e.up = r.up;
    e.code = r.code;
    e.latency_ms = r.latency_ms;
    if (!r.error_class.empty()) e.error_class = r.error_class;
    if (!r.error.empty()) e.error = r.error;
    e.tls_version = r.tls_version;
    e.cert_not_after_ms = r.cert_not_after_ms;
    e.remote_ip = r.remote_ip;
    events.push_back(std::move(e));
  }
  auto last = events_.append(events);
  std::lock_guard lk(mu_);
  if (!last.ok()) {
    ++write_failures_;
    log::warn("health events not written", {log::integer("count", static_cast<long long>(events.size())),
                                           log::str("error", last.error().message)});
    return;
  }
  events_written_ += static_cast<int64_t>(events.size());
  if (queue_) {
    Json payload{{"count", events.size()}, {"last_event_id", *last}};
    auto r = queue_->publish(std::string(queue::kDeriveJobs),
                             queue::make_envelope("health.appended", "", "info", payload, "", events.back().ts_ms));
    if (!r.ok()) log::warn("derive wake-up not published", {log::str("error", r.error().message)});
  }
}

void Ingest::writer_loop() {
  int64_t next_refresh = steady_ms() + opt_.refresh_ms;
  for (;;) {
    std::vector<ProbeResult> batch;
    bool stopping = false;
    {
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, std::chrono::milliseconds(opt_.flush_ms),
                   [&] { return stop_ || pending_.size() >= opt_.max_batch; });
      batch.swap(pending_);
      stopping = stop_;
    }
    flush(batch);
    if (stopping) return;
    if (steady_ms() >= next_refresh) {
      next_refresh = steady_ms() + opt_.refresh_ms;
      if (auto s = refresh_targets(); !s.ok())
        log::warn("probe targets not refreshed", {log::str("error", s.error().message)});
    }
  }
}

}  // namespace secplat::posture
