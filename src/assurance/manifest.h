// Scan manifests: where the text comes from (inline / manifest_path / manifest_uri), signature
// and digest verification, parsing (JSON or YAML), and the profile → tool selection of §4.4.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "assurance/manifest_fetch.h"
#include "assurance/scan_request.h"
#include "core/error.h"
#include "core/json.h"

namespace secplat::assurance {

// Where s3:// and oci:// manifests and signatures come from (assurance/remote_manifest.h; app/
// wires it to the configured S3 endpoint and registry). Thread-safe.
class RemoteManifestSource {
 public:
  virtual ~RemoteManifestSource() = default;
  // "" when `uri` may be fetched, else the reason (it names `field`).
  virtual std::string refusal(const std::string& field, const std::string& uri) const = 0;
  // The bytes at `uri`; `signature` picks the default file of an oci:// artifact (manifest.sig
  // instead of manifest.json). Errc::bad_request naming the URI and the cause.
  virtual Result<std::string> fetch(const std::string& uri, bool signature, std::size_t max_bytes) = 0;
};

struct ManifestPolicy {
  std::vector<std::string> allowed_roots;   // file:// manifest and signature URIs must lie under one
  std::vector<std::string> trusted_key_pems;  // PEM text of trusted P-256 public keys
  bool require_signed = false;
  HttpFetchPolicy http;                     // http(s) manifest and signature URIs
  RemoteManifestSource* remote = nullptr;   // s3:// and oci://; null = refused (422)
};

// Submit-time checks of the manifest fields (422 naming the field): file:// under an allowed
// root, http(s):// on an allowed host, s3:// and oci:// allowed by the remote source (422 "...
// needs s3.endpoint / oci.registry" without one).
Status check_manifest_fields(const ScanRequest& req, const ManifestPolicy& policy);

struct ResolvedManifest {
  std::string text;                  // exactly as used (inline: canonical text)
  std::string digest;                // sha256 hex of text
  std::string origin;                // "inline" | "path" | "uri"
  std::optional<std::string> signature;  // base64 signature text, when one was given
  bool verified = false;             // signature checked against a trusted key
  std::string verified_key_id;       // crypto::ec_key_id of the key that verified
  Json parsed;                       // the manifest object
};

// Reads, verifies and parses. Errors (Errc::bad_request) carry the message for the scan's errors.
Result<ResolvedManifest> resolve_manifest(const ScanRequest& req, const std::string& source_root,
                                          const ManifestPolicy& policy);

// YAML text → JSON (scalars typed like YAML 1.2 core: int, float, bool, null, else string).
Result<Json> parse_manifest_text(const std::string& text);

struct ToolSelection {
  std::string profile_requested, profile_resolved;
  std::vector<std::string> tools;        // to run, in manifest order (aliases mapped: detect-secrets → secrets)
  std::vector<std::string> unsupported;  // listed but unknown to this build
  std::map<std::string, int64_t> thresholds;  // lower-cased severity → max allowed
  bool requires_stack = false;
  Json product, version;
  std::map<std::string, std::map<std::string, std::string>> options;  // per tool, from object entries
  bool defaulted = false;    // `tools` came from the profile's default list (none listed/supported)
  bool sample_mode = false;  // `sample_mode: true` at the top of the manifest or in the profile
};

// Profile selection per §4.4. `known_tools` = ids this build can run (injected scanners) plus
// adapters it knows of. `tools: []` (or none supported) → the profile's default list.
Result<ToolSelection> select_tools(const Json& manifest, const std::string& profile,
                                   const std::vector<std::string>& known_tools);

// The built-in default tool list of a profile name (unknown names fall back to "light").
std::vector<std::string> default_profile_tools(const std::string& profile);

// Names of the built-in profiles (sorted).
std::vector<std::string> builtin_profile_names();

}  // namespace secplat::assurance
