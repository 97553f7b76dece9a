// The `sample` scanner: canned, deterministic findings for demos and smoke tests (a manifest or
// profile with `sample_mode: true`). It never reads the source tree, so its report carries no
// path, commit or content from the host: the same five findings in fictional files every time,
// each marked with the property `sample: "true"` and a "[sample]" message prefix.
#pragma once

#include <memory>

#include "scanners/scanner.h"

namespace secplat::scanners {

inline constexpr const char* kSampleToolId = "sample";
inline constexpr const char* kSampleSarifPath = "reports/sast/sample.sarif.json";

std::unique_ptr<Scanner> make_sample_scanner();

}  // namespace secplat::scanners
