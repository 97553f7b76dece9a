#include "posture/job_runner.h"

#include <charconv>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "scanners/web/web_checks.h"

namespace secplat::posture {
namespace {

// scheme://host[:port] of a URL, or "" when it has none.
std::string origin_of(const std::string& url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return "";
  auto path = url.find_first_of("/?#", scheme_end + 3);
  return url.substr(0, path);
}

constexpr const char* kDurationHelp = "Duration of jobs that ended, by job type and outcome";
const std::vector<double>& job_buckets() {
  static const std::vector<double> b{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800};
  return b;
}

}  // namespace

JobRunner::JobRunner(JobLedger& ledger, JobRunnerOptions options) : ledger_(ledger), opt_(options) {
  if (!opt_.metrics) return;
  for (const char* type : {"web_exposure", "tls_headers", "health_http", "score_recompute"})
    for (bool ok : {true, false})
      durations_[{type, ok}] = &opt_.metrics->histogram("secplat_job_duration_seconds", kDurationHelp, job_buckets(),
                                                        {{"type", type}, {"outcome", ok ? "succeeded" : "failed"}});
}

void JobRunner::observe(const std::string& job_type, bool ok, double seconds) {
  if (!opt_.metrics) return;
  auto it = durations_.find({job_type, ok});
  Histogram& h = it != durations_.end()
                     ? *it->second
                     : opt_.metrics->histogram("secplat_job_duration_seconds", kDurationHelp, job_buckets(),
                                               {{"type", job_type}, {"outcome", ok ? "succeeded" : "failed"}});
  h.observe(seconds);
}

Result<std::string> JobRunner::target_url(const Asset& a, const std::string& job_type) {
  if (a.type == "external_web") return "https://" + a.name;
  if (a.probe && !a.probe->url.empty()) return job_type == "health_http" ? a.probe->url : origin_of(a.probe->url);
  if (a.address && !a.address->empty()) {
    std::string base = a.address->find("://") == std::string::npos ? "https://" + *a.address : *a.address;
    if (a.port && base.find(':', base.find("://") + 3) == std::string::npos) base += ":" + std::to_string(*a.port);
    return job_type == "health_http" ? base : origin_of(base);
  }
  return Error::invalid({"asset", "address"}, "Asset has no URL to scan (set probe.url or address)");
}

JobRunner::Handled JobRunner::handle(const queue::Message& m) {
  auto it = m.fields.find("job_id");
  if (it == m.fields.end()) return {Outcome::dead_letter, "missing_job_id"};
  int64_t id = 0;
  auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), id);
  if (ec != std::errc() || p != it->second.data() + it->second.size() || id <= 0)
    return {Outcome::dead_letter, "invalid_job_id"};
  // A message delivered again while its job is running: the worker that had it stopped touching
  // it (killed or stalled past the visibility timeout), so this one takes the job over.
  auto claimed = ledger_.claim(id, m.attempts > 1);
  if (!claimed.ok()) {
    if (claimed.error().code == Errc::not_found) return {Outcome::dead_letter, "job_not_found"};
    return {Outcome::retry, claimed.error().message};
  }
  // Not queued: done/failed (a duplicate message) or, on a first delivery, running elsewhere.
  if (!*claimed) return {Outcome::ack, ""};
  return run(**claimed, m.attempts);
}

JobRunner::Handled JobRunner::run(const Job& job, int attempts) {
  const int64_t id = job.job_id;
  const int64_t t0 = steady_ms();
  // The job's end. If the ledger cannot record it (the API or the store down at that instant), the
  // message is retried rather than acked: its redelivery takes the still-running job over and runs
  // it again, instead of leaving it `running` for ever.
  auto finish = [&](bool ok, const std::optional<std::string>& error) -> Handled {
    observe(job.job_type, ok, static_cast<double>(steady_ms() - t0) / 1000.0);
    if (auto s = ledger_.finish(id, ok, error); !s.ok()) {
      log::warn("job end not recorded", {log::integer("job_id", id), log::str("error", s.error().message)});
      return {Outcome::retry, "job end not recorded: " + s.error().message};
    }
    return {Outcome::ack, ""};
  };
  auto log_line = [&](const std::string& line) {
    if (auto s = ledger_.append_log(id, line); !s.ok())
      log::warn("job log append failed", {log::integer("job_id", id), log::str("error", s.error().message)});
  };
  auto fail = [&](const std::string& error) -> Handled {
    log_line("Failed: " + error);
    return finish(false, "retryable=false error=" + error);
  };
  // The ledger could not answer: while attempts remain the job goes back to queued and the message
  // is retried (a worker on the API's ledger rides out an API restart); else the job fails.
  auto ledger_failed = [&](const Error& e, const std::string& failure) -> Handled {
    if (e.code == Errc::unavailable && attempts < opt_.max_attempts) {
      (void)ledger_.requeue(id, e.message);
      return {Outcome::retry, e.message};
    }
    return fail(failure);
  };
  log_line("Worker dispatch job_type=" + job.job_type + " attempt=" + std::to_string(attempts));

  if (job.job_type == "score_recompute") {
    auto assets_done = ledger_.recompute_risk(job.target_asset_id);
    if (!assets_done.ok()) return ledger_failed(assets_done.error(), assets_done.error().message);
    log_line("Recomputed risk for " + std::to_string(*assets_done) + " asset(s)");
    log_line("Done");
    return finish(true, std::nullopt);
  }

  if (!job.asset_key) return fail("Asset not found");
  auto target = ledger_.target(*job.asset_key, job.job_type);
  if (!target.ok()) return ledger_failed(target.error(), target.error().message);
  if (!target->refused.empty()) return fail(target->refused);
  const std::string& asset_key = target->asset_key;
  const std::string& url = target->url;

  scanners::web::CheckOptions co;
  co.net = opt_.net;
  co.timeout_ms = target->timeout_ms.value_or(opt_.timeout_ms);
  log_line("Scanning " + url + " ...");
  scanners::web::CheckResult r;
  if (job.job_type == "web_exposure") r = scanners::web::web_exposure(asset_key, url, co);
  else if (job.job_type == "tls_headers") r = scanners::web::tls_headers(asset_key, url, co);
  else r = scanners::web::health_http(asset_key, url, co);
  for (const auto& line : r.log) log_line(line);
  if (!r.error.empty() && r.findings.empty()) {
    if (r.retryable && attempts < opt_.max_attempts) {
      log_line("Retrying after error (" + r.error + "); attempt=" + std::to_string(attempts));
      (void)ledger_.requeue(id, r.error);
      return {Outcome::retry, r.error};
    }
    return fail(r.error);
  }

  std::vector<findings::FindingInput> items;
  for (const auto& f : r.findings) {
    findings::FindingInput in;
    in.finding_key = f.finding_key;
    in.title = f.title;
    in.category = f.category;
    in.severity = f.severity;
    in.confidence = f.confidence;
    in.evidence = f.evidence;
    in.remediation = f.remediation;
    items.push_back(std::move(in));
    log_line("Finding: " + f.title + " (" + f.severity + ")");
  }
  auto rec = ledger_.reconcile(asset_key, job.job_type, std::move(items), "job:" + std::to_string(id),
                               "finding.scan_job", r.inconclusive_keys);
  if (!rec.ok()) return ledger_failed(rec.error(), "findings not stored: " + rec.error().message);
  log_line("Findings: " + std::to_string(rec->created) + " new, " + std::to_string(rec->updated + rec->unchanged) +
           " still present, " + std::to_string(rec->remediated) + " remediated");
  log_line("Done");
  return finish(true, std::nullopt);
}

}  // namespace secplat::posture
