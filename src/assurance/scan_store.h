// Persistent scan jobs and their event logs (tables `scans`, `scan_events`; migrations 400..499).
//
// State machine: QUEUED → RUNNING → SUCCEEDED | FAILED, and QUEUED|RUNNING → CANCELLED. Every
// transition is one conditional UPDATE, so exactly one actor wins a race (a worker finishing vs. a
// cancel); the winner is the one that appends `scan_complete` to the event log.
//
// Threading: thread-safe (state lives in the Db).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "assurance/scan_ledger.h"
#include "assurance/scan_request.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/json.h"
#include "store/db.h"

namespace secplat::assurance {

std::vector<store::Migration> scan_migrations();

struct ScanFilter {
  std::optional<std::string> workspace_id, component_id, status;
  std::optional<std::vector<std::string>> workspaces;  // only these (the caller's grants); nullopt = all
  int64_t limit = 50;
  int64_t offset = 0;
};

struct ScanPage {
  std::vector<ScanRecord> items;  // newest first
  int64_t total = 0;
};

// The SQL adapter of ScanLedger, and the rest of the scan records the API needs (submit, list,
// cancel, counts, publishing requests).
class ScanStore final : public ScanLedger {
 public:
  ScanStore(store::Db& db, const Clock& clock) : db_(db), clock_(clock) {}

  // Errc::conflict when the idempotency key is taken.
  Status insert(const ScanRecord& rec);
  Result<std::optional<ScanRecord>> get(const std::string& test_id) override;
  Result<std::optional<ScanRecord>> find_by_idempotency_key(const std::string& key);
  Result<ScanPage> list(const ScanFilter& filter);

  // QUEUED → RUNNING (started_at = now). False if the scan is not QUEUED any more.
  Result<bool> mark_running(const std::string& test_id);

  Result<Claim> claim(const std::string& test_id, const std::string& owner, int64_t lease_ms) override;
  Result<bool> renew_lease(const std::string& test_id, const std::string& owner, int64_t lease_ms) override;
  Result<bool> finish(const std::string& test_id, const ScanResult& result,
                      const std::optional<std::string>& owner = std::nullopt) override;
  // QUEUED|RUNNING → CANCELLED; returns the previous status, or nullopt if it was already final
  // (or unknown).
  Result<std::optional<std::string>> cancel(const std::string& test_id);
  Result<bool> fail_undeliverable(const std::string& test_id, const std::string& error) override;
  Result<std::vector<std::string>> fail_interrupted() override;
  Result<std::optional<std::string>> status_of(const std::string& test_id) override;

  // Publishing: pending|denied|trust_unavailable|upload_failed → requested, only for a SUCCEEDED
  // scan. False when the scan is not SUCCEEDED or an upload is already requested, running or done.
  Result<bool> begin_upload(const std::string& test_id, const Json& upload);
  Result<bool> set_upload(const std::string& test_id, const std::string& from, const std::string& to,
                          const Json& upload) override;

  // Scan and upload counts by status (lower-case keys) and by upload_status, within `workspaces`
  // (the caller's grants; nullopt = all).
  Result<Json> counts(const std::optional<std::vector<std::string>>& workspaces = std::nullopt);

  Status append_event(const std::string& test_id, int64_t seq, const std::string& type, int64_t ts_ms,
                      const std::string& json) override;
  Result<std::vector<StoredEvent>> events_after(const std::string& test_id, int64_t after_seq) override;
  Result<int64_t> last_seq(const std::string& test_id);  // 0 when none
  Result<std::optional<StoredEvent>> last_event(const std::string& test_id) override;

 private:
  store::Db& db_;
  const Clock& clock_;
};

// "test_" + 12 lowercase hex.
std::string new_test_id();

}  // namespace secplat::assurance
