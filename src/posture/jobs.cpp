#include "posture/jobs.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>

#include "core/json.h"
#include "core/log.h"
#include "queue/envelope.h"
#include "queue/streams.h"

namespace secplat::posture {
namespace {

constexpr const char* kSelect =
    "SELECT j.*, a.name AS a_name, a.type AS a_type, a.environment AS a_environment, a.criticality AS a_criticality, "
    "a.verified AS a_verified FROM scan_jobs j LEFT JOIN assets a ON a.asset_id = j.target_asset_id ";

store::Value opt(const std::optional<std::string>& s) { return s ? store::Value(*s) : store::null(); }
store::Value opt(const std::optional<int64_t>& v) { return v ? store::Value(*v) : store::null(); }

Job from_row(const store::Row& r) {
  Job j;
  j.job_id = r.i64("job_id");
  j.job_type = r.str("job_type");
  j.target_asset_id = r.opt_i64("target_asset_id");
  j.asset_key = r.opt_str("asset_key");
  j.requested_by = r.str("requested_by");
  j.status = r.str("status");
  j.created_ms = r.i64("created_at");
  j.started_ms = r.opt_i64("started_at");
  j.finished_ms = r.opt_i64("finished_at");
  j.error = r.opt_str("error");
  j.log_output = r.str("log_output");
  j.retry_count = r.i64("retry_count");
  j.params_json = r.str("job_params_json", "{}");
  j.idempotency_key = r.opt_str("idempotency_key");
  j.asset_name = r.opt_str("a_name");
  j.asset_type = r.opt_str("a_type");
  j.asset_environment = r.opt_str("a_environment");
  j.asset_criticality = r.opt_str("a_criticality");
  j.asset_verified = r.i64("a_verified") != 0;
  return j;
}

std::string hour_bucket(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H", &tm);
  return buf;
}

double round_to(double v, int digits) {
  const double f = std::pow(10.0, digits);
  return std::round(v * f) / f;
}

JobStats stats_of(const std::vector<Job>& jobs, int64_t now, int64_t stale_ms) {
  JobStats s;
  std::vector<double> durations;
  std::optional<int64_t> oldest_queued;
  for (const auto& j : jobs) {
    ++s.total;
    if (j.status == "queued") {
      ++s.queued;
      if (!oldest_queued || j.created_ms < *oldest_queued) oldest_queued = j.created_ms;
    }
    if (j.status == "running") {
      ++s.running;
      if (j.started_ms && *j.started_ms <= now - stale_ms) ++s.stale_running;
    }
    if (j.status == "done") ++s.done;
    if (j.status == "failed") ++s.failed;
    if ((j.status == "done" || j.status == "failed") && j.started_ms && j.finished_ms) {
      ++s.completed;
      durations.push_back(double(*j.finished_ms - *j.started_ms) / 1000.0);
    }
    if (j.retry_count > 0) ++s.retried;
  }
  const int64_t ended = s.done + s.failed;
  if (ended > 0) {
    s.success_rate_pct = round_to(100.0 * double(s.done) / double(ended), 2);
    s.failure_rate_pct = round_to(100.0 * double(s.failed) / double(ended), 2);
  }
  if (oldest_queued) s.oldest_queued_minutes = round_to(double(now - *oldest_queued) / 60000.0, 3);
  if (!durations.empty()) {
    std::sort(durations.begin(), durations.end());
    double sum = 0;
    for (double d : durations) sum += d;
    s.avg_duration_s = round_to(sum / double(durations.size()), 3);
    const double pos = 0.95 * double(durations.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const auto hi = std::min(lo + 1, durations.size() - 1);
    s.p95_duration_s = round_to(durations[lo] + (durations[hi] - durations[lo]) * (pos - double(lo)), 3);
    s.max_duration_s = round_to(durations.back(), 3);
  }
  return s;
}

}  // namespace

bool is_valid_job_type(const std::string& t) {
  return t == "web_exposure" || t == "tls_headers" || t == "health_http" || t == "score_recompute";
}

bool job_needs_asset(const std::string& t) { return t != "score_recompute"; }

Status JobService::announce(const Job& job, const std::string& request_id) {
  Json payload{{"job_id", job.job_id},
               {"job_type", job.job_type},
               {"target_asset_id", job.target_asset_id ? Json(*job.target_asset_id) : Json(nullptr)},
               {"requested_by", job.requested_by}};
  auto fields = queue::make_envelope("scan.requested", job.asset_key.value_or(""), "info", payload, request_id,
                                     clock_.now_ms());
  fields["target_asset_id"] = job.target_asset_id ? std::to_string(*job.target_asset_id) : "";
  auto r = queue_.publish(std::string(queue::kScanJobs), fields);
  if (!r.ok()) return std::move(r).take_error();
  return ok_status();
}

Result<JobCreated> JobService::create(const JobRequest& req, const std::string& requested_by,
                                      const std::string& request_id, const AuditHook& audit) {
  if (!is_valid_job_type(req.job_type))
    return Error::invalid({"body", "job_type"},
                          "Invalid job_type. Use one of: web_exposure, tls_headers, health_http, score_recompute");
  const int64_t now = clock_.now_ms();
  JobCreated out;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    std::optional<int64_t> asset_id;
    std::optional<std::string> asset_key;
    if (req.target_asset_id || req.asset_key) {
      auto rows = req.target_asset_id
                      ? tx.query("SELECT asset_id, asset_key, is_active FROM assets WHERE asset_id = $1",
                                 {*req.target_asset_id})
                      : tx.query("SELECT asset_id, asset_key, is_active FROM assets WHERE asset_key = $1",
                                 {*req.asset_key});
      if (!rows.ok()) return std::move(rows).take_error();
      if (rows->empty())
        return Error::invalid({"body", req.target_asset_id ? "target_asset_id" : "asset_key"}, "Asset not found");
      asset_id = rows->front().i64("asset_id");
      asset_key = rows->front().str("asset_key");
    } else if (job_needs_asset(req.job_type)) {
      return Error::invalid({"body", "target_asset_id"}, "Field required for job_type " + req.job_type);
    }
    const std::string key = req.job_type + "+" + asset_key.value_or("all") + "+" + hour_bucket(now);
    auto ins = tx.query(
        "INSERT INTO scan_jobs (job_type, target_asset_id, asset_key, requested_by, status, created_at, "
        "job_params_json, idempotency_key) VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7) "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING job_id",
        {req.job_type, opt(asset_id), opt(asset_key), requested_by, now, req.params_json, key});
    if (!ins.ok()) return std::move(ins).take_error();
    out.created = !ins->empty();
    auto rows = tx.query(std::string(kSelect) + "WHERE j.idempotency_key = $1", {key});
    if (!rows.ok()) return std::move(rows).take_error();
    if (rows->empty()) return Error::internal("job vanished during create");
    out.job = from_row(rows->front());
    if (out.created && audit) return audit(tx, out.job);
    return ok_status();
  });
  if (!st.ok()) return std::move(st).take_error();
  if (out.created) {
    if (auto a = announce(out.job, request_id); !a.ok())  // recover() re-announces queued jobs
      log::warn("job not announced", {log::integer("job_id", out.job.job_id), log::str("error", a.error().message)});
  }
  return out;
}

Result<std::vector<Job>> JobService::list(const std::optional<std::string>& status, int64_t limit) {
  auto rows = status ? db_.query(std::string(kSelect) + "WHERE j.status = $1 ORDER BY j.created_at DESC, j.job_id DESC "
                                                        "LIMIT $2",
                                 {*status, limit})
                     : db_.query(std::string(kSelect) + "ORDER BY j.created_at DESC, j.job_id DESC LIMIT $1", {limit});
  if (!rows.ok()) return std::move(rows).take_error();
  std::vector<Job> out;
  for (const auto& r : *rows) out.push_back(from_row(r));
  return out;
}

Result<Job> JobService::get(int64_t job_id) {
  auto rows = db_.query(std::string(kSelect) + "WHERE j.job_id = $1", {job_id});
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return Error::not_found("Job not found");
  return from_row(rows->front());
}

Result<Job> JobService::retry(int64_t job_id, const std::string& request_id, const AuditHook& audit) {
  Job job;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    auto rows = tx.query(std::string(kSelect) + "WHERE j.job_id = $1", {job_id});
    if (!rows.ok()) return std::move(rows).take_error();
    if (rows->empty()) return Error::not_found("Job not found");
    job = from_row(rows->front());
    if (job.status != "failed" && job.status != "done")
      return Error::bad_request("Only failed or completed jobs can be retried");
    const std::string previous = job.status;
    auto n = tx.exec(
        "UPDATE scan_jobs SET status = 'queued', error = NULL, log_output = '', started_at = NULL, finished_at = NULL, "
        "retry_count = retry_count + 1 WHERE job_id = $1",
        {job_id});
    if (!n.ok()) return std::move(n).take_error();
    job.status = "queued";
    job.error.reset();
    job.log_output.clear();
    job.started_ms.reset();
    job.finished_ms.reset();
    ++job.retry_count;
    if (audit) {
      Job for_audit = job;
      for_audit.status = previous;  // the hook records the status it was retried from
      return audit(tx, for_audit);
    }
    return ok_status();
  });
  if (!st.ok()) return std::move(st).take_error();
  if (auto a = announce(job, request_id); !a.ok())
    log::warn("job not announced", {log::integer("job_id", job.job_id), log::str("error", a.error().message)});
  return job;
}

Result<JobAnalytics> JobService::analytics(int64_t lookback_hours, int64_t stale_minutes,
                                           const std::optional<std::string>& job_type) {
  const int64_t now = clock_.now_ms();
  const int64_t since = now - lookback_hours * 3600 * 1000;
  auto rows = job_type ? db_.query(std::string(kSelect) + "WHERE j.created_at >= $1 AND j.job_type = $2", {since, *job_type})
                       : db_.query(std::string(kSelect) + "WHERE j.created_at >= $1", {since});
  if (!rows.ok()) return std::move(rows).take_error();
  std::vector<Job> jobs;
  std::map<std::string, std::vector<Job>> by_type;
  for (const auto& r : *rows) {
    Job j = from_row(r);
    j.log_output.clear();
    by_type[j.job_type].push_back(j);
    jobs.push_back(std::move(j));
  }
  JobAnalytics out;
  out.totals = stats_of(jobs, now, stale_minutes * 60000);
  for (const auto& [type, list] : by_type) out.by_job_type.emplace_back(type, stats_of(list, now, stale_minutes * 60000));
  return out;
}

Result<std::optional<Job>> JobService::claim(int64_t job_id, bool take_over_running) {
  const int64_t now = clock_.now_ms();
  auto n = take_over_running
               ? db_.exec("UPDATE scan_jobs SET status = 'running', started_at = $2, finished_at = NULL, "
                          "retry_count = CASE WHEN status = 'running' THEN retry_count + 1 ELSE retry_count END, "
                          "log_output = CASE WHEN status = 'running' THEN log_output || $3 ELSE log_output END "
                          "WHERE job_id = $1 AND status IN ('queued', 'running')",
                          {job_id, now,
                           "[" + format_rfc3339(now) + "] previous worker stopped responding; the job runs again\n"})
               : db_.exec("UPDATE scan_jobs SET status = 'running', started_at = $2, finished_at = NULL "
                          "WHERE job_id = $1 AND status = 'queued'",
                          {job_id, now});
  if (!n.ok()) return std::move(n).take_error();
  if (*n == 0) return std::optional<Job>{};
  auto job = get(job_id);
  if (!job.ok()) return std::move(job).take_error();
  return std::optional<Job>{std::move(*job)};
}

Status JobService::append_log(int64_t job_id, const std::string& message) {
  auto n = db_.exec("UPDATE scan_jobs SET log_output = log_output || $2 WHERE job_id = $1",
                    {job_id, "[" + format_rfc3339(clock_.now_ms()) + "] " + message + "\n"});
  if (!n.ok()) return std::move(n).take_error();
  return ok_status();
}

Status JobService::finish(int64_t job_id, bool ok, const std::optional<std::string>& error) {
  auto n = db_.exec("UPDATE scan_jobs SET status = $2, finished_at = $3, error = $4 WHERE job_id = $1",
                    {job_id, std::string(ok ? "done" : "failed"), clock_.now_ms(), opt(error)});
  if (!n.ok()) return std::move(n).take_error();
  return ok_status();
}

Status JobService::requeue(int64_t job_id, const std::string& error) {
  auto n = db_.exec("UPDATE scan_jobs SET status = 'queued', error = $2, started_at = NULL, "
                    "retry_count = retry_count + 1 WHERE job_id = $1",
                    {job_id, "retryable=true error=" + error});
  if (!n.ok()) return std::move(n).take_error();
  return ok_status();
}

Result<int64_t> JobService::recover() {
  auto n = db_.exec(
      "UPDATE scan_jobs SET status = 'queued', started_at = NULL, finished_at = NULL, retry_count = retry_count + 1, "
      "error = 'recovered_stale_running_job', log_output = log_output || $1 WHERE status = 'running'",
      {"[" + format_rfc3339(clock_.now_ms()) + "] recovered stale running job to queued\n"});
  if (!n.ok()) return std::move(n).take_error();
  auto queued = list(std::string("queued"), 100000);
  if (!queued.ok()) return std::move(queued).take_error();
  int64_t announced = 0;
  for (const auto& j : *queued) {
    if (auto a = announce(j, ""); a.ok()) ++announced;
  }
  return announced;
}

}  // namespace secplat::posture
