// Executes posture scan jobs for the worker role (messages on `secplat.jobs.scan` that carry a
// `job_id`; assurance scans carry a `test_id` and go to the scan pipeline).
//
// web_exposure / tls_headers / health_http run the active web checks (scanners/web) against the
// asset's URL — for an external_web asset only once its domain is verified, and always through the
// SSRF guard — and reconcile the results as findings of that source on the asset (deterministic
// keys: a re-run updates, a finding that is gone is remediated). score_recompute re-scores findings.
// Log lines are appended to the job as they happen.
//
// Everything the runner reads and writes goes through a JobLedger (job_ledger.h): the store's
// (SqlJobLedger) or, in a worker without database credentials, the API's (HttpJobLedger). A
// ledger that cannot answer (Errc::unavailable) puts the message back for another attempt.
//
// Metrics (when JobRunnerOptions::metrics is set): secplat_job_duration_seconds{type,outcome} for
// every job that ends here (outcome succeeded or failed; a retried attempt is not an end).
//
// Threading: handle() may run on several worker threads at once (claims are atomic).
#pragma once

#include <map>
#include <string>
#include <utility>

#include "core/metrics.h"
#include "core/net_guard.h"
#include "posture/asset_repo.h"
#include "posture/job_ledger.h"
#include "posture/jobs.h"
#include "queue/queue.h"

namespace secplat::posture {

struct JobRunnerOptions {
  NetPolicy net;
  int timeout_ms = 8000;
  int max_attempts = 5;  // deliveries of one message; the last failed attempt fails the job
  Metrics* metrics = nullptr;  // must outlive the runner; null = no metrics
};

class JobRunner {
 public:
  // ledger must outlive the runner.
  JobRunner(JobLedger& ledger, JobRunnerOptions options);

  enum class Outcome { ack, retry, dead_letter };
  struct Handled {
    Outcome outcome = Outcome::ack;
    std::string error;
  };
  Handled handle(const queue::Message& message);

  // The URL a web job checks for this asset (external_web: https://<name>; else the probe URL's
  // origin or the address). Errc::validation when there is none.
  static Result<std::string> target_url(const Asset& asset, const std::string& job_type);

 private:
  Handled run(const Job& job, int attempts);
  void observe(const std::string& job_type, bool ok, double seconds);

  JobLedger& ledger_;
  JobRunnerOptions opt_;
  // (job type, succeeded) → series, filled for every known type at construction (read-only after).
  std::map<std::pair<std::string, bool>, Histogram*> durations_;
};

}  // namespace secplat::posture
