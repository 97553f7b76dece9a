// SqlJobLedger: the JobLedger on the store, through the services that own the tables (JobService:
// `scan_jobs`; AssetRepo: `assets`; FindingsService: `findings`).
// Threading: thread-safe (the services are).
#pragma once

#include "findings/findings_service.h"
#include "posture/asset_repo.h"
#include "posture/job_ledger.h"
#include "posture/jobs.h"

namespace secplat::posture {

class SqlJobLedger final : public JobLedger {
 public:
  // The services must outlive the ledger.
  SqlJobLedger(JobService& jobs, AssetRepo& assets, findings::FindingsService& findings)
      : jobs_(jobs), assets_(assets), findings_(findings) {}

  Result<std::optional<Job>> claim(int64_t job_id, bool take_over_running) override;
  Status append_log(int64_t job_id, const std::string& line) override;
  Status finish(int64_t job_id, bool ok, const std::optional<std::string>& error) override;
  Status requeue(int64_t job_id, const std::string& error) override;
  Result<int64_t> recompute_risk(std::optional<int64_t> asset_id) override;
  Result<JobTarget> target(const std::string& asset_key, const std::string& job_type) override;
  Result<findings::SarifImportResult> reconcile(const std::string& asset_key, const std::string& source,
                                                std::vector<findings::FindingInput> items,
                                                const std::string& actor_id, const std::string& audit_action,
                                                const std::vector<std::string>& undecided) override;

 private:
  JobService& jobs_;
  AssetRepo& assets_;
  findings::FindingsService& findings_;
};

}  // namespace secplat::posture
