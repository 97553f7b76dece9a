// Posture reports (reference §8.4): a summary over a period, stored snapshots, their history.
//
// Fixes to the reference (docs/compat.md): `uptime_pct` is uptime over the period computed from
// the health events (mean over probed assets of up-results/all-results), not the current green
// share; `avg_latency_ms` covers the requested period (not always 24 h); `period` is validated.
//
// Threading: safe to share; state lives in the Db and the PostureView.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "posture/events.h"
#include "posture/posture_view.h"
#include "store/db.h"

namespace secplat::posture {

struct ReportSnapshot {
  int64_t id = 0;                  // 0 for a summary that is not stored
  std::string period = "24h";
  int64_t created_ms = 0;
  double uptime_pct = 0;
  int64_t uptime_checks = 0;       // health results the uptime is computed from (not stored)
  std::optional<double> posture_score_avg;
  std::optional<double> avg_latency_ms;
  int64_t total_assets = 0, green = 0, amber = 0, red = 0;
  std::vector<std::string> top_incidents;  // up to 10 red asset keys, worst first
};

// "1h".."720h" or "1d".."90d" → milliseconds; anything else is a 422 naming `period`.
Result<int64_t> parse_period(const std::string& period);

class Reports {
 public:
  Reports(store::Db& db, EventStore& events, PostureView& view, const Clock& clock)
      : db_(db), events_(events), view_(view), clock_(clock) {}

  // The current summary over `period` (repository assets excluded, as in the reference).
  Result<ReportSnapshot> summary(const std::string& period);

  using AuditHook = std::function<Status(store::Tx&, const ReportSnapshot&)>;
  Result<ReportSnapshot> take_snapshot(const std::string& period, const AuditHook& audit = {});

  Result<std::vector<ReportSnapshot>> history(int64_t limit);          // newest first
  Result<ReportSnapshot> get(int64_t id);                              // not_found "Snapshot not found"
  Result<std::vector<ReportSnapshot>> since(int64_t since_ms);         // ascending
  Result<std::optional<ReportSnapshot>> newest_at_or_before(int64_t ms);

 private:
  store::Db& db_;
  EventStore& events_;
  PostureView& view_;
  const Clock& clock_;
};

}  // namespace secplat::posture
