#include "api/audit_routes.h"

#include "auth/audit_log.h"
#include "core/clock.h"
#include "core/json.h"
#include "http/json_body.h"

namespace secplat::api {
namespace {

Json optional_text(const std::optional<std::string>& s) { return s ? Json(*s) : Json(nullptr); }

Json entry_json(const auth::AuditEntry& e) {
  Json details = Json::parse(e.details_json, nullptr, false);
  if (details.is_discarded()) details = Json::object();
  return Json{{"id", e.id},
              {"created_at", format_rfc3339(e.created_at_ms)},
              {"action", e.action},
              {"user_name", optional_text(e.user_name)},
              {"asset_key", optional_text(e.asset_key)},
              {"details", std::move(details)},
              {"request_id", optional_text(e.request_id)}};
}

}  // namespace

std::vector<http::Route> audit_routes(auth::AuditLog& audit) {
  http::Route list;
  list.method = "GET";
  list.path = "/audit";
  list.access = http::Access::admin;
  list.handler = [&audit](http::Request& req) -> Result<http::Response> {
    auth::AuditQuery q;
    if (auto user = req.query_param("user"); user && !user->empty()) q.user_name = *user;
    if (auto action = req.query_param("action"); action && !action->empty()) q.action = *action;
    if (auto since = req.query_param("since"); since && !since->empty()) {
      auto ms = parse_rfc3339(*since);
      if (!ms) return Error::invalid({"query", "since"}, "since must be an RFC 3339 timestamp");
      q.since_ms = *ms;
    }
    auto limit = http::query_int(req, "limit", 100, 1, 500);
    if (!limit.ok()) return std::move(limit).take_error();
    q.limit = static_cast<int>(*limit);
    auto page = audit.list(q);
    if (!page.ok()) return std::move(page).take_error();
    Json items = Json::array();
    for (const auto& e : page->items) items.push_back(entry_json(e));
    return http::Response::json(200, Json{{"items", std::move(items)}, {"actions", page->actions}});
  };
  list.doc.summary = "Audit log, newest first, with the list of distinct actions";
  list.doc.tag = "audit";
  list.doc.query_params = {"user", "action", "since", "limit"};
  list.doc.success_status = 200;
  return {std::move(list)};
}

}  // namespace secplat::api
