// The `Scanner` port: one analysis tool run over a checked-out source tree.
//
// A scanner reads `source_root`, writes its reports under `output_dir` (the bundle being built),
// and says what it did. A tool that is not installed reports status "skipped" with a reason —
// never silently nothing. A scanner must honour `cancelled` (poll it between files / kill its
// child process) and `deadline_ms`.
//
// Threading: run() is called from a worker thread; one Scanner object may run several scans at
// once, so keep per-run state on the stack.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace secplat::scanners {

struct ScanContext {
  std::string source_root;   // absolute path of the checked-out tree (read-only for scanners)
  std::string output_dir;    // absolute path of the bundle directory being written
  std::map<std::string, std::string> options;   // tool options from the manifest profile
  // Live log lines for the scan's stream. Scanners must never put secret values in them; the
  // stream redacts known secret shapes as a second line of defence.
  std::function<void(std::string_view line)> log;
  const std::atomic<bool>* cancelled = nullptr;
  int64_t deadline_ms = 0;   // steady_ms() deadline; 0 = none
};

struct ScanOutcome {
  std::string tool;          // tool id, e.g. "secrets", "sbom", "bandit"
  std::string version;       // tool version ("" if unknown)
  std::string status;        // "succeeded", "failed", "skipped", "timeout", "cancelled"
  int exit_code = 0;         // child exit code for external tools; 0/1 for built-ins
  int64_t duration_ms = 0;
  std::string message;       // reason for failed/skipped, or a one-line summary
  std::vector<std::string> outputs;  // files written, relative to output_dir ("reports/secrets/secrets.sarif.json")
  int64_t findings = 0;      // results reported (SARIF results, SBOM components for sbom)
  std::map<std::string, int64_t> by_severity;  // "critical","high","medium","low","info" → count
  // What the scanner read, when it can tell (for throughput metrics); nullopt = not reported.
  std::optional<int64_t> bytes_read;
  std::optional<int64_t> files_read;
};

class Scanner {
 public:
  virtual ~Scanner() = default;
  virtual std::string id() const = 0;
  // False when the tool this scanner wraps is not installed. Default profiles leave such tools
  // out; a manifest that names one still gets a "skipped" outcome saying why.
  virtual bool available() const { return true; }
  // Errors are for broken invariants (unwritable output dir); tool failures are ScanOutcome statuses.
  virtual Result<ScanOutcome> run(const ScanContext& ctx) = 0;
};

}  // namespace secplat::scanners
