// The scan use cases behind the routes: submit (validation, idempotency, persist, enqueue), read,
// list, cancel, retry, stats, and the reference's status JSON.
//
// Threading: thread-safe.
#pragma once

#include <optional>
#include <string>

#include "assurance/manifest.h"
#include "assurance/pipeline.h"
#include "assurance/scan_events.h"
#include "assurance/scan_store.h"
#include "assurance/sources.h"
#include "auth/audit_log.h"
#include "core/json.h"
#include "queue/queue.h"

namespace secplat::assurance {

struct SubmitOutcome {
  ScanRecord record;
  bool replayed = false;  // same Idempotency-Key and body: the existing scan, 200 instead of 202
};

class ScanService {
 public:
  // `pipeline` may be null in a process that does not run scans (cancel then only flips the row;
  // the worker process notices between steps).
  ScanService(ScanStore& store, ScanEventLog& events, queue::Queue& queue, auth::AuditLog& audit,
              const Clock& clock, ScanPipeline* pipeline, const Config& config);

  // 422s for validation; 409 when the Idempotency-Key was used with another body.
  Result<SubmitOutcome> submit(const Json& body, const std::optional<std::string>& idempotency_key,
                               const auth::Actor& actor);
  // 404 unknown; 409 when already final. Returns the record after the change.
  Result<ScanRecord> cancel(const std::string& test_id, const auth::Actor& actor);
  // A new QUEUED scan with the same request as a FAILED/CANCELLED one (409 otherwise).
  Result<ScanRecord> retry(const std::string& test_id, const auth::Actor& actor);
  Result<ScanRecord> get(const std::string& test_id);  // 404 "Scan not found"
  // POST .../upload-request: 400 unless SUCCEEDED; 422 for a bad body (tier basic|verified,
  // signer/requested_by strings). Starts a new upload (queued for a worker) unless one is already
  // requested, running or done, in which case the current state is returned (idempotent per scan).
  // The reply is the route's 202 body {upload_permission_id, upload_status}.
  Result<Json> request_upload(const std::string& test_id, const Json& body, const auth::Actor& actor);
  // Queues raw → golden for a bundle uploaded to S3 (409 otherwise); a worker's publisher runs it.
  // Idempotent: a promotion requested or done is returned as it stands.
  Result<ScanRecord> promote(const std::string& test_id, const auth::Actor& actor);
  // Lets submit accept s3:// and oci:// manifest URIs (checked against the source's allow-lists).
  void set_remote_manifests(RemoteManifestSource* remote) { manifest_policy_.remote = remote; }
  Result<ScanPage> list(const ScanFilter& filter);
  Result<Json> stats(const std::optional<std::vector<std::string>>& workspaces = std::nullopt);

  Result<StoredUpload> store_archive(const std::string& filename, std::string_view content, const auth::Actor& actor);

  // The GET /v1/security-scans/{id} body (reference keys + source, tools, policy).
  static Json status_json(const ScanRecord& rec);

  const std::string& bundles_dir() const { return bundles_dir_; }
  ScanEventLog& events() { return events_; }

 private:
  Result<ScanRecord> enqueue(ScanRequest req, std::optional<std::string> idem_key, std::string fingerprint,
                             std::optional<std::string> retry_of, const auth::Actor& actor);

  ScanStore& store_;
  ScanEventLog& events_;
  queue::Queue& queue_;
  auth::AuditLog& audit_;
  const Clock& clock_;
  ScanPipeline* pipeline_;
  SourcePolicy source_policy_;
  ManifestPolicy manifest_policy_;  // submit-time checks only (no keys)
  std::vector<std::string> trusted_keys_;
  std::string bundles_dir_;
};

}  // namespace secplat::assurance
