// Legacy per-asset alerts (reference §8.10): one `alert_states` row per asset that someone acted on
// (ack, suppress, resolve, assign), and the bucketing of alerting assets plus those rows into
// firing / acked / suppressed / resolved.
//
// Fixes over the reference (§12.1 item 11):
//   * an alert is about an outage episode: a `resolved` (or `acked`) state on an asset that is
//     alerting again counts only if the asset went down after resolved_at (acked_at); a newer
//     outage fires again, an older one stays resolved (acked);
//   * an asset that is not alerting any more has a resolved alert, whatever its stored state
//     (firing, acked, assigned), unless a suppression is still active;
//   * mutations refuse an asset_key that is neither a known asset nor already has an alert row,
//     so clients cannot create rows for arbitrary keys.
// Suppression (maintenance windows, rules, manual suppression, dependencies) wins over every other
// bucket, as in the reference.
//
// Threading: safe to share between threads; every mutation is one store transaction with its
// audit row. The table's migration is part of suppression_migrations().
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "auth/audit_log.h"
#include "core/clock.h"
#include "core/error.h"
#include "incidents/suppression.h"
#include "store/db.h"

namespace secplat::incidents {

struct OpenIncidentRef {
  int64_t id = 0;
  std::string severity;
};
// The open (not resolved/closed) incidents linked to an asset.
using OpenIncidentsLookup = std::function<std::vector<OpenIncidentRef>(const std::string& asset_key)>;

// One alert_states row.
struct AlertState {
  std::string asset_key;
  std::string state = "firing";  // firing | acked | suppressed | resolved
  std::optional<std::string> ack_reason, acked_by;
  std::optional<int64_t> acked_at_ms, suppressed_until_ms, resolved_at_ms;
  std::optional<std::string> assigned_to;
  int64_t updated_at_ms = 0;
};

// An asset that is alerting now (down, or posture red), as the caller's posture view says.
struct AlertingAsset {
  std::string asset_key;
  std::optional<int64_t> since_ms;  // when it entered its current status (last_status_change); null = unknown
};

// The bucket of one alert. `alerting`: the asset is alerting now (since `alerting_since_ms`);
// `suppressed`: some suppression is active for it now.
std::string alert_bucket(const std::optional<AlertState>& row, bool alerting,
                         const std::optional<int64_t>& alerting_since_ms, bool suppressed);

struct BookedAlert {
  std::string asset_key;
  std::string bucket;                 // firing | acked | suppressed | resolved
  bool alerting = false;
  std::optional<AlertState> row;
  std::vector<SuppressionHit> hits;   // every active suppression, in Suppression's order
};

struct SeverityDriver {
  std::string code;
  int delta = 0;
  std::string detail;
};

struct EffectiveSeverity {
  int score = 50;
  std::string level = "medium";             // critical >= 90, high >= 75, medium >= 50, low >= 25, else info
  std::vector<SeverityDriver> top_drivers;  // at most 3, largest |delta| first
};

// Reference §8.10 with the inputs we have: legacy alerts start at medium (50); criticality high
// +10 / low -5; an open incident +6; maintenance or suppression -12; clamped to 0..100.
EffectiveSeverity effective_severity(const std::string& criticality, std::size_t open_incidents, bool suppressed);

class AlertBook {
 public:
  AlertBook(store::Db& db, const Clock& clock, auth::AuditLog& audit) : db_(db), clock_(clock), audit_(audit) {}

  Result<std::vector<AlertState>> list_states();  // by asset_key
  Result<std::optional<AlertState>> get_state(const std::string& asset_key);

  // The alerts at now_ms: every alerting asset plus every alert_states row, bucketed, ordered by
  // asset_key. Asks `suppression` about each.
  Result<std::vector<BookedAlert>> board(const std::vector<AlertingAsset>& alerting, Suppression& suppression,
                                         int64_t now_ms);

  // Mutations (upserts of the asset's row). An asset_key that is neither in `assets` nor has a row
  // → 404 "Asset not found". Audit alert.ack / alert.suppress / alert.resolve / alert.assign.
  // ack: state acked, acked_by/at, ack_reason ("" when absent), clears suppressed_until.
  Result<AlertState> ack(const std::string& asset_key, const std::optional<std::string>& reason,
                         const auth::Actor& actor);
  // suppress: state suppressed until until_ms (must be in the future, else 400).
  Result<AlertState> suppress(const std::string& asset_key, int64_t until_ms, const auth::Actor& actor);
  // resolve: state resolved, resolved_at = now.
  Result<AlertState> resolve(const std::string& asset_key, const auth::Actor& actor);
  // assign: assigned_to ("" when absent); a new row starts as firing.
  Result<AlertState> assign(const std::string& asset_key, const std::optional<std::string>& assigned_to,
                            const auth::Actor& actor);

 private:
  Result<AlertState> mutate(const std::string& asset_key, const std::string& action, const std::string& sql,
                            const store::Params& params, const nlohmann::json& details, const auth::Actor& actor);

  store::Db& db_;
  const Clock& clock_;
  auth::AuditLog& audit_;
};

}  // namespace secplat::incidents
