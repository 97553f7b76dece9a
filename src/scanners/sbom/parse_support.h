// Internal helpers shared by the lockfile parsers (not part of the module's API).
#pragma once

#include <exception>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "scanners/sbom/component.h"

namespace secplat::scanners::sbom::detail {

std::string_view trim(std::string_view s);
std::vector<std::string_view> split_lines(std::string_view text);
bool starts_with(std::string_view s, std::string_view prefix);

Component make_component(std::string_view ecosystem, std::string name, std::string version,
                         const std::string& source);

// Adds depends_on edges: for each component index, the dependency names it declares are resolved
// through `purl_by_name` (unknown names are dropped).
void resolve_by_name(std::vector<Component>& comps,
                     const std::vector<std::vector<std::string>>& dep_names,
                     const std::map<std::string, std::string>& purl_by_name);

Error malformed(const std::string& source, std::string_view why);

// Runs a parser body, turning library exceptions (JSON type errors, YAML errors) into
// Errc::bad_request so a hostile lockfile can never take the scan down.
template <class F>
Result<std::vector<Component>> guarded(const std::string& source, F&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    return malformed(source, e.what());
  }
}

// A tiny TOML reader for lockfile shapes: tables ([a.b]), arrays of tables ([[a]]),
// key = "string" | 'string' | [array of strings / inline tables, may span lines] | {inline} | bare.
// Only string values and string array elements are kept; the rest is skipped.
struct TomlTable {
  std::string header;  // "" for the top level, else "package", "package.dependencies", ...
  std::map<std::string, std::string> strings;
  std::map<std::string, std::vector<std::string>> arrays;
  std::vector<std::string> keys;  // every key in order (including non-string values)
};
Result<std::vector<TomlTable>> parse_toml_tables(std::string_view text);

}  // namespace secplat::scanners::sbom::detail
