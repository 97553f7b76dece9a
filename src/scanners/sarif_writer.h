// A small SARIF 2.1.0 builder shared by the built-in scanners.
//
// Usage: fill a SarifRun (tool, rules, results) and call sarif_to_json / write_sarif_file.
// Output is deterministic (rules and results in insertion order) and contains only what the
// caller put in: scanners must never place secret values in messages or properties.
// Not thread-safe; build one per scan.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/error.h"

namespace secplat::scanners {

struct SarifRule {
  std::string id;
  std::string name;               // optional, PascalCase-ish display name
  std::string short_description;
  std::string full_description;   // optional
  std::string help_uri;           // optional
  std::string level = "warning";  // defaultConfiguration.level: "error", "warning", "note"
  std::string severity;           // optional; properties.severity ("critical".."info")
  std::vector<std::string> tags;  // properties.tags
};

struct SarifRegion {
  int start_line = 0;    // 1-based; 0 = no region
  int start_column = 0;  // 1-based; 0 = omitted
  int end_line = 0;      // 0 = omitted (same line)
  int end_column = 0;    // exclusive; 0 = omitted
};

struct SarifResult {
  std::string rule_id;
  std::string level = "warning";
  std::string message;
  std::string uri;  // relative to the source root, '/'-separated (percent-encoded on output)
  SarifRegion region;
  std::map<std::string, std::string> partial_fingerprints;
  std::map<std::string, std::string> properties;  // string properties only
};

struct SarifRun {
  std::string tool_name;
  std::string tool_version;
  std::string information_uri;
  std::vector<SarifRule> rules;
  std::vector<SarifResult> results;
};

// "critical"/"high" -> "error", "medium" -> "warning", otherwise "note".
std::string sarif_level_for_severity(std::string_view severity);

// Percent-encodes a relative path for artifactLocation.uri (keeps unreserved chars and '/').
std::string sarif_uri(std::string_view relative_path);

// The SARIF log document: {"$schema", "version":"2.1.0", "runs":[...one run...]}.
nlohmann::json sarif_to_json(const SarifRun& run);

// Writes the document to `path` (creating parent directories) atomically (temp + rename).
Status write_sarif_file(const SarifRun& run, const std::string& path);

}  // namespace secplat::scanners
