// Suppression (windows, rules, manual alert suppression, dependencies) and the AlertBook's pure
// rules, with a ManualClock, on SQLite and on PostgreSQL (the latter when SECPLAT_TEST_PG_DIR
// names a running test server, tests/support/pg_test_server.sh; skipped otherwise).
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>

#include "auth/audit_log.h"
#include "auth/migrations.h"
#include "core/clock.h"
#include "core/ids.h"
#include "incidents/alert_book.h"
#include "incidents/suppression.h"
#include "store/sqlite_db.h"
#include "support/pg_test_db.h"

namespace secplat::incidents {
namespace {

constexpr int64_t kT0 = 1'790'000'000'000;  // 2026-09-21
constexpr int64_t kHour = 3'600'000;

class SuppressionTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres") {
      if (secplat::testing::pg_server_url().empty()) GTEST_SKIP() << "SECPLAT_TEST_PG_DIR not set";
      db_ = secplat::testing::fresh_pg_db(4);
      ASSERT_TRUE(db_);
    } else {
      dir_ = std::filesystem::temp_directory_path() / ("secplat-suppression-" + random_hex(8));
      std::filesystem::create_directories(dir_);
      auto db = store::open_sqlite({.path = (dir_ / "test.db").string(), .readers = 2, .busy_timeout_ms = 10000});
      ASSERT_TRUE(db.ok()) << db.error().message;
      db_ = std::move(*db);
    }
    auto migrations = auth::auth_migrations();
    for (auto& m : suppression_migrations()) migrations.push_back(std::move(m));
    // The real assets table belongs to the findings module; AlertBook only reads asset_key.
    migrations.push_back({399, "test_assets", "CREATE TABLE assets (asset_key TEXT PRIMARY KEY)",
                          "CREATE TABLE assets (asset_key TEXT PRIMARY KEY)"});
    auto st = store::migrate(*db_, migrations);
    ASSERT_TRUE(st.ok()) << st.error().message;
    audit = std::make_unique<auth::AuditLog>(*db_, clock);
    sup = std::make_unique<Suppression>(*db_, clock, *audit);
    book = std::make_unique<AlertBook>(*db_, clock, *audit);
  }

  void TearDown() override {
    book.reset();
    sup.reset();
    audit.reset();
    db_.reset();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  void add_asset(const std::string& key) {
    ASSERT_TRUE(db_->exec("INSERT INTO assets (asset_key) VALUES ($1)", {key}).ok());
  }

  int64_t audit_count(const std::string& action) {
    auto rows = db_->query("SELECT COUNT(*) AS n FROM audit_events WHERE action = $1", {action});
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? rows->front().i64("n") : -1;
  }

  int64_t window(const std::string& key, int64_t start, int64_t end, const char* reason = nullptr) {
    MaintenanceWindowInput in{key, {start, end}, reason ? std::optional<std::string>(reason) : std::nullopt};
    auto w = sup->create_window(in, actor);
    EXPECT_TRUE(w.ok()) << w.error().message;
    return w.ok() ? w->id : 0;
  }

  int64_t rule(const std::string& scope, std::optional<std::string> value, int64_t start, int64_t end) {
    auto r = sup->create_rule({scope, std::move(value), {start, end}, std::nullopt}, actor);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? r->id : 0;
  }

  std::optional<SuppressionHit> hit(const std::string& key, std::optional<std::string> finding, int64_t at) {
    auto h = sup->check(key, finding, at);
    EXPECT_TRUE(h.ok()) << h.error().message;
    return h.ok() ? *h : std::nullopt;
  }

  void depend(const std::string& child, const std::string& parent) {
    auto d = sup->create_dependency(child, parent, actor);
    ASSERT_TRUE(d.ok()) << d.error().message;
  }

  // A health lookup over a map the test edits.
  void use_health(std::map<std::string, std::string>& health) {
    sup->set_health_lookup([&health](const std::string& k) -> std::optional<std::string> {
      auto it = health.find(k);
      if (it == health.end()) return std::nullopt;
      return it->second;
    });
  }

  const auth::Actor actor{"alice", "req-1"};
  ManualClock clock{kT0};
  std::filesystem::path dir_;
  std::unique_ptr<store::Db> db_;
  std::unique_ptr<auth::AuditLog> audit;
  std::unique_ptr<Suppression> sup;
  std::unique_ptr<AlertBook> book;
};

TEST_P(SuppressionTest, MaintenanceWindowBoundsAreInclusive) {
  const int64_t start = kT0 + kHour, end = kT0 + 2 * kHour;
  const int64_t id = window("db-1", start, end, "db upgrade");
  EXPECT_FALSE(hit("db-1", std::nullopt, start - 1));
  auto at_start = hit("db-1", std::nullopt, start);
  ASSERT_TRUE(at_start);
  EXPECT_EQ(at_start->kind, "maintenance_window");
  EXPECT_EQ(at_start->id, id);
  EXPECT_EQ(at_start->reason, "maintenance window " + std::to_string(id) + ": db upgrade");
  EXPECT_EQ(at_start->ends_ms, end);
  EXPECT_TRUE(hit("db-1", std::nullopt, end));
  EXPECT_FALSE(hit("db-1", std::nullopt, end + 1));
  EXPECT_FALSE(hit("db-2", std::nullopt, start)) << "a window covers only its asset";
}

TEST_P(SuppressionTest, RulesOfScopeAllAssetAndFindingSuppress) {
  rule("asset", "web-1", kT0, kT0 + kHour);
  rule("finding", "tls-expired", kT0, kT0 + kHour);
  EXPECT_EQ(hit("web-1", std::nullopt, kT0 + 1)->kind, "rule");
  EXPECT_FALSE(hit("web-2", std::nullopt, kT0 + 1));
  auto f = hit("web-2", "tls-expired", kT0 + 1);
  ASSERT_TRUE(f) << "finding-scope rules are evaluated";
  EXPECT_NE(f->reason.find("finding tls-expired"), std::string::npos) << f->reason;
  EXPECT_FALSE(hit("web-2", "other-finding", kT0 + 1));
  EXPECT_FALSE(hit("web-2", "tls-expired", kT0 + kHour + 1)) << "expired rule";

  const int64_t all = rule("all", "ignored", kT0 + 10, kT0 + 20);
  EXPECT_FALSE(hit("any", std::nullopt, kT0 + 9));
  auto a = hit("any", std::nullopt, kT0 + 20);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->id, all);
  EXPECT_EQ(hit("web-1", std::nullopt, kT0 + 15)->id, all) << "scope all is checked before scope asset";
  auto rules = sup->list_rules(std::string("all"), false);
  ASSERT_TRUE(rules.ok());
  ASSERT_EQ(rules->size(), 1u);
  EXPECT_FALSE(rules->front().scope_value) << "scope all stores no scope_value";
}

TEST_P(SuppressionTest, WindowsComeBeforeRulesAndAllHitsListsBoth) {
  rule("asset", "db-1", kT0, kT0 + kHour);
  const int64_t w = window("db-1", kT0, kT0 + kHour);
  EXPECT_EQ(hit("db-1", std::nullopt, kT0)->id, w);
  auto all = sup->all_hits("db-1", std::nullopt, kT0);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].kind, "maintenance_window");
  EXPECT_EQ((*all)[1].kind, "rule");
}

TEST_P(SuppressionTest, NaiveAndMalformedDatetimesAreRefused) {
  auto naive = parse_time_range("2026-10-01T10:00:00", "2026-10-01T12:00:00Z");
  ASSERT_FALSE(naive.ok());
  EXPECT_EQ(naive.error().code, Errc::bad_request);
  EXPECT_NE(naive.error().message.find("time zone"), std::string::npos) << naive.error().message;
  EXPECT_FALSE(parse_time_range("2026-10-01T10:00:00Z", "2026-10-01 12:00:00").ok());
  EXPECT_FALSE(parse_time_range("yesterday", "2026-10-01T12:00:00Z").ok());

  auto ok = parse_time_range("2026-10-01T10:00:00Z", "2026-10-01T12:00:00+02:00");
  ASSERT_FALSE(ok.ok()) << "12:00+02:00 is 10:00Z: not after the start";
  EXPECT_EQ(ok.error().message, "end_at must be after start_at");
  auto r = parse_time_range("2026-10-01T10:00:00Z", "2026-10-01T14:00:00+02:00", "starts_at", "ends_at");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->end_ms - r->start_ms, 2 * kHour);
}

TEST_P(SuppressionTest, InvalidWindowsAndRulesAreRefused) {
  auto w = sup->create_window({"db-1", {kT0, kT0}, std::nullopt}, actor);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().message, "end_at must be after start_at");
  auto scope = sup->create_rule({"host", "x", {kT0, kT0 + 1}, std::nullopt}, actor);
  ASSERT_FALSE(scope.ok());
  EXPECT_EQ(scope.error().message, "scope must be asset, finding, or all");
  auto value = sup->create_rule({"finding", std::nullopt, {kT0, kT0 + 1}, std::nullopt}, actor);
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.error().message, "scope_value required for asset/finding");
  EXPECT_EQ(audit_count("suppression_rule.create"), 0);
  EXPECT_EQ(audit_count("maintenance_window.create"), 0);
}

TEST_P(SuppressionTest, DeletesAreAuditedAndMissingIdsAreNotFound) {
  const int64_t w = window("db-1", kT0, kT0 + kHour);
  const int64_t r = rule("asset", "db-1", kT0, kT0 + kHour);
  ASSERT_TRUE(sup->delete_window(w, actor).ok());
  ASSERT_TRUE(sup->delete_rule(r, actor).ok());
  EXPECT_FALSE(hit("db-1", std::nullopt, kT0));
  auto again = sup->delete_window(w, actor);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::not_found);
  EXPECT_EQ(sup->delete_rule(r, actor).error().code, Errc::not_found);
  EXPECT_EQ(audit_count("maintenance_window.create"), 1);
  EXPECT_EQ(audit_count("maintenance_window.delete"), 1);
  EXPECT_EQ(audit_count("suppression_rule.create"), 1);
  EXPECT_EQ(audit_count("suppression_rule.delete"), 1);
}

TEST_P(SuppressionTest, ListsFilterByAssetAndActivity) {
  window("db-1", kT0 - 2 * kHour, kT0 - kHour);
  window("db-1", kT0, kT0 + kHour);
  window("db-2", kT0, kT0 + kHour);
  auto db1 = sup->list_windows(std::string("db-1"), false);
  ASSERT_TRUE(db1.ok());
  ASSERT_EQ(db1->size(), 2u);
  EXPECT_EQ(db1->front().start_ms, kT0) << "newest start first";
  auto active = sup->list_windows(std::nullopt, true);
  ASSERT_TRUE(active.ok());
  EXPECT_EQ(active->size(), 2u);
}

TEST_P(SuppressionTest, ADownParentSuppressesItsChildrenTransitively) {
  std::map<std::string, std::string> health{{"db", "up"}, {"app", "up"}, {"web", "down"}};
  depend("app", "db");
  depend("web", "app");
  EXPECT_FALSE(hit("web", std::nullopt, kT0)) << "without a health lookup dependencies never suppress";
  use_health(health);
  EXPECT_FALSE(hit("web", std::nullopt, kT0));
  EXPECT_FALSE(hit("db", std::nullopt, kT0)) << "a parent is not suppressed by its child";

  health["db"] = "down";
  auto direct = hit("app", std::nullopt, kT0);
  ASSERT_TRUE(direct);
  EXPECT_EQ(direct->kind, "dependency");
  EXPECT_EQ(direct->reason, "parent db is down");
  EXPECT_FALSE(direct->ends_ms);
  auto transitive = hit("web", std::nullopt, kT0);
  ASSERT_TRUE(transitive);
  EXPECT_EQ(transitive->reason, "parent db is down (via app)");

  health["db"] = "stale";
  EXPECT_FALSE(hit("web", std::nullopt, kT0)) << "only down parents suppress";
}

TEST_P(SuppressionTest, DependencyWalkIsDepthLimited) {
  std::map<std::string, std::string> health;
  for (int i = 0; i < 10; ++i) depend("a" + std::to_string(i), "a" + std::to_string(i + 1));
  health["a10"] = "down";
  use_health(health);
  EXPECT_TRUE(hit("a2", std::nullopt, kT0)) << "8 hops away";
  EXPECT_FALSE(hit("a1", std::nullopt, kT0)) << "9 hops away";
}

TEST_P(SuppressionTest, SelfDependenciesCyclesAndDuplicatesAreRefused) {
  depend("a", "b");
  depend("b", "c");
  auto self = sup->create_dependency("a", "a", actor);
  ASSERT_FALSE(self.ok());
  EXPECT_EQ(self.error().code, Errc::bad_request);
  auto cycle = sup->create_dependency("c", "a", actor);
  ASSERT_FALSE(cycle.ok());
  EXPECT_EQ(cycle.error().code, Errc::bad_request);
  EXPECT_NE(cycle.error().message.find("cycle"), std::string::npos) << cycle.error().message;
  auto dup = sup->create_dependency("a", "b", actor);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, Errc::conflict);
  depend("a", "c");  // a diamond is not a cycle
  auto list = sup->list_dependencies(std::string("b"));
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 2u) << "b as child and as parent";
  EXPECT_EQ(audit_count("asset_dependency.create"), 3);
  ASSERT_TRUE(sup->delete_dependency(list->front().id, actor).ok());
  EXPECT_EQ(sup->delete_dependency(list->front().id, actor).error().code, Errc::not_found);
  EXPECT_EQ(audit_count("asset_dependency.delete"), 1);
  EXPECT_FALSE(sup->create_dependency("c", "a", actor).ok()) << "a -> c still closes a cycle";
  EXPECT_TRUE(sup->create_dependency("b", "a", actor).ok()) << "a no longer depends on b";
}

TEST_P(SuppressionTest, AManualAlertSuppressionCountsUntilItEnds) {
  add_asset("web-1");
  std::map<std::string, std::string> health{{"db", "down"}};
  use_health(health);
  depend("web-1", "db");
  ASSERT_TRUE(book->suppress("web-1", kT0 + kHour, actor).ok());
  auto h = hit("web-1", std::nullopt, kT0);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->kind, "alert_suppressed") << "checked before dependencies";
  EXPECT_EQ(h->ends_ms, kT0 + kHour);
  EXPECT_EQ(hit("web-1", std::nullopt, kT0 + kHour + 1)->kind, "dependency");
  health["db"] = "up";
  EXPECT_FALSE(hit("web-1", std::nullopt, kT0 + kHour + 1));
  ASSERT_TRUE(book->ack("web-1", std::nullopt, actor).ok());
  EXPECT_FALSE(hit("web-1", std::nullopt, kT0)) << "an ack ends the manual suppression";
  EXPECT_EQ(audit_count("alert.suppress"), 1);
  EXPECT_EQ(audit_count("alert.ack"), 1);
}

TEST_P(SuppressionTest, AlertMutationsNeedAKnownAsset) {
  auto r = book->ack("nope", std::string("x"), actor);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::not_found);
  EXPECT_EQ(r.error().message, "Asset not found");
  add_asset("web-1");
  auto past = book->suppress("web-1", kT0 - 1, actor);
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.error().code, Errc::bad_request);
  auto assigned = book->assign("web-1", std::string("bob"), actor);
  ASSERT_TRUE(assigned.ok()) << assigned.error().message;
  EXPECT_EQ(assigned->state, "firing");
  EXPECT_EQ(assigned->assigned_to, "bob");
  auto acked = book->ack("web-1", std::nullopt, actor);
  ASSERT_TRUE(acked.ok());
  EXPECT_EQ(acked->assigned_to, "bob") << "other columns survive an upsert";
  EXPECT_EQ(acked->ack_reason, "");
  auto states = book->list_states();
  ASSERT_TRUE(states.ok());
  EXPECT_EQ(states->size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, SuppressionTest, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(AlertBucketTest, EpisodesDecideBetweenFiringResolvedAndAcked) {
  AlertState resolved;
  resolved.state = "resolved";
  resolved.resolved_at_ms = kT0;
  EXPECT_EQ(alert_bucket(resolved, true, kT0 - kHour, false), "resolved") << "same outage stays resolved";
  EXPECT_EQ(alert_bucket(resolved, true, std::nullopt, false), "resolved");
  EXPECT_EQ(alert_bucket(resolved, true, kT0 + 1, false), "firing") << "went down again after resolve";

  AlertState acked;
  acked.state = "acked";
  acked.acked_at_ms = kT0;
  EXPECT_EQ(alert_bucket(acked, true, kT0 - 1, false), "acked");
  EXPECT_EQ(alert_bucket(acked, true, kT0 + 1, false), "firing");

  AlertState assigned;  // state firing after an assign
  EXPECT_EQ(alert_bucket(assigned, true, kT0, false), "firing");
  EXPECT_EQ(alert_bucket(assigned, false, kT0, false), "resolved") << "recovered assets never fire";
  EXPECT_EQ(alert_bucket(acked, false, kT0, false), "resolved");
  EXPECT_EQ(alert_bucket(std::nullopt, true, kT0, false), "firing");
  EXPECT_EQ(alert_bucket(acked, true, kT0, true), "suppressed") << "suppression wins";
}

TEST(EffectiveSeverityTest, CriticalityIncidentsAndSuppressionMoveTheScore) {
  auto plain = effective_severity("medium", 0, false);
  EXPECT_EQ(plain.score, 50);
  EXPECT_EQ(plain.level, "medium");
  EXPECT_TRUE(plain.top_drivers.empty());
  auto hot = effective_severity("high", 2, false);
  EXPECT_EQ(hot.score, 66);
  ASSERT_EQ(hot.top_drivers.size(), 2u);
  EXPECT_EQ(hot.top_drivers[0].code, "asset_criticality_high");
  auto quiet = effective_severity("low", 0, true);
  EXPECT_EQ(quiet.score, 33);
  EXPECT_EQ(quiet.level, "low");
  EXPECT_EQ(quiet.top_drivers[0].delta, -12);
}

}  // namespace
}  // namespace secplat::incidents
