#include "core/clock.h"

#include <gtest/gtest.h>

using namespace secplat;

TEST(Rfc3339, FormatsUtcWithMillis) {
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(1795431049123), "2026-11-23T10:50:49.123Z");
}

TEST(Rfc3339, ParsesOffsetsAndRefusesNaiveTimes) {
  EXPECT_EQ(*parse_rfc3339("2026-11-23T10:50:49.123Z"), 1795431049123);
  EXPECT_EQ(*parse_rfc3339("2026-11-23T11:50:49.123+01:00"), 1795431049123);
  EXPECT_EQ(*parse_rfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_FALSE(parse_rfc3339("2026-11-23T10:50:49").has_value());
  EXPECT_FALSE(parse_rfc3339("2026-13-01T00:00:00Z").has_value());
  EXPECT_FALSE(parse_rfc3339("yesterday").has_value());
}

TEST(ManualClock, MovesOnlyWhenTold) {
  ManualClock c(1000);
  EXPECT_EQ(c.now_ms(), 1000);
  c.advance_ms(500);
  EXPECT_EQ(c.now_ms(), 1500);
}
