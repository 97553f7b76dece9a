// Scan jobs (`/jobs`, reference §5 and §8.7): web_exposure, tls_headers, health_http against an
// asset, and score_recompute. A job is a row in `scan_jobs` (queued → running → done | failed)
// announced on `secplat.jobs.scan`; a worker claims it, appends log lines as it goes and finishes it.
//
// Fixes to the reference: POST is 201 (200 with the existing job for a repeat of
// {job_type}+{asset_key}+{hour bucket}); requested_by is the caller, never a body field; unknown
// job types are 422; a job whose message was lost is re-announced by recover().
//
// Threading: safe to share; state lives in the Db.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "posture/asset_repo.h"
#include "queue/queue.h"
#include "store/db.h"

namespace secplat::posture {

bool is_valid_job_type(const std::string& job_type);  // web_exposure, tls_headers, health_http, score_recompute
bool job_needs_asset(const std::string& job_type);    // every type but score_recompute

struct Job {
  int64_t job_id = 0;
  std::string job_type;
  std::optional<int64_t> target_asset_id;
  std::optional<std::string> asset_key;
  std::string requested_by;
  std::string status = "queued";
  int64_t created_ms = 0;
  std::optional<int64_t> started_ms, finished_ms;
  std::optional<std::string> error;
  std::string log_output;
  int64_t retry_count = 0;
  std::string params_json = "{}";
  std::optional<std::string> idempotency_key;
  // Joined from the asset (absent when the asset is gone).
  std::optional<std::string> asset_name, asset_type, asset_environment, asset_criticality;
  bool asset_verified = false;
};

struct JobRequest {
  std::string job_type;
  std::optional<int64_t> target_asset_id;
  std::optional<std::string> asset_key;  // alternative to target_asset_id
  std::string params_json = "{}";
};

struct JobCreated {
  Job job;
  bool created = false;  // false: the idempotency key matched an existing job
};

struct JobStats {
  int64_t total = 0, queued = 0, running = 0, stale_running = 0, done = 0, failed = 0, completed = 0, retried = 0;
  double success_rate_pct = 0, failure_rate_pct = 0;
  std::optional<double> oldest_queued_minutes, avg_duration_s, p95_duration_s, max_duration_s;
};

struct JobAnalytics {
  JobStats totals;
  std::vector<std::pair<std::string, JobStats>> by_job_type;
};

class JobService {
 public:
  using AuditHook = std::function<Status(store::Tx&, const Job&)>;

  JobService(store::Db& db, queue::Queue& queue, const Clock& clock) : db_(db), queue_(queue), clock_(clock) {}

  Result<JobCreated> create(const JobRequest& req, const std::string& requested_by, const std::string& request_id,
                            const AuditHook& audit = {});
  Result<std::vector<Job>> list(const std::optional<std::string>& status, int64_t limit);
  Result<Job> get(int64_t job_id);  // not_found "Job not found"
  // failed/done → queued (log and error cleared, retry_count+1), re-announced. Else 400.
  Result<Job> retry(int64_t job_id, const std::string& request_id, const AuditHook& audit = {});
  Result<JobAnalytics> analytics(int64_t lookback_hours, int64_t stale_minutes,
                                 const std::optional<std::string>& job_type);

  // Worker side.
  // queued → running; nullopt if not queued. With take_over_running a running job is claimed too
  // (its message came back: the worker running it stopped touching it, so it died or stalled), with
  // a log line saying so and retry_count + 1.
  Result<std::optional<Job>> claim(int64_t job_id, bool take_over_running = false);
  Status append_log(int64_t job_id, const std::string& message);  // "[<RFC 3339>] message\n"
  Status finish(int64_t job_id, bool ok, const std::optional<std::string>& error);
  Status requeue(int64_t job_id, const std::string& error);  // retryable failure: back to queued, retry_count+1
  // At start-up of the only worker process: running jobs (their worker died) go back to queued,
  // and every queued job is announced again. Returns how many were re-announced.
  Result<int64_t> recover();

 private:
  Status announce(const Job& job, const std::string& request_id);

  store::Db& db_;
  queue::Queue& queue_;
  const Clock& clock_;
};

}  // namespace secplat::posture
