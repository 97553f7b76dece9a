// Readers of external tools' native reports. Each turns one report into ToolFindings, the common
// shape the adapters normalise into SARIF (paths relative to the source root, severities,
// fingerprints). Readers keep paths exactly as the tool printed them and never copy code
// snippets (they may hold secrets).
//
// Errors (Errc::bad_request) say what is wrong with the report; a tool that produced an
// unreadable report is a failed tool run.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "scanners/sarif_writer.h"

namespace secplat::scanners {

struct ToolFinding {
  std::string rule_id;
  std::string rule_name;         // optional display name ("subprocess_popen_with_shell_equals_true")
  std::string rule_description;  // optional; the message is used when empty
  std::string help_uri;
  std::vector<std::string> tags;  // e.g. "external/cwe/cwe-78"
  std::string severity;           // "critical", "high", "medium", "low", "info"
  std::string message;
  std::string path;               // as reported: relative to the tool's cwd, absolute, or a file:// URI
  SarifRegion region;
  std::map<std::string, std::string> fingerprints;  // the tool's own partialFingerprints/fingerprints
};

// bandit -f json: results[] with test_id, test_name, issue_severity, issue_text, filename,
// line_number, col_offset (0-based), more_info, issue_cwe (newer versions).
Result<std::vector<ToolFinding>> read_bandit_json(std::string_view text);

// shellcheck -f json1: {"comments":[{file,line,endLine,column,endColumn,level,code,message}]}.
Result<std::vector<ToolFinding>> read_shellcheck_json1(std::string_view text);

// cppcheck --xml (version 2): <error id severity msg verbose cwe><location file line column/>.
// The first location is the primary one. Tool-status messages (missingInclude, ...) are skipped.
Result<std::vector<ToolFinding>> read_cppcheck_xml(std::string_view text);

// Any SARIF 2.1.0 log (semgrep, opengrep, trivy, flawfinder): every run's results. Severity from
// properties "security-severity" (CVSS score; result, then rule), else a severity/"problem.severity"
// property, else the level (error → high, warning → medium, note → low, none → info). URIs are
// resolved against originalUriBaseIds when the run declares them.
Result<std::vector<ToolFinding>> read_sarif_log(std::string_view text);

// Lower-case severity for a free-form tool severity ("ERROR", "High", "moderate", ...); "" if unknown.
std::string normalize_severity(std::string_view s);

// CVSS-like score → severity: >= 9 critical, >= 7 high, >= 4 medium, > 0 low, else info.
std::string severity_from_score(double score);

}  // namespace secplat::scanners
