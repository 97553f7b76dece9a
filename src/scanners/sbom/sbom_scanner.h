// The built-in "sbom" scanner: finds lockfiles anywhere under the source tree (skipping
// node_modules/, vendor/ and .git/), lists their packages and writes
//   reports/sbom/sbom.cyclonedx.json   (CycloneDX 1.5)
//   reports/sbom/sbom.spdx.json        (SPDX 2.3)
//   reports/sbom/vulnerabilities.sarif.json  (only when an OSV database is configured)
// A malformed lockfile is a warning in the scan log and is skipped; the scan still succeeds.
// outcome.findings = number of distinct components; by_severity counts vulnerability matches.
//
// Threading: stateless; run() may be called concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "scanners/scanner.h"

namespace secplat::scanners {

struct SbomOptions {
  // Directory of OSV JSON records. ScanContext option "osv_db_dir" overrides it; "" = no matching.
  std::string osv_db_dir;
  std::string tool_version = "0.1.0";
  // Lockfiles larger than this are skipped with a warning.
  int64_t max_lockfile_bytes = 64 * 1024 * 1024;
};

std::unique_ptr<Scanner> make_sbom_scanner(SbomOptions options = {});

}  // namespace secplat::scanners
