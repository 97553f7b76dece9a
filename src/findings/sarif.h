// Reading SARIF 2.1.0 logs into finding inputs. Pure functions, safe from any thread.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/error.h"
#include "findings/findings_service.h"

namespace secplat::findings {

struct SarifResults {
  std::string tool_name;             // first run's tool.driver.name
  std::vector<FindingInput> items;   // one per result, in log order; asset_key/source left empty
  // The part of each key derived from the log (aligned with items); see sarif_finding_key().
  std::vector<std::string> key_basis;
};

// Validates the log's shape (version "2.1.0", runs[], tool.driver.name, results[] objects with a
// message, known levels, string fingerprints) and extracts one FindingInput per result.
// Errc::validation naming the offending path (e.g. "runs[0].results[2].level") on any violation.
Result<SarifResults> read_sarif(const nlohmann::json& log);

// Severity from a CVSS-like security-severity score: critical >= 9, high >= 7, medium >= 4, low > 0, else info.
std::string severity_from_cvss(double score);

// The finding key of a result: "sarif:" + 40 hex chars of sha256(source, basis). The basis is the
// sorted partialFingerprints (with ruleId) when present, else ruleId + artifact uri + start line.
std::string sarif_finding_key(const std::string& source, const std::string& basis);

}  // namespace secplat::findings
