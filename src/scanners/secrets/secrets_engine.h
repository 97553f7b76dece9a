// The secrets engine: finds credentials in bytes and in directory trees.
//
// How it works: all rule regexes (or, for rules that set one, a cheaper `prefilter` pattern
// that every match contains) are compiled once into one Hyperscan database that scans a whole
// buffer in block mode (the prefilter: it only says "rule R may match ending here").
// Each hit is confirmed with the rule's RE2 regex on the surrounding line(s), which yields the
// exact span and capture group. Confirmed secrets then pass the entropy threshold, the rule and
// global allowlists (placeholders, documentation examples, `${VAR}` references), and overlap
// resolution (when two rules cover the same bytes, the earlier, more specific rule wins).
//
// Invariants: a SecretFinding never holds the secret value — only `redacted` ("AKIA****MPLE")
// and a one-way fingerprint. Findings are sorted by (path, line, column, rule_id), so results
// do not depend on thread count or scheduling.
//
// Threading: a compiled SecretsEngine is immutable; scan_buffer/scan_tree/redact may be called
// from any number of threads at once (each call borrows its own Hyperscan scratch).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "scanners/secrets/secret_rule.h"

namespace secplat::scanners::secrets {

struct SecretFinding {
  std::string rule_id;
  std::string description;
  std::string severity;     // "critical", "high", "medium", "low", "info"
  std::string path;         // as given to scan_buffer; relative to the root for scan_tree
  int line = 0;             // 1-based line of the secret's first byte
  int column = 0;           // 1-based, in Unicode code points
  int end_line = 0;         // line of the secret's last byte (differs for PEM blocks)
  int end_column = 0;       // exclusive: column just after the secret (SARIF endColumn)
  std::string redacted;     // first/last 4 characters at most, e.g. "AKIA****MPLE"
  std::string fingerprint;  // sha256_hex(rule_id ":" path ":" sha256_hex(secret)); stable
  double entropy = 0;       // Shannon entropy of the secret, bits per character
};

struct ScanTreeOptions {
  uint64_t max_file_bytes = 10ull << 20;  // larger files are skipped (counted, not scanned)
  unsigned threads = 0;                    // 0 = std::thread::hardware_concurrency()
  bool skip_vendored = true;   // node_modules/, vendor/, third_party/, dist/, lockfiles, *.min.js...
  int64_t deadline_ms = 0;     // steady_ms() deadline; 0 = none
};

struct ScanTreeResult {
  std::vector<SecretFinding> findings;
  int64_t files_scanned = 0;
  int64_t files_skipped = 0;   // binary, too large, vendored/generated, unreadable
  int64_t bytes_scanned = 0;
  bool cancelled = false;      // stopped early because *cancelled became true
  bool timed_out = false;      // stopped early because the deadline passed
};

class SecretsEngine {
 public:
  // Compiles `rules` plus `global_allowlist`. Fails (naming the rule) if a regex is not valid
  // RE2. Rules that Hyperscan cannot compile still work, prefiltered by their keywords.
  static Result<std::unique_ptr<SecretsEngine>> compile(std::vector<SecretRule> rules,
                                                        SecretAllowlist global_allowlist);
  // The built-in rules and allowlist.
  static Result<std::unique_ptr<SecretsEngine>> compile_builtin();

  ~SecretsEngine();
  SecretsEngine(const SecretsEngine&) = delete;
  SecretsEngine& operator=(const SecretsEngine&) = delete;

  const std::vector<SecretRule>& rules() const;

  // Findings in one buffer. `path` is used for path allowlists, the fingerprint, and the
  // finding; it is not opened.
  std::vector<SecretFinding> scan_buffer(std::string_view path, std::string_view bytes) const;

  // Scans every regular file under `root` (symlinks are not followed; files with a NUL byte in
  // the first 8 KiB are binary and skipped), spreading files over options.threads threads.
  // Files of 256 KiB and more are memory-mapped and scanned alone; smaller ones are read (openat
  // relative to their directory) straight into a per-thread pack of about 1 MiB that is scanned
  // at once, every confirmation clipped to its own file, so a file's findings are the same as
  // scan_buffer() of that file. Polls `cancelled` (may be null) and the deadline between files;
  // on either, returns what was found so far with the flag set.
  ScanTreeResult scan_tree(const std::string& root, const ScanTreeOptions& options,
                           const std::atomic<bool>* cancelled) const;

  // `line` with every rule match's secret replaced by its redacted form. No allowlists or
  // entropy checks apply (masking a placeholder is harmless). Returns `line` unchanged, cheaply,
  // when nothing matches.
  std::string redact(std::string_view line) const;

  struct Impl;

 private:
  explicit SecretsEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True if scan_tree skips `relative_path` as vendored, generated, a lockfile, or a known binary
// extension ("node_modules/x.js", "a/b.min.js", "package-lock.json", "img/logo.png").
bool is_skipped_path(std::string_view relative_path);

// Shannon entropy of `s` in bits per byte.
double shannon_entropy(std::string_view s);

// The masked form of a secret: "AKIA****MPLE" (first and last 4 characters) for values of 16+
// characters, first 2 + "****" for 8..15, "****" below that.
std::string redact_value(std::string_view secret);

// Masks every secret shape the built-in rules match in a log line (see SecretsEngine::redact).
// Uses a process-wide engine compiled on first use. Thread-safe.
std::string redact_secrets(std::string_view line);

}  // namespace secplat::scanners::secrets
