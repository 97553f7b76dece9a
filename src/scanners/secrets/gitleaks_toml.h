// Loads gitleaks-style TOML rule files.
//
// Supported shape (a TOML subset — exactly what gitleaks configs use):
//   title = "..."
//   [[rules]]  id, description, regex, secretGroup, entropy, keywords = [...], tags = [...]
//   [rules.allowlist] or [[rules.allowlist]]  regexes, paths, stopwords (several are merged)
//   [allowlist]  global regexes, paths, stopwords
// Values: "basic" and 'literal' strings, '''multi-line literal''' and """multi-line basic"""
// strings, arrays of strings (may span lines), integers, floats, booleans; # comments.
// Unknown keys and tables ([extend], regexTarget, condition, ...) are accepted and ignored.
// Rules with `path` but no `regex` are rejected (path-only rules are not supported).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "scanners/secrets/secret_rule.h"

namespace secplat::scanners::secrets {

struct SecretRuleFile {
  std::vector<SecretRule> rules;  // spans_lines = true, severity "high" unless tags say otherwise
  SecretAllowlist allowlist;      // the file's [allowlist]
};

// Parses `text`; errors are Errc::bad_request with "<origin>:<line>: <what>".
Result<SecretRuleFile> parse_gitleaks_toml(std::string_view text, std::string_view origin);

// Reads and parses a file.
Result<SecretRuleFile> load_gitleaks_toml(const std::string& path);

}  // namespace secplat::scanners::secrets
