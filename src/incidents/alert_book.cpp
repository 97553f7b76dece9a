#include "incidents/alert_book.h"

#include <algorithm>
#include <cstdlib>
#include <map>

#include "core/json.h"

namespace secplat::incidents {
namespace {

AlertState to_state(const store::Row& r) {
  AlertState s;
  s.asset_key = r.str("asset_key");
  s.state = r.str("state", "firing");
  s.ack_reason = r.opt_str("ack_reason");
  s.acked_by = r.opt_str("acked_by");
  s.acked_at_ms = r.opt_i64("acked_at");
  s.suppressed_until_ms = r.opt_i64("suppressed_until");
  s.resolved_at_ms = r.opt_i64("resolved_at");
  s.assigned_to = r.opt_str("assigned_to");
  s.updated_at_ms = r.i64("updated_at");
  return s;
}

// True when the current outage began after `t` (the action then belongs to an earlier episode).
bool began_after(const std::optional<int64_t>& since, const std::optional<int64_t>& t) {
  return since && t && *since > *t;
}

std::string level_of(int score) {
  if (score >= 90) return "critical";
  if (score >= 75) return "high";
  if (score >= 50) return "medium";
  if (score >= 25) return "low";
  return "info";
}

}  // namespace

std::string alert_bucket(const std::optional<AlertState>& row, bool alerting,
                         const std::optional<int64_t>& alerting_since_ms, bool suppressed) {
  if (suppressed) return "suppressed";
  if (!alerting) return "resolved";
  if (!row) return "firing";
  if (row->state == "acked") return began_after(alerting_since_ms, row->acked_at_ms) ? "firing" : "acked";
  if (row->state == "resolved") return began_after(alerting_since_ms, row->resolved_at_ms) ? "firing" : "resolved";
  return "firing";  // firing, assigned, or a manual suppression that has expired
}

EffectiveSeverity effective_severity(const std::string& criticality, std::size_t open_incidents, bool suppressed) {
  std::vector<SeverityDriver> drivers;
  if (criticality == "high") drivers.push_back({"asset_criticality_high", 10, "Asset criticality is high"});
  if (criticality == "low") drivers.push_back({"asset_criticality_low", -5, "Asset criticality is low"});
  if (open_incidents > 0) {
    drivers.push_back({"open_incident", 6, std::to_string(open_incidents) + " open incident(s) linked"});
  }
  if (suppressed) drivers.push_back({"maintenance_or_suppression", -12, "Maintenance window or suppression active"});
  EffectiveSeverity out;
  int score = 50;
  for (const auto& d : drivers) score += d.delta;
  out.score = std::clamp(score, 0, 100);
  out.level = level_of(out.score);
  std::stable_sort(drivers.begin(), drivers.end(),
                   [](const SeverityDriver& a, const SeverityDriver& b) { return std::abs(a.delta) > std::abs(b.delta); });
  if (drivers.size() > 3) drivers.resize(3);
  out.top_drivers = std::move(drivers);
  return out;
}

Result<std::vector<AlertState>> AlertBook::list_states() {
  auto rows = db_.query("SELECT * FROM alert_states ORDER BY asset_key");
  if (!rows.ok()) return std::move(rows).take_error();
  std::vector<AlertState> out;
  out.reserve(rows->size());
  for (const auto& r : *rows) out.push_back(to_state(r));
  return out;
}

Result<std::optional<AlertState>> AlertBook::get_state(const std::string& asset_key) {
  auto rows = db_.query("SELECT * FROM alert_states WHERE asset_key = $1", {asset_key});
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return std::optional<AlertState>();
  return std::optional<AlertState>(to_state(rows->front()));
}

Result<std::vector<BookedAlert>> AlertBook::board(const std::vector<AlertingAsset>& alerting,
                                                  Suppression& suppression, int64_t now_ms) {
  auto states = list_states();
  if (!states.ok()) return std::move(states).take_error();
  std::map<std::string, BookedAlert> by_key;
  std::map<std::string, std::optional<int64_t>> since;
  for (const auto& a : alerting) {
    auto& b = by_key[a.asset_key];
    b.asset_key = a.asset_key;
    b.alerting = true;
    since[a.asset_key] = a.since_ms;
  }
  for (auto& s : *states) {
    auto& b = by_key[s.asset_key];
    b.asset_key = s.asset_key;
    b.row = std::move(s);
  }
  std::vector<BookedAlert> out;
  out.reserve(by_key.size());
  for (auto& [key, b] : by_key) {
    auto hits = suppression.all_hits(key, std::nullopt, now_ms);
    if (!hits.ok()) return std::move(hits).take_error();
    b.hits = std::move(*hits);
    b.bucket = alert_bucket(b.row, b.alerting, b.alerting ? since[key] : std::nullopt, !b.hits.empty());
    out.push_back(std::move(b));
  }
  return out;
}

Result<AlertState> AlertBook::mutate(const std::string& asset_key, const std::string& action, const std::string& sql,
                                     const store::Params& params, const Json& details, const auth::Actor& actor) {
  if (asset_key.empty()) return Error::bad_request("asset_key or alert_id is required");
  std::optional<AlertState> out;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    auto known = tx.query(
        "SELECT 1 AS n FROM assets WHERE asset_key = $1 UNION ALL SELECT 1 AS n FROM alert_states WHERE asset_key = $1",
        {asset_key});
    if (!known.ok()) return std::move(known).take_error();
    if (known->empty()) return Error::not_found("Asset not found");
    auto n = tx.exec(sql, params);
    if (!n.ok()) return std::move(n).take_error();
    auto rows = tx.query("SELECT * FROM alert_states WHERE asset_key = $1", {asset_key});
    if (!rows.ok()) return std::move(rows).take_error();
    if (rows->empty()) return Error::internal("alert state not written");
    out = to_state(rows->front());
    return audit_.append(tx, action, actor.user_name, asset_key, details, actor.request_id);
  });
  if (!st.ok()) return std::move(st).take_error();
  return std::move(*out);
}

Result<AlertState> AlertBook::ack(const std::string& asset_key, const std::optional<std::string>& reason,
                                  const auth::Actor& actor) {
  if (reason && reason->size() > 2000) return Error::invalid({"body", "reason"}, "At most 2000 characters");
  const int64_t now = clock_.now_ms();
  const std::string r = reason.value_or("");
  return mutate(asset_key, "alert.ack",
                "INSERT INTO alert_states (asset_key, state, ack_reason, acked_by, acked_at, updated_at) "
                "VALUES ($1, 'acked', $2, $3, $4, $4) ON CONFLICT (asset_key) DO UPDATE SET state = 'acked', "
                "ack_reason = excluded.ack_reason, acked_by = excluded.acked_by, acked_at = excluded.acked_at, "
                "suppressed_until = NULL, updated_at = excluded.updated_at",
                {asset_key, r, actor.user_name, now}, Json{{"asset_key", asset_key}, {"reason", r}}, actor);
}

Result<AlertState> AlertBook::suppress(const std::string& asset_key, int64_t until_ms, const auth::Actor& actor) {
  const int64_t now = clock_.now_ms();
  if (until_ms <= now) return Error::bad_request("until_iso must be in the future");
  return mutate(asset_key, "alert.suppress",
                "INSERT INTO alert_states (asset_key, state, suppressed_until, updated_at) "
                "VALUES ($1, 'suppressed', $2, $3) ON CONFLICT (asset_key) DO UPDATE SET state = 'suppressed', "
                "suppressed_until = excluded.suppressed_until, updated_at = excluded.updated_at",
                {asset_key, until_ms, now},
                Json{{"asset_key", asset_key}, {"suppressed_until", format_rfc3339(until_ms)}}, actor);
}

Result<AlertState> AlertBook::resolve(const std::string& asset_key, const auth::Actor& actor) {
  const int64_t now = clock_.now_ms();
  return mutate(asset_key, "alert.resolve",
                "INSERT INTO alert_states (asset_key, state, resolved_at, updated_at) VALUES ($1, 'resolved', $2, $2) "
                "ON CONFLICT (asset_key) DO UPDATE SET state = 'resolved', resolved_at = excluded.resolved_at, "
                "updated_at = excluded.updated_at",
                {asset_key, now}, Json{{"asset_key", asset_key}}, actor);
}

Result<AlertState> AlertBook::assign(const std::string& asset_key, const std::optional<std::string>& assigned_to,
                                     const auth::Actor& actor) {
  if (assigned_to && assigned_to->size() > 200) return Error::invalid({"body", "assigned_to"}, "At most 200 characters");
  const int64_t now = clock_.now_ms();
  const std::string who = assigned_to.value_or("");
  return mutate(asset_key, "alert.assign",
                "INSERT INTO alert_states (asset_key, state, assigned_to, updated_at) VALUES ($1, 'firing', $2, $3) "
                "ON CONFLICT (asset_key) DO UPDATE SET assigned_to = excluded.assigned_to, "
                "updated_at = excluded.updated_at",
                {asset_key, who, now}, Json{{"asset_key", asset_key}, {"assigned_to", who}}, actor);
}

}  // namespace secplat::incidents
