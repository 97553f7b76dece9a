// One third-party package found in a lockfile, and the package-url (purl) rules that name it.
//
// Components are plain values; the parsers build them, the scanner merges duplicates (same purl
// from several lockfiles) and the writers render them. No threading concerns.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace secplat::scanners::sbom {

// Ecosystem names are OSV's spelling, so a component can be matched against OSV records as-is.
inline constexpr std::string_view kNpm = "npm";
inline constexpr std::string_view kPyPI = "PyPI";
inline constexpr std::string_view kGo = "Go";
inline constexpr std::string_view kCargo = "crates.io";
inline constexpr std::string_view kRubyGems = "RubyGems";
inline constexpr std::string_view kPackagist = "Packagist";
inline constexpr std::string_view kMaven = "Maven";

struct Hash {
  std::string alg;  // CycloneDX spelling: "SHA-1", "SHA-256", "SHA-512"
  std::string hex;  // lower-case hex digest
  friend bool operator==(const Hash&, const Hash&) = default;
};

enum class Scope { unknown, direct, transitive };

struct Component {
  std::string ecosystem;  // one of the constants above
  // Ecosystem-native name: npm "@scope/name", Maven "group:artifact", Packagist "vendor/name",
  // Go module path, PyPI name as written in the lockfile.
  std::string name;
  std::string version;  // "" when the lockfile does not pin one (e.g. `flask>=2` in requirements)
  std::string purl;     // always make_purl(ecosystem, name, version)
  std::vector<std::string> sources;  // lockfile paths (relative to the scanned root), sorted, unique
  Scope scope = Scope::unknown;      // direct vs transitive, when the format says
  std::vector<Hash> hashes;          // sorted by alg, at most one per alg
  std::vector<std::string> depends_on;  // purls of resolved dependencies, sorted, unique
};

// The package-url for a component (https://github.com/package-url/purl-spec): namespace and name
// segments percent-encoded, PyPI names lower-cased with '_' → '-', no "@version" when version is "".
// Returns "" for an unknown ecosystem.
std::string make_purl(std::string_view ecosystem, std::string_view name, std::string_view version);

// PyPI name normalisation used by purls and by OSV matching: lower-case, runs of "-_." → "-".
std::string normalize_pypi_name(std::string_view name);

// Decodes an npm/yarn/pnpm Subresource-Integrity string ("sha512-<base64> sha1-<base64>") into
// hashes; unknown algorithms and undecodable parts are ignored.
std::vector<Hash> hashes_from_integrity(std::string_view integrity);

// Merges components with equal purls (sources, hashes, dependency edges and scope are unioned;
// direct wins over transitive wins over unknown) and returns them sorted by purl.
std::vector<Component> merge_components(std::vector<Component> all);

}  // namespace secplat::scanners::sbom
