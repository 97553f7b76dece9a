// Routing rules: which channels a notification goes to, by event type, severity, asset, environment
// and owner/team. With no rules every configured channel gets every notification (the contract's
// out-of-the-box behaviour); with rules, a notification goes to the union of the channels of every
// rule it matches, and to none if it matches none.
//
// Config (`notify.routes`, env SECPLAT_NOTIFY_ROUTES) is a JSON array:
//   [{"name": "prod pages", "channels": ["twilio", "slack"], "event_types": ["incident.*"],
//     "min_severity": "high", "environments": ["prod"]},
//    {"name": "team web", "channels": ["webhook"], "owners": ["web-team"], "assets": ["shop-*"]}]
// Every list is optional (absent or empty = any); `channels` is required. `event_types` entries
// match exactly or, ending in `*`, by prefix. `assets` entries are globs with `*`. `owners` match the
// asset's owner or owner team. A rule with asset, environment or owner conditions never matches a
// notification without an asset (a manual alert about several assets).
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "notify/channel.h"

namespace secplat::notify {

struct RouteRule {
  std::string name;
  std::vector<std::string> channels;
  std::vector<std::string> event_types;
  std::string min_severity;  // "" = any; else info < low < medium < high < critical
  std::vector<std::string> assets;
  std::vector<std::string> environments;
  std::vector<std::string> owners;
};

// What routing needs to know about an asset.
struct AssetMeta {
  std::string environment;
  std::string owner;
  std::string owner_team;
};
// nullopt = unknown asset (rules with asset conditions then do not match).
using AssetLookup = std::function<std::optional<AssetMeta>(const std::string& asset_key)>;

// Parses and validates `notify.routes`; errors name the rule index and the field. Channel names are
// checked against `known_channels` (the configured ones), so a typo fails at start-up, not silently.
Result<std::vector<RouteRule>> parse_routes(const std::string& json, const std::set<std::string>& known_channels);

// The channels a notification goes to. `asset` is the looked-up asset of n.asset_key, if any.
std::set<std::string> route_channels(const std::vector<RouteRule>& rules, const Notification& n,
                                     const std::optional<AssetMeta>& asset);

}  // namespace secplat::notify
