// Signed provenance for a scan bundle: a DSSE envelope (crypto/dsse.h) over an in-toto Statement
// v1 whose subjects are every other file of the bundle with its sha256, and whose predicate is
// SLSA provenance v1 describing the scan. Anyone holding the instance's signing.pub can then
// check that no bundle file was changed, added or removed (assurance/bundle_verify.h).
//
// Order when finishing a bundle: write every file, then write_detached_signature(manifest.json),
// then write_attestation last (it covers manifest.sig too; a file written after it is reported
// as unattested).
// Threading: no shared state; the caller must not modify the bundle while these run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "crypto/ecdsa.h"

namespace secplat::assurance {

struct AttestationInfo {
  std::string test_id;
  std::string workspace_id;
  std::string component_id;
  std::string source_uri;
  std::string source_digest;  // git commit sha (40/64 hex) or sha256 of the tree ("sha256:" prefix allowed)
  std::string manifest_digest;  // sha256 hex of manifest.json
  std::string builder_id = "https://secplat.dev/secplat";
  int64_t started_ms = 0;   // epoch ms; 0 = unknown (left out)
  int64_t finished_ms = 0;
};

inline constexpr const char* kAttestationPath = "reports/signing/attestation.intoto.json";
inline constexpr const char* kInTotoPayloadType = "application/vnd.in-toto+json";
inline constexpr const char* kStatementType = "https://in-toto.io/Statement/v1";
inline constexpr const char* kSlsaProvenanceType = "https://slsa.dev/provenance/v1";

struct BundleFile {
  std::string path;        // relative to the bundle dir, '/'-separated
  std::string sha256_hex;
  int64_t size = 0;        // bytes (attested as the subject's "size" annotation)
};

struct BundleListing {
  std::vector<BundleFile> files;   // every regular file except kAttestationPath, sorted by path
  std::vector<std::string> refused;  // symlinks and special files, one message each
};

// Walks bundle_dir without following symlinks and hashes every regular file (streamed, so large
// SBOMs are fine). Errc::not_found when bundle_dir is not a directory.
Result<BundleListing> list_bundle_files(const std::string& bundle_dir);

// sha256 hex of a file, streamed. Errc::internal naming the file when it cannot be read.
Result<std::string> sha256_file_hex(const std::string& path);

// Writes kAttestationPath (atomically) signed with `key`. Errc::bad_request naming the entry when
// the bundle holds a symlink or special file.
Status write_attestation(const std::string& bundle_dir, const AttestationInfo& info, const crypto::EcKeyPair& key);

// Signs a file's bytes into the same path with its extension replaced by ".sig"
// (manifest.json -> manifest.sig, the bundle's name), in cosign sign-blob format: base64 of the
// DER signature, no trailing newline.
Status write_detached_signature(const std::string& file_path, const crypto::EcKeyPair& key);

}  // namespace secplat::assurance
