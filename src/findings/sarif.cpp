#include "findings/sarif.h"

#include <algorithm>
#include <map>

#include "core/encoding.h"
#include "core/json.h"

namespace secplat::findings {
namespace {

Error bad(const std::string& path, const std::string& what) {
  Error e{Errc::validation, "Not a valid SARIF 2.1.0 log: " + path + " " + what, {}, 0};
  e.fields.push_back({{"body", "sarif", path}, what});
  return e;
}

// The string at obj[k1][k2]... or "" when any step is missing or not the right type.
std::string str_at(const Json& obj, std::initializer_list<const char*> path) {
  const Json* cur = &obj;
  for (const char* k : path) {
    if (!cur->is_object() || !cur->contains(k)) return "";
    cur = &(*cur)[k];
  }
  return cur->is_string() ? cur->get<std::string>() : "";
}

std::optional<double> security_severity(const Json& holder) {
  if (!holder.is_object() || !holder.contains("properties") || !holder["properties"].is_object()) return std::nullopt;
  const Json& p = holder["properties"];
  if (!p.contains("security-severity")) return std::nullopt;
  const Json& v = p["security-severity"];
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    try {
      std::size_t used = 0;
      double d = std::stod(v.get<std::string>(), &used);
      if (used == v.get<std::string>().size()) return d;
    } catch (...) {
    }
  }
  return std::nullopt;
}

std::string severity_from_level(const std::string& level) {
  if (level == "error") return "high";
  if (level == "note") return "low";
  if (level == "none") return "info";
  return "medium";  // "warning", SARIF's default
}

bool valid_level(const Json& v) {
  if (!v.is_string()) return false;
  const auto s = v.get<std::string>();
  return s == "none" || s == "note" || s == "warning" || s == "error";
}

std::string first_line(const std::string& s, std::size_t max_len) {
  std::string line = s.substr(0, s.find('\n'));
  if (line.size() > max_len) line = line.substr(0, max_len - 3) + "...";
  return line;
}

}  // namespace

std::string severity_from_cvss(double score) {
  if (score >= 9.0) return "critical";
  if (score >= 7.0) return "high";
  if (score >= 4.0) return "medium";
  if (score > 0.0) return "low";
  return "info";
}

std::string sarif_finding_key(const std::string& source, const std::string& basis) {
  return "sarif:" + sha256_hex(source + "\n" + basis).substr(0, 40);
}

Result<SarifResults> read_sarif(const Json& log) {
  if (!log.is_object()) return bad("$", "must be a JSON object");
  if (!log.contains("version") || !log["version"].is_string()) return bad("version", "must be the string \"2.1.0\"");
  if (log["version"].get<std::string>() != "2.1.0") {
    return bad("version", "is \"" + log["version"].get<std::string>() + "\"; only \"2.1.0\" is supported");
  }
  if (!log.contains("runs") || !log["runs"].is_array()) return bad("runs", "must be an array");

  SarifResults out;
  const Json& runs = log["runs"];
  for (std::size_t ri = 0; ri < runs.size(); ++ri) {
    const std::string rp = "runs[" + std::to_string(ri) + "]";
    const Json& run = runs[ri];
    if (!run.is_object()) return bad(rp, "must be an object");
    if (!run.contains("tool") || !run["tool"].is_object() || !run["tool"].contains("driver") ||
        !run["tool"]["driver"].is_object()) {
      return bad(rp + ".tool.driver", "must be an object");
    }
    const Json& driver = run["tool"]["driver"];
    if (!driver.contains("name") || !driver["name"].is_string() || driver["name"].get<std::string>().empty()) {
      return bad(rp + ".tool.driver.name", "must be a non-empty string");
    }
    if (ri == 0) out.tool_name = driver["name"].get<std::string>();

    std::map<std::string, const Json*> rules_by_id;
    const Json* rules = nullptr;
    if (driver.contains("rules")) {
      if (!driver["rules"].is_array()) return bad(rp + ".tool.driver.rules", "must be an array");
      rules = &driver["rules"];
      for (std::size_t k = 0; k < rules->size(); ++k) {
        const Json& rule = (*rules)[k];
        if (!rule.is_object() || !rule.contains("id") || !rule["id"].is_string()) {
          return bad(rp + ".tool.driver.rules[" + std::to_string(k) + "].id", "must be a string");
        }
        rules_by_id[rule["id"].get<std::string>()] = &rule;
      }
    }
    if (!run.contains("results")) continue;
    if (!run["results"].is_array()) return bad(rp + ".results", "must be an array");
    const Json& results = run["results"];
    for (std::size_t i = 0; i < results.size(); ++i) {
      const std::string p = rp + ".results[" + std::to_string(i) + "]";
      const Json& res = results[i];
      if (!res.is_object()) return bad(p, "must be an object");
      if (!res.contains("message") || !res["message"].is_object()) return bad(p + ".message", "must be an object");
      if (res.contains("ruleId") && !res["ruleId"].is_string()) return bad(p + ".ruleId", "must be a string");
      if (res.contains("level") && !valid_level(res["level"])) {
        return bad(p + ".level", "must be one of none, note, warning, error");
      }
      if (res.contains("locations") && !res["locations"].is_array()) return bad(p + ".locations", "must be an array");

      const Json* rule = nullptr;
      std::string rule_id = res.value("ruleId", std::string());
      if (res.contains("ruleIndex")) {
        if (!res["ruleIndex"].is_number_integer()) return bad(p + ".ruleIndex", "must be an integer");
        auto idx = res["ruleIndex"].get<int64_t>();
        if (rules == nullptr || idx < 0 || idx >= static_cast<int64_t>(rules->size())) {
          return bad(p + ".ruleIndex", "does not name a rule of tool.driver.rules");
        }
        rule = &(*rules)[static_cast<std::size_t>(idx)];
        if (rule_id.empty()) rule_id = (*rule)["id"].get<std::string>();
      } else if (auto it = rules_by_id.find(rule_id); it != rules_by_id.end()) {
        rule = it->second;
      }

      std::vector<std::string> fingerprints;
      if (res.contains("partialFingerprints")) {
        const Json& pf = res["partialFingerprints"];
        if (!pf.is_object()) return bad(p + ".partialFingerprints", "must be an object of strings");
        for (auto it = pf.begin(); it != pf.end(); ++it) {
          if (!it.value().is_string()) return bad(p + ".partialFingerprints." + it.key(), "must be a string");
          fingerprints.push_back(it.key() + "=" + it.value().get<std::string>());
        }
        std::sort(fingerprints.begin(), fingerprints.end());
      }

      std::string uri;
      int64_t line = 0;
      if (res.contains("locations") && !res["locations"].empty()) {
        const Json& loc = res["locations"][0];
        if (!loc.is_object()) return bad(p + ".locations[0]", "must be an object");
        uri = str_at(loc, {"physicalLocation", "artifactLocation", "uri"});
        if (loc.contains("physicalLocation") && loc["physicalLocation"].is_object() &&
            loc["physicalLocation"].contains("region") && loc["physicalLocation"]["region"].is_object()) {
          const Json& region = loc["physicalLocation"]["region"];
          if (region.contains("startLine") && region["startLine"].is_number_integer()) {
            line = region["startLine"].get<int64_t>();
          }
        }
      }

      std::string basis;
      if (!fingerprints.empty()) {
        basis = "fp\n" + rule_id;
        for (const auto& f : fingerprints) basis += "\n" + f;
      } else {
        basis = "loc\n" + rule_id + "\n" + uri + "\n" + std::to_string(line);
      }

      const std::string message = str_at(res, {"message", "text"});
      FindingInput in;
      std::string title = rule ? str_at(*rule, {"shortDescription", "text"}) : "";
      if (title.empty()) title = first_line(message, 200);
      if (title.empty()) title = rule_id.empty() ? "SARIF result" : rule_id;
      in.title = title;

      std::optional<double> cvss = security_severity(res);
      if (!cvss && rule) cvss = security_severity(*rule);
      std::string level = res.value("level", std::string());
      if (level.empty() && rule) level = str_at(*rule, {"defaultConfiguration", "level"});
      in.severity = cvss ? severity_from_cvss(*cvss) : severity_from_level(level);
      in.confidence = "high";

      std::string evidence = message;
      if (!uri.empty()) evidence += (evidence.empty() ? "" : "\n") + uri + (line > 0 ? ":" + std::to_string(line) : "");
      in.evidence = evidence;
      std::string help = rule ? str_at(*rule, {"help", "text"}) : "";
      if (help.empty() && rule) help = str_at(*rule, {"fullDescription", "text"});
      if (!help.empty()) in.remediation = help;
      std::string category = str_at(res, {"properties", "category"});
      if (category.empty() && rule) category = str_at(*rule, {"properties", "category"});
      in.category = category.empty() ? "static_analysis" : category;
      if (rule_id.rfind("CVE-", 0) == 0 || rule_id.rfind("GHSA-", 0) == 0) in.vulnerability_id = rule_id;

      Json meta = {{"tool", driver["name"]}, {"rule_id", rule_id}};
      if (!uri.empty()) meta["uri"] = uri;
      if (line > 0) meta["start_line"] = line;
      if (res.contains("partialFingerprints")) meta["partial_fingerprints"] = res["partialFingerprints"];
      in.scanner_metadata_json = meta.dump();
      out.items.push_back(std::move(in));
      out.key_basis.push_back(std::move(basis));
    }
  }
  return out;
}

}  // namespace secplat::findings
