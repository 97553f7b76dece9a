// The verify-and-permit gate: nothing is written to S3 or an OCI registry without a permit from
// here, and a permit is only issued after real checks of the bundle's signatures and digests.
//
// POST /v1/verify-and-permit-upload takes the reference's request (scan_id, tier,
// inner_signature, artifacts, metadata, storage_destinations) plus what makes the checks real:
//   "attestation": the bundle's DSSE envelope (reports/signing/attestation.intoto.json),
//   "documents":   {"manifest.json": text, "manifest.sig": text, "policy-result.json": text}
//                  (the small bundle files whose content the gate must read; each is checked
//                  against its attested digest).
// It checks, in order, and denies with the first failing reason:
//   no_artifacts, untrusted_signer (the attestation verifies with no trusted key),
//   invalid_signature (inner_signature.signature is not the attestation's signature),
//   invalid_statement (not an in-toto Statement v1), scan_mismatch (the statement is about
//   another scan), invalid_signer (tier "verified" needs a key listed in verified_signers),
//   unattested_artifact, digest_mismatch, size_mismatch, missing_artifact (every attested
//   subject must be uploaded, and nothing else), manifest_unverifiable / invalid_manifest_signature,
//   policy_missing / policy_failed (tier "verified" needs a passing policy result).
// A permitted request is logged in the transparency log (the attestation signature and the
// permit, two entries) and answered with a permit token: ECDSA-signed claims binding the scan id,
// the tier and the exact digests and sizes, expiring after permit_ttl_s, redeemable once.
//
// Threading: thread-safe; every call does blocking store I/O.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/json.h"
#include "crypto/ecdsa.h"
#include "store/db.h"

namespace secplat::trust {

class TransparencyLog;

struct GateSettings {
  // Public keys (PEM) whose bundle attestations are accepted. The first one is the instance's.
  std::vector<std::string> trusted_keys;
  // Key ids (crypto::ec_key_id) allowed to sign "verified" tier bundles; empty = the first key.
  std::vector<std::string> verified_signers;
  int permit_ttl_s = 300;
  // Echoed in storage_config of a permitted reply.
  std::string raw_bucket = "raw";
  std::string raw_prefix = "security-scans";
  std::string oci_registry;
  std::string oci_repository;
};

// What a permit binds (the token's signed claims).
struct PermitClaims {
  std::string permit_id;
  std::string scan_id;
  std::string tier;
  std::map<std::string, std::string> digests;  // bundle path -> sha256 hex
  std::map<std::string, int64_t> sizes;        // bundle path -> bytes
  std::string signer_key_id;
  int64_t issued_ms = 0;
  int64_t expires_ms = 0;
};

std::vector<store::Migration> trust_gate_migrations();  // version 710: trust_permits

class TrustGate {
 public:
  TrustGate(store::Db& db, TransparencyLog& log, crypto::EcKeyPair key, GateSettings settings, const Clock& clock);

  // The reply of POST /v1/verify-and-permit-upload (status 202) for a well-formed request, permitted
  // or denied. Errc::validation (fields named) for a malformed one; Errc::unavailable when the store
  // or the log cannot be written (then nothing is permitted).
  Result<Json> verify_and_permit(const Json& request);

  // Redeems a permit right before a storage write: the token must carry this gate's signature,
  // be unexpired, name scan_id and exactly these digests, and not have been redeemed before.
  // Errc::forbidden with the reason otherwise ("permit expired", "permit already used", ...).
  Result<PermitClaims> redeem(const std::string& token, const std::string& scan_id,
                              const std::map<std::string, std::string>& digests, const std::string& redeemed_by);

  // The claims of a token whose signature verifies (expiry and use not checked).
  Result<PermitClaims> decode(const std::string& token) const;

 private:
  store::Db& db_;
  TransparencyLog& log_;
  crypto::EcKeyPair key_;
  std::string key_id_;
  GateSettings settings_;
  const Clock& clock_;
};

}  // namespace secplat::trust
