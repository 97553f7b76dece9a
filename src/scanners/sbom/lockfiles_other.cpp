// go.mod/go.sum, Cargo.lock, Gemfile.lock, composer.lock, and the dispatcher.
#include <cctype>
#include <map>
#include <set>

#include "core/json.h"
#include "scanners/sbom/lockfiles.h"
#include "scanners/sbom/parse_support.h"

namespace secplat::scanners::sbom {
using namespace detail;

namespace {

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t start = i;
    while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

bool is_hex(std::string_view s) {
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return !s.empty();
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

Result<std::vector<Component>> parse_go_mod(const std::string& source, std::string_view bytes) {
  return guarded(source, [&]() -> Result<std::vector<Component>> {
    std::vector<Component> comps;
    bool in_require = false, in_other_block = false, saw_module = false;
    size_t lineno = 0;
    for (auto raw : split_lines(bytes)) {
      ++lineno;
      std::string_view line = raw;
      bool indirect = false;
      if (auto c = line.find("//"); c != std::string_view::npos) {
        indirect = trim(line.substr(c + 2)).find("indirect") == 0;
        line = line.substr(0, c);
      }
      line = trim(line);
      if (line.empty()) continue;
      auto w = words(line);
      if (in_require || in_other_block) {
        if (line == ")") { in_require = in_other_block = false; continue; }
        if (in_other_block) continue;
      } else if (w[0] == "module") {
        saw_module = true;
        continue;
      } else if (w[0] == "require") {
        if (w.size() == 2 && w[1] == "(") { in_require = true; continue; }
        w.erase(w.begin());
      } else if (w[0] == "go" || w[0] == "toolchain" || w[0] == "replace" || w[0] == "exclude" ||
                 w[0] == "retract" || w[0] == "godebug" || w[0] == "tool") {
        if (w.size() == 2 && w[1] == "(") in_other_block = true;
        continue;
      } else {
        return malformed(source, "line " + std::to_string(lineno) + ": unknown directive");
      }
      if (w.size() != 2 || w[1].empty() || w[1][0] != 'v') {
        return malformed(source, "line " + std::to_string(lineno) + ": expected `module vX.Y.Z`");
      }
      Component c = make_component(kGo, std::string(w[0]), std::string(w[1]), source);
      c.scope = indirect ? Scope::transitive : Scope::direct;
      comps.push_back(std::move(c));
    }
    if (!saw_module) return malformed(source, "no module directive");
    return merge_components(std::move(comps));
  });
}

Result<std::vector<Component>> parse_go_sum(const std::string& source, std::string_view bytes) {
  return guarded(source, [&]() -> Result<std::vector<Component>> {
    std::vector<Component> comps;
    size_t lineno = 0;
    for (auto line : split_lines(bytes)) {
      ++lineno;
      auto w = words(line);
      if (w.empty()) continue;
      if (w.size() != 3 || !starts_with(w[2], "h1:")) {
        return malformed(source, "line " + std::to_string(lineno) + ": expected `module version h1:hash`");
      }
      if (w[1].size() > 7 && w[1].substr(w[1].size() - 7) == "/go.mod") continue;  // go.mod-only entry
      comps.push_back(make_component(kGo, std::string(w[0]), std::string(w[1]), source));
    }
    return merge_components(std::move(comps));
  });
}

Result<std::vector<Component>> parse_cargo_lock(const std::string& source, std::string_view bytes) {
  return guarded(source, [&]() -> Result<std::vector<Component>> {
    auto tables = parse_toml_tables(bytes);
    if (!tables.ok()) return malformed(source, tables.error().message);
    struct Pkg {
      std::string name, version;
      bool local;
      std::vector<std::string> deps;
    };
    std::vector<Pkg> pkgs;
    for (const auto& t : *tables) {
      if (t.header != "package") continue;
      auto n = t.strings.find("name");
      auto v = t.strings.find("version");
      if (n == t.strings.end() || v == t.strings.end()) return malformed(source, "[[package]] without name/version");
      Pkg p{n->second, v->second, !t.strings.count("source"), {}};
      if (auto d = t.arrays.find("dependencies"); d != t.arrays.end()) p.deps = d->second;
      pkgs.push_back(std::move(p));
    }
    // A dependency entry is "name", "name version" or "name version (source)".
    std::map<std::string, std::string> purl_by_name, purl_by_name_version;
    std::map<std::string, int> versions_of;
    for (const auto& p : pkgs) {
      std::string purl = make_purl(kCargo, p.name, p.version);
      purl_by_name[p.name] = purl;
      purl_by_name_version[p.name + " " + p.version] = purl;
      ++versions_of[p.name];
    }
    auto resolve = [&](const std::string& dep) -> std::string {
      auto w = words(dep);
      if (w.empty()) return "";
      if (w.size() >= 2) {
        auto it = purl_by_name_version.find(std::string(w[0]) + " " + std::string(w[1]));
        return it == purl_by_name_version.end() ? "" : it->second;
      }
      auto it = purl_by_name.find(std::string(w[0]));
      return it == purl_by_name.end() ? "" : it->second;
    };
    std::set<std::string> direct;
    for (const auto& p : pkgs) {
      if (!p.local) continue;
      for (const auto& d : p.deps) direct.insert(resolve(d));
    }
    std::vector<Component> comps;
    for (const auto& p : pkgs) {
      if (p.local) continue;  // the workspace's own crates
      Component c = make_component(kCargo, p.name, p.version, source);
      c.scope = direct.count(c.purl) ? Scope::direct : Scope::transitive;
      for (const auto& d : p.deps) {
        if (auto r = resolve(d); !r.empty()) c.depends_on.push_back(r);
      }
      comps.push_back(std::move(c));
    }
    // Checksums: sha256 of the .crate file.
    for (const auto& t : *tables) {
      if (t.header != "package") continue;
      auto ck = t.strings.find("checksum");
      if (ck == t.strings.end() || ck->second.size() != 64 || !is_hex(ck->second)) continue;
      std::string purl = make_purl(kCargo, t.strings.at("name"), t.strings.at("version"));
      for (auto& c : comps) {
        if (c.purl == purl) c.hashes = {{"SHA-256", lower(ck->second)}};
      }
    }
    return merge_components(std::move(comps));
  });
}

Result<std::vector<Component>> parse_gemfile_lock(const std::string& source, std::string_view bytes) {
  return guarded(source, [&]() -> Result<std::vector<Component>> {
    std::vector<Component> comps;
    std::vector<std::vector<std::string>> deps;
    std::set<std::string> direct;
    std::string section;
    bool in_specs = false, saw_section = false;
    size_t lineno = 0;
    for (auto line : split_lines(bytes)) {
      ++lineno;
      if (trim(line).empty()) continue;
      size_t indent = line.find_first_not_of(' ');
      auto body = trim(line);
      if (indent == 0) {
        section = std::string(body);
        in_specs = false;
        saw_section = true;
        continue;
      }
      if (!saw_section) return malformed(source, "line " + std::to_string(lineno) + ": text before any section");
      bool gem_section = section == "GEM" || section == "PATH" || section == "GIT";
      if (gem_section && indent == 2) {
        in_specs = body == "specs:";
      } else if (gem_section && in_specs && (indent == 4 || indent == 6)) {
        // "name (version)" at 4, "dep (constraint)" at 6.
        auto paren = body.find(" (");
        std::string name(paren == std::string_view::npos ? body : body.substr(0, paren));
        if (indent == 4) {
          if (paren == std::string_view::npos || body.back() != ')') {
            return malformed(source, "line " + std::to_string(lineno) + ": expected `name (version)`");
          }
          std::string version(body.substr(paren + 2, body.size() - paren - 3));
          comps.push_back(make_component(kRubyGems, name, version, source));
          deps.emplace_back();
        } else if (!deps.empty()) {
          deps.back().push_back(name);
        }
      } else if (section == "DEPENDENCIES" && indent == 2) {
        auto w = words(body);
        std::string name(w[0]);
        if (!name.empty() && name.back() == '!') name.pop_back();
        direct.insert(name);
      }
    }
    if (!saw_section) return malformed(source, "no sections");
    std::map<std::string, std::string> purl_by_name;
    for (auto& c : comps) {
      purl_by_name[c.name] = c.purl;
      c.scope = direct.count(c.name) ? Scope::direct : Scope::transitive;
    }
    resolve_by_name(comps, deps, purl_by_name);
    return merge_components(std::move(comps));
  });
}

Result<std::vector<Component>> parse_composer_lock(const std::string& source, std::string_view bytes) {
  return guarded(source, [&]() -> Result<std::vector<Component>> {
    Json j = Json::parse(bytes, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return malformed(source, "not a JSON object");
    if (!j.contains("packages")) return malformed(source, "no \"packages\"");
    std::vector<Component> comps;
    std::vector<std::vector<std::string>> deps;
    for (const char* section : {"packages", "packages-dev"}) {
      auto s = j.find(section);
      if (s == j.end()) continue;
      if (!s->is_array()) return malformed(source, std::string(section) + " is not an array");
      for (const auto& p : *s) {
        if (!p.is_object() || !p.contains("name") || !p["name"].is_string()) continue;
        std::string version = p.contains("version") && p["version"].is_string() ? p["version"].get<std::string>() : "";
        Component c = make_component(kPackagist, p["name"].get<std::string>(), version, source);
        if (p.contains("dist") && p["dist"].is_object() && p["dist"].contains("shasum") && p["dist"]["shasum"].is_string()) {
          std::string sha = p["dist"]["shasum"].get<std::string>();
          if (sha.size() == 40 && is_hex(sha)) c.hashes = {{"SHA-1", lower(sha)}};
        }
        std::vector<std::string> d;
        if (p.contains("require") && p["require"].is_object()) {
          for (auto it = p["require"].begin(); it != p["require"].end(); ++it) d.push_back(lower(it.key()));
        }
        comps.push_back(std::move(c));
        deps.push_back(std::move(d));
      }
    }
    std::map<std::string, std::string> purl_by_name;
    for (const auto& c : comps) purl_by_name[lower(c.name)] = c.purl;
    resolve_by_name(comps, deps, purl_by_name);
    return merge_components(std::move(comps));
  });
}

bool is_lockfile_name(std::string_view f) {
  static const std::set<std::string_view> kNames = {
      "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock",
      "Pipfile.lock", "go.mod", "go.sum", "Cargo.lock", "Gemfile.lock", "composer.lock", "pom.xml"};
  if (kNames.count(f)) return true;
  return starts_with(f, "requirements") && f.size() > 4 && f.substr(f.size() - 4) == ".txt";
}

Result<std::vector<Component>> parse_lockfile(const std::string& path, std::string_view bytes) {
  auto slash = path.find_last_of('/');
  std::string_view f = slash == std::string::npos ? std::string_view(path) : std::string_view(path).substr(slash + 1);
  if (f == "package-lock.json" || f == "npm-shrinkwrap.json") return parse_npm_lock(path, bytes);
  if (f == "yarn.lock") return parse_yarn_lock(path, bytes);
  if (f == "pnpm-lock.yaml") return parse_pnpm_lock(path, bytes);
  if (f == "poetry.lock") return parse_poetry_lock(path, bytes);
  if (f == "Pipfile.lock") return parse_pipfile_lock(path, bytes);
  if (f == "go.mod") return parse_go_mod(path, bytes);
  if (f == "go.sum") return parse_go_sum(path, bytes);
  if (f == "Cargo.lock") return parse_cargo_lock(path, bytes);
  if (f == "Gemfile.lock") return parse_gemfile_lock(path, bytes);
  if (f == "composer.lock") return parse_composer_lock(path, bytes);
  if (f == "pom.xml") return parse_maven_pom(path, bytes);
  if (is_lockfile_name(f)) return parse_requirements_txt(path, bytes);
  return Error::bad_request(path + ": not a supported lockfile");
}

}  // namespace secplat::scanners::sbom
