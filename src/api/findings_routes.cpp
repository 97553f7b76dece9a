#include "api/findings_routes.h"

#include <charconv>

#include "api/finding_input.h"
#include "api/finding_json.h"
#include "api/route_helpers.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "http/json_body.h"

namespace secplat::api {
namespace {

using findings::Finding;

bool is_viewer(const http::Request& req) { return !req.principal || req.principal->role == http::Role::viewer; }

Result<int64_t> id_param(const http::Request& req) {
  const std::string raw = req.param("finding_id");
  int64_t id = 0;
  auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), id);
  if (ec != std::errc() || p != raw.data() + raw.size() || id <= 0) {
    return Error::invalid({"path", "finding_id"}, "Must be a positive integer");
  }
  return id;
}

http::Route route(std::string method, std::string path, http::Access access, http::Handler h, std::string summary,
                  int success = 200, std::vector<std::string> query = {}) {
  return make_route("findings", std::move(method), std::move(path), access, std::move(h), std::move(summary), success,
                    std::move(query));
}

Result<std::optional<std::string>> query_text(const http::Request& req, const char* name) {
  auto v = req.query_param(name);
  if (!v || v->empty()) return std::optional<std::string>();
  if (v->size() > 512) return Error::invalid({"query", name}, "At most 512 characters");
  return v;
}

}  // namespace

std::vector<http::Route> findings_routes(findings::FindingsService& svc) {
  std::vector<http::Route> routes;

  routes.push_back(route(
      "GET", "/findings/", http::Access::viewer,
      [&svc](http::Request& req) -> Result<http::Response> {
        findings::FindingFilter f;
        for (auto [name, field] : {std::pair{"asset_key", &f.asset_key}, std::pair{"status", &f.status},
                                   std::pair{"severity", &f.severity}, std::pair{"source", &f.source},
                                   std::pair{"risk_level", &f.risk_level}, std::pair{"q", &f.q}}) {
          auto v = query_text(req, name);
          if (!v.ok()) return std::move(v).take_error();
          *field = *v;
        }
        if (f.status && !findings::is_valid_status(*f.status)) {
          return Error::invalid({"query", "status"}, "Must be one of open, in_progress, remediated, accepted_risk");
        }
        // "unscored" is accepted for reference compatibility; every finding is scored, so it matches none.
        if (f.risk_level && *f.risk_level != "critical" && *f.risk_level != "high" && *f.risk_level != "medium" &&
            *f.risk_level != "low" && *f.risk_level != "unscored") {
          return Error::invalid({"query", "risk_level"}, "Must be one of critical, high, medium, low, unscored");
        }
        auto limit = http::query_int(req, "limit", 200, 1, 500);
        if (!limit.ok()) return std::move(limit).take_error();
        auto offset = http::query_int(req, "offset", 0, 0, 1'000'000'000);
        if (!offset.ok()) return std::move(offset).take_error();
        f.limit = *limit;
        f.offset = *offset;
        auto page = svc.list(f);
        if (!page.ok()) return std::move(page).take_error();
        const bool viewer = is_viewer(req);
        http::Response resp;
        resp.status = 200;
        resp.body.reserve(page->items.size() * 1024 + 2);
        resp.body.push_back('[');
        for (const auto& x : page->items) {
          if (resp.body.size() > 1) resp.body.push_back(',');
          append_finding_json(resp.body, x, viewer);
        }
        resp.body.push_back(']');
        resp.headers.emplace_back("X-Total-Count", std::to_string(page->total));
        return resp;
      },
      "List findings (last_seen desc); total matches in X-Total-Count", 200,
      {"asset_key", "status", "severity", "source", "risk_level", "q", "limit", "offset"}));

  routes.push_back(route(
      "GET", "/findings/{finding_id}", http::Access::viewer,
      [&svc](http::Request& req) -> Result<http::Response> {
        auto id = id_param(req);
        if (!id.ok()) return std::move(id).take_error();
        auto f = svc.get(*id);
        if (!f.ok()) return std::move(f).take_error();
        http::Response resp;
        resp.status = 200;
        append_finding_json(resp.body, *f, is_viewer(req));
        return resp;
      },
      "One finding"));

  // The upsert does not hold a thread while it waits for its commit: it parses here (on the I/O
  // thread when the caller's credential is known without the store) and a thread of the Db answers.
  http::Route upsert = route("POST", "/findings/", http::Access::analyst, nullptr,
                             "Create (201) or update (200) the finding with this asset and finding_key", 201);
  upsert.async_handler = [&svc](http::Request& req, http::Reply reply) {
    auto in = parse_finding_body(req);
    if (!in.ok()) return reply(std::move(in).take_error());
    const bool by_id = in->asset_key.empty();
    const std::string asset_ref = by_id ? std::to_string(in->asset_id.value_or(0)) : in->asset_key;
    svc.upsert_async(std::move(*in), actor_of(req), [reply, by_id, asset_ref](Result<findings::UpsertResult> r) {
      if (!r.ok()) {
        if (r.error().code == Errc::not_found)
          return reply(Error::invalid({"body", by_id ? "asset_id" : "asset_key"}, "Asset not found: " + asset_ref));
        return reply(std::move(r).take_error());
      }
      // The bytes a Json object of these fields dumps (keys sorted), written directly: this runs on
      // the store's answer thread for every upsert.
      http::Response resp;
      resp.status = r->created ? 201 : 200;
      resp.body = "{\"finding_id\":" + std::to_string(r->finding.finding_id) +
                  ",\"finding_key\":" + log::json_quote(r->finding.finding_key) +
                  ",\"ok\":true,\"risk_level\":" + log::json_quote(r->finding.risk_level) +
                  ",\"risk_score\":" + std::to_string(r->finding.risk_score) +
                  ",\"status\":" + log::json_quote(r->finding.status) +
                  ",\"updated\":" + (r->created ? "false" : "true") + "}";
      reply(std::move(resp));
    });
  };
  routes.push_back(std::move(upsert));

  routes.push_back(route(
      "PATCH", "/findings/{finding_id}/status", http::Access::analyst,
      [&svc](http::Request& req) -> Result<http::Response> {
        auto id = id_param(req);
        if (!id.ok()) return std::move(id).take_error();
        auto body = http::parse_json_object(req);
        if (!body.ok()) return std::move(body).take_error();
        SECPLAT_TRY(http::reject_unknown_fields(*body, {"status"}));
        auto status = http::req_string(*body, "status");
        if (!status.ok()) return std::move(status).take_error();
        auto f = svc.set_status(*id, *status, actor_of(req));
        if (!f.ok()) return std::move(f).take_error();
        return http::Response::json(200, Json{{"ok", true}, {"finding_id", f->finding_id}, {"status", f->status}});
      },
      "Move a finding along the status state machine (409 on a forbidden transition)"));

  routes.push_back(route(
      "POST", "/findings/{finding_id}/accept-risk", http::Access::analyst,
      [&svc](http::Request& req) -> Result<http::Response> {
        auto id = id_param(req);
        if (!id.ok()) return std::move(id).take_error();
        auto body = http::parse_json_object(req);
        if (!body.ok()) return std::move(body).take_error();
        SECPLAT_TRY(http::reject_unknown_fields(*body, {"reason", "expires_at"}));
        auto reason = http::req_string(*body, "reason");
        if (!reason.ok()) return std::move(reason).take_error();
        if (reason->empty() || reason->size() > 2000) {
          return Error::invalid({"body", "reason"}, "Must be 1..2000 characters");
        }
        auto expires = http::req_string(*body, "expires_at");
        if (!expires.ok()) return std::move(expires).take_error();
        auto ms = parse_rfc3339(*expires);
        if (!ms) {
          return Error::invalid({"body", "expires_at"},
                                "expires_at must be an ISO 8601 / RFC 3339 datetime with a time zone");
        }
        auto f = svc.accept_risk(*id, *reason, *ms, actor_of(req));
        if (!f.ok()) return std::move(f).take_error();
        return http::Response::json(200, Json{{"ok", true},
                                              {"finding_id", f->finding_id},
                                              {"status", f->status},
                                              {"accepted_risk_expires_at", opt_time(f->accepted_risk_expires_at_ms)}});
      },
      "Accept a finding's risk until a future expiry (reason required)"));

  http::Route import = route(
      "POST", "/findings/import", http::Access::analyst,
      [&svc](http::Request& req) -> Result<http::Response> {
        auto body = http::parse_json_object(req);
        if (!body.ok()) return std::move(body).take_error();
        std::string asset_key, source;
        Json sarif;
        if (auto q = req.query_param("asset_key"); q && !q->empty()) {  // the raw SARIF log is the body
          asset_key = *q;
          source = req.query_param("source").value_or("");
          sarif = std::move(*body);
        } else {
          SECPLAT_TRY(http::reject_unknown_fields(*body, {"asset_key", "source", "sarif"}));
          auto k = http::req_string(*body, "asset_key");
          if (!k.ok()) return std::move(k).take_error();
          auto s = http::opt_string(*body, "source");
          if (!s.ok()) return std::move(s).take_error();
          if (!body->contains("sarif") || !(*body)["sarif"].is_object()) {
            return Error::invalid({"body", "sarif"}, "Field required: the SARIF 2.1.0 log as an object");
          }
          asset_key = *k;
          source = s->value_or("");
          sarif = std::move((*body)["sarif"]);
        }
        if (source.size() > 100) return Error::invalid({"body", "source"}, "At most 100 characters");
        auto r = svc.import_sarif(asset_key, sarif, source, actor_of(req));
        if (!r.ok()) {
          if (r.error().code == Errc::not_found) {
            return Error::invalid({"body", "asset_key"}, "Asset not found: " + asset_key);
          }
          return std::move(r).take_error();
        }
        return http::Response::json(200, Json{{"ok", true},
                                              {"asset_key", asset_key},
                                              {"created", r->created},
                                              {"updated", r->updated},
                                              {"unchanged", r->unchanged},
                                              {"remediated", r->remediated},
                                              {"total", r->total}});
      },
      "Import a SARIF 2.1.0 log as findings of one asset (auto-remediates what the source no longer reports)",
      200, {"asset_key", "source"});
  import.max_body_bytes = 64u << 20;
  routes.push_back(std::move(import));
  return routes;
}

}  // namespace secplat::api
