#include "findings/risk_score.h"

#include <algorithm>
#include <cctype>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json.h"

namespace secplat::findings {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool any_of(const std::string& v, std::initializer_list<const char*> set) {
  return std::any_of(set.begin(), set.end(), [&](const char* s) { return v == s; });
}

bool internet_facing(const RiskInputs& in) {
  if (in.asset_kind == "external_web") return true;
  if (any_of(lower(in.asset_type), {"external", "public", "internet", "edge", "ingress"})) return true;
  for (const auto& t : in.tags) {
    if (any_of(lower(t), {"public", "internet", "internet-facing", "internet_facing", "external", "edge"})) return true;
  }
  if (in.metadata_json.empty() || in.metadata_json == "{}") return false;
  Json meta = Json::parse(in.metadata_json, nullptr, false);
  if (meta.is_object()) {
    for (const char* flag : {"internet_facing", "public", "external"}) {
      if (meta.contains(flag) && meta[flag].is_boolean() && meta[flag].get<bool>()) return true;
    }
    if (meta.contains("exposure") && meta["exposure"].is_string() &&
        any_of(lower(meta["exposure"].get<std::string>()), {"internet", "public", "external"})) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string normalized_criticality(const std::string& criticality) {
  std::string c = lower(criticality);
  if (c == "critical" || c == "high" || c == "5" || c == "4") return "high";
  if (c == "medium" || c == "3") return "medium";
  if (c == "low" || c == "1" || c == "2") return "low";
  return c;
}

RiskScore compute_risk(const RiskInputs& in) {
  // The factors, written as a Json object of them would dump (keys sorted): this runs for every
  // upsert on the store's writer thread, so without building one.
  std::vector<std::pair<std::string_view, int>> factors;
  factors.reserve(12);
  const std::string sev = lower(in.severity);
  int base = sev == "critical" ? 82 : sev == "high" ? 68 : sev == "low" ? 24 : sev == "info" ? 10 : 48;
  factors.emplace_back("base", base);
  int score = base;
  auto add = [&](std::string_view name, int delta) {
    if (delta == 0) return;
    factors.emplace_back(name, delta);
    score += delta;
  };
  const std::string conf = lower(in.confidence);
  add("confidence", conf == "high" ? 8 : conf == "medium" ? 4 : conf == "low" ? -4 : 0);
  const std::string crit = normalized_criticality(in.criticality);
  add("criticality", crit == "high" ? 12 : crit == "medium" ? 6 : 0);
  const std::string env = lower(in.environment);
  add("environment", (env == "prod" || env == "production") ? 10
                     : (env == "staging" || env == "stage") ? 5
                     : env == "qa"                          ? -2
                     : env == "test"                        ? -4
                     : (env == "dev" || env == "development") ? -6
                                                              : 0);
  const bool exposed = internet_facing(in);
  add("internet_facing", exposed ? 14 : 0);
  add("verified_exposure", exposed && in.verified ? 3 : 0);
  add("source", any_of(in.source, {"tls_scan", "header_scan", "web_probe", "smoke_test"}) ? 4 : 0);
  constexpr int64_t kDay = int64_t{24} * 3600 * 1000;
  add("age", in.age_ms >= 30 * kDay ? 6 : in.age_ms >= 7 * kDay ? 3 : 0);
  add("inactive_asset", in.is_active ? 0 : -8);
  if (in.status == "in_progress") add("status", -8);
  if (in.status == "accepted_risk") add("status", in.accepted_risk_expired ? -8 : -18);
  score = std::clamp(score, 0, 100);
  if (in.status == "remediated") {
    score = std::clamp(std::min(score - 85, 5), 0, 100);
    std::erase_if(factors, [](const auto& f) { return f.first == "status"; });
    factors.emplace_back("status", -85);
  }
  RiskScore r;
  r.score = score;
  r.level = score >= 85 ? "critical" : score >= 70 ? "high" : score >= 40 ? "medium" : "low";
  factors.emplace_back("score", score);
  std::sort(factors.begin(), factors.end());
  r.factors_json = "{";
  for (const auto& [name, value] : factors) {
    if (r.factors_json.size() > 1) r.factors_json += ',';
    r.factors_json += '"';
    r.factors_json += name;
    r.factors_json += "\":";
    r.factors_json += std::to_string(value);
  }
  r.factors_json += '}';
  return r;
}

}  // namespace secplat::findings
