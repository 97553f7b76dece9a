// Verification-first publishing of a finished scan's bundle.
//
// Upload state (scans.upload_status), one conditional UPDATE per step, so a repeated message or a
// second worker never runs a step twice:
//   requested ──gate permits──▶ permitted ──permit redeemed, files re-hashed──▶ uploading ──▶ uploaded
//       │                          (stays permitted when no S3 / OCI is configured)      └──▶ upload_failed
//       ├──gate denies──▶ denied
//       └──gate unreachable──▶ trust_unavailable        (fail closed: nothing is written)
// Before the first write every permitted file is hashed again; a file that changed after the
// permit fails the upload with nothing written. S3 objects go to
// <raw_bucket>/<raw_prefix>/<test_id>/incoming/<path>; the OCI artifact is pushed by digest with
// its signature and attestation. An upload that fails half-way removes the raw objects it wrote.
//
// Promotion (raw → golden) is a separate step, requested through ScanService::promote (promotion
// status "requested", then a queue message) or automatic with trust.auto_promote; run() carries
// it out: every raw object is read back and hashed, and only when all match their permitted
// digests are they copied to <golden_bucket>/<golden_prefix>/<test_id>/golden/<path>, beside a
// signed SLSA verification summary (vsa.intoto.json). A mismatch ends in promotion status
// "failed" with the object named, nothing copied.
//
// Threading: thread-safe; blocking (store, files, network): run on a worker thread.
#pragma once

#include <string>

#include "assurance/scan_ledger.h"
#include "assurance/upload_gate.h"
#include "core/clock.h"
#include "crypto/ecdsa.h"

namespace secplat::objects {
class ObjectStore;
class OciRegistry;
}  // namespace secplat::objects

namespace secplat::assurance {

struct PublishSettings {
  std::string bundles_dir;  // <data_dir>/bundles
  std::string raw_bucket = "raw";
  std::string raw_prefix = "security-scans";
  std::string golden_bucket = "golden";
  std::string golden_prefix = "security-scans";
  std::string oci_registry;    // host:port, for references
  std::string oci_repository;
  bool auto_promote = false;
  std::string instance = "local";  // who redeems permits (logged by the gate)
};

class BundlePublisher {
 public:
  // s3 and oci may be null (that destination is not configured).
  BundlePublisher(ScanLedger& store, UploadGate& gate, objects::ObjectStore* s3, objects::OciRegistry* oci,
                  crypto::EcKeyPair key, PublishSettings settings, const Clock& clock);

  // Takes the scan's upload from wherever it stands to its next resting state. A scan whose
  // upload is not requested/permitted/uploading is left alone. Errc::unavailable when the store
  // cannot be read or written (retry later).
  Status run(const std::string& test_id);

  // raw → golden now (run() calls it). Errc::conflict unless the upload is `uploaded` to S3;
  // Errc::bad_request naming the object when a raw object does not match its permitted digest
  // (nothing is copied). Returns the updated upload state; a finished promotion is returned as is.
  Result<Json> promote(const std::string& test_id);

  bool has_destinations() const { return s3_ != nullptr || oci_ != nullptr; }

  // The upload's queue message was dead-lettered (run() kept failing, or no worker could take
  // it): requested|permitted → upload_failed with reason "undeliverable" and `detail`, so the
  // upload does not look in progress for ever and can be requested again. Errc::unavailable when
  // the store cannot be written; an upload in any other state is left alone.
  Status abandon(const std::string& test_id, const std::string& detail);

 private:
  Status request_permit(const ScanRecord& rec);
  Status upload(const ScanRecord& rec);
  Status fail(const ScanRecord& rec, const std::string& from, const std::string& to, const std::string& reason,
              const std::string& detail);

  ScanLedger& store_;
  UploadGate& gate_;
  objects::ObjectStore* s3_;
  objects::OciRegistry* oci_;
  crypto::EcKeyPair key_;
  PublishSettings settings_;
  const Clock& clock_;
};

}  // namespace secplat::assurance
