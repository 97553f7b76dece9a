// Version ordering per ecosystem, good enough for vulnerability-range checks:
//   npm, crates.io, Go → SemVer 2.0 (leading "v" ignored, prerelease < release, build ignored);
//   PyPI → PEP 440 subset (epoch, release, a/b/rc, post, dev; local "+x" ignored);
//   everything else → dotted numeric/alpha tokens (numbers compare numerically; a qualifier such as
//   "-beta" sorts before the bare release).
// Thread-safe (pure functions).
#pragma once

#include <string_view>

namespace secplat::scanners::sbom {

// <0, 0, >0 like strcmp.
int compare_versions(std::string_view ecosystem, std::string_view a, std::string_view b);

int compare_semver(std::string_view a, std::string_view b);
int compare_pep440(std::string_view a, std::string_view b);
int compare_generic(std::string_view a, std::string_view b);

}  // namespace secplat::scanners::sbom
