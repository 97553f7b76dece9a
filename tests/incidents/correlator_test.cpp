// The Correlator on SQLite + the local queue with the real IncidentService and Suppression: posture
// changes and alerts become one incident per asset outage, suppression holds them and releases them
// when it ends, recoveries resolve, and the incident events reach secplat.events.notify.
#include "incidents/correlator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "auth/audit_log.h"
#include "auth/migrations.h"
#include "core/ids.h"
#include "core/json.h"
#include "queue/envelope.h"
#include "queue/local_queue.h"
#include "queue/streams.h"
#include "store/sqlite_db.h"

namespace secplat::incidents {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kT0 = 1'800'000'000'000;
const std::string kCorr(queue::kCorrelationEvents);
const std::string kNotify(queue::kNotifyEvents);

class CorrelatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("secplat-correlator-" + random_hex(8));
    fs::create_directories(root_);
    auto db = store::open_sqlite({(root_ / "db.sqlite").string(), 2, 5000});
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(*db);
    std::vector<store::Migration> all = auth::auth_migrations();
    for (auto& m : queue::local_queue_migrations()) all.push_back(std::move(m));
    for (auto& m : incident_migrations()) all.push_back(std::move(m));
    for (auto& m : suppression_migrations()) all.push_back(std::move(m));
    for (auto& m : correlator_migrations()) all.push_back(std::move(m));
    auto st = store::migrate(*db_, all);
    ASSERT_TRUE(st.ok()) << st.error().message;
    queue::LocalQueueOptions qo;
    qo.clock = &clock_;
    qo.retry.max_attempts = 3;
    auto q = queue::open_local_queue(*db_, qo);
    ASSERT_TRUE(q.ok()) << q.error().message;
    queue_ = std::move(*q);
    ASSERT_TRUE(queue_->ensure_group(kCorr, "correlators").ok());
    ASSERT_TRUE(queue_->ensure_group(kNotify, "notifiers").ok());
    audit_ = std::make_unique<auth::AuditLog>(*db_, clock_);
    incidents_ = std::make_unique<IncidentService>(*db_, clock_, *audit_);
    suppression_ = std::make_unique<Suppression>(*db_, clock_, *audit_);
    HealthLookup health = [this](const std::string& key) -> std::optional<std::string> {
      auto it = health_.find(key);
      if (it == health_.end()) return std::nullopt;
      return it->second;
    };
    suppression_->set_health_lookup(health);
    correlator_ = std::make_unique<Correlator>(*db_, *queue_, *incidents_, *suppression_, health, CorrelatorOptions{},
                                               clock_);
  }
  void TearDown() override {
    correlator_.reset();
    suppression_.reset();
    incidents_.reset();
    audit_.reset();
    queue_.reset();
    db_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // What the deriver publishes for a status change; also sets the asset's current health.
  std::string change(const std::string& asset, const std::string& from, const std::string& to,
                     const std::string& kind = "status", bool flapping = false, const std::string& severity = "high") {
    health_[asset] = kind == "status" ? to : health_[asset];
    Json p{{"asset_key", asset}, {"change", kind},         {"from", from},     {"to", to},
           {"status", health_[asset]}, {"flapping", flapping}, {"reason", "http_503"}};
    return publish(queue::make_envelope("posture.changed", asset, severity, p, "", clock_.now_ms()));
  }
  std::string publish(const queue::Fields& f) {
    EXPECT_TRUE(queue_->publish(kCorr, f).ok());
    auto it = f.find("event_id");
    return it == f.end() ? std::string() : it->second;
  }
  queue::Message next() {
    auto m = queue_->read(kCorr, "correlators", "t", 1, 0);
    EXPECT_TRUE(m.ok());
    EXPECT_EQ(m->size(), 1u);
    return m->empty() ? queue::Message{} : (*m)[0];
  }
  void handle_next() {
    auto st = correlator_->handle(next());
    EXPECT_TRUE(st.ok()) << st.error().message;
  }
  bool nothing_pending() {
    auto m = queue_->read(kCorr, "correlators", "t", 1, 0);
    return m.ok() && m->empty();
  }
  std::vector<Incident> all_incidents() {
    IncidentFilter f;
    f.limit = 200;
    auto page = incidents_->list(f);
    EXPECT_TRUE(page.ok());
    return page.ok() ? page->items : std::vector<Incident>{};
  }
  // Incident events delivered to the notify stream since the last call: "<event_type>/<action>".
  std::vector<std::string> notified() {
    std::vector<std::string> out;
    auto m = queue_->read(kNotify, "notifiers", "t", 100, 0);
    EXPECT_TRUE(m.ok());
    for (const auto& msg : *m) {
      const Json p = Json::parse(msg.fields.at("payload"));
      out.push_back(msg.fields.at("event_type") + "/" + p.value("action", std::string()) + "/" +
                    p.value("asset_key", std::string()));
      EXPECT_TRUE(queue_->ack(kNotify, "notifiers", msg.id).ok());
    }
    return out;
  }
  int64_t timeline_signals(int64_t id) {
    TimelineQuery q;
    q.event_types = {"signal"};
    auto t = incidents_->timeline(id, q);
    EXPECT_TRUE(t.ok());
    return t.ok() ? static_cast<int64_t>(t->size()) : -1;
  }
  TimeRange range(int64_t from_ms, int64_t to_ms) { return {from_ms, to_ms}; }

  fs::path root_;
  ManualClock clock_{kT0};
  std::map<std::string, std::string> health_;
  std::unique_ptr<store::Db> db_;
  std::unique_ptr<queue::Queue> queue_;
  std::unique_ptr<auth::AuditLog> audit_;
  std::unique_ptr<IncidentService> incidents_;
  std::unique_ptr<Suppression> suppression_;
  std::unique_ptr<Correlator> correlator_;
};

TEST_F(CorrelatorTest, DownOpensOneIncidentAndRecoveryResolvesIt) {
  change("shop", "up", "down", "status", false, "critical");
  handle_next();
  auto list = all_incidents();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].status, "new");
  EXPECT_EQ(list[0].category, "availability");
  EXPECT_EQ(list[0].severity, "critical");
  EXPECT_EQ(list[0].asset_key, "shop");
  EXPECT_EQ(list[0].correlation_key, "availability:shop");
  ASSERT_TRUE(list[0].sla_due_ms.has_value());
  EXPECT_EQ(*list[0].sla_due_ms, kT0 + 4 * 3600 * 1000);  // critical: 4 hours
  EXPECT_EQ(notified(), std::vector<std::string>{"incident.created/created/shop"});
  EXPECT_TRUE(nothing_pending());

  clock_.advance_ms(60'000);
  change("shop", "down", "up");
  handle_next();
  auto inc = incidents_->get(list[0].id);
  ASSERT_TRUE(inc.ok());
  EXPECT_EQ(inc->status, "resolved");
  EXPECT_EQ(inc->resolved_ms, kT0 + 60'000);
  EXPECT_EQ(notified(), std::vector<std::string>{"incident.updated/resolved/shop"});
}

TEST_F(CorrelatorTest, TwentyRepeatedAlertsAreOneIncidentWithATimeline) {
  change("shop", "up", "down");
  handle_next();
  for (int i = 0; i < 19; ++i) {
    clock_.advance_ms(1000);
    publish(queue::make_envelope("alert.triggered", "", "high", Json{{"down_assets", Json::array({"shop"})}}, "",
                                 clock_.now_ms()));
    handle_next();
  }
  auto list = all_incidents();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(timeline_signals(list[0].id), 20);
  EXPECT_EQ(notified().size(), 1u);  // only the opening notifies
}

TEST_F(CorrelatorTest, ARedeliveredMessageIsRecordedOnce) {
  change("shop", "up", "down");
  const auto m = next();
  ASSERT_TRUE(correlator_->handle(m).ok());
  ASSERT_TRUE(correlator_->handle(m).ok());  // e.g. the ack was lost and it came back
  auto list = all_incidents();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(timeline_signals(list[0].id), 1);
  EXPECT_EQ(notified().size(), 1u);
}

TEST_F(CorrelatorTest, DownAgainWithinTheReopenWindowReopensAndLaterOpensANewOne) {
  change("shop", "up", "down");
  handle_next();
  change("shop", "down", "up");
  handle_next();
  clock_.advance_ms(10 * 60'000);
  change("shop", "up", "down");
  handle_next();
  auto list = all_incidents();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].status, "new");
  EXPECT_EQ(list[0].reopen_count, 1);
  EXPECT_FALSE(list[0].resolved_ms.has_value());
  EXPECT_EQ(notified(), (std::vector<std::string>{"incident.created/created/shop", "incident.updated/resolved/shop",
                                                  "incident.updated/reopened/shop"}));
  change("shop", "down", "up");
  handle_next();
  clock_.advance_ms(2 * 3600 * 1000);  // past the reopen window: a new outage, a new incident
  change("shop", "up", "down");
  handle_next();
  EXPECT_EQ(all_incidents().size(), 2u);
}

TEST_F(CorrelatorTest, MaintenanceWindowHoldsTheAlertUntilItEndsThenOpensOnce) {
  auto w = suppression_->create_window({"db", range(kT0 - 1000, kT0 + 60'000), std::string("upgrade")},
                                       {"admin", ""});
  ASSERT_TRUE(w.ok()) << w.error().message;
  change("db", "up", "down");
  handle_next();
  EXPECT_TRUE(all_incidents().empty());
  EXPECT_TRUE(notified().empty());
  auto held = correlator_->held();
  ASSERT_TRUE(held.ok());
  ASSERT_EQ(held->size(), 1u);
  EXPECT_EQ((*held)[0].correlation_key, "availability:db");
  EXPECT_NE((*held)[0].reason.find("upgrade"), std::string::npos) << (*held)[0].reason;

  auto n = correlator_->sweep();  // still inside the window
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0);
  clock_.advance_ms(61'000);  // the window is over and db is still down
  n = correlator_->sweep();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
  ASSERT_EQ(all_incidents().size(), 1u);
  EXPECT_EQ(notified(), std::vector<std::string>{"incident.created/created/db"});
  n = correlator_->sweep();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0);
  EXPECT_EQ(all_incidents().size(), 1u);
  EXPECT_TRUE(notified().empty());
}

TEST_F(CorrelatorTest, AnAssetThatRecoversDuringItsWindowNeverOpensAnIncident) {
  ASSERT_TRUE(suppression_->create_window({"db", range(kT0 - 1000, kT0 + 60'000), std::nullopt}, {"admin", ""}).ok());
  change("db", "up", "down");
  handle_next();
  clock_.advance_ms(30'000);
  change("db", "down", "up");
  handle_next();
  clock_.advance_ms(60'000);
  auto n = correlator_->sweep();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0);
  EXPECT_TRUE(all_incidents().empty());
  EXPECT_TRUE(notified().empty());
}

TEST_F(CorrelatorTest, ADeletedRuleReleasesAHeldAlertAndADownParentHoldsItsChild) {
  // A rule for every asset: held.
  SuppressionRuleInput rule{"all", std::nullopt, range(kT0 - 1000, kT0 + 3'600'000), std::string("freeze")};
  auto r = suppression_->create_rule(rule, {"admin", ""});
  ASSERT_TRUE(r.ok()) << r.error().message;
  change("api", "up", "down");
  handle_next();
  EXPECT_TRUE(all_incidents().empty());
  ASSERT_TRUE(suppression_->delete_rule(r->id, {"admin", ""}).ok());
  auto n = correlator_->sweep();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(all_incidents().size(), 1u);
  notified();

  // app depends on db: while db is down, app's outage is held (db's own incident is the news).
  ASSERT_TRUE(suppression_->create_dependency("app", "db", {"admin", ""}).ok());
  change("db", "up", "down");
  handle_next();
  change("app", "up", "down");
  handle_next();
  auto list = all_incidents();
  ASSERT_EQ(list.size(), 2u);  // api, db
  EXPECT_EQ(notified(), std::vector<std::string>{"incident.created/created/db"});
  // db recovers, app does not: app's incident opens at the next sweep.
  change("db", "down", "up");
  handle_next();
  n = correlator_->sweep();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(notified(), (std::vector<std::string>{"incident.updated/resolved/db", "incident.created/created/app"}));
}

TEST_F(CorrelatorTest, FlappingIsItsOwnIncidentAndDoesNotOpenADownIncident) {
  change("edge", "stable", "flapping", "flapping_started", true, "medium");
  handle_next();
  change("edge", "up", "down", "status", true);
  handle_next();
  auto list = all_incidents();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].category, "flapping");
  EXPECT_EQ(timeline_signals(list[0].id), 2);
  EXPECT_EQ(notified(), std::vector<std::string>{"incident.created/created/edge"});
  // The flapping stops with the asset down: the flapping incident resolves, an outage opens.
  change("edge", "flapping", "stable", "flapping_ended", false);
  handle_next();
  list = all_incidents();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].category, "availability");
  EXPECT_EQ(list[1].status, "resolved");
  EXPECT_EQ(notified(), (std::vector<std::string>{"incident.updated/resolved/edge", "incident.created/created/edge"}));
}

TEST_F(CorrelatorTest, FindingsOpenAndRemediationResolvesAndFindingRulesSuppress) {
  Json created{{"finding_key", "tls-weak"}, {"title", "Weak TLS"}};
  publish(queue::make_envelope("finding.created", "shop", "high", created, "", clock_.now_ms()));
  handle_next();
  auto list = all_incidents();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].correlation_key, "finding:shop:tls-weak");
  EXPECT_EQ(list[0].title, "Finding: Weak TLS on shop");
  Json fixed{{"finding_key", "tls-weak"}, {"status", "remediated"}};
  publish(queue::make_envelope("finding.updated", "shop", "high", fixed, "", clock_.now_ms()));
  handle_next();
  EXPECT_EQ(incidents_->get(list[0].id)->status, "resolved");

  SuppressionRuleInput rule{"finding", std::string("noisy"), range(kT0 - 1000, kT0 + 3'600'000), std::nullopt};
  ASSERT_TRUE(suppression_->create_rule(rule, {"admin", ""}).ok());
  publish(queue::make_envelope("finding.created", "shop", "high", Json{{"finding_key", "noisy"}}, "", clock_.now_ms()));
  handle_next();
  EXPECT_EQ(all_incidents().size(), 1u);  // held by the rule
  // Medium and low findings stay in the findings queue: no incident.
  publish(queue::make_envelope("finding.created", "shop", "medium", Json{{"finding_key", "banner"}}, "", clock_.now_ms()));
  handle_next();
  EXPECT_EQ(all_incidents().size(), 1u);
  publish(queue::make_envelope("finding.created", "shop", "critical", Json{{"finding_key", "rce"}}, "", clock_.now_ms()));
  handle_next();
  EXPECT_EQ(all_incidents().size(), 2u);
}

TEST_F(CorrelatorTest, MalformedMessagesAreDeadLetteredAndUnknownOnesIgnored) {
  publish({{"event_id", "e1"}, {"payload", "{}"}});
  publish({{"event_id", "e2"}, {"event_type", "posture.changed"}, {"payload", "{nope"}});
  publish({{"event_id", "e3"}, {"event_type", "posture.changed"}, {"payload", "{}"}});
  publish({{"event_id", "e4"}, {"event_type", "alert.triggered"}, {"payload", "{\"down_assets\":[]}"}});
  publish({{"event_id", "e5"}, {"event_type", "scan.completed"}, {"payload", "{}"}});
  for (int i = 0; i < 5; ++i) handle_next();
  auto dlq = queue_->range(kCorr + ".dlq", "0-0", 10);
  ASSERT_TRUE(dlq.ok());
  ASSERT_EQ(dlq->size(), 4u);
  EXPECT_NE((*dlq)[0].fields["error"].find("missing event_type"), std::string::npos);
  EXPECT_NE((*dlq)[1].fields["error"].find("payload is not a JSON object"), std::string::npos);
  EXPECT_NE((*dlq)[2].fields["error"].find("without asset_key"), std::string::npos);
  EXPECT_NE((*dlq)[3].fields["error"].find("without down_assets"), std::string::npos);
  EXPECT_TRUE(nothing_pending());
  EXPECT_TRUE(all_incidents().empty());
}

TEST_F(CorrelatorTest, ThreadsConsumeTheStreamAndTheSweeperRelaysApiIncidents) {
  ASSERT_TRUE(correlator_->start(2).ok());
  change("shop", "up", "down");
  // An incident opened through the API (not by a signal) is relayed by the sweeper.
  NewIncident manual;
  manual.title = "Phishing report";
  ASSERT_TRUE(incidents_->create(manual, {"alice", ""}).ok());
  std::vector<std::string> seen;
  for (int i = 0; i < 200 && seen.size() < 2; ++i) {
    for (auto& s : notified()) seen.push_back(s);
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  correlator_->stop();
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"incident.created/created/", "incident.created/created/shop"}));
}

}  // namespace
}  // namespace secplat::incidents
