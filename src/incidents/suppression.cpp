#include "incidents/suppression.h"

#include <deque>
#include <set>
#include <utility>

#include "core/json.h"
#include "store/sql_text.h"

namespace secplat::incidents {
namespace {

const char* kWindowsAndRules = R"SQL(
CREATE TABLE maintenance_windows (
  id {ID},
  asset_key TEXT NOT NULL,
  start_at BIGINT NOT NULL,
  end_at BIGINT NOT NULL,
  reason TEXT,
  created_by TEXT,
  created_at BIGINT NOT NULL,
  CHECK (end_at > start_at)
);
CREATE INDEX maintenance_windows_asset_idx ON maintenance_windows (asset_key);
CREATE INDEX maintenance_windows_range_idx ON maintenance_windows (start_at, end_at);
CREATE TABLE suppression_rules (
  id {ID},
  scope TEXT NOT NULL CHECK (scope IN ('asset', 'finding', 'all')),
  scope_value TEXT,
  starts_at BIGINT NOT NULL,
  ends_at BIGINT NOT NULL,
  reason TEXT,
  created_by TEXT,
  created_at BIGINT NOT NULL,
  CHECK (ends_at > starts_at)
);
CREATE INDEX suppression_rules_scope_idx ON suppression_rules (scope, scope_value);
CREATE INDEX suppression_rules_range_idx ON suppression_rules (starts_at, ends_at))SQL";

// One row per edge "asset_key depends on depends_on"; the pair is unique.
const char* kDependencies = R"SQL(
CREATE TABLE asset_dependencies (
  id {ID},
  asset_key TEXT NOT NULL,
  depends_on TEXT NOT NULL,
  created_by TEXT,
  created_at BIGINT NOT NULL,
  UNIQUE (asset_key, depends_on),
  CHECK (asset_key <> depends_on)
);
CREATE INDEX asset_dependencies_parent_idx ON asset_dependencies (depends_on))SQL";

// Legacy per-asset alert state (reference §1.2), written by AlertBook.
const char* kAlertStates = R"SQL(
CREATE TABLE alert_states (
  asset_key TEXT PRIMARY KEY,
  state TEXT NOT NULL DEFAULT 'firing' CHECK (state IN ('firing', 'acked', 'suppressed', 'resolved')),
  ack_reason TEXT,
  acked_by TEXT,
  acked_at BIGINT,
  suppressed_until BIGINT,
  resolved_at BIGINT,
  assigned_to TEXT,
  updated_at BIGINT NOT NULL
);
CREATE INDEX alert_states_state_idx ON alert_states (state);
CREATE INDEX alert_states_suppressed_idx ON alert_states (suppressed_until) WHERE suppressed_until IS NOT NULL)SQL";

store::Value opt(const std::optional<std::string>& v) {
  if (!v || v->empty()) return store::null();
  return *v;
}

Json opt_json(const std::optional<std::string>& v) { return v ? Json(*v) : Json(nullptr); }

MaintenanceWindow to_window(const store::Row& r) {
  return {r.i64("id"),          r.str("asset_key"),      r.i64("start_at"),     r.i64("end_at"),
          r.opt_str("reason"), r.opt_str("created_by"), r.i64("created_at")};
}

SuppressionRule to_rule(const store::Row& r) {
  return {r.i64("id"),          r.str("scope"),          r.opt_str("scope_value"), r.i64("starts_at"),
          r.i64("ends_at"),     r.opt_str("reason"),     r.opt_str("created_by"),  r.i64("created_at")};
}

AssetDependency to_dependency(const store::Row& r) {
  return {r.i64("id"), r.str("asset_key"), r.str("depends_on"), r.opt_str("created_by"), r.i64("created_at")};
}

std::string with_reason(std::string head, const std::optional<std::string>& reason) {
  if (reason && !reason->empty()) head += ": " + *reason;
  return head;
}

Status check_key(std::string_view field, const std::string& value) {
  if (value.empty()) return Error::invalid({"body", std::string(field)}, "Field required");
  if (value.size() > 512) return Error::invalid({"body", std::string(field)}, "At most 512 characters");
  return ok_status();
}

Status check_reason(const std::optional<std::string>& reason) {
  if (reason && reason->size() > 2000) return Error::invalid({"body", "reason"}, "At most 2000 characters");
  return ok_status();
}

Status check_range(const TimeRange& r, std::string_view start_name, std::string_view end_name) {
  if (r.end_ms <= r.start_ms) {
    return Error::bad_request(std::string(end_name) + " must be after " + std::string(start_name));
  }
  return ok_status();
}

Result<std::vector<std::string>> parents_of(store::Tx* tx, store::Db& db, const std::string& asset_key) {
  static const std::string sql = "SELECT depends_on FROM asset_dependencies WHERE asset_key = $1 ORDER BY depends_on";
  auto rows = tx ? tx->query(sql, {asset_key}) : db.query(sql, {asset_key});
  if (!rows.ok()) return std::move(rows).take_error();
  std::vector<std::string> out;
  out.reserve(rows->size());
  for (const auto& r : *rows) out.push_back(r.str("depends_on"));
  return out;
}

}  // namespace

std::vector<store::Migration> suppression_migrations() {
  return {store::portable_migration(930, "maintenance_windows_suppression_rules", kWindowsAndRules),
          store::portable_migration(931, "asset_dependencies", kDependencies),
          store::portable_migration(932, "alert_states", kAlertStates)};
}

Result<TimeRange> parse_time_range(std::string_view start_text, std::string_view end_text,
                                   std::string_view start_name, std::string_view end_name) {
  auto start = parse_rfc3339(start_text);
  auto end = parse_rfc3339(end_text);
  if (!start || !end) {
    return Error::bad_request(std::string(start_name) + " and " + std::string(end_name) +
                              " must be ISO 8601 datetimes with a time zone (Z or +HH:MM), e.g. "
                              "2026-01-31T22:00:00Z");
  }
  TimeRange r{*start, *end};
  SECPLAT_TRY(check_range(r, start_name, end_name));
  return r;
}

void Suppression::set_health_lookup(HealthLookup lookup) {
  std::lock_guard lk(lookup_mu_);
  health_lookup_ = std::move(lookup);
}

Result<std::optional<SuppressionHit>> Suppression::check(const std::string& asset_key,
                                                         const std::optional<std::string>& finding_key,
                                                         int64_t now_ms) {
  auto hits = collect(asset_key, finding_key, now_ms, true);
  if (!hits.ok()) return std::move(hits).take_error();
  if (hits->empty()) return std::optional<SuppressionHit>();
  return std::optional<SuppressionHit>(std::move(hits->front()));
}

Result<std::vector<SuppressionHit>> Suppression::all_hits(const std::string& asset_key,
                                                          const std::optional<std::string>& finding_key,
                                                          int64_t now_ms) {
  return collect(asset_key, finding_key, now_ms, false);
}

Result<std::vector<SuppressionHit>> Suppression::collect(const std::string& asset_key,
                                                         const std::optional<std::string>& finding_key,
                                                         int64_t now_ms, bool first_only) {
  std::vector<SuppressionHit> hits;
  auto windows = db_.query(
      "SELECT id, reason, end_at FROM maintenance_windows WHERE asset_key = $1 AND start_at <= $2 AND end_at >= $2 "
      "ORDER BY end_at DESC, id",
      {asset_key, now_ms});
  if (!windows.ok()) return std::move(windows).take_error();
  for (const auto& w : *windows) {
    hits.push_back({"maintenance_window", w.i64("id"),
                    with_reason("maintenance window " + std::to_string(w.i64("id")), w.opt_str("reason")),
                    w.i64("end_at")});
    if (first_only) return hits;
  }

  // scope_value = NULL never matches, so a missing finding_key matches no finding rule.
  auto rules = db_.query(
      "SELECT id, scope, scope_value, reason, ends_at FROM suppression_rules "
      "WHERE starts_at <= $1 AND ends_at >= $1 AND (scope = 'all' OR (scope = 'asset' AND scope_value = $2) "
      "OR (scope = 'finding' AND scope_value = $3)) "
      "ORDER BY CASE scope WHEN 'all' THEN 0 WHEN 'asset' THEN 1 ELSE 2 END, ends_at DESC, id",
      {now_ms, asset_key, finding_key ? store::Value(*finding_key) : store::null()});
  if (!rules.ok()) return std::move(rules).take_error();
  for (const auto& r : *rules) {
    std::string head = "suppression rule " + std::to_string(r.i64("id")) + " (" + r.str("scope");
    if (auto v = r.opt_str("scope_value")) head += " " + *v;
    head += ")";
    hits.push_back({"rule", r.i64("id"), with_reason(std::move(head), r.opt_str("reason")), r.i64("ends_at")});
    if (first_only) return hits;
  }

  auto manual = db_.query(
      "SELECT suppressed_until FROM alert_states "
      "WHERE asset_key = $1 AND state = 'suppressed' AND suppressed_until > $2",
      {asset_key, now_ms});
  if (!manual.ok()) return std::move(manual).take_error();
  for (const auto& m : *manual) {
    const int64_t until = m.i64("suppressed_until");
    hits.push_back({"alert_suppressed", 0, "alert suppressed until " + format_rfc3339(until), until});
    if (first_only) return hits;
  }

  auto dep = dependency_hit(asset_key);
  if (!dep.ok()) return std::move(dep).take_error();
  if (*dep) hits.push_back(std::move(**dep));
  return hits;
}

// Breadth-first up the parents: the nearest down ancestor wins.
Result<std::optional<SuppressionHit>> Suppression::dependency_hit(const std::string& asset_key) {
  HealthLookup lookup;
  {
    std::lock_guard lk(lookup_mu_);
    lookup = health_lookup_;
  }
  if (!lookup) return std::optional<SuppressionHit>();
  struct Step {
    std::string key;
    std::string via;  // the direct parent this path started from
    int depth;
  };
  std::set<std::string> seen{asset_key};
  std::deque<Step> queue;
  queue.push_back({asset_key, "", 0});
  while (!queue.empty()) {
    Step step = std::move(queue.front());
    queue.pop_front();
    if (step.depth >= kMaxDependencyDepth) continue;
    auto parents = parents_of(nullptr, db_, step.key);
    if (!parents.ok()) return std::move(parents).take_error();
    for (auto& parent : *parents) {
      if (!seen.insert(parent).second) continue;
      const std::string via = step.depth == 0 ? std::string() : step.via;
      auto health = lookup(parent);
      if (health && *health == "down") {
        std::string reason = "parent " + parent + " is down";
        if (!via.empty()) reason += " (via " + via + ")";
        return std::optional<SuppressionHit>(SuppressionHit{"dependency", 0, std::move(reason), std::nullopt});
      }
      queue.push_back({parent, step.depth == 0 ? parent : step.via, step.depth + 1});
    }
  }
  return std::optional<SuppressionHit>();
}

Result<MaintenanceWindow> Suppression::create_window(const MaintenanceWindowInput& in, const auth::Actor& actor) {
  SECPLAT_TRY(check_key("asset_key", in.asset_key));
  SECPLAT_TRY(check_reason(in.reason));
  SECPLAT_TRY(check_range(in.range, "start_at", "end_at"));
  const int64_t now = clock_.now_ms();
  std::optional<MaintenanceWindow> out;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    auto rows = tx.query(
        "INSERT INTO maintenance_windows (asset_key, start_at, end_at, reason, created_by, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        {in.asset_key, in.range.start_ms, in.range.end_ms, opt(in.reason), opt(actor.user_name), now});
    if (!rows.ok()) return std::move(rows).take_error();
    if (rows->empty()) return Error::internal("insert returned no row");
    out = to_window(rows->front());
    return audit_.append(tx, "maintenance_window.create", actor.user_name, in.asset_key,
                         {{"window_id", out->id},
                          {"asset_key", in.asset_key},
                          {"start_at", format_rfc3339(in.range.start_ms)},
                          {"end_at", format_rfc3339(in.range.end_ms)},
                          {"reason", opt_json(in.reason)}},
                         actor.request_id);
  });
  if (!st.ok()) return std::move(st).take_error();
  return std::move(*out);
}

Result<std::vector<MaintenanceWindow>> Suppression::list_windows(const std::optional<std::string>& asset_key,
                                                                 bool active_only) {
  std::string sql = "SELECT * FROM maintenance_windows WHERE 1 = 1";
  store::Params params;
  if (asset_key) {
    params.push_back(*asset_key);
    sql += " AND asset_key = $" + std::to_string(params.size());
  }
  if (active_only) {
    params.push_back(clock_.now_ms());
    const std::string p = "$" + std::to_string(params.size());
    sql += " AND start_at <= " + p + " AND end_at >= " + p;
  }
  sql += " ORDER BY start_at DESC, id DESC";
  auto rows = db_.query(sql, params);
  if (!rows.ok()) return std::move(rows).take_error();
  std::vector<MaintenanceWindow> out;
  for (const auto& r : *rows) out.push_back(to_window(r));
  return out;
}

Status Suppression::delete_window(int64_t id, const auth::Actor& actor) {
  return db_.transact([&](store::Tx& tx) -> Status {
    auto rows = tx.query("SELECT asset_key FROM maintenance_windows WHERE id = $1", {id});
    if (!rows.ok()) return std::move(rows).take_error();
    if (rows->empty()) return Error::not_found("Maintenance window not found");
    SECPLAT_TRY(tx.exec("DELETE FROM maintenance_windows WHERE id = $1", {id}));
    const std::string key = rows->front().str("asset_key");
    return audit_.append(tx, "maintenance_window.delete", actor.user_name, key,
                         {{"window_id", id}, {"asset_key", key}}, actor.request_id);
  });
}

Result<SuppressionRule> Suppression::create_rule(const SuppressionRuleInput& in, const auth::Actor& actor) {
  if (in.scope != "asset" && in.scope != "finding" && in.scope != "all") {
    return Error::bad_request("scope must be asset, finding, or all");
  }
  std::optional<std::string> value;
  if (in.scope != "all") {
    if (!in.scope_value || in.scope_value->empty()) return Error::bad_request("scope_value required for asset/finding");
    if (in.scope_value->size() > 512) return Error::invalid({"body", "scope_value"}, "At most 512 characters");
    value = in.scope_value;
  }
  SECPLAT_TRY(check_reason(in.reason));
  SECPLAT_TRY(check_range(in.range, "starts_at", "ends_at"));
  const int64_t now = clock_.now_ms();
  std::optional<SuppressionRule> out;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    auto rows = tx.query(
        "INSERT INTO suppression_rules (scope, scope_value, starts_at, ends_at, reason, created_by, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
        {in.scope, opt(value), in.range.start_ms, in.range.end_ms, opt(in.reason), opt(actor.user_name), now});
    if (!rows.ok()) return std::move(rows).take_error();
    if (rows->empty()) return Error::internal("insert returned no row");
    out = to_rule(rows->front());
    return audit_.append(tx, "suppression_rule.create", actor.user_name,
                         in.scope == "asset" ? *value : std::string(),
                         {{"rule_id", out->id},
                          {"scope", in.scope},
                          {"scope_value", opt_json(value)},
                          {"starts_at", format_rfc3339(in.range.start_ms)},
                          {"ends_at", format_rfc3339(in.range.end_ms)},
                          {"reason", opt_json(in.reason)}},
                         actor.request_id);
  });
  if (!st.ok()) return std::move(st).take_error();
  return std::move(*out);
}

Result<std::vector<SuppressionRule>> Suppression::list_rules(const std::optional<std::string>& scope,
                                                             bool active_only) {
  if (scope && *scope != "asset" && *scope != "finding" && *scope != "all") {
    return Error::bad_request("scope must be asset, finding, or all");
  }
  std::string sql = "SELECT * FROM suppression_rules WHERE 1 = 1";
  store::Params params;
  if (scope) {
    params.push_back(*scope);
    sql += " AND scope = $" + std::to_string(params.size());
  }
  if (active_only) {
    params.push_back(clock_.now_ms());
    const std::string p = "$" + std::to_string(params.size());
    sql += " AND starts_at <= " + p + " AND ends_at >= " + p;
  }
  sql += " ORDER BY starts_at DESC, id DESC";
  auto rows = db_.query(sql, params);
  if (!rows.ok()) return std::move(rows).take_error();
  std::vector<SuppressionRule> out;
  for (const auto& r : *rows) out.push_back(to_rule(r));
  return out;
}

Status Suppression::delete_rule(int64_t id, const auth::Actor& actor) {
  return db_.transact([&](store::Tx& tx) -> Status {
    auto rows = tx.query("SELECT scope, scope_value FROM suppression_rules WHERE id = $1", {id});
    if (!rows.ok()) return std::move(rows).take_error();
    if (rows->empty()) return Error::not_found("Suppression rule not found");
    SECPLAT_TRY(tx.exec("DELETE FROM suppression_rules WHERE id = $1", {id}));
    const std::string scope = rows->front().str("scope");
    const auto value = rows->front().opt_str("scope_value");
    return audit_.append(tx, "suppression_rule.delete", actor.user_name,
                         scope == "asset" ? value.value_or("") : std::string(),
                         {{"rule_id", id}, {"scope", scope}, {"scope_value", opt_json(value)}}, actor.request_id);
  });
}

Result<AssetDependency> Suppression::create_dependency(const std::string& asset_key, const std::string& depends_on,
                                                       const auth::Actor& actor) {
  SECPLAT_TRY(check_key("asset_key", asset_key));
  SECPLAT_TRY(check_key("depends_on", depends_on));
  if (asset_key == depends_on) return Error::bad_request("An asset cannot depend on itself");
  const int64_t now = clock_.now_ms();
  std::optional<AssetDependency> out;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    // Inside the write transaction, so two concurrent edges cannot close a cycle between them.
    std::set<std::string> seen{depends_on};
    std::deque<std::string> queue{depends_on};
    while (!queue.empty()) {
      auto parents = parents_of(&tx, db_, queue.front());
      if (!parents.ok()) return std::move(parents).take_error();
      queue.pop_front();
      for (auto& p : *parents) {
        if (p == asset_key) {
          return Error::bad_request("Dependency would create a cycle: " + depends_on + " already depends on " +
                                    asset_key);
        }
        if (seen.insert(p).second) queue.push_back(std::move(p));
      }
    }
    auto rows = tx.query(
        "INSERT INTO asset_dependencies (asset_key, depends_on, created_by, created_at) VALUES ($1, $2, $3, $4) "
        "RETURNING *",
        {asset_key, depends_on, opt(actor.user_name), now});
    if (!rows.ok()) {
      if (rows.error().code == Errc::conflict) {
        return Error::conflict("Dependency already exists: " + asset_key + " depends on " + depends_on);
      }
      return std::move(rows).take_error();
    }
    if (rows->empty()) return Error::internal("insert returned no row");
    out = to_dependency(rows->front());
    return audit_.append(tx, "asset_dependency.create", actor.user_name, asset_key,
                         {{"dependency_id", out->id}, {"asset_key", asset_key}, {"depends_on", depends_on}},
                         actor.request_id);
  });
  if (!st.ok()) return std::move(st).take_error();
  return std::move(*out);
}

Result<std::vector<AssetDependency>> Suppression::list_dependencies(const std::optional<std::string>& asset_key) {
  auto rows = asset_key ? db_.query("SELECT * FROM asset_dependencies WHERE asset_key = $1 OR depends_on = $1 "
                                    "ORDER BY id",
                                    {*asset_key})
                        : db_.query("SELECT * FROM asset_dependencies ORDER BY id");
  if (!rows.ok()) return std::move(rows).take_error();
  std::vector<AssetDependency> out;
  for (const auto& r : *rows) out.push_back(to_dependency(r));
  return out;
}

Status Suppression::delete_dependency(int64_t id, const auth::Actor& actor) {
  return db_.transact([&](store::Tx& tx) -> Status {
    auto rows = tx.query("SELECT asset_key, depends_on FROM asset_dependencies WHERE id = $1", {id});
    if (!rows.ok()) return std::move(rows).take_error();
    if (rows->empty()) return Error::not_found("Asset dependency not found");
    SECPLAT_TRY(tx.exec("DELETE FROM asset_dependencies WHERE id = $1", {id}));
    const std::string key = rows->front().str("asset_key");
    return audit_.append(tx, "asset_dependency.delete", actor.user_name, key,
                         {{"dependency_id", id}, {"asset_key", key}, {"depends_on", rows->front().str("depends_on")}},
                         actor.request_id);
  });
}

}  // namespace secplat::incidents
