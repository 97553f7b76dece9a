#include "api/incidents_routes.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "api/route_helpers.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/json.h"
#include "http/error_envelope.h"
#include "http/json_body.h"

namespace secplat::api {
namespace {

using incidents::Incident;
using incidents::IncidentService;

#define ROUTES_ASSIGN(var, expr)                                 \
  auto var##_result_ = (expr);                                   \
  if (!var##_result_.ok()) return std::move(var##_result_).take_error(); \
  auto& var = *var##_result_

Json nonempty_or_null(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }

Json incident_json(const Incident& i) {
  return Json{{"id", i.id},
              {"incident_key", nonempty_or_null(i.incident_key)},
              {"title", i.title},
              {"severity", i.severity},
              {"status", i.status},
              {"category", i.category},
              {"correlation_key", nonempty_or_null(i.correlation_key)},
              {"asset_key", nonempty_or_null(i.asset_key)},
              {"assigned_to", opt_text(i.assigned_to)},
              {"created_at", format_rfc3339(i.created_ms)},
              {"updated_at", format_rfc3339(i.updated_ms)},
              {"resolved_at", opt_time(i.resolved_ms)},
              {"closed_at", opt_time(i.closed_ms)},
              {"sla_due_at", opt_time(i.sla_due_ms)},
              {"alert_count", i.alert_count},
              {"reopen_count", i.reopen_count},
              {"metadata", object_or_empty(i.metadata_json)}};
}

Json link_json(const incidents::AlertLink& l) {
  return Json{{"incident_id", l.incident_id},
              {"asset_key", l.asset_key},
              {"alert_id", opt_num(l.alert_id)},
              {"added_at", format_rfc3339(l.added_ms)},
              {"added_by", opt_text(l.added_by)}};
}

Json note_json(const incidents::Note& n) {
  return Json{{"id", n.id},
              {"incident_id", n.incident_id},
              {"event_type", n.event_type},
              {"author", opt_text(n.author)},
              {"body", n.body},
              {"details", object_or_empty(n.details_json)},
              {"created_at", format_rfc3339(n.created_ms)}};
}

Json evidence_json(const incidents::Evidence& e) {
  return Json{{"evidence_id", e.evidence_id},
              {"incident_id", e.incident_id},
              {"evidence_type", e.evidence_type},
              {"ref_id", e.ref_id},
              {"relation", e.relation},
              {"summary", opt_text(e.summary)},
              {"details", object_or_empty(e.details_json)},
              {"added_by", opt_text(e.added_by)},
              {"created_at", format_rfc3339(e.created_ms)}};
}

Json watcher_json(const incidents::Watcher& w) {
  return Json{{"incident_id", w.incident_id},
              {"username", w.username},
              {"added_by", opt_text(w.added_by)},
              {"added_at", format_rfc3339(w.added_ms)}};
}

Json item_json(const incidents::ChecklistItem& c) {
  return Json{{"item_id", c.item_id},
              {"incident_id", c.incident_id},
              {"title", c.title},
              {"done", c.done},
              {"done_by", opt_text(c.done_by)},
              {"done_at", opt_time(c.done_ms)},
              {"created_by", opt_text(c.created_by)},
              {"created_at", format_rfc3339(c.created_ms)},
              {"updated_at", format_rfc3339(c.updated_ms)}};
}

Json decision_json(const incidents::Decision& d) {
  return Json{{"decision_id", d.decision_id},
              {"incident_id", d.incident_id},
              {"decision", d.decision},
              {"rationale", opt_text(d.rationale)},
              {"decided_by", opt_text(d.decided_by)},
              {"details", object_or_empty(d.details_json)},
              {"created_at", format_rfc3339(d.created_ms)}};
}

Json timeline_json(const incidents::TimelineItem& t) {
  return Json{{"id", t.id},
              {"incident_id", t.incident_id},
              {"event_type", t.event_type},
              {"author", opt_text(t.author)},
              {"body", t.body},
              {"details", object_or_empty(t.details_json)},
              {"created_at", format_rfc3339(t.created_ms)},
              {"source_type", t.source_type},
              {"source_id", t.source_id}};
}

template <class T, class F>
Json items_of(const std::vector<T>& v, F to_json) {
  Json items = Json::array();
  for (const auto& x : v) items.push_back(to_json(x));
  return items;
}

Result<int64_t> positive_param(const http::Request& req, const char* name) {
  const std::string raw = req.param(name);
  int64_t id = 0;
  auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), id);
  if (ec != std::errc() || p != raw.data() + raw.size() || id <= 0) {
    return Error::invalid({"path", name}, "Must be a positive integer");
  }
  return id;
}

Result<int64_t> id_param(const http::Request& req) { return positive_param(req, "incident_id"); }

http::Route route(std::string method, std::string path, http::Access access, http::Handler h, std::string summary,
                  int success = 200, std::vector<std::string> query = {}) {
  return make_route("incidents", std::move(method), std::move(path), access, std::move(h), std::move(summary),
                    success, std::move(query));
}

// Comma-separated values of a query parameter, blanks dropped.
std::vector<std::string> csv_query(const http::Request& req, const char* name) {
  std::vector<std::string> out;
  auto v = req.query_param(name);
  if (!v) return out;
  std::size_t start = 0;
  while (start <= v->size()) {
    std::size_t end = v->find(',', start);
    if (end == std::string::npos) end = v->size();
    std::string part = v->substr(start, end - start);
    part.erase(0, part.find_first_not_of(' '));
    part.erase(part.find_last_not_of(' ') + 1);
    if (!part.empty()) out.push_back(part);
    start = end + 1;
  }
  return out;
}

Result<std::optional<std::string>> query_text(const http::Request& req, const char* name) {
  auto v = req.query_param(name);
  if (!v || v->empty()) return std::optional<std::string>();
  if (v->size() > 200) return Error::invalid({"query", name}, "At most 200 characters");
  return v;
}

Result<std::vector<std::string>> string_list(const Json& body, const char* key) {
  std::vector<std::string> out;
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return out;
  if (!it->is_array()) return Error::invalid({"body", key}, "Must be a list of strings");
  for (const auto& v : *it) {
    if (!v.is_string()) return Error::invalid({"body", key}, "Must be a list of strings");
    out.push_back(v.get<std::string>());
  }
  if (out.size() > 500) return Error::invalid({"body", key}, "At most 500 entries");
  return out;
}

Result<std::vector<int64_t>> int_list(const Json& body, const char* key) {
  std::vector<int64_t> out;
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return out;
  if (!it->is_array()) return Error::invalid({"body", key}, "Must be a list of integers");
  for (const auto& v : *it) {
    if (!v.is_number_integer()) return Error::invalid({"body", key}, "Must be a list of integers");
    out.push_back(v.get<int64_t>());
  }
  if (out.size() > 500) return Error::invalid({"body", key}, "At most 500 entries");
  return out;
}

Result<std::string> object_text(const Json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::string("{}");
  if (!it->is_object()) return Error::invalid({"body", key}, "Must be an object");
  return it->dump();
}

Result<incidents::NewIncident> parse_new_incident(const Json& body) {
  SECPLAT_TRY(http::reject_unknown_fields(body, {"title", "severity", "incident_key", "assigned_to", "sla_due_at",
                                                 "asset_keys", "alert_ids", "category", "metadata"}));
  incidents::NewIncident in;
  ROUTES_ASSIGN(title, http::req_string(body, "title"));
  in.title = title;
  ROUTES_ASSIGN(severity, http::opt_string(body, "severity"));
  if (severity) in.severity = *severity;
  ROUTES_ASSIGN(category, http::opt_string(body, "category"));
  if (category) in.category = *category;
  ROUTES_ASSIGN(key, http::opt_string(body, "incident_key"));
  if (key && !key->empty()) {
    if (key->size() > 512) return Error::invalid({"body", "incident_key"}, "At most 512 characters");
    in.incident_key = *key;
  }
  ROUTES_ASSIGN(assigned, http::opt_string(body, "assigned_to"));
  if (assigned && !assigned->empty()) in.assigned_to = *assigned;
  ROUTES_ASSIGN(sla, http::opt_string(body, "sla_due_at"));
  if (sla && !sla->empty()) {
    auto ms = parse_rfc3339(*sla);
    if (!ms) return Error::invalid({"body", "sla_due_at"}, "Must be an RFC 3339 datetime with a time zone");
    in.sla_due_ms = *ms;
  }
  ROUTES_ASSIGN(assets, string_list(body, "asset_keys"));
  in.asset_keys = assets;
  ROUTES_ASSIGN(alerts, int_list(body, "alert_ids"));
  in.alert_ids = alerts;
  ROUTES_ASSIGN(metadata, object_text(body, "metadata"));
  in.metadata_json = metadata;
  return in;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

// The error envelope with a status that has no Errc (502 from the Jira boundary).
http::Response gateway_error(const std::string& message, const std::string& request_id) {
  http::Response r = http::error_response(Error::unavailable(message), request_id);
  Json body = Json::parse(r.body);
  body["error"]["status_code"] = 502;
  return http::Response::json(502, body);
}

}  // namespace

std::vector<http::Route> incidents_routes(IncidentService& svc, JiraHook jira, LinkedRiskHook linked_risk) {
  std::vector<http::Route> routes;

  routes.push_back(route(
      "GET", "/incidents", http::Access::viewer,
      [&svc](http::Request& req) -> Result<http::Response> {
        incidents::IncidentFilter f;
        for (auto [name, field] : {std::pair{"status", &f.status}, std::pair{"severity", &f.severity},
                                   std::pair{"assigned_to", &f.assigned_to}}) {
          ROUTES_ASSIGN(v, query_text(req, name));
          *field = v;
        }
        if (f.status && !incidents::is_valid_incident_status(*f.status)) {
          return Error::invalid({"query", "status"}, "Invalid status: " + *f.status);
        }
        if (f.severity && !incidents::is_valid_severity(*f.severity)) {
          return Error::invalid({"query", "severity"}, "Invalid severity: " + *f.severity);
        }
        ROUTES_ASSIGN(limit, http::query_int(req, "limit", 50, 1, 200));
        ROUTES_ASSIGN(offset, http::query_int(req, "offset", 0, 0, 1'000'000'000));
        f.limit = limit;
        f.offset = offset;
        ROUTES_ASSIGN(page, svc.list(f));
        return http::Response::json(200, Json{{"total", page.total}, {"items", items_of(page.items, incident_json)}});
      },
      "List incidents, newest first", 200, {"status", "severity", "assigned_to", "limit", "offset"}));

  routes.push_back(route(
      "POST", "/incidents", http::Access::analyst,
      [&svc](http::Request& req) -> Result<http::Response> {
        ROUTES_ASSIGN(body, http::parse_json_object(req));
        ROUTES_ASSIGN(in, parse_new_incident(body));
        ROUTES_ASSIGN(r, svc.create(in, actor_of(req)));
        Json out = incident_json(r.incident);
        out["deduped"] = !r.created;
        return http::Response::json(r.created ? 201 : 200, out);
      },
      "Create an incident (201), or return the one with the same incident_key (200, deduped)", 201));

  routes.push_back(route(
      "GET", "/incidents/{incident_id}", http::Access::viewer,
      [&svc, linked_risk](http::Request& req) -> Result<http::Response> {
        ROUTES_ASSIGN(id, id_param(req));
        ROUTES_ASSIGN(inc, svc.get(id));
        ROUTES_ASSIGN(alerts, svc.alerts(id));
        ROUTES_ASSIGN(timeline, svc.timeline(id, incidents::TimelineQuery{}));
        ROUTES_ASSIGN(evidence, svc.evidence(id));
        ROUTES_ASSIGN(watchers, svc.watchers(id));
        ROUTES_ASSIGN(checklist, svc.checklist(id));
        ROUTES_ASSIGN(decisions, svc.decisions(id));
        Json out = incident_json(inc);
        out["alerts"] = items_of(alerts, link_json);
        out["timeline"] = items_of(timeline, timeline_json);
        out["evidence"] = items_of(evidence, evidence_json);
        out["watchers"] = items_of(watchers, watcher_json);
        out["checklist"] = items_of(checklist, item_json);
        out["decisions"] = items_of(decisions, decision_json);
        if (linked_risk) {
          std::vector<std::string> keys{inc.asset_key};
          for (const auto& l : alerts) keys.push_back(l.asset_key);
          std::sort(keys.begin(), keys.end());
          keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
          keys.erase(std::remove(keys.begin(), keys.end(), std::string()), keys.end());
          ROUTES_ASSIGN(risk, linked_risk(keys));
          out["linked_risk"] = std::move(risk);
        }
        return http::Response::json(200, out);
      },
      "One incident with its alerts, 72 h timeline, evidence, watchers, checklist and decisions"));

  routes.push_back(route(
      "PATCH", "/incidents/{incident_id}/status", http::Access::analyst,
      [&svc](http::Request& req) -> Result<http::Response> {
        ROUTES_ASSIGN(id, id_param(req));
        ROUTES_ASSIGN(body, http::parse_json_object(req));
        SECPLAT_TRY(http::reject_unknown_fields(body, {"status", "reason"}));
        ROUTES_ASSIGN(status, http::req_string(body, "status"));
        ROUTES_ASSIGN(reason, http::opt_string(body, "reason"));
        if (reason && reason->size() > 2000) return Error::invalid({"body", "reason"}, "At most 2000 characters");
        ROUTES_ASSIGN(inc, svc.set_status(id, status, actor_of(req), reason.value_or("")));
        return http::Response::json(200, incident_json(inc));
      },
      "Move an incident along its lifecycle (409 on a refused move)"));

  routes.push_back(route(
      "POST", "/incidents/{incident_id}/notes", http::Access::analyst,
      [&svc](http::Request& req) -> Result<http::Response> {
        ROUTES_ASSIGN(id, id_param(req));
        ROUTES_ASSIGN(body, http::parse_json_object(req));
        SECPLAT_TRY(http::reject_unknown_fields(body, {"body"}));
        ROUTES_ASSIGN(text, http::req_string(body, "body"));
        ROUTES_ASSIGN(note, svc.add_note(id, text, actor_of(req)));
        return http::Response::json(201, note_json(note));
      },
      "Add a note to the timeline", 201));

  routes.push_back(route(
      "GET", "/incidents/{incident_id}/alerts", http::Access::viewer,
      [&svc](http::Request& req) -> Result<http::Response> {
        ROUTES_ASSIGN(id, id_param(req));
        ROUTES_ASSIGN(links, svc.alerts(id));
        return http::Response::json(200, Json{{"items", items_of(links, link_json)}});
      },
      "Linked assets and alerts"));

  routes.push_back(route(
      "POST", "/incidents/{incident_id}/alerts", http::Access::analyst,
      [&svc](http::Request& req) -> Result<http::Response> {
        ROUTES_ASSIGN(id, id_param(req));
        ROUTES_ASSIGN(body, http::parse_json_object(req));
        SECPLAT_TRY(http::reject_unknown_fields(body, {"asset_key", "alert_id"}));
        ROUTES_ASSIGN(asset_key, http::opt_string(body, "asset_key"));
        ROUTES_ASSIGN(alert_id, http::opt_int(body, "alert_id"));
        ROUTES_ASSIGN(r, svc.link_alert(id, asset_key.value_or(""), alert_id, actor_of(req)));
        if (!r.created) {
          return http::Response::json(
              201, Json{{"incident_id", id}, {"asset_key", r.link.asset_key}, {"message", "already linked"}});
        }
        return http::Response::json(201, link_json(r.link));
      },
      "Link an asset or alert (201; already linked → 201 with a message)", 201));

  routes.push_back(route(
      "DELETE", "/incidents/{incident_id}/alerts", http::Access::analyst,
      [&svc](http::Request& req) -> Result<http::Response> {
        ROUTES_ASSIGN(id, id_param(req));
        auto asset_key = req.query_param("asset_key");
        if (!asset_key || asset_key->empty()) return Error::invalid({"query", "asset_key"}, "Field required");
        SECPLAT_TRY(svc.unlink_alert(id, *asset_key, actor_of(req)));
        return http::Response::json(200, Json{{"ok", true}});
      },
      "Unlink an asset", 200, {"asset_key"}));

  routes.push_back(route(
      "GET", "/incidents/{incident_id}/evidence", http::Access::viewer,
      [&svc](http::Request& req) -> Result<http::Response> {
        ROUTES_ASSIGN(id, id_param(req));
        ROUTES_ASSIGN(ev, svc.evidence(id));
        return http::Response::json(200, Json{{"items", items_of(ev, evidence_json)}});
      },
      "Evidence linked to the incident"));

  routes.push_back(route(
      "POST", "/incidents/{incident_id}/evidence", http::Access::analyst,
      [&svc](http::Request& req) -> Result<http::Response> {
        ROUTES_ASSIGN(id, id_param(req));
        ROUTES_ASSIGN(body, http::parse_json_object(req));
        SECPLAT_TRY(http::reject_unknown_fields(body, {"evidence_type", "ref_id", "relation", "summary", "details"}));
        incidents::EvidenceInput in;
        ROUTES_ASSIGN(type, http::req_string(body, "evidence_type"));
        if (!incidents::is_valid_evidence_type(type)) {
          return Error::bad_request("Invalid evidence_type: " + type +
                                    " (use alert, finding, asset, job, ticket, note, event or other)");
        }
        in.evidence_type = type;
        ROUTES_ASSIGN(ref, http::req_string(body, "ref_id"));
        if (ref.empty() || ref.size() > 512) return Error::invalid({"body", "ref_id"}, "Must be 1..512 characters");
        in.ref_id = ref;
        ROUTES_ASSIGN(relation, http::opt_string(body, "relation"));
        if (relation && !relation->empty()) in.relation = *relation;
        ROUTES_ASSIGN(summary, http::opt_string(body, "summary"));
        in.summary = summary;
        ROUTES_ASSIGN(details, object_text(body, "details"));
        in.details_json = details;
        ROUTES_ASSIGN(ev, svc.add_evidence(id, in, actor_of(req)));
        return http::Response::json(201, evidence_json(ev));
      },
      "Attach evidence (idempotent on type, ref_id and relation)", 201));

  routes.push_back(route(
      "GET", "/incidents/{incident_id}/timeline", http::Access::viewer,
      [&svc](http::Request& req) -> Result<http::Response> {
        ROUTES_ASSIGN(id, id_param(req));
        incidents::TimelineQuery q;
        q.source_types = csv_query(req, "source_type");
        q.event_types = csv_query(req, "event_type");
        ROUTES_ASSIGN(lookback, http::query_int(req, "lookback_hours", 72, 1, 720));
        ROUTES_ASSIGN(limit, http::query_int(req, "limit", 500, 1, 2000));
        q.lookback_hours = lookback;
        q.limit = limit;
        ROUTES_ASSIGN(items, svc.timeline(id, q));
        return http::Response::json(200, Json{{"items", items_of(items, timeline_json)}});
      },
      "The merged timeline, oldest first", 200, {"source_type", "event_type", "lookback_hours", "limit"}));

  routes.push_back(route(
      "GET", "/incidents/{incident_id}/watchers", http::Access::viewer,
      [&svc](http::Request& req) -> Result<http::Response> {
        ROUTES_ASSIGN(id, id_param(req));
        ROUTES_ASSIGN(w, svc.watchers(id));
        return http::Response::json(200, Json{{"items", items_of(w, watcher_json)}});
      },
      "Watchers"));

  routes.push_back(route(
      "POST", "/incidents/{incident_id}/watchers", http::Access::analyst,
      [&svc](http::Request& req) -> Result<http::Response> {
        ROUTES_ASSIGN(id, id_param(req));
        ROUTES_ASSIGN(body, http::parse_json_object(req));
        SECPLAT_TRY(http::reject_unknown_fields(body, {"username"}));
        ROUTES_ASSIGN(username, http::req_string(body, "username"));
        const auto first = username.find_first_not_of(" \t");
        const std::string trimmed =
            first == std::string::npos ? "" : username.substr(first, username.find_last_not_of(" \t") - first + 1);
        ROUTES_ASSIGN(w, svc.add_watcher(id, trimmed, actor_of(req)));
        return http::Response::json(201, watcher_json(w));
      },
      "Add a watcher", 201));

  routes.push_back(route(
      "DELETE", "/incidents/{incident_id}/watchers", http::Access::analyst,
      [&svc](http::Request& req) -> Result<http::Response> {
        ROUTES_ASSIGN(id, id_param(req));
        auto username = req.query_param("username");
        if (!username || username->empty()) return Error::invalid({"query", "username"}, "Field required");
        SECPLAT_TRY(svc.remove_watcher(id, *username, actor_of(req)));
        return http::Response::json(200, Json{{"ok", true}});
      },
      "Remove a watcher", 200, {"username"}));

  routes.push_back(route(
      "GET", "/incidents/{incident_id}/checklist", http::Access::viewer,
      [&svc](http::Request& req) -> Result<http::Response> {
        ROUTES_ASSIGN(id, id_param(req));
        ROUTES_ASSIGN(items, svc.checklist(id));
        return http::Response::json(200, Json{{"items", items_of(items, item_json)}});
      },
      "Checklist items"));

  routes.push_back(route(
      "POST", "/incidents/{incident_id}/checklist", http::Access::analyst,
      [&svc](http::Request& req) -> Result<http::Response> {
        ROUTES_ASSIGN(id, id_param(req));
        ROUTES_ASSIGN(body, http::parse_json_object(req));
        SECPLAT_TRY(http::reject_unknown_fields(body, {"title"}));
        ROUTES_ASSIGN(title, http::req_string(body, "title"));
        ROUTES_ASSIGN(item, svc.add_checklist_item(id, title, actor_of(req)));
        return http::Response::json(201, item_json(item));
      },
      "Add a checklist item", 201));

  routes.push_back(route(
      "PATCH", "/incidents/{incident_id}/checklist/{item_id}", http::Access::analyst,
      [&svc](http::Request& req) -> Result<http::Response> {
        ROUTES_ASSIGN(id, id_param(req));
        ROUTES_ASSIGN(item_id, positive_param(req, "item_id"));
        ROUTES_ASSIGN(body, http::parse_json_object(req));
        SECPLAT_TRY(http::reject_unknown_fields(body, {"done"}));
        ROUTES_ASSIGN(done, http::opt_bool(body, "done"));
        if (!done) return Error::invalid({"body", "done"}, "Field required");
        ROUTES_ASSIGN(item, svc.set_checklist_done(id, item_id, *done, actor_of(req)));
        return http::Response::json(200, item_json(item));
      },
      "Tick or untick a checklist item"));

  routes.push_back(route(
      "GET", "/incidents/{incident_id}/decisions", http::Access::viewer,
      [&svc](http::Request& req) -> Result<http::Response> {
        ROUTES_ASSIGN(id, id_param(req));
        ROUTES_ASSIGN(items, svc.decisions(id));
        return http::Response::json(200, Json{{"items", items_of(items, decision_json)}});
      },
      "Decisions"));

  routes.push_back(route(
      "POST", "/incidents/{incident_id}/decisions", http::Access::analyst,
      [&svc](http::Request& req) -> Result<http::Response> {
        ROUTES_ASSIGN(id, id_param(req));
        ROUTES_ASSIGN(body, http::parse_json_object(req));
        SECPLAT_TRY(http::reject_unknown_fields(body, {"decision", "rationale", "details"}));
        ROUTES_ASSIGN(decision, http::req_string(body, "decision"));
        ROUTES_ASSIGN(rationale, http::opt_string(body, "rationale"));
        ROUTES_ASSIGN(details, object_text(body, "details"));
        ROUTES_ASSIGN(d, svc.add_decision(id, decision, rationale, details, actor_of(req)));
        return http::Response::json(201, decision_json(d));
      },
      "Record a decision", 201));

  routes.push_back(route(
      "POST", "/incidents/{incident_id}/jira", http::Access::analyst,
      [&svc, jira](http::Request& req) -> Result<http::Response> {
        ROUTES_ASSIGN(id, id_param(req));
        std::string project;
        if (!req.body.empty()) {
          ROUTES_ASSIGN(body, http::parse_json_object(req));
          SECPLAT_TRY(http::reject_unknown_fields(body, {"project_key"}));
          ROUTES_ASSIGN(p, http::opt_string(body, "project_key"));
          project = upper(p.value_or(""));
          if (project.size() > 64) return Error::invalid({"body", "project_key"}, "At most 64 characters");
        }
        ROUTES_ASSIGN(inc, svc.get(id));
        const std::string token = random_hex(16);
        ROUTES_ASSIGN(claim, svc.claim_jira(id, token));
        using State = incidents::JiraClaim::State;
        if (claim.state == State::already_created) {
          return http::Response::json(200, Json{{"issue_key", claim.issue_key},
                                                {"url", claim.url},
                                                {"message", "Jira ticket already created for this incident"}});
        }
        if (claim.state == State::busy) {
          return Error::conflict("Jira ticket creation is already in progress for this incident");
        }
        JiraResult r;
        if (jira) {
          r = jira(inc, project);
        } else {
          r.configured = false;
        }
        if (!r.ok || r.issue_key.empty()) {
          SECPLAT_TRY(svc.release_jira(id, token));
          if (!r.configured) return Error::unavailable("Jira is not configured");
          if (r.needs_project_key) {
            return Error::bad_request("Jira project key required (body project_key or JIRA_PROJECT_KEY)");
          }
          return gateway_error("Jira API error: " + (r.error.empty() ? "no issue key returned" : r.error),
                               req.request_id);
        }
        auto recorded = svc.record_jira(id, token, r.issue_key, r.url, actor_of(req));
        if (!recorded.ok()) return std::move(recorded).take_error();
        return http::Response::json(201, Json{{"issue_key", r.issue_key}, {"url", r.url}});
      },
      "Create the incident's Jira issue once (200 if it exists, 409 while another request creates it)", 201));

  return routes;
}

}  // namespace secplat::api
