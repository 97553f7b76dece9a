// /posture routes (reference §8.4): the derived state of every asset, summaries, an executive
// overview, trends and reports. Every read comes from the deriver's stored state through a shared
// PostureView snapshot; nothing is recomputed per request.
//
// Fixes to the reference (docs/compat.md): last_status_change is exposed; CSV keeps a 0 score;
// the detail's completeness and error rate cover every event of the window; uptime is time-based;
// unknown period/range values are 422; items also carry flapping, confidence, previous_status,
// last_good_* and the raw health status.
#pragma once

#include <vector>

#include "auth/audit_log.h"
#include "core/clock.h"
#include "http/route.h"
#include "posture/events.h"
#include "posture/posture_view.h"
#include "posture/reports.h"

namespace secplat::api {

struct PostureRouteDeps {
  posture::PostureView& view;
  posture::EventStore& events;
  posture::Reports& reports;
  auth::AuditLog& audit;
  const Clock& clock;
  int64_t latency_slo_ms = 200;
};

std::vector<http::Route> posture_routes(PostureRouteDeps deps);

}  // namespace secplat::api
