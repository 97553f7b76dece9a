// HttpJobLedger: the JobLedger of a scan-job worker without database credentials. Each operation
// is one POST to the API's /internal/jobs/<op> with a service API key (the wire format is
// job_ledger_wire.h). A transport failure or a 5xx is Errc::unavailable, which JobRunner treats
// like a store failure: the job goes back to queued and its message is tried again. A claim for a
// job the API does not know is Errc::not_found (the answer says so); an API without the route is
// Errc::unavailable, never mistaken for it.
//
// Threading: thread-safe.
#pragma once

#include <string>

#include "http/service_client.h"
#include "posture/job_ledger.h"

namespace secplat::posture {

class HttpJobLedger final : public JobLedger {
 public:
  HttpJobLedger(std::string api_url, std::string api_key, long timeout_ms = 10000);

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
  Result<Json> op(const char* name, const Json& body);
  http::ServiceClient client_;
};

}  // namespace secplat::posture
