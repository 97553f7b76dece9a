#include "api/suppression_routes.h"

#include <charconv>

#include "api/route_helpers.h"
#include "core/clock.h"
#include "core/json.h"
#include "http/json_body.h"

namespace secplat::api {
namespace {

using incidents::AssetDependency;
using incidents::MaintenanceWindow;
using incidents::SuppressionRule;

Json window_json(const MaintenanceWindow& w) {
  return Json{{"id", w.id},
              {"asset_key", w.asset_key},
              {"start_at", format_rfc3339(w.start_ms)},
              {"end_at", format_rfc3339(w.end_ms)},
              {"reason", opt_text(w.reason)},
              {"created_by", opt_text(w.created_by)},
              {"created_at", format_rfc3339(w.created_at_ms)}};
}

Json rule_json(const SuppressionRule& r) {
  return Json{{"id", r.id},
              {"scope", r.scope},
              {"scope_value", opt_text(r.scope_value)},
              {"starts_at", format_rfc3339(r.starts_ms)},
              {"ends_at", format_rfc3339(r.ends_ms)},
              {"reason", opt_text(r.reason)},
              {"created_by", opt_text(r.created_by)},
              {"created_at", format_rfc3339(r.created_at_ms)}};
}

Json dependency_json(const AssetDependency& d) {
  return Json{{"id", d.id},
              {"asset_key", d.asset_key},
              {"depends_on", d.depends_on},
              {"created_by", opt_text(d.created_by)},
              {"created_at", format_rfc3339(d.created_at_ms)}};
}

http::Route route(std::string method, std::string path, http::Access access, http::Handler h, std::string summary,
                  int success = 200, std::vector<std::string> query = {}) {
  return make_route("suppression", std::move(method), std::move(path), access, std::move(h), std::move(summary),
                    success, std::move(query));
}

Result<int64_t> id_param(const http::Request& req) {
  const std::string raw = req.param("id");
  int64_t id = 0;
  auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), id);
  if (ec != std::errc() || p != raw.data() + raw.size() || id <= 0) {
    return Error::invalid({"path", "id"}, "Must be a positive integer");
  }
  return id;
}

Result<bool> active_only(const http::Request& req) {
  auto v = req.query_param("active_only");
  if (!v || *v == "false" || *v == "0" || v->empty()) return false;
  if (*v == "true" || *v == "1") return true;
  return Error::invalid({"query", "active_only"}, "Must be true or false");
}

std::optional<std::string> query_text(const http::Request& req, const char* name) {
  auto v = req.query_param(name);
  if (!v || v->empty()) return std::nullopt;
  return v;
}

// The two datetimes of a body: missing → 422 naming the field; malformed or naive → 400.
Result<incidents::TimeRange> body_range(const Json& body, const char* start_name, const char* end_name) {
  auto start = http::req_string(body, start_name);
  if (!start.ok()) return std::move(start).take_error();
  auto end = http::req_string(body, end_name);
  if (!end.ok()) return std::move(end).take_error();
  return incidents::parse_time_range(*start, *end, start_name, end_name);
}

Json items(Json list) { return Json{{"items", std::move(list)}}; }

}  // namespace

std::vector<http::Route> suppression_routes(incidents::Suppression& svc) {
  std::vector<http::Route> routes;

  routes.push_back(route(
      "GET", "/suppression/maintenance-windows", http::Access::viewer,
      [&svc](http::Request& req) -> Result<http::Response> {
        auto active = active_only(req);
        if (!active.ok()) return std::move(active).take_error();
        auto list = svc.list_windows(query_text(req, "asset_key"), *active);
        if (!list.ok()) return std::move(list).take_error();
        Json out = Json::array();
        for (const auto& w : *list) out.push_back(window_json(w));
        return http::Response::json(200, items(std::move(out)));
      },
      "Maintenance windows, newest start first", 200, {"asset_key", "active_only"}));

  routes.push_back(route(
      "POST", "/suppression/maintenance-windows", http::Access::analyst,
      [&svc](http::Request& req) -> Result<http::Response> {
        auto body = http::parse_json_object(req);
        if (!body.ok()) return std::move(body).take_error();
        SECPLAT_TRY(http::reject_unknown_fields(*body, {"asset_key", "start_at", "end_at", "reason"}));
        incidents::MaintenanceWindowInput in;
        auto key = http::req_string(*body, "asset_key");
        if (!key.ok()) return std::move(key).take_error();
        in.asset_key = *key;
        auto reason = http::opt_string(*body, "reason");
        if (!reason.ok()) return std::move(reason).take_error();
        in.reason = *reason;
        auto range = body_range(*body, "start_at", "end_at");
        if (!range.ok()) return std::move(range).take_error();
        in.range = *range;
        auto w = svc.create_window(in, actor_of(req));
        if (!w.ok()) return std::move(w).take_error();
        return http::Response::json(201, window_json(*w));
      },
      "Create a maintenance window (start_at/end_at RFC 3339 with a time zone)", 201));

  routes.push_back(route(
      "DELETE", "/suppression/maintenance-windows/{id}", http::Access::analyst,
      [&svc](http::Request& req) -> Result<http::Response> {
        auto id = id_param(req);
        if (!id.ok()) return std::move(id).take_error();
        SECPLAT_TRY(svc.delete_window(*id, actor_of(req)));
        return http::Response::json(200, Json{{"ok", true}});
      },
      "Delete a maintenance window"));

  routes.push_back(route(
      "GET", "/suppression/rules", http::Access::viewer,
      [&svc](http::Request& req) -> Result<http::Response> {
        auto active = active_only(req);
        if (!active.ok()) return std::move(active).take_error();
        auto list = svc.list_rules(query_text(req, "scope"), *active);
        if (!list.ok()) return std::move(list).take_error();
        Json out = Json::array();
        for (const auto& r : *list) out.push_back(rule_json(r));
        return http::Response::json(200, items(std::move(out)));
      },
      "Suppression rules, newest start first", 200, {"scope", "active_only"}));

  routes.push_back(route(
      "POST", "/suppression/rules", http::Access::analyst,
      [&svc](http::Request& req) -> Result<http::Response> {
        auto body = http::parse_json_object(req);
        if (!body.ok()) return std::move(body).take_error();
        SECPLAT_TRY(http::reject_unknown_fields(*body, {"scope", "scope_value", "starts_at", "ends_at", "reason"}));
        incidents::SuppressionRuleInput in;
        auto scope = http::req_string(*body, "scope");
        if (!scope.ok()) return std::move(scope).take_error();
        in.scope = *scope;
        auto value = http::opt_string(*body, "scope_value");
        if (!value.ok()) return std::move(value).take_error();
        in.scope_value = *value;
        auto reason = http::opt_string(*body, "reason");
        if (!reason.ok()) return std::move(reason).take_error();
        in.reason = *reason;
        if (in.scope != "asset" && in.scope != "finding" && in.scope != "all") {
          return Error::bad_request("scope must be asset, finding, or all");
        }
        auto range = body_range(*body, "starts_at", "ends_at");
        if (!range.ok()) return std::move(range).take_error();
        in.range = *range;
        auto r = svc.create_rule(in, actor_of(req));
        if (!r.ok()) return std::move(r).take_error();
        return http::Response::json(201, rule_json(*r));
      },
      "Create a suppression rule (scope all, asset or finding)", 201));

  routes.push_back(route(
      "DELETE", "/suppression/rules/{id}", http::Access::analyst,
      [&svc](http::Request& req) -> Result<http::Response> {
        auto id = id_param(req);
        if (!id.ok()) return std::move(id).take_error();
        SECPLAT_TRY(svc.delete_rule(*id, actor_of(req)));
        return http::Response::json(200, Json{{"ok", true}});
      },
      "Delete a suppression rule"));

  routes.push_back(route(
      "GET", "/suppression/dependencies", http::Access::viewer,
      [&svc](http::Request& req) -> Result<http::Response> {
        auto list = svc.list_dependencies(query_text(req, "asset_key"));
        if (!list.ok()) return std::move(list).take_error();
        Json out = Json::array();
        for (const auto& d : *list) out.push_back(dependency_json(d));
        return http::Response::json(200, items(std::move(out)));
      },
      "Asset dependencies (child asset_key depends on parent depends_on); asset_key matches either side", 200,
      {"asset_key"}));

  routes.push_back(route(
      "POST", "/suppression/dependencies", http::Access::analyst,
      [&svc](http::Request& req) -> Result<http::Response> {
        auto body = http::parse_json_object(req);
        if (!body.ok()) return std::move(body).take_error();
        SECPLAT_TRY(http::reject_unknown_fields(*body, {"asset_key", "depends_on"}));
        auto key = http::req_string(*body, "asset_key");
        if (!key.ok()) return std::move(key).take_error();
        auto parent = http::req_string(*body, "depends_on");
        if (!parent.ok()) return std::move(parent).take_error();
        auto d = svc.create_dependency(*key, *parent, actor_of(req));
        if (!d.ok()) return std::move(d).take_error();
        return http::Response::json(201, dependency_json(*d));
      },
      "Declare that asset_key depends on depends_on (its alerts are suppressed while the parent is down)", 201));

  routes.push_back(route(
      "DELETE", "/suppression/dependencies/{id}", http::Access::analyst,
      [&svc](http::Request& req) -> Result<http::Response> {
        auto id = id_param(req);
        if (!id.ok()) return std::move(id).take_error();
        SECPLAT_TRY(svc.delete_dependency(*id, actor_of(req)));
        return http::Response::json(200, Json{{"ok", true}});
      },
      "Delete an asset dependency"));

  return routes;
}

}  // namespace secplat::api
