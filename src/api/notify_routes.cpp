#include "api/notify_routes.h"

#include "api/route_helpers.h"
#include "core/clock.h"
#include "core/json.h"
#include "http/json_body.h"
#include "notify/ledger_wire.h"
#include "notify/notifier.h"

namespace secplat::api {
namespace {

Json delivery_json(const notify::Delivery& d) {
  return {{"id", d.id},
          {"event_id", d.event_id},
          {"event_type", d.event_type},
          {"dedupe_key", d.dedupe_key},
          {"channel", d.channel},
          {"status", d.status},
          {"attempts", d.attempts},
          {"http_status", d.http_status},
          {"error", d.error.empty() ? Json(nullptr) : Json(d.error)},
          {"remote_id", d.remote_id.empty() ? Json(nullptr) : Json(d.remote_id)},
          {"created_at", format_rfc3339(d.created_ms)},
          {"updated_at", format_rfc3339(d.updated_ms)}};
}

}  // namespace

std::vector<http::Route> notify_routes(notify::Notifier& notifier) {
  http::Route list;
  list.method = "GET";
  list.path = "/notifications";
  list.access = http::Access::analyst;
  list.doc = {"Notification deliveries per channel (status, attempts, response code)", "notify", "", "", {}, 200};
  list.handler = [&notifier](http::Request& req) -> Result<http::Response> {
    notify::DeliveryFilter f;
    if (auto v = req.query_param("channel"); v && !v->empty()) f.channel = *v;
    if (auto v = req.query_param("status"); v && !v->empty()) f.status = *v;
    if (auto v = req.query_param("event_id"); v && !v->empty()) f.event_id = *v;
    auto limit = int_query(req, "limit", 100, 1, 1000);
    if (!limit) return std::move(limit).take_error();
    auto offset = int_query(req, "offset", 0, 0, int64_t{1} << 53);
    if (!offset) return std::move(offset).take_error();
    f.limit = *limit;
    f.offset = *offset;
    auto page = notifier.list(f);
    if (!page) return std::move(page).take_error();
    Json items = Json::array();
    for (const auto& d : page->items) items.push_back(delivery_json(d));
    return http::Response::json(200, Json{{"items", items}, {"total", page->total}, {"limit", *limit}, {"offset", *offset}});
  };
  return {std::move(list)};
}

std::vector<http::Route> notify_internal_routes(notify::DeliveryLedger& ledger, notify::AssetLookup assets) {
  std::vector<http::Route> routes = internal_op_routes(
      "/internal/notify/", notify::ledger_ops(), "Notifier ledger (for notifier processes)",
      [&ledger](std::string_view op, const Json& body) { return notify::serve_ledger_op(ledger, op, body); });
  http::Route asset;
  asset.method = "GET";
  asset.path = "/internal/notify/assets/{asset_key}";
  asset.access = http::Access::service;
  asset.doc = {"An asset's environment and owner, for the notifier's routing rules (service API keys)", "internal",
               "", "", {}, 200};
  asset.handler = [assets = std::move(assets)](http::Request& req) -> Result<http::Response> {
    const std::string key = req.param("asset_key");
    auto meta = assets ? assets(key) : std::nullopt;
    if (!meta) return Error::not_found("asset not found: " + key);
    return http::Response::json(
        200, Json{{"asset_key", key}, {"environment", meta->environment}, {"owner", meta->owner},
                  {"owner_team", meta->owner_team}});
  };
  routes.push_back(std::move(asset));
  return routes;
}

}  // namespace secplat::api
