// ScanLedger: the port through which the scan side of a worker (ScanPipeline, ScanWorker, the
// worker's ScanEventLog, BundlePublisher) reads and writes the state of a scan. Each operation is
// one atomic step on the store, so it can run in-process (ScanStore, the SQL adapter) or across
// the network (HttpScanLedger: a worker process without database credentials calls the API's
// /internal/scans routes with a service API key).
//
// The state machine and its guarantees are ScanStore's (scan_store.h): every transition is one
// conditional update, so exactly one actor wins a race; leases decide which worker runs a scan.
//
// Threading: implementations are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "assurance/scan_request.h"
#include "core/error.h"
#include "core/json.h"

namespace secplat::assurance {

inline constexpr const char* kQueued = "QUEUED";
inline constexpr const char* kRunning = "RUNNING";
inline constexpr const char* kSucceeded = "SUCCEEDED";
inline constexpr const char* kFailed = "FAILED";
inline constexpr const char* kCancelled = "CANCELLED";

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

class ScanLedger {
 public:
  virtual ~ScanLedger() = default;

  virtual Result<std::optional<ScanRecord>> get(const std::string& test_id) = 0;

  // A worker takes a scan to run it, holding a lease it renews while it runs:
  //   started  — QUEUED → RUNNING, leased to `owner`;
  //   resumed  — RUNNING, but its lease had expired (the worker running it died or stalled): now
  //              leased to `owner`, who runs it again from the start;
  //   busy     — RUNNING under a live lease (someone else is running it);
  //   finished — final (or unknown): nothing to run.
  enum class Claim { started, resumed, busy, finished };
  virtual Result<Claim> claim(const std::string& test_id, const std::string& owner, int64_t lease_ms) = 0;
  // Extends `owner`'s lease; false when it is not theirs any more (cancelled, finished, taken over).
  virtual Result<bool> renew_lease(const std::string& test_id, const std::string& owner, int64_t lease_ms) = 0;

  // RUNNING → result.status (and only while `owner`, when given, holds the lease). False if the
  // scan is not RUNNING (it was cancelled meanwhile) or not `owner`'s any more.
  virtual Result<bool> finish(const std::string& test_id, const ScanResult& result,
                              const std::optional<std::string>& owner = std::nullopt) = 0;
  // The scan's queue message was dead-lettered, so nothing will run it again: QUEUED, or RUNNING
  // with no live lease → FAILED with `error`. False when it was final, unknown, or RUNNING under a
  // live lease (a worker is running it and will finish it).
  virtual Result<bool> fail_undeliverable(const std::string& test_id, const std::string& error) = 0;
  // Start-up recovery of the single process: every RUNNING scan → FAILED with error "interrupted".
  // Returns their ids. Only for a process that is the one worker of its store (a remote ledger
  // refuses it: there, leases hand scans over).
  virtual Result<std::vector<std::string>> fail_interrupted() = 0;
  // Status string of one scan (cheap poll for cancellation), nullopt if unknown.
  virtual Result<std::optional<std::string>> status_of(const std::string& test_id) = 0;

  // upload_status from → to with the new upload state; false when it was not `from` any more.
  virtual Result<bool> set_upload(const std::string& test_id, const std::string& from, const std::string& to,
                                  const Json& upload) = 0;

  // The scan's event log. append_event is Errc::conflict when `seq` is taken (another process
  // appended first: re-read and try the next one).
  virtual Status append_event(const std::string& test_id, int64_t seq, const std::string& type, int64_t ts_ms,
                              const std::string& json) = 0;
  virtual Result<std::vector<StoredEvent>> events_after(const std::string& test_id, int64_t after_seq) = 0;
  virtual Result<std::optional<StoredEvent>> last_event(const std::string& test_id) = 0;  // seq and type only
};

}  // namespace secplat::assurance
