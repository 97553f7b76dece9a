// Lockfile parsers. Each takes the file's bytes (never touches the filesystem), so tests can feed
// strings. A malformed file yields an Error (Errc::bad_request) naming the problem — never a crash
// and never a partial list.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "scanners/sbom/component.h"

namespace secplat::scanners::sbom {

// True when `filename` (a base name) is a lockfile this module understands: package-lock.json,
// npm-shrinkwrap.json, yarn.lock, pnpm-lock.yaml, requirements*.txt, poetry.lock, Pipfile.lock,
// go.mod, go.sum, Cargo.lock, Gemfile.lock, composer.lock, pom.xml.
bool is_lockfile_name(std::string_view filename);

// Parses one lockfile, dispatching on the base name of `path`. `path` is also recorded as each
// component's source, so pass it relative to the scanned root. Components are merged and sorted
// by purl. An unsupported file name is an error.
Result<std::vector<Component>> parse_lockfile(const std::string& path, std::string_view bytes);

// The individual formats (source = path to record on each component).
Result<std::vector<Component>> parse_npm_lock(const std::string& source, std::string_view bytes);
Result<std::vector<Component>> parse_yarn_lock(const std::string& source, std::string_view bytes);
Result<std::vector<Component>> parse_pnpm_lock(const std::string& source, std::string_view bytes);
Result<std::vector<Component>> parse_requirements_txt(const std::string& source, std::string_view bytes);
Result<std::vector<Component>> parse_poetry_lock(const std::string& source, std::string_view bytes);
Result<std::vector<Component>> parse_pipfile_lock(const std::string& source, std::string_view bytes);
Result<std::vector<Component>> parse_go_mod(const std::string& source, std::string_view bytes);
Result<std::vector<Component>> parse_go_sum(const std::string& source, std::string_view bytes);
Result<std::vector<Component>> parse_cargo_lock(const std::string& source, std::string_view bytes);
Result<std::vector<Component>> parse_gemfile_lock(const std::string& source, std::string_view bytes);
Result<std::vector<Component>> parse_composer_lock(const std::string& source, std::string_view bytes);
Result<std::vector<Component>> parse_maven_pom(const std::string& source, std::string_view bytes);

}  // namespace secplat::scanners::sbom
