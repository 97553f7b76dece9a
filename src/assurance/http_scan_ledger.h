// HttpScanLedger: the ScanLedger of a worker process without database credentials. Each operation
// is one POST to the API's /internal/scans/<op> with a service API key (worker.api_url,
// worker.api_key; the wire format is scan_ledger_wire.h). A transport failure or a 5xx is
// Errc::unavailable, which the worker treats like a store failure: the queue message is retried
// (and the lease, if the API stays away, expires and another worker takes the scan over).
//
// Also the remote form of the pipeline's SARIF import (findings of a repository scan):
// sarif_importer() posts to /internal/scans/import-sarif.
//
// fail_interrupted() is refused (Errc::forbidden): only the single process recovers scans; role
// workers hand them over through leases.
//
// Threading: thread-safe.
#pragma once

#include <string>

#include "assurance/pipeline.h"
#include "assurance/scan_ledger.h"
#include "http/service_client.h"

namespace secplat::assurance {

class HttpScanLedger final : public ScanLedger {
 public:
  HttpScanLedger(std::string api_url, std::string api_key, long timeout_ms = 30000);

  Result<std::optional<ScanRecord>> get(const std::string& test_id) override;
  Result<Claim> claim(const std::string& test_id, const std::string& owner, int64_t lease_ms) override;
  Result<bool> renew_lease(const std::string& test_id, const std::string& owner, int64_t lease_ms) override;
  Result<bool> finish(const std::string& test_id, const ScanResult& result,
                      const std::optional<std::string>& owner = std::nullopt) override;
  Result<bool> fail_undeliverable(const std::string& test_id, const std::string& error) override;
  Result<std::vector<std::string>> fail_interrupted() override;
  Result<std::optional<std::string>> status_of(const std::string& test_id) override;
  Result<bool> set_upload(const std::string& test_id, const std::string& from, const std::string& to,
                          const Json& upload) override;
  Status append_event(const std::string& test_id, int64_t seq, const std::string& type, int64_t ts_ms,
                      const std::string& json) override;
  Result<std::vector<StoredEvent>> events_after(const std::string& test_id, int64_t after_seq) override;
  Result<std::optional<StoredEvent>> last_event(const std::string& test_id) override;

  // Imports a scan's SARIF through the API (the API ensures the component's asset and records the
  // findings as the scan's).
  SarifImporter sarif_importer() const;

 private:
  Result<Json> op(const char* name, const Json& body) const;
  http::ServiceClient client_;
};

}  // namespace secplat::assurance
