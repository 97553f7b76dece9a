#include "notify/routing.h"

#include <algorithm>

#include "core/json.h"

namespace secplat::notify {
namespace {

int severity_rank(const std::string& s) {
  if (s == "info") return 0;
  if (s == "low") return 1;
  if (s == "medium") return 2;
  if (s == "high") return 3;
  if (s == "critical") return 4;
  return -1;
}

// Glob with '*' only (any run of characters), iterative with one backtrack point.
bool glob_match(const std::string& pattern, const std::string& text) {
  std::size_t p = 0, t = 0, star = std::string::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool type_matches(const std::vector<std::string>& types, const std::string& event_type) {
  if (types.empty()) return true;
  return std::any_of(types.begin(), types.end(), [&](const std::string& t) {
    return t.ends_with("*") ? event_type.starts_with(t.substr(0, t.size() - 1)) : t == event_type;
  });
}

bool contains(const std::vector<std::string>& list, const std::string& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

}  // namespace

Result<std::vector<RouteRule>> parse_routes(const std::string& text, const std::set<std::string>& known_channels) {
  std::vector<RouteRule> rules;
  if (text.empty()) return rules;
  const Json doc = Json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_array())
    return Error::bad_request("notify.routes: not a JSON array of rules");
  std::size_t index = 0;
  for (const auto& r : doc) {
    const std::string where = "notify.routes[" + std::to_string(index++) + "]";
    if (!r.is_object()) return Error::bad_request(where + ": not an object");
    RouteRule rule;
    for (const auto& [key, value] : r.items()) {
      auto strings = [&](std::vector<std::string>& out) -> Status {
        if (!value.is_array()) return Error::bad_request(where + "." + key + ": not a list of strings");
        for (const auto& v : value) {
          if (!v.is_string() || v.get<std::string>().empty())
            return Error::bad_request(where + "." + key + ": not a list of non-empty strings");
          out.push_back(v.get<std::string>());
        }
        return ok_status();
      };
      Status st = ok_status();
      if (key == "name") {
        if (!value.is_string()) return Error::bad_request(where + ".name: not a string");
        rule.name = value.get<std::string>();
      } else if (key == "channels") {
        st = strings(rule.channels);
      } else if (key == "event_types") {
        st = strings(rule.event_types);
      } else if (key == "min_severity") {
        if (!value.is_string() || severity_rank(value.get<std::string>()) < 0)
          return Error::bad_request(where + ".min_severity: use one of info, low, medium, high, critical");
        rule.min_severity = value.get<std::string>();
      } else if (key == "assets") {
        st = strings(rule.assets);
      } else if (key == "environments") {
        st = strings(rule.environments);
      } else if (key == "owners") {
        st = strings(rule.owners);
      } else {
        return Error::bad_request(where + ": unknown field '" + key +
                                  "' (use name, channels, event_types, min_severity, assets, environments, owners)");
      }
      if (!st.ok()) return std::move(st).take_error();
    }
    if (rule.channels.empty()) return Error::bad_request(where + ".channels: required (a non-empty list)");
    for (const auto& c : rule.channels) {
      if (!known_channels.count(c)) {
        std::string known;
        for (const auto& k : known_channels) known += (known.empty() ? "" : ", ") + k;
        return Error::bad_request(where + ".channels: '" + c + "' is not a configured channel (configured: " +
                                  (known.empty() ? std::string("none") : known) + ")");
      }
    }
    rules.push_back(std::move(rule));
  }
  return rules;
}

std::set<std::string> route_channels(const std::vector<RouteRule>& rules, const Notification& n,
                                     const std::optional<AssetMeta>& asset) {
  std::set<std::string> out;
  for (const auto& r : rules) {
    if (!type_matches(r.event_types, n.event_type)) continue;
    if (!r.min_severity.empty() && severity_rank(n.severity) < severity_rank(r.min_severity)) continue;
    const bool needs_asset = !r.assets.empty() || !r.environments.empty() || !r.owners.empty();
    if (needs_asset) {
      if (n.asset_key.empty()) continue;
      if (!r.assets.empty() && std::none_of(r.assets.begin(), r.assets.end(),
                                            [&](const std::string& g) { return glob_match(g, n.asset_key); }))
        continue;
      if (!r.environments.empty() && (!asset || !contains(r.environments, asset->environment))) continue;
      if (!r.owners.empty() &&
          (!asset || (!contains(r.owners, asset->owner) && !contains(r.owners, asset->owner_team))))
        continue;
    }
    out.insert(r.channels.begin(), r.channels.end());
  }
  return out;
}

}  // namespace secplat::notify
