// ToolFindings → one SARIF run in the house style shared with the built-in scanners:
//   * artifact URIs relative to the source root ('/'-separated); findings outside the tree (a
//     system header cppcheck followed, say) or without a location are dropped and counted;
//   * `level` from the severity (sarif_level_for_severity), and result properties `severity`
//     (critical..info, as the secrets scanner writes) and `security-severity` (a CVSS-like score
//     the findings importer and code-scanning UIs read: 9.5 / 8.0 / 5.5 / 3.0 / 0.0);
//   * partialFingerprints on every result: the tool's own, plus `secplat/v1` = a hash of tool,
//     rule, path and the trimmed text of the flagged line (so a finding keeps its identity when
//     lines above it move), with an occurrence counter for identical lines;
//   * results sorted by path, line, column and rule, so output is deterministic.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "scanners/tools/tool_reports.h"
#include "scanners/sarif_writer.h"

namespace secplat::scanners {

struct NormalizeInput {
  std::string tool_id;          // "bandit"; part of every fingerprint
  std::string tool_name;        // SARIF driver name ("Bandit")
  std::string tool_version;
  std::string information_uri;
  std::string source_root;      // absolute; relative report paths are taken relative to it
  std::size_t max_results = 50000;
};

struct NormalizeStats {
  int64_t outside_root = 0;     // dropped: path outside the source root
  int64_t no_location = 0;      // dropped: no file named
  int64_t over_limit = 0;       // dropped: beyond max_results
};

SarifRun normalize_findings(const NormalizeInput& in, std::vector<ToolFinding> findings, NormalizeStats* stats);

// "9.5", "8.0", "5.5", "3.0", "0.0" for critical..info.
std::string security_severity_score(const std::string& severity);

}  // namespace secplat::scanners
