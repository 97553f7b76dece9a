#include "posture/sql_job_ledger.h"

#include "posture/job_runner.h"

namespace secplat::posture {

Result<std::optional<Job>> SqlJobLedger::claim(int64_t job_id, bool take_over_running) {
  auto claimed = jobs_.claim(job_id, take_over_running);
  if (!claimed.ok() || claimed->has_value()) return claimed;
  // Not queued: tell a job that is gone (not_found) from one that is done or running elsewhere.
  auto job = jobs_.get(job_id);
  if (!job.ok()) return std::move(job).take_error();
  return std::optional<Job>();
}

Status SqlJobLedger::append_log(int64_t job_id, const std::string& line) { return jobs_.append_log(job_id, line); }

Status SqlJobLedger::finish(int64_t job_id, bool ok, const std::optional<std::string>& error) {
  return jobs_.finish(job_id, ok, error);
}

Status SqlJobLedger::requeue(int64_t job_id, const std::string& error) { return jobs_.requeue(job_id, error); }

Result<int64_t> SqlJobLedger::recompute_risk(std::optional<int64_t> asset_id) {
  if (asset_id) {
    SECPLAT_TRY(findings_.recompute_risk_for_asset(*asset_id));
    return int64_t{1};
  }
  AssetFilter all;
  all.limit = 1000000;
  auto page = assets_.list(all);
  if (!page.ok()) return std::move(page).take_error();
  int64_t done = 0;
  for (const auto& a : page->items) {
    SECPLAT_TRY(findings_.recompute_risk_for_asset(a.asset_id));
    ++done;
  }
  return done;
}

Result<JobTarget> SqlJobLedger::target(const std::string& asset_key, const std::string& job_type) {
  JobTarget t;
  auto asset = assets_.get_by_key(asset_key);
  if (!asset.ok()) {
    if (asset.error().code != Errc::not_found) return std::move(asset).take_error();
    t.refused = "Asset not found";
    return t;
  }
  if (asset->type == "external_web" && !asset->verified) {
    t.refused = "Domain not verified";
    return t;
  }
  auto url = JobRunner::target_url(*asset, job_type);
  if (!url.ok()) {
    t.refused = url.error().fields.empty() ? url.error().message : url.error().fields.front().msg;
    return t;
  }
  t.asset_key = asset->asset_key;
  t.url = std::move(*url);
  // A health check honours the asset's own probe timeout (what "healthy" means for it).
  if (job_type == "health_http" && asset->probe) t.timeout_ms = asset->probe->timeout_ms;
  return t;
}

Result<findings::SarifImportResult> SqlJobLedger::reconcile(const std::string& asset_key, const std::string& source,
                                                            std::vector<findings::FindingInput> items,
                                                            const std::string& actor_id,
                                                            const std::string& audit_action,
                                                            const std::vector<std::string>& undecided) {
  return findings_.reconcile(asset_key, source, std::move(items), auth::Actor{actor_id, ""}, audit_action,
                             undecided);
}

}  // namespace secplat::posture
