#include "scanners/sarif_writer.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/json.h"

namespace secplat::scanners {

std::string sarif_level_for_severity(std::string_view s) {
  if (s == "critical" || s == "high") return "error";
  if (s == "medium") return "warning";
  return "note";
}

std::string sarif_uri(std::string_view p) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : p) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

Json sarif_to_json(const SarifRun& run) {
  Json rules = Json::array();
  for (const auto& r : run.rules) {
    Json j = {{"id", r.id},
              {"shortDescription", {{"text", r.short_description}}},
              {"defaultConfiguration", {{"level", r.level}}}};
    if (!r.name.empty()) j["name"] = r.name;
    if (!r.full_description.empty()) j["fullDescription"] = {{"text", r.full_description}};
    if (!r.help_uri.empty()) j["helpUri"] = r.help_uri;
    Json props = Json::object();
    if (!r.severity.empty()) props["severity"] = r.severity;
    if (!r.tags.empty()) props["tags"] = r.tags;
    if (!props.empty()) j["properties"] = std::move(props);
    rules.push_back(std::move(j));
  }
  Json results = Json::array();
  for (const auto& r : run.results) {
    Json j = {{"ruleId", r.rule_id}, {"level", r.level}, {"message", {{"text", r.message}}}};
    Json phys = {{"artifactLocation", {{"uri", sarif_uri(r.uri)}, {"uriBaseId", "%SRCROOT%"}}}};
    if (r.region.start_line > 0) {
      Json region = {{"startLine", r.region.start_line}};
      if (r.region.start_column > 0) region["startColumn"] = r.region.start_column;
      if (r.region.end_line > 0) region["endLine"] = r.region.end_line;
      if (r.region.end_column > 0) region["endColumn"] = r.region.end_column;
      phys["region"] = std::move(region);
    }
    j["locations"] = Json::array({{{"physicalLocation", std::move(phys)}}});
    if (!r.partial_fingerprints.empty()) j["partialFingerprints"] = r.partial_fingerprints;
    if (!r.properties.empty()) j["properties"] = r.properties;
    results.push_back(std::move(j));
  }
  Json driver = {{"name", run.tool_name}, {"rules", std::move(rules)}};
  if (!run.tool_version.empty()) driver["version"] = run.tool_version;
  if (!run.information_uri.empty()) driver["informationUri"] = run.information_uri;
  Json one = {{"tool", {{"driver", std::move(driver)}}},
              {"columnKind", "unicodeCodePoints"},
              {"results", std::move(results)}};
  return {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
          {"version", "2.1.0"},
          {"runs", Json::array({std::move(one)})}};
}

Status write_sarif_file(const SarifRun& run, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) return Error::internal("cannot create directory for " + path + ": " + ec.message());
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Error::internal("cannot write " + tmp);
    out << sarif_to_json(run).dump(2) << '\n';
    if (!out.flush()) return Error::internal("cannot write " + tmp);
  }
  fs::rename(tmp, path, ec);
  if (ec) return Error::internal("cannot rename " + tmp + ": " + ec.message());
  return ok_status();
}

}  // namespace secplat::scanners
