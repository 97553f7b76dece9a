// /incidents routes (reference §8.8, §8.9 with our fixes): a lifecycle state machine (409 on a refused
// move), SLA computed from severity when not given, 422 naming the field for a bad status/severity,
// and Jira ticket creation that is idempotent and race-free (a claim in the database is taken before
// calling out, so two clicks create one issue). Not served: /incidents/auto-rules/*, and the
// detail view has no `linked_risk` block.
#pragma once

#include <functional>
#include <string>
#include <vector>

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

// `incidents` must outlive the routes. An empty hook means Jira is not configured (503).
std::vector<http::Route> incidents_routes(incidents::IncidentService& incidents, JiraHook jira);

}  // namespace secplat::api
