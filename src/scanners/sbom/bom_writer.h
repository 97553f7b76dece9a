// Renders merged components (and vulnerability matches) as CycloneDX 1.5 JSON, SPDX 2.3 JSON and
// SARIF 2.1.0. Output order depends only on the inputs (components sorted by purl), except for the
// fields that must be unique per document (serialNumber, documentNamespace, timestamps).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include "scanners/sbom/component.h"
#include "scanners/sbom/osv.h"

namespace secplat::scanners::sbom {

struct BomInfo {
  std::string root_name;     // name of the scanned project (root component / package)
  std::string tool_version;  // "secplat-sbom-<tool_version>"
  std::string timestamp;     // RFC 3339, e.g. "2024-05-01T10:00:00Z"
  std::string uuid;          // fresh per document pair: serialNumber + documentNamespace
};

nlohmann::json to_cyclonedx(const std::vector<Component>& components, const std::vector<VulnMatch>& vulns,
                  const BomInfo& info);
nlohmann::json to_spdx(const std::vector<Component>& components, const BomInfo& info);
nlohmann::json to_sarif(const std::vector<Component>& components, const std::vector<VulnMatch>& vulns,
              const BomInfo& info);

// "critical" for ≥9.0 ... "low" for >0; used when a record has only a score.
std::string severity_from_score(double score);

// SPDX identifiers may only hold [A-Za-z0-9.-]; everything else becomes '-'.
std::string sanitize_spdx_id(std::string_view s);

}  // namespace secplat::scanners::sbom
