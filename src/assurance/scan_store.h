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

#include "assurance/scan_request.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/json.h"
#include "store/db.h"

namespace secplat::assurance {

inline constexpr const char* kQueued = "QUEUED";
inline constexpr const char* kRunning = "RUNNING";
inline constexpr const char* kSucceeded = "SUCCEEDED";
inline constexpr const char* kFailed = "FAILED";
inline constexpr const char* kCancelled = "CANCELLED";

std::vector<store::Migration> scan_migrations();

struct ScanRecord {
  std::string test_id;
  ScanRequest request;            // as validated; request.requested_by = the principal
  std::string status = kQueued;
  int64_t created_ms = 0;
  std::optional<int64_t> started_ms, completed_ms;
  Json artifacts = Json::object();   // key → relative path in the bundle
  Json warnings = Json::array();
  Json errors = Json::array();
  std::optional<std::string> manifest_digest;  // inline: known at submit; else set on success
  Json manifest_metadata;            // manifest-info.json object, or null
  Json source;                       // {type, uri, branch, resolved_commit, provenance_id, content_hash|archive_hash}
  Json tools = Json::array();        // per-tool outcome objects (summary.json "tools")
  Json policy;                       // policy-result.json object, or null
  std::string upload_status = "pending";
  // Publishing state (see BundlePublisher): request {tier, signer, requested_by, requested_at},
  // upload_permission_id, permit, verification_proof, remote_artifacts, oci, error, promotion.
  Json upload = Json::object();
  std::optional<std::string> idempotency_key;
  std::string request_fingerprint;   // sha256 of the canonical request (idempotency comparison)
  std::optional<std::string> retry_of;
};

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

// The terminal facts a worker records.
struct ScanResult {
  std::string status;  // SUCCEEDED or FAILED
  Json artifacts = Json::object();
  Json warnings = Json::array();
  Json errors = Json::array();
  std::optional<std::string> manifest_digest;
  Json manifest_metadata;
  Json source;
  Json tools = Json::array();
  Json policy;
};

struct StoredEvent {
  int64_t seq = 0;
  std::string type;
  std::string json;  // the whole event object as sent to subscribers
};

class ScanStore {
 public:
  ScanStore(store::Db& db, const Clock& clock) : db_(db), clock_(clock) {}

  // Errc::conflict when the idempotency key is taken.
  Status insert(const ScanRecord& rec);
  Result<std::optional<ScanRecord>> get(const std::string& test_id);
  Result<std::optional<ScanRecord>> find_by_idempotency_key(const std::string& key);
  Result<ScanPage> list(const ScanFilter& filter);

  // QUEUED → RUNNING (started_at = now). False if the scan is not QUEUED any more.
  Result<bool> mark_running(const std::string& test_id);

  // A worker takes a scan to run it, holding a lease it renews while it runs:
  //   started  — QUEUED → RUNNING, leased to `owner`;
  //   resumed  — RUNNING, but its lease had expired (the worker running it died or stalled): now
  //              leased to `owner`, who runs it again from the start;
  //   busy     — RUNNING under a live lease (someone else is running it);
  //   finished — final (or unknown): nothing to run.
  enum class Claim { started, resumed, busy, finished };
  Result<Claim> claim(const std::string& test_id, const std::string& owner, int64_t lease_ms);
  // Extends `owner`'s lease; false when it is not theirs any more (cancelled, finished, taken over).
  Result<bool> renew_lease(const std::string& test_id, const std::string& owner, int64_t lease_ms);

  // RUNNING → result.status (and only while `owner`, when given, holds the lease). False if the
  // scan is not RUNNING (it was cancelled meanwhile) or not `owner`'s any more.
  Result<bool> finish(const std::string& test_id, const ScanResult& result,
                      const std::optional<std::string>& owner = std::nullopt);
  // QUEUED|RUNNING → CANCELLED; returns the previous status, or nullopt if it was already final
  // (or unknown).
  Result<std::optional<std::string>> cancel(const std::string& test_id);
  // The scan's queue message was dead-lettered, so nothing will run it again: QUEUED, or RUNNING
  // with no live lease → FAILED with `error`. False when it was final, unknown, or RUNNING under a
  // live lease (a worker is running it and will finish it).
  Result<bool> fail_undeliverable(const std::string& test_id, const std::string& error);
  // Start-up recovery: every RUNNING scan → FAILED with error "interrupted". Returns their ids.
  Result<std::vector<std::string>> fail_interrupted();
  // Status string of one scan (cheap poll for cancellation), nullopt if unknown.
  Result<std::optional<std::string>> status_of(const std::string& test_id);

  // Publishing: pending|denied|trust_unavailable|upload_failed → requested, only for a SUCCEEDED
  // scan. False when the scan is not SUCCEEDED or an upload is already requested, running or done.
  Result<bool> begin_upload(const std::string& test_id, const Json& upload);
  // upload_status from → to with the new upload state; false when it was not `from` any more.
  Result<bool> set_upload(const std::string& test_id, const std::string& from, const std::string& to, const Json& upload);

  // Counts by status (lower-case keys) and by upload_status.
  // Scan and upload counts, within `workspaces` (the caller's grants; nullopt = all).
  Result<Json> counts(const std::optional<std::vector<std::string>>& workspaces = std::nullopt);

  Status append_event(const std::string& test_id, int64_t seq, const std::string& type, int64_t ts_ms,
                      const std::string& json);
  Result<std::vector<StoredEvent>> events_after(const std::string& test_id, int64_t after_seq);
  Result<int64_t> last_seq(const std::string& test_id);  // 0 when none
  Result<std::optional<StoredEvent>> last_event(const std::string& test_id);  // seq and type only

 private:
  store::Db& db_;
  const Clock& clock_;
};

// "test_" + 12 lowercase hex.
std::string new_test_id();

}  // namespace secplat::assurance
