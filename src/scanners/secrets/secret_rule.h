// A secret-detection rule: what a credential looks like and which matches to ignore.
//
// Regexes use RE2 syntax (the same dialect as gitleaks' Go regexes). Every built-in rule regex
// also compiles in Hyperscan, which the engine uses as a whole-buffer prefilter; rules whose
// regex Hyperscan rejects fall back to a keyword prefilter (see SecretsEngine).
#pragma once

#include <string>
#include <vector>

namespace secplat::scanners::secrets {

// Matches to ignore. A match is dropped if its secret matches any regex, contains any stopword
// (case-insensitive), or the file path matches any path regex.
struct SecretAllowlist {
  std::string description;
  std::vector<std::string> regexes;
  std::vector<std::string> paths;
  std::vector<std::string> stopwords;
};

struct SecretRule {
  std::string id;           // stable identifier, e.g. "github-pat"; used in SARIF ruleId
  std::string description;  // human text, never contains a secret
  std::string regex;        // RE2 syntax
  std::vector<std::string> keywords;  // lower-case literals; one must occur near a match
  int secret_group = 0;     // capture group holding the secret; 0 = the whole match
  double entropy = 0;       // minimum Shannon entropy (bits/char) of the secret; 0 = no check
  std::string severity = "high";  // "critical", "high", "medium", "low", "info"
  std::vector<std::string> tags;
  // Hyperscan-only pattern that marks where a match may start, for secrets that span lines
  // (PEM blocks). Empty = prefilter with `regex` itself.
  std::string start_marker;
  // Hyperscan-only pattern that every match of `regex` contains, on the match's line: the
  // engine confirms with RE2 only on lines where it occurs. For single-line rules whose regex
  // begins with a common prefix (a URL scheme, `//`, a keyword that is everywhere in source
  // code), a short distinctive part is far cheaper for Hyperscan to track than the whole
  // regex. Empty = prefilter with `regex` itself.
  std::string prefilter;
  // The regex may match across lines (`\s` or explicit newlines). Set automatically for rules
  // loaded from TOML; built-in single-line rules leave it false, which keeps scanning cheap.
  bool spans_lines = false;
  SecretAllowlist allowlist;
};

// The built-in rule set (more than 80 credential formats), most specific first: when two rules
// match the same bytes, the earlier one wins.
std::vector<SecretRule> builtin_secret_rules();

// The built-in global allowlist: documentation examples and placeholders.
SecretAllowlist builtin_secret_allowlist();

}  // namespace secplat::scanners::secrets
