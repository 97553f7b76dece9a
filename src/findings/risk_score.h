// The heuristic finding risk score of the reference (§8.6), 0..100, with an explanation.
// Pure function: no I/O, safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace secplat::findings {

struct RiskInputs {
  std::string severity;     // critical/high/medium/low/info (anything else scores as medium)
  std::string confidence;   // high/medium/low
  std::string status;       // stored status
  bool accepted_risk_expired = false;
  std::string source;
  int64_t age_ms = 0;       // now - first_seen
  // The asset (absent fields score neutral).
  std::string asset_kind;   // assets.type
  std::string asset_type;
  std::string environment;
  std::string criticality;  // high/medium/low or "1".."5"
  bool verified = false;
  bool is_active = true;
  std::vector<std::string> tags;
  std::string metadata_json = "{}";
};

struct RiskScore {
  int score = 0;
  std::string level;         // critical >= 85, high >= 70, medium >= 40, else low
  std::string factors_json;  // {"base":68,"confidence":8,...,"score":..}
};

RiskScore compute_risk(const RiskInputs& in);

// "high"/"medium"/"low" for the criticality spellings the reference accepts (numbers 1..5 too).
std::string normalized_criticality(const std::string& criticality);

}  // namespace secplat::findings
