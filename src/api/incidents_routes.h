// /incidents routes (reference §8.8, §8.9 with our fixes): a lifecycle state machine (409 on a refused
// move), SLA computed from severity when not given, 422 naming the field for a bad status/severity,
// and Jira ticket creation that is idempotent and race-free (a claim in the database is taken before
// calling out, so two clicks create one issue). The detail view's `linked_risk` block comes from a
// hook the app builds on the findings module. Not served: /incidents/auto-rules/* (they group
// telemetry alerts, which SecPlat does not ingest).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/json.h"
#include "http/route.h"
#include "incidents/incident_service.h"

namespace secplat::api {

// What the Jira boundary reports for one issue creation.
struct JiraResult {
  bool ok = false;
  bool configured = true;          // false → 503 (base URL / credentials missing)
  bool needs_project_key = false;  // no project key in the body and none configured → 400
  std::string issue_key, url;      // on success
  std::string error;               // on failure → 502 "Jira API error: <error>"
};

// Creates the Jira issue for an incident. project_key is the upper-cased body value, or "" for the
// configured default. Called on a worker thread, at most once per incident at a time.
using JiraHook = std::function<JiraResult(const incidents::Incident&, const std::string& project_key)>;

// The reference's `linked_risk` for the incident's assets (its asset keys and its linked alerts'):
// {asset_count, finding_count, active_finding_count, top_risk_score, top_risk_level, items: ≤ 5
// findings by risk_score desc}. Called on a worker thread.
using LinkedRiskHook = std::function<Result<Json>(const std::vector<std::string>& asset_keys)>;

// `incidents` must outlive the routes. An empty Jira hook means Jira is not configured (503); an
// empty risk hook leaves `linked_risk` out.
std::vector<http::Route> incidents_routes(incidents::IncidentService& incidents, JiraHook jira,
                                          LinkedRiskHook linked_risk = {});

}  // namespace secplat::api
