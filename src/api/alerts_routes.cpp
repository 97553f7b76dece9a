#include "api/alerts_routes.h"

#include <algorithm>
#include <map>

#include "api/route_helpers.h"
#include "core/clock.h"
#include "core/json.h"
#include "http/json_body.h"

namespace secplat::api {
namespace {

using incidents::BookedAlert;
using incidents::SuppressionHit;

bool is_alerting(const posture::PostureItem& it) {
  const auto& s = it.state;
  if (s.status == "scan_based" || it.asset_type == "repository") return false;
  return s.status == "down" || s.posture_state == "red";
}

const SuppressionHit* first_of_kind(const std::vector<SuppressionHit>& hits, const char* kind) {
  for (const auto& h : hits)
    if (h.kind == kind) return &h;
  return nullptr;
}

Json alert_json(const BookedAlert& b, const posture::PostureItem* item,
                const std::vector<incidents::OpenIncidentRef>& open_refs, int64_t now_ms) {
  Json j;
  j["asset_key"] = b.asset_key;
  j["state"] = b.bucket;
  const auto& row = b.row;
  j["ack_reason"] = row ? opt_text(row->ack_reason) : Json(nullptr);
  j["acked_by"] = row ? opt_text(row->acked_by) : Json(nullptr);
  j["acked_at"] = row ? opt_time(row->acked_at_ms) : Json(nullptr);
  j["suppressed_until"] = row ? opt_time(row->suppressed_until_ms) : Json(nullptr);
  j["assigned_to"] = row ? opt_text(row->assigned_to) : Json(nullptr);
  j["resolved_at"] = row ? opt_time(row->resolved_at_ms) : Json(nullptr);
  j["updated_at"] = row ? Json(format_rfc3339(row->updated_at_ms)) : Json(nullptr);

  j["asset_name"] = item ? Json(item->name) : Json(nullptr);
  j["owner"] = item ? opt_text(item->owner) : Json(nullptr);
  j["environment"] = item ? Json(item->environment) : Json(nullptr);
  j["criticality"] = item ? Json(item->criticality) : Json(nullptr);
  j["asset_type"] = item ? Json(item->asset_type) : Json(nullptr);
  j["health_status"] = item ? Json(item->state.status) : Json(nullptr);
  j["posture_status"] = item ? Json(item->state.posture_state) : Json(nullptr);
  j["posture_score"] = item ? Json(item->state.posture_score) : Json(nullptr);
  j["reason"] = item ? opt_text(item->state.reason) : Json(nullptr);
  j["last_seen"] = item ? opt_time(item->state.last_seen_ms) : Json(nullptr);
  j["staleness_seconds"] =
      item && item->state.last_seen_ms ? Json(std::max<int64_t>(0, (now_ms - *item->state.last_seen_ms) / 1000))
                                       : Json(nullptr);

  const SuppressionHit* window = first_of_kind(b.hits, "maintenance_window");
  const SuppressionHit* rule = first_of_kind(b.hits, "rule");
  j["maintenance_active"] = window != nullptr;
  j["maintenance_reason"] = window ? Json(window->reason) : Json(nullptr);
  j["maintenance_end_at"] = window ? opt_time(window->ends_ms) : Json(nullptr);
  j["suppression_rule_active"] = rule != nullptr;
  j["suppression_reason"] = rule ? Json(rule->reason) : Json(nullptr);
  j["suppression_end_at"] = rule ? opt_time(rule->ends_ms) : Json(nullptr);
  Json by = Json::array();
  for (const auto& h : b.hits) {
    by.push_back(Json{{"kind", h.kind}, {"id", h.id}, {"reason", h.reason}, {"ends_at", opt_time(h.ends_ms)}});
  }
  j["suppressed_by"] = std::move(by);

  Json ids = Json::array(), severities = Json::array();
  for (const auto& inc : open_refs) {
    ids.push_back(inc.id);
    severities.push_back(inc.severity);
  }
  j["open_incident_count"] = open_refs.size();
  j["open_incident_ids"] = std::move(ids);
  j["open_incident_severities"] = std::move(severities);

  auto sev = incidents::effective_severity(item ? item->criticality : std::string("medium"), open_refs.size(),
                                           !b.hits.empty());
  j["effective_severity"] = sev.level;
  j["effective_severity_score"] = sev.score;
  Json drivers = Json::array();
  for (const auto& d : sev.top_drivers) drivers.push_back(Json{{"code", d.code}, {"delta", d.delta}, {"detail", d.detail}});
  j["effective_severity_top_drivers"] = std::move(drivers);
  return j;
}

http::Route route(std::string method, std::string path, http::Access access, http::Handler h, std::string summary) {
  return make_route("alerts", std::move(method), std::move(path), access, std::move(h), std::move(summary));
}

// The legacy target of a mutation: asset_key, or the errors for alert_id-only / empty bodies.
Result<std::string> target_key(const Json& body) {
  auto key = http::opt_string(body, "asset_key");
  if (!key.ok()) return std::move(key).take_error();
  if (*key && !(*key)->empty()) return **key;
  if (body.contains("alert_id") && !body["alert_id"].is_null()) return Error::not_found("Alert not found");
  return Error::bad_request("asset_key or alert_id is required");
}

}  // namespace

incidents::HealthLookup posture_health_lookup(posture::PostureView& view) {
  return [&view](const std::string& asset_key) -> std::optional<std::string> {
    auto snap = view.snapshot();
    if (!snap.ok()) return std::nullopt;
    const auto* item = (*snap)->find(asset_key);
    if (!item) return std::nullopt;
    return item->state.status;
  };
}

std::vector<http::Route> alerts_routes(incidents::AlertBook& book, incidents::Suppression& suppression,
                                       posture::PostureView& view, incidents::OpenIncidentsLookup open_incidents) {
  std::vector<http::Route> routes;

  routes.push_back(route(
      "GET", "/alerts", http::Access::viewer,
      [&book, &suppression, &view, open_incidents](http::Request&) -> Result<http::Response> {
        auto snap = view.snapshot();
        if (!snap.ok()) return std::move(snap).take_error();
        const int64_t now = (*snap)->built_ms;
        std::vector<incidents::AlertingAsset> alerting;
        for (const auto& it : (*snap)->items) {
          if (is_alerting(it)) alerting.push_back({it.state.asset_key, it.state.last_status_change_ms});
        }
        auto board = book.board(alerting, suppression, now);
        if (!board.ok()) return std::move(board).take_error();
        std::map<std::string, std::vector<Json>> buckets{{"firing", {}}, {"acked", {}}, {"suppressed", {}},
                                                         {"resolved", {}}};
        for (const auto& b : *board) {
          const auto* item = (*snap)->find(b.asset_key);
          std::vector<incidents::OpenIncidentRef> incs;
          if (open_incidents) incs = open_incidents(b.asset_key);
          buckets[b.bucket].push_back(alert_json(b, item, incs, now));
        }
        Json out = Json::object();
        for (auto& [name, list] : buckets) {
          std::stable_sort(list.begin(), list.end(), [](const Json& a, const Json& b) {
            return a["effective_severity_score"].get<int>() > b["effective_severity_score"].get<int>();
          });
          out[name] = Json(std::move(list));
        }
        return http::Response::json(200, out);
      },
      "Legacy asset alerts bucketed into firing, acked, suppressed and resolved"));

  routes.push_back(route(
      "POST", "/alerts/ack", http::Access::analyst,
      [&book](http::Request& req) -> Result<http::Response> {
        auto body = http::parse_json_object(req);
        if (!body.ok()) return std::move(body).take_error();
        auto key = target_key(*body);
        if (!key.ok()) return std::move(key).take_error();
        auto reason = http::opt_string(*body, "reason");
        if (!reason.ok()) return std::move(reason).take_error();
        auto s = book.ack(*key, *reason, actor_of(req));
        if (!s.ok()) return std::move(s).take_error();
        return http::Response::json(200, Json{{"ok", true}, {"asset_key", s->asset_key}, {"state", s->state}});
      },
      "Acknowledge an asset's alert"));

  routes.push_back(route(
      "POST", "/alerts/suppress", http::Access::analyst,
      [&book](http::Request& req) -> Result<http::Response> {
        auto body = http::parse_json_object(req);
        if (!body.ok()) return std::move(body).take_error();
        auto key = target_key(*body);
        if (!key.ok()) return std::move(key).take_error();
        auto until = http::opt_string(*body, "until_iso");
        if (!until.ok()) return std::move(until).take_error();
        auto ms = *until ? parse_rfc3339(**until) : std::nullopt;
        if (!ms) {
          return Error::bad_request("Invalid until_iso; use ISO datetime with a time zone (Z or +HH:MM)");
        }
        auto s = book.suppress(*key, *ms, actor_of(req));
        if (!s.ok()) return std::move(s).take_error();
        return http::Response::json(200, Json{{"ok", true},
                                              {"asset_key", s->asset_key},
                                              {"state", s->state},
                                              {"suppressed_until", **until}});
      },
      "Suppress an asset's alert until a time"));

  routes.push_back(route(
      "POST", "/alerts/resolve", http::Access::analyst,
      [&book](http::Request& req) -> Result<http::Response> {
        auto body = http::parse_json_object(req);
        if (!body.ok()) return std::move(body).take_error();
        auto key = target_key(*body);
        if (!key.ok()) return std::move(key).take_error();
        auto s = book.resolve(*key, actor_of(req));
        if (!s.ok()) return std::move(s).take_error();
        return http::Response::json(200, Json{{"ok", true}, {"asset_key", s->asset_key}, {"state", s->state}});
      },
      "Resolve an asset's alert (it fires again if the asset goes down again later)"));

  routes.push_back(route(
      "POST", "/alerts/assign", http::Access::analyst,
      [&book](http::Request& req) -> Result<http::Response> {
        auto body = http::parse_json_object(req);
        if (!body.ok()) return std::move(body).take_error();
        auto key = target_key(*body);
        if (!key.ok()) return std::move(key).take_error();
        auto who = http::opt_string(*body, "assigned_to");
        if (!who.ok()) return std::move(who).take_error();
        auto s = book.assign(*key, *who, actor_of(req));
        if (!s.ok()) return std::move(s).take_error();
        return http::Response::json(200, Json{{"ok", true},
                                              {"asset_key", s->asset_key},
                                              {"assigned_to", s->assigned_to.value_or("")}});
      },
      "Assign an asset's alert to someone"));

  return routes;
}

}  // namespace secplat::api
