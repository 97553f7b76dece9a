#include "scanners/sbom/bom_writer.h"

#include <map>
#include <set>

#include "core/encoding.h"
#include "core/json.h"

namespace secplat::scanners::sbom {
namespace {

const char* kRootRef = "secplat:root";

std::string spdx_alg(const std::string& cdx) {
  std::string out;
  for (char c : cdx) {
    if (c != '-') out += c;
  }
  return out;  // "SHA-512" → "SHA512"
}

std::string scope_word(Scope s) {
  switch (s) {
    case Scope::direct: return "direct";
    case Scope::transitive: return "transitive";
    case Scope::unknown: break;
  }
  return "unknown";
}

std::string effective_severity(const OsvRecord& r) { return r.severity.empty() ? "medium" : r.severity; }

std::string osv_url(const std::string& id) { return "https://osv.dev/vulnerability/" + id; }

}  // namespace

std::string severity_from_score(double score) {
  if (score >= 9.0) return "critical";
  if (score >= 7.0) return "high";
  if (score >= 4.0) return "medium";
  if (score > 0.0) return "low";
  return "info";
}

std::string sanitize_spdx_id(std::string_view s) {
  std::string out;
  for (char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
    out += ok ? c : '-';
  }
  return out;
}

nlohmann::json to_cyclonedx(const std::vector<Component>& components, const std::vector<VulnMatch>& vulns,
                            const BomInfo& info) {
  std::set<std::string> refs;
  for (const auto& c : components) refs.insert(c.purl);

  Json comps = Json::array();
  Json deps = Json::array();
  Json root_deps = Json::array();
  for (const auto& c : components) {
    Json j = {{"type", "library"}, {"bom-ref", c.purl}, {"name", c.name}};
    if (!c.version.empty()) j["version"] = c.version;
    j["purl"] = c.purl;
    if (!c.hashes.empty()) {
      Json hs = Json::array();
      for (const auto& h : c.hashes) hs.push_back({{"alg", h.alg}, {"content", h.hex}});
      j["hashes"] = std::move(hs);
    }
    Json props = Json::array();
    for (const auto& s : c.sources) props.push_back({{"name", "secplat:lockfile"}, {"value", s}});
    props.push_back({{"name", "secplat:ecosystem"}, {"value", c.ecosystem}});
    props.push_back({{"name", "secplat:dependency"}, {"value", scope_word(c.scope)}});
    j["properties"] = std::move(props);
    comps.push_back(std::move(j));

    if (c.scope == Scope::direct) root_deps.push_back(c.purl);
    Json on = Json::array();
    for (const auto& d : c.depends_on) {
      if (refs.count(d)) on.push_back(d);
    }
    if (!on.empty()) deps.push_back({{"ref", c.purl}, {"dependsOn", std::move(on)}});
  }
  deps.insert(deps.begin(), Json{{"ref", kRootRef}, {"dependsOn", std::move(root_deps)}});

  Json bom = {
      {"bomFormat", "CycloneDX"},
      {"specVersion", "1.5"},
      {"serialNumber", "urn:uuid:" + info.uuid},
      {"version", 1},
      {"metadata",
       {{"timestamp", info.timestamp},
        {"tools",
         {{"components",
           Json::array({{{"type", "application"}, {"name", "secplat-sbom"}, {"version", info.tool_version}}})}}},
        {"component", {{"type", "application"}, {"bom-ref", kRootRef}, {"name", info.root_name}}}}},
      {"components", std::move(comps)},
      {"dependencies", std::move(deps)},
  };

  if (!vulns.empty()) {
    // One entry per vulnerability id, affecting every matched component.
    std::map<std::string, std::pair<const OsvRecord*, std::vector<std::string>>> by_id;
    for (const auto& m : vulns) {
      auto& slot = by_id[m.record->id];
      slot.first = m.record;
      slot.second.push_back(m.purl);
    }
    Json vs = Json::array();
    for (const auto& [id, slot] : by_id) {
      const OsvRecord& r = *slot.first;
      Json rating = {{"source", {{"name", "OSV"}, {"url", osv_url(id)}}},
                     {"severity", r.severity.empty() ? "unknown" : r.severity}};
      if (r.score >= 0) {
        rating["score"] = r.score;
        rating["method"] = r.cvss_vector.rfind("CVSS:3.1/", 0) == 0 ? "CVSSv31" : "CVSSv3";
        rating["vector"] = r.cvss_vector;
      }
      Json affects = Json::array();
      for (const auto& p : slot.second) affects.push_back({{"ref", p}});
      Json v = {{"bom-ref", "vuln:" + id},
                {"id", id},
                {"source", {{"name", "OSV"}, {"url", osv_url(id)}}},
                {"ratings", Json::array({rating})},
                {"affects", std::move(affects)}};
      if (!r.summary.empty()) v["description"] = r.summary;
      if (!r.aliases.empty()) {
        Json refs_j = Json::array();
        for (const auto& a : r.aliases) refs_j.push_back({{"id", a}, {"source", {{"name", "alias"}}}});
        v["references"] = std::move(refs_j);
      }
      vs.push_back(std::move(v));
    }
    bom["vulnerabilities"] = std::move(vs);
  }
  return bom;
}

nlohmann::json to_spdx(const std::vector<Component>& components, const BomInfo& info) {
  const std::string root_id = "SPDXRef-RootPackage";
  std::map<std::string, std::string> id_by_purl;
  std::set<std::string> used{root_id, "SPDXRef-DOCUMENT"};
  for (const auto& c : components) {
    std::string base = "SPDXRef-Package-" + sanitize_spdx_id(c.purl.substr(4));
    std::string id = base;
    for (int n = 2; used.count(id); ++n) id = base + "-" + std::to_string(n);
    used.insert(id);
    id_by_purl[c.purl] = id;
  }
  Json packages = Json::array();
  packages.push_back({{"SPDXID", root_id},
                      {"name", info.root_name},
                      {"downloadLocation", "NOASSERTION"},
                      {"filesAnalyzed", false},
                      {"licenseConcluded", "NOASSERTION"},
                      {"licenseDeclared", "NOASSERTION"},
                      {"copyrightText", "NOASSERTION"},
                      {"primaryPackagePurpose", "APPLICATION"}});
  Json rels = Json::array();
  rels.push_back({{"spdxElementId", "SPDXRef-DOCUMENT"}, {"relationshipType", "DESCRIBES"}, {"relatedSpdxElement", root_id}});
  for (const auto& c : components) {
    const std::string& id = id_by_purl[c.purl];
    Json p = {{"SPDXID", id},
              {"name", c.name},
              {"downloadLocation", "NOASSERTION"},
              {"filesAnalyzed", false},
              {"licenseConcluded", "NOASSERTION"},
              {"licenseDeclared", "NOASSERTION"},
              {"copyrightText", "NOASSERTION"},
              {"primaryPackagePurpose", "LIBRARY"},
              {"externalRefs", Json::array({{{"referenceCategory", "PACKAGE-MANAGER"},
                                             {"referenceType", "purl"},
                                             {"referenceLocator", c.purl}}})}};
    if (!c.version.empty()) p["versionInfo"] = c.version;
    if (!c.hashes.empty()) {
      Json cs = Json::array();
      for (const auto& h : c.hashes) cs.push_back({{"algorithm", spdx_alg(h.alg)}, {"checksumValue", h.hex}});
      p["checksums"] = std::move(cs);
    }
    std::string comment = "lockfiles:";
    for (const auto& s : c.sources) comment += " " + s;
    p["comment"] = comment;
    packages.push_back(std::move(p));
    if (c.scope == Scope::direct) {
      rels.push_back({{"spdxElementId", root_id}, {"relationshipType", "DEPENDS_ON"}, {"relatedSpdxElement", id}});
    }
  }
  for (const auto& c : components) {
    for (const auto& d : c.depends_on) {
      auto it = id_by_purl.find(d);
      if (it == id_by_purl.end()) continue;
      rels.push_back({{"spdxElementId", id_by_purl[c.purl]}, {"relationshipType", "DEPENDS_ON"}, {"relatedSpdxElement", it->second}});
    }
  }
  return Json{
      {"spdxVersion", "SPDX-2.3"},
      {"dataLicense", "CC0-1.0"},
      {"SPDXID", "SPDXRef-DOCUMENT"},
      {"name", info.root_name + " SBOM"},
      {"documentNamespace", "https://spdx.org/spdxdocs/secplat-sbom-" + sanitize_spdx_id(info.root_name) + "-" + info.uuid},
      {"creationInfo", {{"created", info.timestamp}, {"creators", Json::array({"Tool: secplat-sbom-" + info.tool_version})}}},
      {"documentDescribes", Json::array({root_id})},
      {"packages", std::move(packages)},
      {"relationships", std::move(rels)},
  };
}

nlohmann::json to_sarif(const std::vector<Component>& components, const std::vector<VulnMatch>& vulns,
                        const BomInfo& info) {
  std::map<std::string, const Component*> by_purl;
  for (const auto& c : components) by_purl[c.purl] = &c;
  std::map<std::string, const OsvRecord*> rules_by_id;
  for (const auto& m : vulns) rules_by_id[m.record->id] = m.record;
  Json rules = Json::array();
  std::map<std::string, int> rule_index;
  for (const auto& [id, r] : rules_by_id) {
    rule_index[id] = static_cast<int>(rules.size());
    Json rule = {{"id", id},
                 {"name", "VulnerableDependency"},
                 {"shortDescription", {{"text", r->summary.empty() ? id : r->summary}}},
                 {"helpUri", osv_url(id)},
                 {"properties", {{"tags", Json::array({"security", "vulnerability", "dependency"})},
                                 {"severity", effective_severity(*r)}}}};
    if (r->score >= 0) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "%.1f", r->score);
      rule["properties"]["security-severity"] = buf;
    }
    rules.push_back(std::move(rule));
  }
  Json results = Json::array();
  for (const auto& m : vulns) {
    const Component* c = by_purl.count(m.purl) ? by_purl[m.purl] : nullptr;
    std::string sev = effective_severity(*m.record);
    std::string level = sev == "critical" || sev == "high" ? "error" : sev == "medium" ? "warning" : "note";
    std::string name = c ? c->name + (c->version.empty() ? "" : "@" + c->version) : m.purl;
    Json locations = Json::array();
    if (c) {
      for (const auto& s : c->sources) {
        locations.push_back({{"physicalLocation", {{"artifactLocation", {{"uri", s}}}}}});
      }
    }
    results.push_back({{"ruleId", m.record->id},
                       {"ruleIndex", rule_index[m.record->id]},
                       {"level", level},
                       {"message", {{"text", name + " is affected by " + m.record->id +
                                             (m.record->summary.empty() ? "" : ": " + m.record->summary)}}},
                       {"locations", std::move(locations)},
                       {"partialFingerprints", {{"secplatSbom/v1", sha256_hex(m.purl + "\n" + m.record->id)}}},
                       {"properties", {{"purl", m.purl}, {"severity", sev}}}});
  }
  return Json{
      {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
      {"version", "2.1.0"},
      {"runs", Json::array({{{"tool", {{"driver", {{"name", "secplat-sbom"},
                                                   {"version", info.tool_version},
                                                   {"informationUri", "https://osv.dev"},
                                                   {"rules", std::move(rules)}}}}},
                             {"results", std::move(results)}}})},
  };
}

}  // namespace secplat::scanners::sbom
