// The posture rules as pure functions: debounce, staleness, flapping, confidence, last good state.
#include <gtest/gtest.h>

#include "posture/derive_rules.h"

namespace secplat::posture {
namespace {

constexpr int64_t kT0 = 1'790'000'000'000;
constexpr int64_t kMin = 60'000;

HealthEvent ev(int64_t ts, bool up, int code = 200, const char* error_class = nullptr, int64_t latency = 12) {
  HealthEvent e;
  e.asset_key = "web";
  e.ts_ms = ts;
  e.up = up;
  e.code = code;
  e.latency_ms = latency;
  if (error_class) e.error_class = error_class;
  return e;
}

AssetState fresh() {
  AssetState s;
  s.asset_key = "web";
  return s;
}

TEST(DeriveRules, AnAssetWithoutResultsIsUnknownAndRed) {
  AssetState s = fresh();
  auto changes = apply_events(s, {}, kT0, kMin, {});
  EXPECT_TRUE(changes.empty());
  EXPECT_EQ(s.status, "unknown");
  EXPECT_EQ(s.status_num, -1);
  EXPECT_EQ(s.posture_state, "red");
  EXPECT_EQ(s.posture_score, 0);
  EXPECT_EQ(s.confidence, 0);
}

TEST(DeriveRules, TheFirstResultCountsAtOnce) {
  AssetState s = fresh();
  auto changes = apply_events(s, {ev(kT0, true)}, kT0 + 5, kMin, {});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].from, "unknown");
  EXPECT_EQ(changes[0].to, "up");
  EXPECT_EQ(s.status, "up");
  EXPECT_EQ(s.status_num, 1);
  EXPECT_EQ(s.posture_state, "green");
  EXPECT_EQ(s.posture_score, 100);
  EXPECT_FALSE(s.reason.has_value());
  EXPECT_EQ(s.last_status_change_ms, kT0 + 5);  // detection time, not the event time
  EXPECT_EQ(s.previous_status, "unknown");
}

TEST(DeriveRules, OneFailedProbeDoesNotTakeAnUpAssetDown) {
  AssetState s = fresh();
  apply_events(s, {ev(kT0, true)}, kT0, kMin, {});
  auto changes = apply_events(s, {ev(kT0 + kMin, false, 0, "refused")}, kT0 + kMin, kMin, {});
  EXPECT_TRUE(changes.empty());
  EXPECT_EQ(s.status, "up");
  EXPECT_EQ(s.pending, 1);
  EXPECT_EQ(s.posture_state, "green");
  // The next success clears the pending disagreement.
  apply_events(s, {ev(kT0 + 2 * kMin, true)}, kT0 + 2 * kMin, kMin, {});
  EXPECT_EQ(s.pending, 0);
  EXPECT_EQ(s.status, "up");
}

TEST(DeriveRules, TwoConsecutiveFailuresTakeItDownWithTheReason) {
  AssetState s = fresh();
  apply_events(s, {ev(kT0, true, 200, nullptr, 40)}, kT0, kMin, {});
  auto changes = apply_events(s, {ev(kT0 + kMin, false, 0, "refused"), ev(kT0 + 2 * kMin, false, 0, "refused")},
                              kT0 + 2 * kMin + 100, kMin, {});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].kind, "status");
  EXPECT_EQ(changes[0].from, "up");
  EXPECT_EQ(changes[0].to, "down");
  EXPECT_EQ(s.status, "down");
  EXPECT_EQ(s.status_num, -2);
  EXPECT_EQ(s.posture_state, "red");
  EXPECT_EQ(s.reason, "port_closed");
  EXPECT_EQ(s.previous_status, "up");
  EXPECT_EQ(s.last_status_change_ms, kT0 + 2 * kMin + 100);
  // The last good result is kept while it is down.
  EXPECT_EQ(s.last_good_at_ms, kT0);
  EXPECT_EQ(s.last_good_code, 200);
  EXPECT_EQ(s.last_good_latency_ms, 40);
  EXPECT_EQ(s.code, 0);
}

TEST(DeriveRules, RecoveryIsDebouncedToo) {
  DeriveConfig cfg;
  cfg.debounce_samples = 3;
  AssetState s = fresh();
  apply_events(s, {ev(kT0, false, 503, "http_error")}, kT0, kMin, cfg);
  EXPECT_EQ(s.status, "down");
  EXPECT_EQ(s.reason, "http_error");
  apply_events(s, {ev(kT0 + kMin, true), ev(kT0 + 2 * kMin, true)}, kT0 + 2 * kMin, kMin, cfg);
  EXPECT_EQ(s.status, "down");
  apply_events(s, {ev(kT0 + 3 * kMin, true)}, kT0 + 3 * kMin, kMin, cfg);
  EXPECT_EQ(s.status, "up");
}

TEST(DeriveRules, ASilentAssetGoesStaleAtTheDetectionTime) {
  AssetState s = fresh();
  apply_events(s, {ev(kT0, true)}, kT0, kMin, {});
  apply_events(s, {}, kT0 + 300'000, kMin, {});
  EXPECT_EQ(s.status, "up");  // exactly 300 s is still fresh
  auto changes = apply_events(s, {}, kT0 + 301'000, kMin, {});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].to, "stale");
  EXPECT_EQ(s.status, "stale");
  EXPECT_EQ(s.status_num, 0);
  EXPECT_EQ(s.posture_state, "amber");
  EXPECT_EQ(s.posture_score, 60);
  EXPECT_EQ(s.reason, "no_data_received");
  EXPECT_EQ(s.last_status_change_ms, kT0 + 301'000);
  EXPECT_EQ(s.confidence, 0);
  // The next result counts at once (no debounce out of stale).
  apply_events(s, {ev(kT0 + 400'000, false, 0, "timeout")}, kT0 + 400'000, kMin, {});
  EXPECT_EQ(s.status, "down");
  EXPECT_EQ(s.reason, "api_timeout");
}

TEST(DeriveRules, StalenessAllowsThreeProbeIntervalsForSlowSchedules) {
  AssetState s = fresh();
  const int64_t interval = 600'000;  // 10 min
  apply_events(s, {ev(kT0, true)}, kT0, interval, {});
  apply_events(s, {}, kT0 + 1'500'000, interval, {});
  EXPECT_EQ(s.status, "up");
  apply_events(s, {}, kT0 + 1'800'001, interval, {});
  EXPECT_EQ(s.status, "stale");
}

TEST(DeriveRules, AlternatingResultsAreFlappingNotAStormOfChanges) {
  AssetState s = fresh();
  std::vector<PostureChange> all;
  for (int i = 0; i < 10; ++i) {
    auto c = apply_events(s, {ev(kT0 + i * kMin, i % 2 == 0, i % 2 == 0 ? 200 : 500, i % 2 ? "http_error" : nullptr)},
                          kT0 + i * kMin, kMin, {});
    all.insert(all.end(), c.begin(), c.end());
  }
  EXPECT_TRUE(s.flapping);
  EXPECT_EQ(s.posture_state, "amber");
  EXPECT_EQ(s.posture_score, 60);
  EXPECT_EQ(s.reason, "flapping");
  int status_changes = 0, flap_started = 0;
  for (const auto& c : all) {
    if (c.kind == "status") ++status_changes;
    if (c.kind == "flapping_started") ++flap_started;
  }
  EXPECT_EQ(status_changes, 1);  // only unknown → up; never a down
  EXPECT_EQ(flap_started, 1);
  EXPECT_LT(s.confidence, 0.6);
  // Ten steady results later it is no longer flapping.
  for (int i = 10; i < 20; ++i) apply_events(s, {ev(kT0 + i * kMin, true)}, kT0 + i * kMin, kMin, {});
  EXPECT_FALSE(s.flapping);
  EXPECT_EQ(s.posture_state, "green");
}

TEST(DeriveRules, ConfidenceReflectsCompletenessAndAgreement) {
  AssetState s = fresh();
  std::vector<HealthEvent> evs;
  for (int i = 0; i < 10; ++i) evs.push_back(ev(kT0 + i * 30'000, true));
  apply_events(s, evs, kT0 + 9 * 30'000, 30'000, {});
  EXPECT_DOUBLE_EQ(s.confidence, 1.0);
  EXPECT_NE(s.confidence_reason.find("10/10"), std::string::npos) << s.confidence_reason;

  AssetState sparse = fresh();  // 5 results where 10 were expected
  std::vector<HealthEvent> half;
  for (int i = 0; i < 5; ++i) half.push_back(ev(kT0 + i * 60'000, true));
  apply_events(sparse, half, kT0 + 9 * 30'000 + 30'000, 30'000, {});
  EXPECT_NEAR(sparse.confidence, 0.5, 0.11);
}

TEST(DeriveRules, OlderResultsThanTheLatestAreIgnored) {
  AssetState s = fresh();
  apply_events(s, {ev(kT0 + kMin, true)}, kT0 + kMin, kMin, {});
  apply_events(s, {ev(kT0, false, 0, "refused"), ev(kT0 + 1, false, 0, "refused")}, kT0 + kMin, kMin, {});
  EXPECT_EQ(s.status, "up");
  EXPECT_EQ(s.history.size(), 1u);
}

TEST(DeriveRules, CriticalityIsNormalisedLikeTheReference) {
  EXPECT_EQ(normalise_criticality("High"), "high");
  EXPECT_EQ(normalise_criticality("low"), "low");
  EXPECT_EQ(normalise_criticality("1"), "high");
  EXPECT_EQ(normalise_criticality("3"), "medium");
  EXPECT_EQ(normalise_criticality("5"), "low");
  EXPECT_EQ(normalise_criticality("whatever"), "medium");
}

}  // namespace
}  // namespace secplat::posture
