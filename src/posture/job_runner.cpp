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

JobRunner::JobRunner(JobService& jobs, AssetRepo& assets, findings::FindingsService& findings,
                     JobRunnerOptions options)
    : jobs_(jobs), assets_(assets), findings_(findings), opt_(options) {
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
  auto claimed = jobs_.claim(id);
  if (!claimed.ok()) return {Outcome::retry, claimed.error().message};
  if (!*claimed) {
    // Not queued: done/failed (a duplicate message), running elsewhere, or gone. Nothing to do.
    auto job = jobs_.get(id);
    if (!job.ok() && job.error().code == Errc::not_found) return {Outcome::dead_letter, "job_not_found"};
    return {Outcome::ack, ""};
  }
  return run(**claimed, m.attempts);
}

JobRunner::Handled JobRunner::run(const Job& job, int attempts) {
  const int64_t id = job.job_id;
  const int64_t t0 = steady_ms();
  auto finish = [&](bool ok, const std::optional<std::string>& error) {
    (void)jobs_.finish(id, ok, error);
    observe(job.job_type, ok, static_cast<double>(steady_ms() - t0) / 1000.0);
  };
  auto log_line = [&](const std::string& line) {
    if (auto s = jobs_.append_log(id, line); !s.ok())
      log::warn("job log append failed", {log::integer("job_id", id), log::str("error", s.error().message)});
  };
  auto fail = [&](const std::string& error) -> Handled {
    log_line("Failed: " + error);
    finish(false, "retryable=false error=" + error);
    return {Outcome::ack, ""};
  };
  log_line("Worker dispatch job_type=" + job.job_type + " attempt=" + std::to_string(attempts));

  if (job.job_type == "score_recompute") {
    int64_t assets_done = 0;
    if (job.target_asset_id) {
      if (auto s = findings_.recompute_risk_for_asset(*job.target_asset_id); !s.ok()) return fail(s.error().message);
      assets_done = 1;
    } else {
      AssetFilter all;
      all.limit = 1000000;
      auto page = assets_.list(all);
      if (!page.ok()) return fail(page.error().message);
      for (const auto& a : page->items) {
        if (auto s = findings_.recompute_risk_for_asset(a.asset_id); !s.ok()) return fail(s.error().message);
        ++assets_done;
      }
    }
    log_line("Recomputed risk for " + std::to_string(assets_done) + " asset(s)");
    finish(true, std::nullopt);
    log_line("Done");
    return {Outcome::ack, ""};
  }

  if (!job.asset_key) return fail("Asset not found");
  auto asset = assets_.get_by_key(*job.asset_key);
  if (!asset.ok()) return fail("Asset not found");
  if (asset->type == "external_web" && !asset->verified) return fail("Domain not verified");
  auto url = target_url(*asset, job.job_type);
  if (!url.ok()) return fail(url.error().fields.empty() ? url.error().message : url.error().fields.front().msg);

  scanners::web::CheckOptions co;
  co.net = opt_.net;
  // A health check honours the asset's own probe timeout (what "healthy" means for it).
  co.timeout_ms = job.job_type == "health_http" && asset->probe ? asset->probe->timeout_ms : opt_.timeout_ms;
  log_line("Scanning " + *url + " ...");
  scanners::web::CheckResult r;
  if (job.job_type == "web_exposure") r = scanners::web::web_exposure(asset->asset_key, *url, co);
  else if (job.job_type == "tls_headers") r = scanners::web::tls_headers(asset->asset_key, *url, co);
  else r = scanners::web::health_http(asset->asset_key, *url, co);
  for (const auto& line : r.log) log_line(line);
  if (!r.error.empty() && r.findings.empty()) {
    if (r.retryable && attempts < opt_.max_attempts) {
      log_line("Retrying after error (" + r.error + "); attempt=" + std::to_string(attempts));
      (void)jobs_.requeue(id, r.error);
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
  auto rec = findings_.reconcile(asset->asset_key, job.job_type, std::move(items),
                                 auth::Actor{"job:" + std::to_string(id), ""}, "finding.scan_job",
                                 r.inconclusive_keys);
  if (!rec.ok()) {
    if (attempts < opt_.max_attempts && rec.error().code == Errc::unavailable) {
      (void)jobs_.requeue(id, rec.error().message);
      return {Outcome::retry, rec.error().message};
    }
    return fail("findings not stored: " + rec.error().message);
  }
  log_line("Findings: " + std::to_string(rec->created) + " new, " + std::to_string(rec->updated + rec->unchanged) +
           " still present, " + std::to_string(rec->remediated) + " remediated");
  finish(true, std::nullopt);
  log_line("Done");
  return {Outcome::ack, ""};
}

}  // namespace secplat::posture
