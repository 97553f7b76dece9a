// The deriver against a real SQLite store and the local queue: events in, one state row per asset
// out, posture.changed events on the notify and correlation streams.
#include <gtest/gtest.h>

#include "core/json.h"
#include "posture/posture_fixture.h"

namespace secplat::posture {
namespace {

using testing::kT0;
using DeriverTest = testing::PostureFixture;

TEST_F(DeriverTest, EveryActiveAssetGetsOneStateRowAndUnprobedOnesAreUnknown) {
  add_probed("web");
  ASSERT_TRUE(assets->ensure("plain", "app", "plain").ok());
  result("web", kT0 - 1000, true);
  auto p = pass();
  EXPECT_EQ(p.events, 1);
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM asset_status"), 2);
  auto web = status_row("web");
  ASSERT_TRUE(web);
  EXPECT_EQ(web->str("status"), "up");
  EXPECT_EQ(web->str("posture_state"), "green");
  EXPECT_EQ(web->i64("code"), 200);
  auto plain = status_row("plain");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->str("status"), "unknown");
  EXPECT_EQ(plain->str("posture_state"), "red");
  // A second pass with nothing new writes nothing.
  EXPECT_EQ(pass().rows_written, 0);
}

TEST_F(DeriverTest, ChangesArePublishedToCorrelationWithTheEnvelope) {
  add_probed("web", 60, "high");
  result("web", kT0, true);
  pass();
  published(queue::kCorrelationEvents);  // unknown → up
  clock.advance_ms(60'000);
  result("web", kT0 + 60'000, false, 0, "refused");
  pass();
  EXPECT_TRUE(published(queue::kCorrelationEvents).empty());  // debounced: one failure is not a change
  clock.advance_ms(60'000);
  result("web", kT0 + 120'000, false, 0, "refused");
  pass();
  // Notifications come from the incidents the correlator opens, never from the deriver directly.
  EXPECT_TRUE(published(queue::kNotifyEvents).empty());
  {
    auto msgs = published(queue::kCorrelationEvents);
    ASSERT_EQ(msgs.size(), 1u);
    const auto& f = msgs[0].fields;
    EXPECT_EQ(f.at("event_type"), "posture.changed");
    EXPECT_EQ(f.at("asset_key"), "web");
    EXPECT_EQ(f.at("severity"), "critical");  // a high-criticality asset went down
    EXPECT_EQ(f.at("from"), "up");
    EXPECT_EQ(f.at("to"), "down");
    EXPECT_FALSE(f.at("event_id").empty());
    Json payload = Json::parse(f.at("payload"));
    EXPECT_EQ(payload["posture_state"], "red");
    EXPECT_EQ(payload["reason"], "port_closed");
    EXPECT_EQ(payload["detected_at"], format_rfc3339(kT0 + 120'000));
  }
  auto row = status_row("web");
  EXPECT_EQ(row->str("previous_status"), "up");
  EXPECT_EQ(row->i64("last_status_change"), kT0 + 120'000);
  EXPECT_EQ(row->i64("last_good_at"), kT0);
}

TEST_F(DeriverTest, ASilentAssetGoesStaleOnTheSweepWithoutNewEvents) {
  add_probed("quiet");
  result("quiet", kT0, true);
  pass();
  published(queue::kCorrelationEvents);
  clock.advance_ms(301'000);
  auto p = pass();
  EXPECT_EQ(p.events, 0);
  EXPECT_EQ(status_row("quiet")->str("status"), "stale");
  EXPECT_EQ(status_row("quiet")->str("posture_state"), "amber");
  auto msgs = published(queue::kCorrelationEvents);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].fields.at("to"), "stale");
}

TEST_F(DeriverTest, EventPassesTouchOnlyAssetsWithResultsAndSweepsJudgeTheRest) {
  add_probed("quiet");
  add_probed("busy");
  result("quiet", kT0, true);
  result("busy", kT0, true);
  pass();
  clock.advance_ms(301'000);
  result("busy", kT0 + 301'000, true);
  auto p = deriver->run_once(false);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->events, 1);
  EXPECT_EQ(status_row("quiet")->str("status"), "up") << "an event pass does not sweep";
  pass();
  EXPECT_EQ(status_row("quiet")->str("status"), "stale");
  EXPECT_EQ(status_row("busy")->str("status"), "up");
}

TEST_F(DeriverTest, DebounceStateSurvivesARestart) {
  add_probed("web");
  result("web", kT0, true);
  pass();
  result("web", kT0 + 60'000, false, 0, "timeout");
  pass();
  EXPECT_EQ(status_row("web")->i64("pending"), 1);
  deriver = make_deriver();  // a new process: state and cursor come from the store
  result("web", kT0 + 120'000, false, 0, "timeout");
  clock.set_ms(kT0 + 120'000);
  auto p = pass();
  EXPECT_EQ(p.events, 1);  // only the new event; the cursor was persisted
  EXPECT_EQ(status_row("web")->str("status"), "down");
  EXPECT_EQ(status_row("web")->str("reason"), "api_timeout");
}

TEST_F(DeriverTest, RemovedAssetsLeaveNoGhostState) {
  add_probed("gone");
  result("gone", kT0, true);
  pass();
  ASSERT_TRUE(status_row("gone"));
  ASSERT_TRUE(assets->remove("gone").ok());
  clock.advance_ms(5000);  // the deriver re-reads the inventory every 2 s
  auto p = pass();
  EXPECT_EQ(p.rows_deleted, 1);
  EXPECT_FALSE(status_row("gone"));
  // Events that still arrive for it are skipped.
  result("gone", kT0 + 6000, true);
  pass();
  EXPECT_FALSE(status_row("gone"));
}

TEST_F(DeriverTest, RepositoryAssetsTakeTheirStateFromActiveFindings) {
  ASSERT_TRUE(assets->ensure("repo", "repository", "repo").ok());
  pass();
  EXPECT_EQ(status_row("repo")->str("posture_state"), "green");
  EXPECT_EQ(status_row("repo")->str("reason"), "inventory_only");
  findings::FindingInput in;
  in.finding_key = "k1";
  in.asset_key = "repo";
  in.title = "SQL injection";
  in.severity = "high";
  ASSERT_TRUE(findings->upsert(in, {"t", "r"}).ok());
  clock.advance_ms(3000);
  pass();
  EXPECT_EQ(status_row("repo")->str("posture_state"), "red");
  EXPECT_EQ(status_row("repo")->str("reason"), "repository_findings");
}

TEST_F(DeriverTest, ManyEventsAcrossBatchesAreAllFoldedIn) {
  DeriverOptions o;
  o.batch = 7;  // force several batches
  deriver = make_deriver(o);
  for (int a = 0; a < 5; ++a) add_probed("a" + std::to_string(a));
  std::vector<HealthEvent> evs;
  for (int i = 0; i < 10; ++i)
    for (int a = 0; a < 5; ++a) {
      HealthEvent e;
      e.asset_key = "a" + std::to_string(a);
      e.ts_ms = kT0 - 600'000 + i * 60'000;
      e.up = a != 3;
      e.code = a != 3 ? 200 : 503;
      e.error_class = a != 3 ? std::nullopt : std::optional<std::string>("http_error");
      evs.push_back(e);
    }
  ASSERT_TRUE(events->append(evs).ok());
  auto p = pass();
  EXPECT_EQ(p.events, 50);
  EXPECT_EQ(status_row("a0")->str("status"), "up");
  EXPECT_EQ(status_row("a3")->str("status"), "down");
  EXPECT_DOUBLE_EQ(status_row("a0")->f64("confidence"), 1.0);
  EXPECT_EQ(count("SELECT last_event_id AS n FROM posture_cursor"), 50);
}

TEST_F(DeriverTest, ViewAndReportsReadTheDerivedState) {
  add_probed("up1");
  add_probed("down1");
  result("up1", kT0 - 2000, true);
  result("down1", kT0 - 2000, false, 0, "refused");
  pass();
  auto snap = view->snapshot();
  ASSERT_TRUE(snap.ok());
  ASSERT_EQ((*snap)->items.size(), 2u);
  EXPECT_EQ((*snap)->items[0].state.asset_key, "down1");  // worst first
  std::vector<const PostureItem*> all;
  for (const auto& it : (*snap)->items) all.push_back(&it);
  auto sum = summarise(all);
  EXPECT_EQ(sum.green, 1);
  EXPECT_EQ(sum.red, 1);
  EXPECT_EQ(sum.down_assets, std::vector<std::string>{"down1"});
  EXPECT_DOUBLE_EQ(*sum.posture_score_avg, 50.0);

  auto report = reports->summary("24h");
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_DOUBLE_EQ(report->uptime_pct, 50.0);  // time-based: one asset always up, one always down
  EXPECT_EQ(report->uptime_checks, 2);
  EXPECT_DOUBLE_EQ(*report->avg_latency_ms, 25.0);
  EXPECT_FALSE(reports->summary("2w").ok());
  auto stored = reports->take_snapshot("24h");
  ASSERT_TRUE(stored.ok());
  EXPECT_GT(stored->id, 0);
  EXPECT_EQ(reports->get(stored->id)->red, 1);
  EXPECT_EQ(reports->history(10)->size(), 1u);
}

TEST_F(DeriverTest, RetentionDeletesOnlyOldFoldedEvents) {
  DeriverOptions o;
  o.retention_ms = 86'400'000;
  deriver = make_deriver(o);
  add_probed("web");
  result("web", kT0 - 2 * 86'400'000, true);
  result("web", kT0 - 1000, true);
  pass();
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM health_events"), 1);
}

}  // namespace
}  // namespace secplat::posture
