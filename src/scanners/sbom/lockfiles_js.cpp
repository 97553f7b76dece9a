// npm package-lock.json (v1/v2/v3), yarn.lock (classic v1 and berry), pnpm-lock.yaml.
#include <map>
#include <set>

#include <yaml-cpp/yaml.h>

#include "core/json.h"
#include "scanners/sbom/lockfiles.h"
#include "scanners/sbom/parse_support.h"

namespace secplat::scanners::sbom {
using namespace detail;

namespace {

// Non-registry specs (git, file, link, tarball URLs) have no usable package version.
std::string registry_version(const std::string& v) {
  if (v.find(':') != std::string::npos || v.find('/') != std::string::npos) return "";
  return v;
}

std::string json_string(const Json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

void add_dep_keys(const Json& obj, const char* key, std::vector<std::string>& out) {
  if (!obj.is_object()) return;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_object()) return;
  for (auto d = it->begin(); d != it->end(); ++d) out.push_back(d.key());
}

// npm's lookup: from a package's install path, walk up the node_modules chain.
const std::string* npm_resolve(const std::map<std::string, std::string>& purl_by_path,
                               const std::string& from, const std::string& dep) {
  std::string base = from;
  while (true) {
    std::string cand = base.empty() ? "node_modules/" + dep : base + "/node_modules/" + dep;
    if (auto it = purl_by_path.find(cand); it != purl_by_path.end()) return &it->second;
    if (base.empty()) return nullptr;
    auto k = base.rfind("/node_modules/");
    base = k == std::string::npos ? "" : base.substr(0, k);
  }
}

struct NpmEntry {
  std::string path;
  std::vector<std::string> deps;
  size_t index;
};

void walk_npm_v1(const Json& deps, const std::string& prefix, const std::string& source,
                 std::vector<Component>& comps, std::vector<NpmEntry>& entries, int depth) {
  if (!deps.is_object() || depth > 256) return;
  for (auto it = deps.begin(); it != deps.end(); ++it) {
    const Json& d = *it;
    if (!d.is_object()) continue;
    std::string path = prefix.empty() ? "node_modules/" + it.key() : prefix + "/node_modules/" + it.key();
    Component c = make_component(kNpm, it.key(), registry_version(json_string(d, "version")), source);
    c.hashes = hashes_from_integrity(json_string(d, "integrity"));
    NpmEntry e{path, {}, comps.size()};
    add_dep_keys(d, "requires", e.deps);
    comps.push_back(std::move(c));
    entries.push_back(std::move(e));
    if (auto n = d.find("dependencies"); n != d.end()) walk_npm_v1(*n, path, source, comps, entries, depth + 1);
  }
}

}  // namespace

Result<std::vector<Component>> parse_npm_lock(const std::string& source, std::string_view bytes) {
  return guarded(source, [&]() -> Result<std::vector<Component>> {
    Json j = Json::parse(bytes, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return malformed(source, "not a JSON object");
    std::vector<Component> comps;
    std::vector<NpmEntry> entries;
    if (auto pk = j.find("packages"); pk != j.end() && pk->is_object()) {  // lockfileVersion 2/3
      std::set<std::string> direct;
      if (auto root = pk->find(""); root != pk->end()) {
        std::vector<std::string> names;
        for (const char* k : {"dependencies", "devDependencies", "optionalDependencies", "peerDependencies"}) {
          add_dep_keys(*root, k, names);
        }
        direct.insert(names.begin(), names.end());
      }
      for (auto it = pk->begin(); it != pk->end(); ++it) {
        const std::string& path = it.key();
        const Json& p = *it;
        if (path.empty()) continue;
        if (!p.is_object()) return malformed(source, "package entry " + path + " is not an object");
        if (p.contains("version") && !p["version"].is_string()) return malformed(source, path + ": version is not a string");
        if (p.value("link", false)) continue;
        auto k = path.rfind("node_modules/");
        if (k == std::string::npos) continue;  // a workspace folder, not an installed package
        std::string name = json_string(p, "name");
        if (name.empty()) name = path.substr(k + 13);
        std::string version = registry_version(json_string(p, "version"));
        Component c = make_component(kNpm, name, version, source);
        c.hashes = hashes_from_integrity(json_string(p, "integrity"));
        c.scope = (path == "node_modules/" + name && direct.count(name)) ? Scope::direct : Scope::transitive;
        NpmEntry e{path, {}, comps.size()};
        for (const char* dk : {"dependencies", "optionalDependencies", "peerDependencies"}) {
          add_dep_keys(p, dk, e.deps);
        }
        comps.push_back(std::move(c));
        entries.push_back(std::move(e));
      }
    } else if (auto d = j.find("dependencies"); d != j.end() && d->is_object()) {  // v1
      walk_npm_v1(*d, "", source, comps, entries, 0);
    } else {
      return malformed(source, "neither \"packages\" nor \"dependencies\"");
    }
    std::map<std::string, std::string> purl_by_path;
    for (const auto& e : entries) purl_by_path[e.path] = comps[e.index].purl;
    for (const auto& e : entries) {
      for (const auto& dep : e.deps) {
        if (const std::string* p = npm_resolve(purl_by_path, e.path, dep)) comps[e.index].depends_on.push_back(*p);
      }
    }
    return merge_components(std::move(comps));
  });
}

namespace {

std::string unquote(std::string_view s) {
  s = trim(s);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

// "name@range" → name ("@scope/name@range" keeps the scope).
std::string descriptor_name(std::string_view d) {
  auto at = d.find('@', 1);
  return std::string(at == std::string_view::npos ? d : d.substr(0, at));
}

std::vector<std::string> split_descriptors(std::string_view header) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= header.size()) {
    size_t comma = header.find(',', start);
    if (comma == std::string_view::npos) comma = header.size();
    auto d = unquote(header.substr(start, comma - start));
    if (!d.empty()) out.push_back(d);
    start = comma + 1;
  }
  return out;
}

Result<std::vector<Component>> parse_yarn_berry(const std::string& source, std::string_view bytes) {
  YAML::Node root = YAML::Load(std::string(bytes));
  if (!root.IsMap()) return malformed(source, "not a YAML mapping");
  std::vector<Component> comps;
  std::vector<std::vector<std::string>> deps;
  std::map<std::string, std::string> purl_by_descriptor;
  for (auto it = root.begin(); it != root.end(); ++it) {
    std::string key = it->first.as<std::string>();
    if (key == "__metadata") continue;
    const YAML::Node& e = it->second;
    if (!e.IsMap()) return malformed(source, "entry " + key + " is not a mapping");
    std::string resolution = e["resolution"] ? e["resolution"].as<std::string>() : "";
    if (resolution.find("@workspace:") != std::string::npos || resolution.find("@link:") != std::string::npos ||
        resolution.find("@portal:") != std::string::npos || resolution.find("@patch:") != std::string::npos) {
      continue;
    }
    std::string name = descriptor_name(resolution.empty() ? key : resolution);
    std::string version = e["version"] ? e["version"].as<std::string>() : "";
    if (resolution.find("@npm:") == std::string::npos) version = registry_version(version);
    Component c = make_component(kNpm, name, version, source);
    std::vector<std::string> d;
    if (const YAML::Node dn = e["dependencies"]; dn && dn.IsMap()) {
      for (auto di = dn.begin(); di != dn.end(); ++di) {
        std::string dname = di->first.as<std::string>();
        std::string range = di->second.as<std::string>();
        d.push_back(dname + "@" + range);
        if (range.find(':') == std::string::npos) d.push_back(dname + "@npm:" + range);
      }
    }
    for (const auto& desc : split_descriptors(key)) purl_by_descriptor[desc] = c.purl;
    comps.push_back(std::move(c));
    deps.push_back(std::move(d));
  }
  resolve_by_name(comps, deps, purl_by_descriptor);
  return merge_components(std::move(comps));
}

Result<std::vector<Component>> parse_yarn_classic(const std::string& source, std::string_view bytes) {
  std::vector<Component> comps;
  std::vector<std::vector<std::string>> deps;
  std::map<std::string, std::string> purl_by_descriptor;
  std::vector<std::string> descriptors;
  std::string version, integrity;
  std::vector<std::string> cur_deps;
  bool in_block = false, in_deps = false;
  size_t lineno = 0;
  auto flush = [&]() -> Status {
    if (!in_block) return {};
    if (version.empty()) return malformed(source, "entry without version before line " + std::to_string(lineno));
    Component c = make_component(kNpm, descriptor_name(descriptors.front()), version, source);
    c.hashes = hashes_from_integrity(integrity);
    for (const auto& d : descriptors) purl_by_descriptor[d] = c.purl;
    comps.push_back(std::move(c));
    deps.push_back(std::move(cur_deps));
    cur_deps.clear();
    version.clear();
    integrity.clear();
    in_block = false;
    return {};
  };
  for (auto line : split_lines(bytes)) {
    ++lineno;
    if (trim(line).empty() || trim(line).front() == '#') continue;
    size_t indent = line.find_first_not_of(' ');
    auto body = trim(line);
    if (indent == 0) {
      SECPLAT_TRY(flush());
      if (body.back() != ':') return malformed(source, "line " + std::to_string(lineno) + ": expected an entry header");
      descriptors = split_descriptors(body.substr(0, body.size() - 1));
      if (descriptors.empty()) return malformed(source, "line " + std::to_string(lineno) + ": empty entry header");
      in_block = true;
      in_deps = false;
      continue;
    }
    if (!in_block) return malformed(source, "line " + std::to_string(lineno) + ": field outside an entry");
    if (indent == 2) {
      in_deps = body == "dependencies:" || body == "optionalDependencies:";
      auto sp = body.find(' ');
      if (sp == std::string_view::npos) continue;
      auto key = body.substr(0, sp);
      if (key == "version") version = unquote(body.substr(sp + 1));
      else if (key == "integrity") integrity = unquote(body.substr(sp + 1));
    } else if (in_deps && indent >= 4) {
      // `name "range"` or `"@scope/name" "range"`
      size_t sp = body.front() == '"' ? body.find('"', 1) + 1 : body.find(' ');
      if (sp == 0 || sp == std::string_view::npos || sp >= body.size()) continue;
      cur_deps.push_back(unquote(body.substr(0, sp)) + "@" + unquote(body.substr(sp)));
    }
  }
  SECPLAT_TRY(flush());
  resolve_by_name(comps, deps, purl_by_descriptor);
  return merge_components(std::move(comps));
}

}  // namespace

Result<std::vector<Component>> parse_yarn_lock(const std::string& source, std::string_view bytes) {
  return guarded(source, [&]() -> Result<std::vector<Component>> {
    bool berry = false;
    for (auto line : split_lines(bytes)) {
      if (starts_with(line, "__metadata:")) berry = true;
    }
    return berry ? parse_yarn_berry(source, bytes) : parse_yarn_classic(source, bytes);
  });
}

namespace {

struct PnpmKey {
  std::string name, version;
};

// "/name/1.0.0_peer" (v5), "/@s/name@1.0.0(peer)" (v6), "name@1.0.0(peer)" (v9).
PnpmKey parse_pnpm_key(std::string_view k) {
  if (!k.empty() && k.front() == '/') k.remove_prefix(1);
  if (auto p = k.find('('); p != std::string_view::npos) k = k.substr(0, p);
  if (auto at = k.find('@', 1); at != std::string_view::npos) {
    return {std::string(k.substr(0, at)), std::string(k.substr(at + 1))};
  }
  auto slash = k.rfind('/');
  if (slash == std::string_view::npos) return {std::string(k), ""};
  auto v = k.substr(slash + 1);
  if (auto u = v.find('_'); u != std::string_view::npos) v = v.substr(0, u);
  return {std::string(k.substr(0, slash)), std::string(v)};
}

std::string clean_pnpm_version(std::string v) {
  if (auto p = v.find('('); p != std::string::npos) v.resize(p);
  if (auto u = v.find('_'); u != std::string::npos) v.resize(u);
  return v;
}

// dependencies maps: name → "1.0.0" or name → {specifier, version}.
void pnpm_deps(const YAML::Node& n, std::vector<std::pair<std::string, std::string>>& out) {
  if (!n || !n.IsMap()) return;
  for (auto it = n.begin(); it != n.end(); ++it) {
    std::string v;
    if (it->second.IsScalar()) v = it->second.as<std::string>();
    else if (it->second.IsMap() && it->second["version"]) v = it->second["version"].as<std::string>();
    out.emplace_back(it->first.as<std::string>(), clean_pnpm_version(v));
  }
}

}  // namespace

Result<std::vector<Component>> parse_pnpm_lock(const std::string& source, std::string_view bytes) {
  return guarded(source, [&]() -> Result<std::vector<Component>> {
    YAML::Node root = YAML::Load(std::string(bytes));
    if (!root.IsMap() || !root["lockfileVersion"]) return malformed(source, "no lockfileVersion");
    std::set<std::string> direct;
    std::vector<std::pair<std::string, std::string>> top;
    for (const char* k : {"dependencies", "devDependencies", "optionalDependencies"}) pnpm_deps(root[k], top);
    if (const YAML::Node imp = root["importers"]; imp && imp.IsMap()) {
      for (auto it = imp.begin(); it != imp.end(); ++it) {
        for (const char* k : {"dependencies", "devDependencies", "optionalDependencies"}) pnpm_deps(it->second[k], top);
      }
    }
    for (const auto& [n, v] : top) direct.insert(n + "@" + v);
    std::vector<Component> comps;
    std::vector<std::vector<std::string>> deps;
    std::map<std::string, std::string> purl_by_key;
    const YAML::Node packages = root["packages"];
    const YAML::Node snapshots = root["snapshots"];
    if (packages && packages.IsMap()) {
      for (auto it = packages.begin(); it != packages.end(); ++it) {
        std::string key = it->first.as<std::string>();
        PnpmKey pk = parse_pnpm_key(key);
        const YAML::Node& p = it->second;
        if (p.IsMap() && p["name"]) pk.name = p["name"].as<std::string>();
        if (p.IsMap() && p["version"]) pk.version = p["version"].as<std::string>();
        Component c = make_component(kNpm, pk.name, registry_version(pk.version), source);
        if (p.IsMap() && p["resolution"] && p["resolution"]["integrity"]) {
          c.hashes = hashes_from_integrity(p["resolution"]["integrity"].as<std::string>());
        }
        c.scope = direct.count(pk.name + "@" + pk.version) ? Scope::direct : Scope::transitive;
        purl_by_key[pk.name + "@" + pk.version] = c.purl;
        std::vector<std::pair<std::string, std::string>> pd;
        if (p.IsMap()) {
          pnpm_deps(p["dependencies"], pd);
          pnpm_deps(p["optionalDependencies"], pd);
        }
        std::vector<std::string> d;
        for (const auto& [n, v] : pd) d.push_back(n + "@" + v);
        comps.push_back(std::move(c));
        deps.push_back(std::move(d));
      }
    }
    if (snapshots && snapshots.IsMap()) {  // v9 keeps the graph here, keyed like packages (+ peers)
      std::map<std::string, size_t> index_by_purl;
      for (size_t i = 0; i < comps.size(); ++i) index_by_purl[comps[i].purl] = i;
      for (auto it = snapshots.begin(); it != snapshots.end(); ++it) {
        PnpmKey pk = parse_pnpm_key(it->first.as<std::string>());
        auto p = purl_by_key.find(pk.name + "@" + pk.version);
        if (p == purl_by_key.end()) continue;
        std::vector<std::pair<std::string, std::string>> pd;
        pnpm_deps(it->second["dependencies"], pd);
        pnpm_deps(it->second["optionalDependencies"], pd);
        for (const auto& [n, v] : pd) deps[index_by_purl[p->second]].push_back(n + "@" + v);
      }
    }
    resolve_by_name(comps, deps, purl_by_key);
    return merge_components(std::move(comps));
  });
}

}  // namespace secplat::scanners::sbom
