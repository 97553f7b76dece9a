#include "posture/deriver.h"

#include <algorithm>
#include <chrono>

#include "core/json.h"
#include "core/log.h"
#include "queue/envelope.h"
#include "posture/status_row.h"
#include "queue/streams.h"

namespace secplat::posture {
namespace {

constexpr int64_t kAssetReloadMs = 2000;
constexpr int64_t kRetentionEveryMs = 3600 * 1000;

store::Value opt(const std::optional<std::string>& s) { return s ? store::Value(*s) : store::null(); }
store::Value opt(const std::optional<int64_t>& v) { return v ? store::Value(*v) : store::null(); }
store::Value opt(const std::optional<int>& v) { return v ? store::Value(int64_t{*v}) : store::null(); }

std::string history_json(const std::vector<RawSample>& h) {
  Json a = Json::array();
  for (const auto& s : h) a.push_back(Json::array({s.ts_ms, s.up ? 1 : 0, s.code, s.latency_ms}));
  return a.dump();
}

// What a reader can see; a pass writes a row only when this changed.
bool same_visible(const AssetState& a, const AssetState& b) {
  return a.status == b.status && a.posture_state == b.posture_state && a.posture_score == b.posture_score &&
         a.reason == b.reason && a.flapping == b.flapping && a.confidence == b.confidence &&
         a.last_seen_ms == b.last_seen_ms && a.pending == b.pending && a.history == b.history &&
         a.previous_status == b.previous_status;
}

// Repository assets without a probe: posture from their active findings (reference §3.8).
void apply_repository(AssetState& s, int worst, int64_t now_ms, std::vector<PostureChange>& changes) {
  const std::string state = worst >= 2 ? "red" : worst == 1 ? "amber" : "green";
  if (s.posture_state != state || s.status != "scan_based") {
    if (s.status == "scan_based") changes.push_back({s.asset_key, "status", s.posture_state, state, now_ms});
    s.previous_status = s.status == "scan_based" ? std::optional<std::string>(s.posture_state) : s.previous_status;
    s.last_status_change_ms = now_ms;
  }
  s.status = "scan_based";
  s.status_num = 0;
  s.posture_state = state;
  s.posture_score = worst >= 2 ? 0 : worst == 1 ? 60 : 100;
  s.reason = worst > 0 ? "repository_findings" : "inventory_only";
  s.confidence = 1;
  s.confidence_reason = "derived from scanner findings";
  s.flapping = false;
  s.derived_at_ms = now_ms;
}

std::string severity_for(const PostureChange& c, const std::string& criticality) {
  if (c.kind == "status" && c.to == "down") {
    std::string crit = normalise_criticality(criticality);
    return crit == "high" ? "critical" : crit == "medium" ? "high" : "medium";
  }
  if (c.kind == "flapping_started" || c.to == "stale" || c.to == "red") return "medium";
  return "info";
}

}  // namespace

Deriver::Deriver(store::Db& db, queue::Queue* queue, const Clock& clock, DeriverOptions options)
    : db_(db), queue_(queue), clock_(clock), opt_(std::move(options)) {
  if (Metrics* m = opt_.metrics) {
    lag_seconds_ = &m->histogram("secplat_derive_lag_seconds",
                                 "Time from a health event's observation to the commit of its derivation",
                                 {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300});
    events_total_ = &m->counter("secplat_derive_events_total", "Health events folded into asset status");
    batches_total_ = &m->counter("secplat_derive_batches_total", "Batches of health events derived");
  }
}

Deriver::~Deriver() { stop(); }

Status Deriver::load_states() {
  auto rows = db_.query("SELECT * FROM asset_status");
  if (!rows.ok()) return std::move(rows).take_error();
  states_.clear();
  for (const auto& r : *rows) {
    AssetState s = asset_state_from_row(r, true);
    states_[s.asset_key] = std::move(s);
  }
  auto cur = db_.query("SELECT last_event_id FROM posture_cursor WHERE name = 'deriver'");
  if (!cur.ok()) return std::move(cur).take_error();
  cursor_ = cur->empty() ? 0 : cur->front().i64("last_event_id");
  return ok_status();
}

Status Deriver::load_assets() {
  auto rows = db_.query("SELECT asset_key, asset_type, criticality, is_active, probe FROM assets");
  if (!rows.ok()) return std::move(rows).take_error();
  std::map<std::string, AssetInfo> next;
  for (const auto& r : *rows) {
    if (r.i64("is_active") == 0) continue;
    AssetInfo info;
    info.criticality = r.str("criticality");
    if (auto probe = r.opt_str("probe")) {
      Json p = Json::parse(*probe, nullptr, false);
      if (p.is_object() && p.contains("url")) {
        info.probed = true;
        if (p.contains("interval_seconds") && p["interval_seconds"].is_number_integer())
          info.interval_ms = p["interval_seconds"].get<int64_t>() * 1000;
      }
    }
    info.repository = !info.probed && r.str("asset_type") == "repository";
    next[r.str("asset_key")] = info;
  }
  auto repo = db_.query(
      "SELECT a.asset_key AS asset_key, MAX(CASE WHEN f.severity IN ('critical', 'high') THEN 2 ELSE 1 END) AS worst "
      "FROM assets a JOIN findings f ON f.asset_id = a.asset_id "
      "WHERE a.asset_type = 'repository' AND f.status <> 'remediated' GROUP BY a.asset_key");
  if (!repo.ok()) return std::move(repo).take_error();
  for (const auto& r : *repo) {
    auto it = next.find(r.str("asset_key"));
    if (it != next.end()) it->second.repo_worst = static_cast<int>(r.i64("worst"));
  }
  assets_ = std::move(next);
  return ok_status();
}

Result<DerivePass> Deriver::run_once(bool sweep) {
  std::lock_guard pass_lock(pass_mu_);
  DerivePass pass;
  if (!loaded_) {
    SECPLAT_TRY(load_states());
    loaded_ = true;
  }
  const int64_t now = clock_.now_ms();
  bool reloaded = false;
  if (assets_loaded_ms_ < 0 || now - assets_loaded_ms_ >= kAssetReloadMs || now < assets_loaded_ms_) {
    SECPLAT_TRY(load_assets());
    assets_loaded_ms_ = now;
    reloaded = true;
  }

  std::map<std::string, AssetState> before;  // rows as they were, for the ones this pass touched
  auto remember = [&](const std::string& key) -> AssetState& {
    auto it = states_.find(key);
    if (it == states_.end()) {
      AssetState fresh;
      fresh.asset_key = key;
      it = states_.emplace(key, std::move(fresh)).first;
      before.emplace(key, AssetState{});  // a new row: always written
      before[key].status = "<new>";
    } else if (!before.count(key)) {
      before.emplace(key, it->second);
    }
    return it->second;
  };

  std::vector<PostureChange> changes;
  int64_t cursor = cursor_;
  std::vector<int64_t> observed_ms;  // per folded event, for the lag histogram
  int64_t batches = 0;
  for (;;) {
    auto events = [&]() -> Result<std::vector<HealthEvent>> {
      auto rows = db_.query(
          "SELECT event_id, asset_key, ts, status, code, latency_ms, error_class, tls_version, cert_not_after "
          "FROM health_events WHERE event_id > $1 ORDER BY event_id LIMIT $2",
          {cursor, opt_.batch});
      if (!rows.ok()) return std::move(rows).take_error();
      std::vector<HealthEvent> out;
      out.reserve(rows->size());
      // Positional access: this loop runs once per event, so no column-name lookups here.
      auto i64 = [](const store::Value& v) { return std::holds_alternative<int64_t>(v) ? std::get<int64_t>(v) : 0; };
      auto opt_str = [](const store::Value& v) {
        return std::holds_alternative<std::string>(v) ? std::optional<std::string>(std::get<std::string>(v))
                                                      : std::nullopt;
      };
      for (const auto& r : *rows) {
        HealthEvent e;
        e.event_id = i64(r.at(std::size_t{0}));
        if (const auto* k = std::get_if<std::string>(&r.at(std::size_t{1}))) e.asset_key = *k;
        e.ts_ms = i64(r.at(std::size_t{2}));
        const auto* st = std::get_if<std::string>(&r.at(std::size_t{3}));
        e.up = st && *st == "up";
        e.code = static_cast<int>(i64(r.at(std::size_t{4})));
        e.latency_ms = i64(r.at(std::size_t{5}));
        e.error_class = opt_str(r.at(std::size_t{6}));
        e.tls_version = opt_str(r.at(std::size_t{7}));
        if (std::holds_alternative<int64_t>(r.at(std::size_t{8}))) e.cert_not_after_ms = i64(r.at(std::size_t{8}));
        out.push_back(std::move(e));
      }
      return out;
    }();
    if (!events.ok()) return std::move(events).take_error();
    if (events->empty()) break;
    cursor = events->back().event_id;
    pass.events += static_cast<int64_t>(events->size());
    ++batches;
    if (lag_seconds_) {
      observed_ms.reserve(observed_ms.size() + events->size());
      for (const auto& e : *events) observed_ms.push_back(e.ts_ms);
    }
    if (!reloaded) {  // an asset created since the last reload must not lose its first results
      for (const auto& e : *events) {
        if (assets_.count(e.asset_key)) continue;
        SECPLAT_TRY(load_assets());
        assets_loaded_ms_ = now;
        reloaded = true;
        break;
      }
    }
    std::map<std::string, std::vector<HealthEvent>> by_asset;
    for (auto& e : *events) {
      if (!assets_.count(e.asset_key)) continue;  // unknown, removed or inactive asset
      by_asset[e.asset_key].push_back(std::move(e));
    }
    for (auto& [key, evs] : by_asset) {
      std::stable_sort(evs.begin(), evs.end(), [](const HealthEvent& a, const HealthEvent& b) { return a.ts_ms < b.ts_ms; });
      AssetState& s = remember(key);
      auto c = apply_events(s, evs, now, assets_.at(key).interval_ms, opt_.rules);
      changes.insert(changes.end(), c.begin(), c.end());
    }
    if (static_cast<int64_t>(events->size()) < opt_.batch) break;
  }

  // Sweep: every active asset has a state, judged against the clock.
  for (const auto& [key, info] : assets_) {
    if (!sweep) break;
    const bool exists = states_.count(key) > 0;
    AssetState& s = exists ? states_.at(key) : remember(key);
    AssetState copy = s;
    std::vector<PostureChange> c;
    if (info.repository) {
      apply_repository(copy, info.repo_worst, now, c);
    } else {
      c = apply_events(copy, {}, now, info.interval_ms, opt_.rules);
    }
    if (!same_visible(copy, s) || !c.empty()) {
      remember(key);
      s = std::move(copy);
      changes.insert(changes.end(), c.begin(), c.end());
    }
  }
  std::vector<std::string> deleted;
  if (sweep)
    for (const auto& [key, s] : states_)
      if (!assets_.count(key)) deleted.push_back(key);

  std::map<std::string, AssetState*> dirty;
  for (const auto& [key, old] : before) {
    AssetState& s = states_.at(key);
    if (old.status == "<new>" || !same_visible(old, s)) dirty[key] = &s;
  }
  if (!dirty.empty() || !deleted.empty() || cursor != cursor_) {
    Status st = write(dirty, deleted, cursor);
    if (!st.ok()) {
      // Nothing was stored: forget this pass's in-memory changes and reload next time.
      loaded_ = false;
      return std::move(st).take_error();
    }
  }
  for (const auto& key : deleted) states_.erase(key);
  cursor_ = cursor;
  if (lag_seconds_ && pass.events > 0) {
    const int64_t derived_ms = clock_.now_ms();
    for (int64_t ts : observed_ms)
      lag_seconds_->observe(static_cast<double>(std::max<int64_t>(0, derived_ms - ts)) / 1000.0);
    events_total_->inc(static_cast<double>(pass.events));
    batches_total_->inc(static_cast<double>(batches));
  }
  pass.rows_written = static_cast<int64_t>(dirty.size());
  pass.rows_deleted = static_cast<int64_t>(deleted.size());
  pass.changes = static_cast<int64_t>(changes.size());
  publish(changes);

  if (opt_.retention_ms > 0 && now - last_retention_ms_ >= kRetentionEveryMs) {
    last_retention_ms_ = now;
    auto n = db_.exec("DELETE FROM health_events WHERE ts < $1 AND event_id <= $2", {now - opt_.retention_ms, cursor_});
    if (!n.ok()) log::warn("event retention failed", {log::str("error", n.error().message)});
    else if (*n > 0) log::info("event retention", {log::integer("deleted", *n)});
  }
  if ((pass.rows_written > 0 || pass.rows_deleted > 0) && on_change_) on_change_();
  return pass;
}

Status Deriver::write(const std::map<std::string, AssetState*>& dirty, const std::vector<std::string>& deleted,
                      int64_t cursor) {
  return db_.transact([&](store::Tx& tx) -> Status {
    for (const auto& [key, sp] : dirty) {
      const AssetState& s = *sp;
      auto n = tx.exec(
          "INSERT INTO asset_status (asset_key, derived_at, status, status_num, code, latency_ms, last_seen, "
          "posture_score, posture_state, reason, error_class, previous_status, last_status_change, flapping, "
          "confidence, confidence_reason, last_good_at, last_good_code, last_good_latency_ms, pending, history, "
          "tls_version, cert_not_after) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, "
          "$17, $18, $19, $20, $21, $22, $23) ON CONFLICT (asset_key) DO UPDATE SET derived_at = excluded.derived_at, "
          "status = excluded.status, status_num = excluded.status_num, code = excluded.code, "
          "latency_ms = excluded.latency_ms, last_seen = excluded.last_seen, posture_score = excluded.posture_score, "
          "posture_state = excluded.posture_state, reason = excluded.reason, error_class = excluded.error_class, "
          "previous_status = excluded.previous_status, last_status_change = excluded.last_status_change, "
          "flapping = excluded.flapping, confidence = excluded.confidence, "
          "confidence_reason = excluded.confidence_reason, last_good_at = excluded.last_good_at, "
          "last_good_code = excluded.last_good_code, last_good_latency_ms = excluded.last_good_latency_ms, "
          "pending = excluded.pending, history = excluded.history, tls_version = excluded.tls_version, "
          "cert_not_after = excluded.cert_not_after",
          {s.asset_key, s.derived_at_ms, s.status, int64_t{s.status_num}, opt(s.code), opt(s.latency_ms),
           opt(s.last_seen_ms), int64_t{s.posture_score}, s.posture_state, opt(s.reason), opt(s.error_class),
           opt(s.previous_status), opt(s.last_status_change_ms), int64_t{s.flapping ? 1 : 0}, s.confidence,
           s.confidence_reason, opt(s.last_good_at_ms), opt(s.last_good_code), opt(s.last_good_latency_ms),
           int64_t{s.pending}, history_json(s.history), opt(s.tls_version), opt(s.cert_not_after_ms)});
      if (!n.ok()) return std::move(n).take_error();
    }
    for (const auto& key : deleted) {
      auto n = tx.exec("DELETE FROM asset_status WHERE asset_key = $1", {key});
      if (!n.ok()) return std::move(n).take_error();
    }
    auto n = tx.exec(
        "INSERT INTO posture_cursor (name, last_event_id) VALUES ('deriver', $1) "
        "ON CONFLICT (name) DO UPDATE SET last_event_id = excluded.last_event_id",
        {cursor});
    if (!n.ok()) return std::move(n).take_error();
    return ok_status();
  });
}

void Deriver::publish(const std::vector<PostureChange>& changes) {
  if (!queue_ || changes.empty()) return;
  std::vector<queue::Fields> batch;
  batch.reserve(changes.size());
  for (const auto& c : changes) {
    auto it = states_.find(c.asset_key);
    if (it == states_.end()) continue;
    const AssetState& s = it->second;
    const auto info = assets_.find(c.asset_key);
    Json payload{{"asset_key", c.asset_key},
                 {"change", c.kind},
                 {"from", c.from},
                 {"to", c.to},
                 {"status", s.status},
                 {"posture_state", s.posture_state},
                 {"posture_score", s.posture_score},
                 {"reason", s.reason ? Json(*s.reason) : Json(nullptr)},
                 {"flapping", s.flapping},
                 {"confidence", s.confidence},
                 {"detected_at", format_rfc3339(c.detected_at_ms)}};
    const std::string severity = severity_for(c, info == assets_.end() ? "" : info->second.criticality);
    batch.push_back(queue::make_envelope("posture.changed", c.asset_key, severity, payload, "", clock_.now_ms()));
  }
  // One round trip, however many assets changed in this pass. Only the correlator reads posture
  // changes: it applies suppression, groups them into incidents, and the incident events notify.
  const std::string stream(queue::kCorrelationEvents);
  auto r = queue_->publish_batch(stream, batch);
  if (!r.ok())
    log::warn("posture.changed not published", {log::str("stream", stream),
                                                log::integer("changes", static_cast<long long>(batch.size())),
                                                log::str("error", r.error().message)});
}

void Deriver::nudge() {
  std::lock_guard lk(mu_);
  nudged_ = true;
  cv_.notify_all();
}

Status Deriver::start() {
  if (thread_.joinable()) return ok_status();
  if (queue_) SECPLAT_TRY(queue_->ensure_group(std::string(queue::kDeriveJobs), "derivers"));
  {
    std::lock_guard lk(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { loop(); });
  return ok_status();
}

void Deriver::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void Deriver::loop() {
  int64_t next_sweep = 0;  // steady ms
  for (;;) {
    {
      std::lock_guard lk(mu_);
      if (stop_) return;
    }
    bool run = false, sweep = false;
    const int64_t wait = std::max<int64_t>(0, next_sweep - steady_ms());
    if (queue_) {
      // Wake-ups from the ingest side; one pass serves every message read.
      auto msgs = queue_->read(std::string(queue::kDeriveJobs), "derivers", opt_.consumer, 500,
                               std::min<int64_t>(wait, 500));
      if (msgs.ok() && !msgs->empty()) {
        run = true;
        for (const auto& m : *msgs) (void)queue_->ack(m.stream, "derivers", m.id);
      } else if (!msgs.ok()) {
        log::warn("derive queue read failed", {log::str("error", msgs.error().message)});
        std::unique_lock lk(mu_);
        cv_.wait_for(lk, std::chrono::milliseconds(500), [&] { return stop_; });
      }
    } else {
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, std::chrono::milliseconds(std::min<int64_t>(wait, 500)), [&] { return stop_ || nudged_; });
    }
    {
      std::lock_guard lk(mu_);
      if (nudged_) run = sweep = true, nudged_ = false;
    }
    if (steady_ms() >= next_sweep) run = sweep = true;
    if (!run) continue;
    // Event wake-ups fold only the assets that have new results; the whole inventory is swept on
    // the timer (or a nudge).
    if (sweep) next_sweep = steady_ms() + opt_.sweep_interval_ms;
    if (housekeeping_ && steady_ms() - last_housekeeping_ms_ >= 60000) {
      last_housekeeping_ms_ = steady_ms();
      housekeeping_(clock_.now_ms());
    }
    auto r = run_once(sweep);
    if (!r.ok()) log::warn("derive pass failed", {log::str("error", r.error().message)});
  }
}

}  // namespace secplat::posture
