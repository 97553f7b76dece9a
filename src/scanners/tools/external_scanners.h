// The external tool adapters (Scanner port), one per tool, each named after its tool:
//   bandit      Python          bandit -f json              (Debian: bandit)
//   shellcheck  sh/bash/dash/ksh shellcheck -f json1 --norc  (Debian: shellcheck)
//   cppcheck    C/C++           cppcheck --xml              (Debian: cppcheck)
//   flawfinder  C/C++           flawfinder --sarif          (Debian: flawfinder)
//   semgrep     many            semgrep scan --sarif        (PATH; built-in baseline rules unless
//   opengrep    many            opengrep scan --sarif-output  the profile sets option `config`)
//   trivy       deps, secrets, IaC  trivy fs --format sarif (PATH; option `offline: true` skips DB updates)
//   syft        SBOM            syft dir:. → reports/sbom/syft.{cyclonedx,spdx}.json (PATH)
// Every SAST adapter writes reports/sast/<tool>.sarif.json. A tool not found by the locator is
// reported "skipped" with "<tool> not installed". Every tool runs in `sandbox` (external_tool.h):
// no network unless its id is allowed — trivy updating its database and semgrep/opengrep with a
// registry `config` need it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "scanners/tools/external_tool.h"
#include "scanners/tools/tool_locator.h"
#include "scanners/scanner.h"

namespace secplat::scanners {

// The sandbox `assurance.tool_*` settings describe.
ToolSandbox tool_sandbox_from(const AssuranceConfig& config);

// Tool ids in the order above.
const std::vector<std::string>& external_tool_ids();

// One adapter; nullptr for an unknown id.
std::shared_ptr<Scanner> make_external_scanner(const std::string& tool_id, const ToolLocator& locator,
                                               const ToolSandbox& sandbox = {});

// Every adapter, looking tools up with `locator` (the process's PATH by default).
std::vector<std::shared_ptr<Scanner>> make_external_scanners(const ToolLocator& locator = ToolLocator::from_environment(),
                                                             const ToolSandbox& sandbox = {});

}  // namespace secplat::scanners
