// A scan submission (POST /v1/security-scans): the reference's body, its validation rules with
// their exact messages, and the inline-manifest canonicalisation that fixes `manifest_digest`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/json.h"

namespace secplat::assurance {

struct ScanRequest {
  std::string workspace_id, component_id, assessment_id;
  std::string source_type = "git";  // "git" | "directory" | "archive"
  std::optional<std::string> git_url, branch, commit, directory_path, archive_path;
  std::optional<std::string> requested_by;  // set by the server from the principal, never from the body
  std::string profile = "light";
  std::optional<Json> manifest;  // inline manifest object
  std::optional<std::string> manifest_path, manifest_uri, manifest_signature_uri;
  std::optional<std::string> expected_manifest_digest;  // our extension: pin the manifest (hex sha256)

  // Round-trips through the store (every field; nulls kept).
  Json to_json() const;
  static ScanRequest from_json(const Json& j);
};

// Parses and validates a request body the way the reference does: first every per-field error
// (missing → "Field required", wrong type → "Input should be a valid string" / "... dictionary"),
// then the first failing cross-field rule as loc ["body"], msg "Value error, <text>". 422s.
Result<ScanRequest> parse_scan_request(const Json& body);

// Python `json.dumps(value, sort_keys=True)` text (ensure_ascii, ", " / ": " separators, float
// repr style). The sha256 hex of it is an inline manifest's digest.
std::string canonical_manifest_text(const Json& value);

// Python-style float repr ("1.0", "0.1", "1e+16", "1e-05").
std::string python_float_repr(double v);

// True if `s` is a ref name git would accept as a branch (refs/heads/<s>) and cannot be an option.
bool is_safe_branch_name(const std::string& s);
// A commit-ish: 4..40 hex digits, or a safe ref name (tag/branch).
bool is_safe_commit_ref(const std::string& s);

}  // namespace secplat::assurance
