#include "api/jobs_routes.h"

#include <charconv>

#include "api/route_helpers.h"
#include "core/clock.h"
#include "core/json.h"
#include "http/json_body.h"
#include "posture/job_ledger_wire.h"

namespace secplat::api {
namespace {

using posture::Job;


Json job_json(const Job& j, bool detail) {
  Json params = Json::parse(j.params_json, nullptr, false);
  if (!params.is_object()) params = Json::object();
  Json out{{"job_id", j.job_id},
           {"job_type", j.job_type},
           {"target_asset_id", j.target_asset_id ? Json(*j.target_asset_id) : Json(nullptr)},
           {"requested_by", j.requested_by},
           {"status", j.status},
           {"created_at", format_rfc3339(j.created_ms)},
           {"started_at", opt_time(j.started_ms)},
           {"finished_at", opt_time(j.finished_ms)},
           {"error", opt_text(j.error)},
           {"retry_count", j.retry_count},
           {"job_params_json", params},
           {"asset_key", opt_text(j.asset_key)},
           {"asset_name", opt_text(j.asset_name)},
           {"idempotency_key", opt_text(j.idempotency_key)}};
  if (detail) {
    out["log_output"] = j.log_output;
    out["asset_type"] = j.asset_type.value_or("app");
    out["asset_environment"] = opt_text(j.asset_environment);
    out["asset_criticality"] = opt_text(j.asset_criticality);
    out["asset_verified"] = j.asset_verified;
  }
  return out;
}

Json stats_json(const posture::JobStats& s) {
  return Json{{"total_jobs", s.total},
              {"queued_jobs", s.queued},
              {"running_jobs", s.running},
              {"stale_running_jobs", s.stale_running},
              {"done_jobs", s.done},
              {"failed_jobs", s.failed},
              {"completed_jobs", s.completed},
              {"retried_jobs", s.retried},
              {"success_rate_pct", s.success_rate_pct},
              {"failure_rate_pct", s.failure_rate_pct},
              {"oldest_queued_minutes", opt_num(s.oldest_queued_minutes)},
              {"avg_duration_seconds", opt_num(s.avg_duration_s)},
              {"p95_duration_seconds", opt_num(s.p95_duration_s)},
              {"max_duration_seconds", opt_num(s.max_duration_s)}};
}

Result<int64_t> job_id_of(const http::Request& req) {
  const std::string raw = req.param("job_id");
  int64_t id = 0;
  auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), id);
  if (ec != std::errc() || p != raw.data() + raw.size() || id <= 0)
    return Error::invalid({"path", "job_id"}, "Must be a positive integer");
  return id;
}

http::Route route(std::string method, std::string path, http::Access access, http::Handler h, std::string summary,
                  int success = 200, std::vector<std::string> query = {}) {
  return make_route("jobs", std::move(method), std::move(path), access, std::move(h), std::move(summary), success,
                    std::move(query));
}

}  // namespace

std::vector<http::Route> jobs_routes(posture::JobService& jobs, auth::AuditLog& audit) {
  std::vector<http::Route> routes;
  routes.push_back(route(
      "GET", "/jobs", http::Access::viewer,
      [&jobs](http::Request& req) -> Result<http::Response> {
        auto limit = int_query(req, "limit", 50, 1, 200);
        if (!limit.ok()) return std::move(limit).take_error();
        auto status = req.query_param("status");
        if (status && *status != "queued" && *status != "running" && *status != "done" && *status != "failed")
          return Error::invalid({"query", "status"}, "Must be one of queued, running, done, failed");
        auto list = jobs.list(status, *limit);
        if (!list.ok()) return std::move(list).take_error();
        Json items = Json::array();
        for (const auto& j : *list) items.push_back(job_json(j, false));
        return http::Response::json(200, Json{{"items", items}});
      },
      "Scan jobs, newest first", 200, {"status", "limit"}));

  routes.push_back(route(
      "GET", "/jobs/analytics", http::Access::viewer,
      [&jobs](http::Request& req) -> Result<http::Response> {
        auto lookback = int_query(req, "lookback_hours", 24, 1, 720);
        if (!lookback.ok()) return std::move(lookback).take_error();
        auto stale = int_query(req, "running_stale_minutes", 30, 1, 10080);
        if (!stale.ok()) return std::move(stale).take_error();
        auto type = req.query_param("job_type");
        auto a = jobs.analytics(*lookback, *stale, type);
        if (!a.ok()) return std::move(a).take_error();
        Json by_type = Json::array();
        for (const auto& [t, s] : a->by_job_type) {
          Json j = stats_json(s);
          j["job_type"] = t;
          by_type.push_back(std::move(j));
        }
        return http::Response::json(
            200, Json{{"window",
                       {{"lookback_hours", *lookback}, {"running_stale_minutes", *stale}, {"job_type", opt_text(type)}}},
                      {"totals", stats_json(a->totals)},
                      {"by_job_type", by_type}});
      },
      "Job counts, success rate and durations over a window", 200,
      {"lookback_hours", "running_stale_minutes", "job_type"}));

  routes.push_back(route(
      "GET", "/jobs/{job_id}", http::Access::viewer,
      [&jobs](http::Request& req) -> Result<http::Response> {
        auto id = job_id_of(req);
        if (!id.ok()) return std::move(id).take_error();
        auto j = jobs.get(*id);
        if (!j.ok()) return std::move(j).take_error();
        return http::Response::json(200, job_json(*j, true));
      },
      "One job with its log"));

  routes.push_back(route(
      "POST", "/jobs", http::Access::analyst,
      [&jobs, &audit](http::Request& req) -> Result<http::Response> {
        auto body = http::parse_json_object(req);
        if (!body.ok()) return std::move(body).take_error();
        SECPLAT_TRY(http::reject_unknown_fields(
            *body, {"job_type", "target_asset_id", "asset_key", "job_params_json", "requested_by"}));
        posture::JobRequest jr;
        if (!body->contains("job_type") || !(*body)["job_type"].is_string())
          return Error::invalid({"body", "job_type"}, "Field required (a string)");
        jr.job_type = (*body)["job_type"].get<std::string>();
        if (body->contains("target_asset_id") && !(*body)["target_asset_id"].is_null()) {
          if (!(*body)["target_asset_id"].is_number_integer())
            return Error::invalid({"body", "target_asset_id"}, "Must be an integer");
          jr.target_asset_id = (*body)["target_asset_id"].get<int64_t>();
        }
        if (body->contains("asset_key") && !(*body)["asset_key"].is_null()) {
          if (!(*body)["asset_key"].is_string()) return Error::invalid({"body", "asset_key"}, "Must be a string");
          jr.asset_key = (*body)["asset_key"].get<std::string>();
        }
        if (body->contains("job_params_json") && !(*body)["job_params_json"].is_null()) {
          if (!(*body)["job_params_json"].is_object())
            return Error::invalid({"body", "job_params_json"}, "Must be an object");
          jr.params_json = (*body)["job_params_json"].dump();
        }
        // `requested_by` is accepted for compatibility but the caller is recorded (reference 12.3).
        const auth::Actor actor = actor_of(req);
        auto created = jobs.create(jr, actor.user_name, actor.request_id, [&](store::Tx& tx, const Job& j) {
          return audit.append(tx, "job.create", actor.user_name, j.asset_key.value_or(""),
                              Json{{"job_id", j.job_id}, {"job_type", j.job_type},
                                   {"target_asset_id", j.target_asset_id ? Json(*j.target_asset_id) : Json(nullptr)}},
                              actor.request_id);
        });
        if (!created.ok()) return std::move(created).take_error();
        Json out = job_json(created->job, false);
        out["deduplicated"] = !created->created;
        return http::Response::json(created->created ? 201 : 200, out);
      },
      "Queue a scan job (idempotent per job type, asset and hour)", 201));

  routes.push_back(route(
      "POST", "/jobs/{job_id}/retry", http::Access::analyst,
      [&jobs, &audit](http::Request& req) -> Result<http::Response> {
        auto id = job_id_of(req);
        if (!id.ok()) return std::move(id).take_error();
        const auth::Actor actor = actor_of(req);
        auto j = jobs.retry(*id, actor.request_id, [&](store::Tx& tx, const Job& before) {
          return audit.append(tx, "job.retry", actor.user_name, before.asset_key.value_or(""),
                              Json{{"job_id", before.job_id}, {"previous_status", before.status}}, actor.request_id);
        });
        if (!j.ok()) return std::move(j).take_error();
        return http::Response::json(200, Json{{"ok", true}, {"status", j->status}, {"job_id", j->job_id}});
      },
      "Run a failed or finished job again"));
  return routes;
}

std::vector<http::Route> jobs_internal_routes(posture::JobLedger& ledger) {
  return internal_op_routes(
      "/internal/jobs/", posture::job_ledger_ops(), "Scan-job ledger (for job workers)",
      [&ledger](std::string_view op, const Json& body) { return posture::serve_job_op(ledger, op, body); },
      [](std::string_view op) -> std::size_t { return op == "reconcile" ? 16u << 20 : 0; });  // a job's findings
}

}  // namespace secplat::api
