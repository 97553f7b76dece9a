#include "auth/audit_log.h"

#include <algorithm>

#include "core/json.h"

namespace secplat::auth {
namespace {

constexpr const char* kInsert =
    "INSERT INTO audit_events (created_at, action, user_name, asset_key, details, request_id) "
    "VALUES ($1, $2, $3, $4, $5, $6)";

store::Value text_or_null(std::string_view s) { return s.empty() ? store::null() : store::Value(std::string(s)); }

std::string details_text(const Json& details) { return details.is_object() ? details.dump() : std::string("{}"); }

}  // namespace

store::Params AuditLog::row(std::string_view action, std::string_view user_name, std::string_view asset_key,
                            std::string details_json, std::string_view request_id) const {
  // Built element by element: a braced list of variants trips GCC 12's -Wmaybe-uninitialized.
  store::Params p;
  p.reserve(6);
  p.emplace_back(clock_.now_ms());
  p.emplace_back(std::string(action));
  p.push_back(text_or_null(user_name));
  p.push_back(text_or_null(asset_key));
  p.emplace_back(std::move(details_json));
  p.push_back(text_or_null(request_id));
  return p;
}

Status AuditLog::append(std::string_view action, std::string_view user_name, std::string_view asset_key,
                        const Json& details, std::string_view request_id) {
  auto n = db_.exec(kInsert, row(action, user_name, asset_key, details_text(details), request_id));
  if (!n.ok()) return std::move(n).take_error();
  return ok_status();
}

Status AuditLog::append(store::Tx& tx, std::string_view action, std::string_view user_name,
                        std::string_view asset_key, const Json& details, std::string_view request_id) {
  return append_json_text(tx, action, user_name, asset_key, details_text(details), request_id);
}

Status AuditLog::append_json_text(store::Tx& tx, std::string_view action, std::string_view user_name,
                                  std::string_view asset_key, std::string details_json, std::string_view request_id) {
  auto n = tx.exec(kInsert, row(action, user_name, asset_key, std::move(details_json), request_id));
  if (!n.ok()) return std::move(n).take_error();
  return ok_status();
}

Result<AuditPage> AuditLog::list(const AuditQuery& q) {
  std::string sql =
      "SELECT id, created_at, action, user_name, asset_key, details, request_id FROM audit_events WHERE 1 = 1";
  store::Params params;
  auto bind = [&](const char* condition, auto v) {
    params.emplace_back(std::move(v));
    sql += std::string(" AND ") + condition + " $" + std::to_string(params.size());
  };
  if (q.user_name) bind("user_name =", *q.user_name);
  if (q.action) bind("action =", *q.action);
  if (q.since_ms) bind("created_at >=", *q.since_ms);
  params.emplace_back(int64_t{std::clamp(q.limit, 1, 500)});
  sql += " ORDER BY created_at DESC, id DESC LIMIT $" + std::to_string(params.size());

  auto rows = db_.query(sql, params);
  if (!rows.ok()) return std::move(rows).take_error();
  AuditPage page;
  page.items.reserve(rows->size());
  for (const auto& r : *rows) {
    page.items.push_back({r.i64("id"), r.i64("created_at"), r.str("action"), r.opt_str("user_name"),
                          r.opt_str("asset_key"), r.str("details", "{}"), r.opt_str("request_id")});
  }
  auto actions = db_.query("SELECT DISTINCT action FROM audit_events ORDER BY action");
  if (!actions.ok()) return std::move(actions).take_error();
  for (const auto& r : *actions) page.actions.push_back(r.str("action"));
  return page;
}

}  // namespace secplat::auth
