#include "incidents/correlator.h"

#include <algorithm>
#include <chrono>

#include "core/json.h"
#include "core/log.h"

namespace secplat::incidents {
namespace {

constexpr const char* kHeldSql =
    "CREATE TABLE correlation_held ("
    " correlation_key TEXT PRIMARY KEY,"
    " asset_key TEXT NOT NULL,"
    " finding_key TEXT,"
    " signal TEXT NOT NULL,"
    " reason TEXT NOT NULL,"
    " held_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL)";

std::string str_field(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool bool_field(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

Json to_json(const Signal& s) {
  return Json{{"correlation_key", s.correlation_key}, {"category", s.category}, {"title", s.title},
              {"severity", s.severity},               {"asset_key", s.asset_key}, {"event_id", s.event_id},
              {"event_type", s.event_type},           {"summary", s.summary},   {"details", s.details_json},
              {"at_ms", s.at_ms},                     {"reopen_window_ms", s.reopen_window_ms}};
}

std::optional<Signal> from_json(const std::string& text) {
  const Json j = Json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  Signal s;
  s.correlation_key = str_field(j, "correlation_key");
  s.category = str_field(j, "category");
  s.title = str_field(j, "title");
  s.severity = str_field(j, "severity");
  s.asset_key = str_field(j, "asset_key");
  s.event_id = str_field(j, "event_id");
  s.event_type = str_field(j, "event_type");
  s.summary = str_field(j, "summary");
  s.details_json = str_field(j, "details");
  if (s.details_json.empty()) s.details_json = "{}";
  s.at_ms = j.value("at_ms", int64_t{0});
  s.reopen_window_ms = j.value("reopen_window_ms", int64_t{3600 * 1000});
  if (s.correlation_key.empty() || s.asset_key.empty() || s.event_id.empty()) return std::nullopt;
  return s;
}

// down_assets of an alert.triggered payload: a JSON array, or (as the reference's flattened field)
// JSON text of one, or one plain key. Trimmed, blanks dropped, order kept, duplicates removed.
std::vector<std::string> down_assets_of(const Json& payload, const std::string& flat) {
  Json list = payload.contains("down_assets") ? payload["down_assets"] : Json(flat);
  if (list.is_string()) {
    const std::string text = list.get<std::string>();
    Json parsed = Json::parse(text, nullptr, false);
    list = parsed.is_array() ? parsed : Json::array({text});
  }
  std::vector<std::string> out;
  if (!list.is_array()) return out;
  for (const auto& v : list) {
    if (!v.is_string()) continue;
    std::string k = v.get<std::string>();
    const auto b = k.find_first_not_of(" \t"), e = k.find_last_not_of(" \t");
    if (b == std::string::npos) continue;
    k = k.substr(b, e - b + 1);
    if (std::find(out.begin(), out.end(), k) == out.end()) out.push_back(k);
  }
  return out;
}

}  // namespace

std::vector<store::Migration> correlator_migrations() { return {{960, "correlation_held", kHeldSql, kHeldSql}}; }

Correlator::Correlator(store::Db& db, queue::Queue& queue, IncidentService& incidents, Suppression& suppression,
                       HealthLookup health, CorrelatorOptions options, const Clock& clock)
    : db_(db),
      queue_(queue),
      incidents_(incidents),
      suppression_(suppression),
      health_(std::move(health)),
      opt_(std::move(options)),
      clock_(clock) {}

Correlator::~Correlator() { stop(); }

Status Correlator::start(int threads) {
  if (!threads_.empty()) return Error::conflict("correlator already started");
  SECPLAT_TRY(queue_.ensure_group(opt_.stream, opt_.group));
  stopping_ = false;
  for (int i = 0; i < std::max(1, threads); ++i)
    threads_.emplace_back([this, name = opt_.consumer + "-" + std::to_string(i)] { run(name); });
  threads_.emplace_back([this] { sweeper(); });
  return ok_status();
}

void Correlator::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void Correlator::run(const std::string& consumer) {
  while (!stopping_) {
    auto msgs = queue_.read(opt_.stream, opt_.group, consumer, opt_.read_count, opt_.read_block_ms);
    if (!msgs.ok()) {
      log::warn("correlation read failed", {log::str("stream", opt_.stream), log::str("error", msgs.error().message)});
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, std::chrono::seconds(1), [this] { return stopping_.load(); });
      continue;
    }
    for (const auto& m : *msgs) {
      auto st = handle(m);
      if (!st.ok())
        log::warn("correlation message not handled", {log::str("message_id", m.id), log::str("error", st.error().message)});
    }
  }
}

void Correlator::sweeper() {
  std::unique_lock lk(mu_);
  while (!stopping_) {
    cv_.wait_for(lk, std::chrono::milliseconds(opt_.sweep_interval_ms), [this] { return stopping_.load(); });
    if (stopping_) break;
    lk.unlock();
    auto n = sweep();
    if (!n.ok()) log::warn("correlation sweep failed", {log::str("error", n.error().message)});
    lk.lock();
  }
}

Status Correlator::apply(const Signal& s, const std::optional<std::string>& finding_key) {
  const int64_t now = clock_.now_ms();
  auto hit = suppression_.check(s.asset_key, finding_key, now);
  if (!hit.ok()) return std::move(hit).take_error();
  if (*hit) {
    // Held, not dropped: sweep() correlates it once nothing suppresses it and it still holds.
    auto w = db_.exec(
        "INSERT INTO correlation_held (correlation_key, asset_key, finding_key, signal, reason, held_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (correlation_key) DO UPDATE SET signal = excluded.signal, "
        "reason = excluded.reason, updated_at = excluded.updated_at",
        {s.correlation_key, s.asset_key, finding_key ? store::Value(*finding_key) : store::null(), to_json(s).dump(),
         (*hit)->reason, now});
    if (!w.ok()) return std::move(w).take_error();
    log::info("signal held by suppression", {log::str("correlation_key", s.correlation_key),
                                             log::str("event_id", s.event_id), log::str("reason", (*hit)->reason)});
    return ok_status();
  }
  auto r = incidents_.correlate(s, {"correlator", s.event_id});
  if (!r.ok()) return std::move(r).take_error();
  if (r->action != "appended" && r->action != "duplicate")
    log::info("incident " + r->action, {log::str("correlation_key", s.correlation_key),
                                        log::integer("incident_id", r->incident.id), log::str("event_id", s.event_id)});
  auto d = db_.exec("DELETE FROM correlation_held WHERE correlation_key = $1", {s.correlation_key});
  if (!d.ok()) return std::move(d).take_error();
  return ok_status();
}

Status Correlator::release(const std::string& correlation_key, const std::string& event_id, const std::string& reason) {
  auto d = db_.exec("DELETE FROM correlation_held WHERE correlation_key = $1", {correlation_key});
  if (!d.ok()) return std::move(d).take_error();
  auto r = incidents_.resolve_correlated(correlation_key, event_id, reason, {"correlator", event_id});
  if (!r.ok()) return std::move(r).take_error();
  if (*r) log::info("incident resolved", {log::str("correlation_key", correlation_key), log::integer("incident_id", (*r)->id)});
  return ok_status();
}

Status Correlator::handle(const queue::Message& msg) {
  auto field = [&](const char* k) {
    auto it = msg.fields.find(k);
    return it == msg.fields.end() ? std::string() : it->second;
  };
  const std::string event_id = field("event_id"), event_type = field("event_type");
  auto malformed = [&](const std::string& why) -> Status {
    log::warn("correlation message dead-lettered", {log::str("message_id", msg.id), log::str("error", why)});
    return queue_.dead_letter(msg, opt_.group, "malformed correlation event: " + why);
  };
  if (event_type.empty()) return malformed("missing event_type");
  if (event_id.empty()) return malformed("missing event_id");
  const Json payload = Json::parse(field("payload").empty() ? std::string("{}") : field("payload"), nullptr, false);
  if (payload.is_discarded() || !payload.is_object()) return malformed("payload is not a JSON object");

  const std::string asset_key = field("asset_key");
  const std::string severity = field("severity").empty() ? std::string("high") : field("severity");
  const int64_t at = clock_.now_ms();
  auto signal = [&](const std::string& category, const std::string& asset, const std::string& title,
                    const std::string& summary, const std::string& id) {
    Signal s;
    s.correlation_key = category + ":" + asset;
    s.category = category;
    s.title = title;
    s.severity = severity;
    s.asset_key = asset;
    s.event_id = id;
    s.event_type = event_type;
    s.summary = summary;
    s.details_json = payload.dump();
    s.at_ms = at;
    s.reopen_window_ms = opt_.reopen_window_ms;
    return s;
  };

  Status st = ok_status();
  if (event_type == "posture.changed") {
    if (asset_key.empty()) return malformed("posture.changed without asset_key");
    // Repository assets turn red from findings; the finding incidents cover them.
    if (str_field(payload, "status") == "scan_based") return queue_.ack(msg.stream, opt_.group, msg.id);
    std::string change = str_field(payload, "change");
    if (change.empty()) change = "status";
    const std::string from = str_field(payload, "from"), to = str_field(payload, "to");
    const std::string reason = str_field(payload, "reason");
    const std::string because = reason.empty() ? std::string() : " (" + reason + ")";
    if (change == "status" && (to == "down" || to == "red")) {
      if (bool_field(payload, "flapping"))
        st = apply(signal("flapping", asset_key, asset_key + " is flapping", "Went " + to + " while flapping" + because,
                          event_id),
                   std::nullopt);
      else
        st = apply(signal("availability", asset_key, asset_key + " is down",
                          "Status " + (from.empty() ? std::string("unknown") : from) + " → " + to + because, event_id),
                   std::nullopt);
    } else if (change == "status" && (to == "up" || to == "green")) {
      st = release("availability:" + asset_key, event_id, "Asset recovered: " + from + " → " + to);
    } else if (change == "flapping_started") {
      st = apply(signal("flapping", asset_key, asset_key + " is flapping", "Flapping started" + because, event_id),
                 std::nullopt);
    } else if (change == "flapping_ended") {
      st = release("flapping:" + asset_key, event_id, "Flapping ended");
      if (st.ok() && str_field(payload, "status") == "down")
        st = apply(signal("availability", asset_key, asset_key + " is down", "Settled down after flapping", event_id),
                   std::nullopt);
    }
  } else if (event_type == "alert.triggered") {
    const auto assets = down_assets_of(payload, field("down_assets"));
    if (assets.empty()) return malformed("alert.triggered without down_assets");
    const std::string by = str_field(payload, "requested_by");
    for (const auto& a : assets) {
      st = apply(signal("availability", a, a + " is down", "Alert sent" + (by.empty() ? std::string() : " by " + by),
                        event_id + ":" + a),
                 std::nullopt);
      if (!st.ok()) break;
    }
  } else if (event_type == "finding.created" || event_type == "finding.updated") {
    std::string finding_key = str_field(payload, "finding_key");
    if (finding_key.empty()) finding_key = field("finding_key");
    if (asset_key.empty() || finding_key.empty()) return malformed(event_type + " without asset_key or finding_key");
    const std::string key = "finding:" + asset_key + ":" + finding_key;
    const std::string status = str_field(payload, "status");
    if (!acts_on_finding_event(event_type, severity, status)) {
      // nothing to open or release
    } else if (event_type == "finding.updated") {
      st = release(key, event_id, "Finding " + status);
    } else {
      // Only serious findings are incidents; the rest stay in the findings queue.
      const std::string title = str_field(payload, "title");
      Signal s = signal("finding", asset_key, "Finding: " + (title.empty() ? finding_key : title) + " on " + asset_key,
                        "Finding " + finding_key + " reported", event_id);
      s.correlation_key = key;
      st = apply(s, finding_key);
    }
  }

  if (!st.ok()) {
    auto r = queue_.retry(msg, opt_.group, st.error().message);
    (void)r;
    return st;
  }
  SECPLAT_TRY(queue_.ack(msg.stream, opt_.group, msg.id));
  // Notifications leave now rather than at the next sweep.
  auto relayed = incidents_.relay_outbox(queue_);
  if (!relayed.ok()) log::warn("incident outbox relay failed", {log::str("error", relayed.error().message)});
  return ok_status();
}

bool Correlator::acts_on_finding_event(std::string_view type, std::string_view severity, std::string_view status) {
  if (type == "finding.updated") return status == "remediated" || status == "accepted_risk";
  if (type == "finding.created") return severity == "critical" || severity == "high";
  return false;
}

Result<int64_t> Correlator::sweep() {
  auto rows = db_.query("SELECT * FROM correlation_held ORDER BY held_at LIMIT 500");
  if (!rows.ok()) return std::move(rows).take_error();
  int64_t released = 0;
  for (const auto& row : *rows) {
    const std::string key = row.str("correlation_key");
    const int64_t version = row.i64("updated_at");
    auto drop = [&] {
      return db_.exec("DELETE FROM correlation_held WHERE correlation_key = $1 AND updated_at = $2", {key, version});
    };
    auto s = from_json(row.str("signal"));
    if (!s) {
      log::warn("unreadable held signal dropped", {log::str("correlation_key", key)});
      auto d = drop();
      if (!d.ok()) return std::move(d).take_error();
      continue;
    }
    auto hit = suppression_.check(s->asset_key, row.opt_str("finding_key"), clock_.now_ms());
    if (!hit.ok()) return std::move(hit).take_error();
    if (*hit) continue;
    // Suppression is over: does the condition still hold? A recovery deletes the row, so one that
    // is still here is still firing; an availability signal is re-checked against current health.
    if (s->category == "availability" && health_) {
      const auto h = health_(s->asset_key);
      if (!h || *h != "down") {
        auto d = drop();
        if (!d.ok()) return std::move(d).take_error();
        continue;
      }
    }
    s->summary += " (held until suppression ended: " + row.str("reason") + ")";
    auto r = incidents_.correlate(*s, {"correlator", s->event_id});
    if (!r.ok()) return std::move(r).take_error();
    auto d = drop();
    if (!d.ok()) return std::move(d).take_error();
    ++released;
    log::info("held signal released", {log::str("correlation_key", key), log::integer("incident_id", r->incident.id),
                                       log::str("action", r->action)});
  }
  auto relayed = incidents_.relay_outbox(queue_);
  if (!relayed.ok()) return std::move(relayed).take_error();
  return released;
}

Result<std::vector<HeldSignal>> Correlator::held() {
  auto rows = db_.query("SELECT correlation_key, asset_key, reason, held_at FROM correlation_held ORDER BY held_at");
  if (!rows.ok()) return std::move(rows).take_error();
  std::vector<HeldSignal> out;
  for (const auto& r : *rows)
    out.push_back({r.str("correlation_key"), r.str("asset_key"), r.str("reason"), r.i64("held_at")});
  return out;
}

}  // namespace secplat::incidents
