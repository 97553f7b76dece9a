// The built-in "secrets" Scanner: runs the SecretsEngine over the source tree and writes
// reports/secrets/secrets.sarif.json (SARIF 2.1.0, tool "secplat-secrets").
//
// Every SARIF result carries partialFingerprints {"secplat/v1": fingerprint} and only the
// redacted secret; the raw value is never written or logged.
//
// Per-scan options (ScanContext::options):
//   "rules_file"      gitleaks-style TOML added to the rules (relative to source_root or absolute)
//   "max_file_bytes"  files larger than this are skipped (default SecretsOptions::tree)
//   "threads"         worker threads (default: all cores)
//
// Threading: run() may be called concurrently; the compiled engine is shared and immutable.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "scanners/scanner.h"
#include "scanners/secrets/secrets_engine.h"

namespace secplat::scanners {

inline constexpr const char* kSecretsSarifPath = "reports/secrets/secrets.sarif.json";
inline constexpr const char* kSecretsToolName = "secplat-secrets";
inline constexpr const char* kSecretsToolVersion = "1.0.0";

struct SecretsOptions {
  secrets::ScanTreeOptions tree;
  bool builtin_rules = true;                   // include the built-in rule set
  std::vector<std::string> extra_rule_files;   // gitleaks-style TOML files (absolute paths)
};

std::unique_ptr<Scanner> make_secrets_scanner(SecretsOptions options = {});

}  // namespace secplat::scanners
