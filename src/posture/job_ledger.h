// JobLedger: what a posture scan-job worker (JobRunner) reads and writes — the job row, the asset
// it targets and that asset's findings — behind a port, so a worker process can run without
// database credentials.
//
// Adapters: SqlJobLedger (sql_job_ledger.h, on JobService, AssetRepo and FindingsService; `serve`,
// the API and a worker with the store) and HttpJobLedger (http_job_ledger.h, the API's
// /internal/jobs/... routes with a service API key). Both pass tests/posture/job_runner_test.cpp,
// which runs the job runner over each.
//
// Every operation is one atomic step (a claim is one conditional UPDATE, a reconcile one
// transaction), so any number of workers may share one ledger. Errors are infrastructure failures
// only (Errc::unavailable when worth retrying); what a job is refused for travels as a value.
//
// Threading: implementations are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "findings/findings_service.h"
#include "posture/jobs.h"

namespace secplat::posture {

// Where a web job (web_exposure, tls_headers, health_http) points, or why it may not run.
struct JobTarget {
  std::string asset_key;
  std::string url;                  // what the checks request (JobRunner::target_url)
  std::optional<int> timeout_ms;    // the asset's probe timeout, for health_http only
  // Non-empty: the job fails with this text ("Asset not found", "Domain not verified", or why the
  // asset has no URL to scan); asset_key and url are then empty.
  std::string refused;
};

class JobLedger {
 public:
  virtual ~JobLedger() = default;

  // queued → running; the job as claimed. nullopt when the job is not queued (done, failed, or
  // running elsewhere); Errc::not_found when there is no such job. With take_over_running a running
  // job is claimed too (JobService::claim: its worker stopped touching the message).
  virtual Result<std::optional<Job>> claim(int64_t job_id, bool take_over_running) = 0;
  // Appends "[<RFC 3339>] line\n" to the job's log.
  virtual Status append_log(int64_t job_id, const std::string& line) = 0;
  // running → done (ok) or failed with `error`.
  virtual Status finish(int64_t job_id, bool ok, const std::optional<std::string>& error) = 0;
  // A retryable failure: back to queued, retry_count + 1, `error` kept.
  virtual Status requeue(int64_t job_id, const std::string& error) = 0;

  // Re-scores the findings of one asset, or of every asset when asset_id is nullopt; returns how
  // many assets were done.
  virtual Result<int64_t> recompute_risk(std::optional<int64_t> asset_id) = 0;

  // The URL a web job of `job_type` checks on the asset, or why it is refused (unknown asset, an
  // external_web domain not verified yet, no URL).
  virtual Result<JobTarget> target(const std::string& asset_key, const std::string& job_type) = 0;

  // FindingsService::reconcile for the job's findings of `source` on the asset, audited as
  // `audit_action` by actor `actor_id` ("job:<id>").
  virtual Result<findings::SarifImportResult> reconcile(const std::string& asset_key, const std::string& source,
                                                        std::vector<findings::FindingInput> items,
                                                        const std::string& actor_id, const std::string& audit_action,
                                                        const std::vector<std::string>& undecided) = 0;
};

}  // namespace secplat::posture
