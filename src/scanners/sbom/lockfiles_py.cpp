// requirements*.txt, poetry.lock, Pipfile.lock.
#include <cctype>
#include <map>

#include "core/json.h"
#include "scanners/sbom/lockfiles.h"
#include "scanners/sbom/parse_support.h"

namespace secplat::scanners::sbom {
using namespace detail;

namespace {

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
}

}  // namespace

Result<std::vector<Component>> parse_requirements_txt(const std::string& source, std::string_view bytes) {
  return guarded(source, [&]() -> Result<std::vector<Component>> {
    if (bytes.find('\0') != std::string_view::npos) return malformed(source, "binary content");
    // Join "\" continuations first.
    std::vector<std::string> logical;
    std::string pending;
    for (auto line : split_lines(bytes)) {
      std::string_view l = line;
      if (!l.empty() && l.back() == '\\') {
        pending += std::string(l.substr(0, l.size() - 1)) + " ";
        continue;
      }
      logical.push_back(pending + std::string(l));
      pending.clear();
    }
    if (!pending.empty()) logical.push_back(pending);

    std::vector<Component> comps;
    for (const auto& full : logical) {
      std::string_view l = full;
      if (auto hash = l.find('#'); hash != std::string_view::npos && (hash == 0 || std::isspace(static_cast<unsigned char>(l[hash - 1])))) {
        l = l.substr(0, hash);
      }
      l = trim(l);
      if (l.empty() || l.front() == '-' || l.front() == '.' || l.front() == '/') continue;  // options, paths
      if (l.find("://") != std::string_view::npos && l.find(" @ ") == std::string_view::npos) continue;  // bare URLs
      if (auto opt = l.find(" --"); opt != std::string_view::npos) l = trim(l.substr(0, opt));  // --hash=...
      if (auto marker = l.find(';'); marker != std::string_view::npos) l = trim(l.substr(0, marker));
      size_t n = 0;
      while (n < l.size() && is_name_char(l[n])) ++n;
      if (n == 0) continue;
      std::string name(l.substr(0, n));
      auto rest = trim(l.substr(n));
      if (!rest.empty() && rest.front() == '[') {  // extras
        auto close = rest.find(']');
        rest = close == std::string_view::npos ? std::string_view{} : trim(rest.substr(close + 1));
      }
      std::string version;
      std::string_view op = starts_with(rest, "===") ? "===" : starts_with(rest, "==") ? "==" : "";
      if (!op.empty()) {
        auto v = trim(rest.substr(op.size()));
        if (!v.empty() && v.find_first_of("*,<>!~ ") == std::string_view::npos) version = std::string(v);
      }
      Component c = make_component(kPyPI, name, version, source);
      c.scope = Scope::direct;
      comps.push_back(std::move(c));
    }
    return merge_components(std::move(comps));
  });
}

Result<std::vector<Component>> parse_poetry_lock(const std::string& source, std::string_view bytes) {
  return guarded(source, [&]() -> Result<std::vector<Component>> {
    auto tables = parse_toml_tables(bytes);
    if (!tables.ok()) return malformed(source, tables.error().message);
    std::vector<Component> comps;
    std::vector<std::vector<std::string>> deps;
    std::map<std::string, std::string> purl_by_name;
    for (const auto& t : *tables) {
      if (t.header == "package") {
        auto n = t.strings.find("name");
        auto v = t.strings.find("version");
        if (n == t.strings.end() || v == t.strings.end()) return malformed(source, "[[package]] without name/version");
        Component c = make_component(kPyPI, n->second, v->second, source);
        purl_by_name[normalize_pypi_name(n->second)] = c.purl;
        comps.push_back(std::move(c));
        deps.emplace_back();
      } else if (t.header == "package.dependencies" && !deps.empty()) {
        for (const auto& k : t.keys) deps.back().push_back(normalize_pypi_name(k));
      }
    }
    resolve_by_name(comps, deps, purl_by_name);
    return merge_components(std::move(comps));
  });
}

Result<std::vector<Component>> parse_pipfile_lock(const std::string& source, std::string_view bytes) {
  return guarded(source, [&]() -> Result<std::vector<Component>> {
    Json j = Json::parse(bytes, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return malformed(source, "not a JSON object");
    if (!j.contains("default") && !j.contains("develop")) return malformed(source, "no default/develop sections");
    std::vector<Component> comps;
    for (const char* section : {"default", "develop"}) {
      auto s = j.find(section);
      if (s == j.end() || !s->is_object()) continue;
      for (auto it = s->begin(); it != s->end(); ++it) {
        std::string version;
        if (it->is_object() && it->contains("version") && (*it)["version"].is_string()) {
          version = (*it)["version"].get<std::string>();
          if (starts_with(version, "===")) version.erase(0, 3);
          else if (starts_with(version, "==")) version.erase(0, 2);
          else version.clear();
        }
        comps.push_back(make_component(kPyPI, it.key(), version, source));
      }
    }
    return merge_components(std::move(comps));
  });
}

}  // namespace secplat::scanners::sbom
