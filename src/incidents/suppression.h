// What keeps an alert quiet (reference §8.11 plus asset dependencies): maintenance windows per asset,
// suppression rules (scope all, asset or finding), a manual `/alerts/suppress` on the asset's alert,
// and dependencies ("child depends on parent": a child's alerts are quiet while a parent is down).
//
// Tables (versions 930..959): maintenance_windows, suppression_rules, asset_dependencies and
// alert_states (the latter is written by AlertBook; Suppression only reads it). Times are epoch ms.
// Windows and rules are active when start <= now <= end (both bounds inclusive). A window or rule
// must end after it starts; callers parse times with parse_time_range(), which refuses datetimes
// without a time zone (the reference read them in the server's zone).
//
// Dependencies form a DAG: creating one that would close a cycle is refused, so a walk up the
// parents always ends; check() still bounds it (kMaxDependencyDepth) and tracks visited assets.
// Assets named by windows, rules and dependencies need not exist (yet), as in the reference.
//
// Threading: safe to share between threads. Every mutation is one store transaction with its
// audit row; set_health_lookup() may be called while other threads run check().
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/audit_log.h"
#include "core/clock.h"
#include "core/error.h"
#include "store/db.h"

namespace secplat::incidents {

std::vector<store::Migration> suppression_migrations();  // versions 930..959

// Current health of an asset as the caller knows it: "down", "up", "stale", "unknown", ... ;
// nullopt = unknown asset. Must be cheap and must not call back into Suppression.
using HealthLookup = std::function<std::optional<std::string>(const std::string& asset_key)>;

// How far check() follows parents of parents.
inline constexpr int kMaxDependencyDepth = 8;

struct SuppressionHit {
  std::string kind;     // "maintenance_window" | "rule" | "alert_suppressed" | "dependency"
  int64_t id = 0;       // window/rule id; 0 for alert_suppressed and dependency
  std::string reason;   // human text, e.g. "maintenance window 3: db upgrade" or "parent db-1 is down"
  std::optional<int64_t> ends_ms;  // when it ends (null for a dependency)
};

struct TimeRange {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
};

// Parses two RFC 3339 datetimes with `Z` or a ±HH:MM offset. Malformed or naive (no zone) → 400
// "<start_name> and <end_name> must be ISO 8601 ..."; end <= start → 400 "<end_name> must be after
// <start_name>".
Result<TimeRange> parse_time_range(std::string_view start_text, std::string_view end_text,
                                   std::string_view start_name = "start_at", std::string_view end_name = "end_at");

struct MaintenanceWindow {
  int64_t id = 0;
  std::string asset_key;
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  std::optional<std::string> reason;
  std::optional<std::string> created_by;
  int64_t created_at_ms = 0;
};

struct MaintenanceWindowInput {
  std::string asset_key;
  TimeRange range;
  std::optional<std::string> reason;
};

struct SuppressionRule {
  int64_t id = 0;
  std::string scope;                       // all | asset | finding
  std::optional<std::string> scope_value;  // asset_key or finding_key; null for all
  int64_t starts_ms = 0;
  int64_t ends_ms = 0;
  std::optional<std::string> reason;
  std::optional<std::string> created_by;
  int64_t created_at_ms = 0;
};

struct SuppressionRuleInput {
  std::string scope;
  std::optional<std::string> scope_value;  // required for asset/finding; ignored for all
  TimeRange range;
  std::optional<std::string> reason;
};

// `asset_key` depends on `depends_on` (its parent).
struct AssetDependency {
  int64_t id = 0;
  std::string asset_key;
  std::string depends_on;
  std::optional<std::string> created_by;
  int64_t created_at_ms = 0;
};

class Suppression {
 public:
  Suppression(store::Db& db, const Clock& clock, auth::AuditLog& audit) : db_(db), clock_(clock), audit_(audit) {}

  // Used for dependencies; without one, dependencies never suppress.
  void set_health_lookup(HealthLookup lookup);

  // Is an alert about this asset (and optionally this finding_key) suppressed at now_ms? The first
  // reason found, in this order: an active maintenance window for the asset; an active rule of
  // scope all, then asset = asset_key, then finding = finding_key (when given); a manual alert
  // suppression (alert_states.state 'suppressed' with suppressed_until > now); a parent (direct or
  // transitive, up to kMaxDependencyDepth) whose health is "down".
  Result<std::optional<SuppressionHit>> check(const std::string& asset_key,
                                              const std::optional<std::string>& finding_key, int64_t now_ms);
  // Every reason at once, in the same order (for displays that show windows and rules apart).
  Result<std::vector<SuppressionHit>> all_hits(const std::string& asset_key,
                                               const std::optional<std::string>& finding_key, int64_t now_ms);

  // Maintenance windows. Audit maintenance_window.create / maintenance_window.delete.
  Result<MaintenanceWindow> create_window(const MaintenanceWindowInput& input, const auth::Actor& actor);
  // Newest start first; active_only = active at the clock's now.
  Result<std::vector<MaintenanceWindow>> list_windows(const std::optional<std::string>& asset_key, bool active_only);
  Status delete_window(int64_t id, const auth::Actor& actor);  // 404 "Maintenance window not found"

  // Suppression rules. Bad scope / missing scope_value / bad range → 400. Audit
  // suppression_rule.create / suppression_rule.delete.
  Result<SuppressionRule> create_rule(const SuppressionRuleInput& input, const auth::Actor& actor);
  Result<std::vector<SuppressionRule>> list_rules(const std::optional<std::string>& scope, bool active_only);
  Status delete_rule(int64_t id, const auth::Actor& actor);  // 404 "Suppression rule not found"

  // Dependencies. Self-dependency or a cycle → 400; an existing pair → 409. Audit
  // asset_dependency.create / asset_dependency.delete.
  Result<AssetDependency> create_dependency(const std::string& asset_key, const std::string& depends_on,
                                            const auth::Actor& actor);
  // All, or those where asset_key is the child or the parent; ordered by id.
  Result<std::vector<AssetDependency>> list_dependencies(const std::optional<std::string>& asset_key);
  Status delete_dependency(int64_t id, const auth::Actor& actor);  // 404 "Asset dependency not found"

 private:
  Result<std::vector<SuppressionHit>> collect(const std::string& asset_key,
                                              const std::optional<std::string>& finding_key, int64_t now_ms,
                                              bool first_only);
  Result<std::optional<SuppressionHit>> dependency_hit(const std::string& asset_key);

  store::Db& db_;
  const Clock& clock_;
  auth::AuditLog& audit_;
  std::mutex lookup_mu_;  // guards health_lookup_
  HealthLookup health_lookup_;
};

}  // namespace secplat::incidents
