// Routing rules: parsing with errors that name the rule and field, and which channels a
// notification reaches by event type, severity, asset glob, environment and owner.
#include "notify/routing.h"

#include <gtest/gtest.h>

namespace secplat::notify {
namespace {

const std::set<std::string> kChannels{"slack", "webhook", "twilio"};

Notification note(const std::string& type, const std::string& severity, const std::string& asset) {
  Notification n;
  n.event_type = type;
  n.severity = severity;
  n.asset_key = asset;
  n.status = "firing";
  return n;
}

TEST(RoutingTest, BadRulesAreRefusedNamingTheRuleAndField) {
  EXPECT_TRUE(parse_routes("", kChannels)->empty());
  auto e = parse_routes("{}", kChannels);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message, "notify.routes: not a JSON array of rules");
  e = parse_routes(R"([{"channels": ["slack"]}, {"channels": ["pager"]}])", kChannels);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message,
            "notify.routes[1].channels: 'pager' is not a configured channel (configured: slack, twilio, webhook)");
  e = parse_routes(R"([{"event_types": ["incident.*"]}])", kChannels);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message, "notify.routes[0].channels: required (a non-empty list)");
  e = parse_routes(R"([{"channels": ["slack"], "min_severity": "urgent"}])", kChannels);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message, "notify.routes[0].min_severity: use one of info, low, medium, high, critical");
  e = parse_routes(R"([{"channels": ["slack"], "team": ["x"]}])", kChannels);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("unknown field 'team'"), std::string::npos);
  e = parse_routes(R"([{"channels": ["slack"], "assets": "shop"}])", kChannels);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message, "notify.routes[0].assets: not a list of strings");
}

TEST(RoutingTest, ChannelsAreTheUnionOfTheMatchingRules) {
  auto rules = parse_routes(R"([
    {"name": "pages", "channels": ["twilio"], "event_types": ["incident.*"], "min_severity": "high",
     "environments": ["prod"]},
    {"name": "web team", "channels": ["webhook"], "owners": ["web-team"], "assets": ["shop-*"]},
    {"name": "everything to chat", "channels": ["slack"]}
  ])",
                            kChannels);
  ASSERT_TRUE(rules.ok()) << rules.error().message;
  const AssetMeta prod_web{"prod", "alice", "web-team"};
  const AssetMeta dev_other{"dev", "bob", "data"};

  EXPECT_EQ(route_channels(*rules, note("incident.created", "critical", "shop-eu"), prod_web),
            (std::set<std::string>{"slack", "twilio", "webhook"}));
  // Below the page threshold: no SMS.
  EXPECT_EQ(route_channels(*rules, note("incident.created", "medium", "shop-eu"), prod_web),
            (std::set<std::string>{"slack", "webhook"}));
  // Not prod, not the web team's asset.
  EXPECT_EQ(route_channels(*rules, note("incident.created", "critical", "db-1"), dev_other),
            (std::set<std::string>{"slack"}));
  // The owner rule needs the glob to match too.
  EXPECT_EQ(route_channels(*rules, note("incident.updated", "high", "api-1"), prod_web),
            (std::set<std::string>{"slack", "twilio"}));
  // A manual alert has no asset: rules with asset conditions do not match; event type filters apply.
  EXPECT_EQ(route_channels(*rules, note("alert.triggered", "high", ""), std::nullopt),
            (std::set<std::string>{"slack"}));
  // Unknown asset: environment and owner conditions cannot hold.
  EXPECT_EQ(route_channels(*rules, note("incident.created", "critical", "shop-x"), std::nullopt),
            (std::set<std::string>{"slack"}));
}

TEST(RoutingTest, NoMatchingRuleMeansNoChannel) {
  auto rules = parse_routes(R"([{"channels": ["slack"], "event_types": ["alert.triggered"]}])", kChannels);
  ASSERT_TRUE(rules.ok());
  EXPECT_TRUE(route_channels(*rules, note("incident.created", "critical", "a"), std::nullopt).empty());
}

}  // namespace
}  // namespace secplat::notify
