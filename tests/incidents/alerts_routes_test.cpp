// The /alerts and /suppression routes through a real http::Server on loopback ("<role>-token"
// tokens) over a migrated SQLite database with the posture schema. Asset health is written as
// asset_status rows directly, the way the deriver would leave them.
#include <gtest/gtest.h>

#include <map>

#include "api/alerts_routes.h"
#include "api/suppression_routes.h"
#include "findings/findings_fixture.h"
#include "http/client.h"
#include "http/test_server.h"
#include "incidents/alert_book.h"
#include "incidents/suppression.h"
#include "posture/migrations.h"
#include "posture/posture_view.h"

namespace secplat::incidents {
namespace {

using findings::testing::kT0;
// A reply as a client sees it.
struct Reply {
  int status = 0;
  std::string body;
  Json json() const { return Json::parse(body, nullptr, false); }
};

constexpr int64_t kHour = 3'600'000;

class AlertsRoutesTest : public findings::testing::FindingsFixture {
 protected:
  void SetUp() override {
    FindingsFixture::SetUp();
    auto migrations = posture::posture_migrations();
    for (auto& m : suppression_migrations()) migrations.push_back(std::move(m));
    auto st = store::migrate(*db_, migrations);
    ASSERT_TRUE(st.ok()) << st.error().message;
    view = std::make_unique<posture::PostureView>(*db_, clock, 0);
    sup = std::make_unique<Suppression>(*db_, clock, *audit);
    sup->set_health_lookup(api::posture_health_lookup(*view));
    book = std::make_unique<AlertBook>(*db_, clock, *audit);
    auto routes = api::alerts_routes(*book, *sup, *view, [this](const std::string& key) {
      auto it = open_incidents.find(key);
      return it == open_incidents.end() ? std::vector<OpenIncidentRef>{} : it->second;
    });
    for (auto& r : api::suppression_routes(*sup)) routes.push_back(std::move(r));
    server_ = std::make_unique<http::testing::TestServer>(std::move(routes));
    ASSERT_NE(server_->port, 0);
  }

  void TearDown() override {
    if (server_ && server_->server) server_->server->shutdown();
    server_.reset();
    book.reset();
    sup.reset();
    view.reset();
    FindingsFixture::TearDown();
  }

  // One request through libcurl (the platform's own outbound client) to the loopback server.
  Reply call(const std::string& method, const std::string& target, const std::string& role,
             const std::string& body = "") {
    http::ClientRequest req;
    req.method = method;
    req.url = "http://127.0.0.1:" + std::to_string(server_->port) + target;
    req.headers = {{"Authorization", "Bearer " + role + "-token"}};
    if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
    req.body = body;
    req.timeout_ms = 10000;
    auto resp = http::perform(req);
    EXPECT_TRUE(resp.ok()) << method << " " << target << ": " << (resp.ok() ? "" : resp.error().message);
    if (!resp.ok()) return Reply{};
    return Reply{static_cast<int>(resp->status), resp->body};
  }
  Reply call(const std::string& method, const std::string& target, const std::string& role, const Json& body) {
    return call(method, target, role, body.dump());
  }

  // The asset's derived status as the deriver writes it; `since` = last_status_change.
  void set_status(const std::string& key, const std::string& status, int64_t since) {
    const bool up = status == "up";
    auto n = db_->exec(
        "INSERT INTO asset_status (asset_key, derived_at, status, status_num, last_seen, posture_score, "
        "posture_state, reason, last_status_change) VALUES ($1, $2, $3, $4, $2, $5, $6, $7, $8) "
        "ON CONFLICT (asset_key) DO UPDATE SET derived_at = excluded.derived_at, status = excluded.status, "
        "status_num = excluded.status_num, last_seen = excluded.last_seen, posture_score = excluded.posture_score, "
        "posture_state = excluded.posture_state, reason = excluded.reason, "
        "last_status_change = excluded.last_status_change",
        {key, clock.now_ms(), status, int64_t{up ? 1 : -2}, int64_t{up ? 100 : 0}, std::string(up ? "green" : "red"),
         up ? store::null() : store::Value(std::string("probe failed")), since});
    ASSERT_TRUE(n.ok()) << n.error().message;
  }

  void down(const std::string& key, int64_t since = kT0 - kHour) {
    make_asset(key);
    set_status(key, "down", since);
  }

  Json alerts(const std::string& role = "viewer") {
    Reply r = call("GET", "/alerts", role);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json();
  }

  // The keys in one bucket, in order.
  std::vector<std::string> keys(const Json& board, const std::string& bucket) {
    std::vector<std::string> out;
    for (const auto& a : board[bucket]) out.push_back(a["asset_key"].get<std::string>());
    return out;
  }

  Json audit_details(const std::string& action) {
    auto rows = db_->query("SELECT details FROM audit_events WHERE action = $1 ORDER BY id DESC", {action});
    EXPECT_TRUE(rows.ok());
    if (!rows.ok() || rows->empty()) return Json();
    return Json::parse(rows->front().str("details"));
  }

  using Keys = std::vector<std::string>;
  std::map<std::string, std::vector<OpenIncidentRef>> open_incidents;
  std::unique_ptr<posture::PostureView> view;
  std::unique_ptr<Suppression> sup;
  std::unique_ptr<AlertBook> book;
  std::unique_ptr<http::testing::TestServer> server_;
};

TEST_F(AlertsRoutesTest, DownAssetsFireWithEnrichmentAndHealthyOrRepositoryAssetsDoNot) {
  down("web-1");
  make_asset("web-2");
  set_status("web-2", "up", kT0 - kHour);
  make_asset("repo-1");
  ASSERT_TRUE(db_->exec("UPDATE assets SET asset_type = 'repository', criticality = 'high' WHERE asset_key = 'repo-1'").ok());
  set_status("repo-1", "scan_based", kT0 - kHour);
  ASSERT_TRUE(db_->exec("UPDATE asset_status SET posture_state = 'red' WHERE asset_key = 'repo-1'").ok());
  ASSERT_TRUE(db_->exec("UPDATE assets SET criticality = 'high' WHERE asset_key = 'web-1'").ok());
  open_incidents["web-1"] = {{7, "high"}};

  Json board = alerts();
  EXPECT_EQ(keys(board, "firing"), Keys{"web-1"});
  for (const char* b : {"acked", "suppressed", "resolved"}) EXPECT_TRUE(board[b].empty()) << b;
  const Json& a = board["firing"][0];
  EXPECT_EQ(a["state"], "firing");
  EXPECT_EQ(a["asset_name"], "web-1");
  EXPECT_EQ(a["criticality"], "high");
  EXPECT_EQ(a["posture_status"], "red");
  EXPECT_EQ(a["posture_score"], 0);
  EXPECT_EQ(a["reason"], "probe failed");
  EXPECT_EQ(a["maintenance_active"], false);
  EXPECT_EQ(a["suppression_rule_active"], false);
  EXPECT_TRUE(a["acked_at"].is_null());
  EXPECT_EQ(a["open_incident_count"], 1);
  EXPECT_EQ(a["open_incident_ids"], Json::array({7}));
  EXPECT_EQ(a["open_incident_severities"], Json::array({"high"}));
  EXPECT_EQ(a["effective_severity_score"], 66);  // 50 + 10 (high) + 6 (incident)
  EXPECT_EQ(a["effective_severity"], "medium");
  EXPECT_EQ(a["effective_severity_top_drivers"][0]["code"], "asset_criticality_high");
}

TEST_F(AlertsRoutesTest, AckMovesTheAlertToAckedAndIsAudited) {
  down("web-1");
  Reply r = call("POST", "/alerts/ack", "analyst", Json{{"asset_key", "web-1"}, {"reason", "on it"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json(), (Json{{"ok", true}, {"asset_key", "web-1"}, {"state", "acked"}}));
  Json board = alerts();
  ASSERT_EQ(keys(board, "acked"), Keys{"web-1"});
  EXPECT_EQ(board["acked"][0]["ack_reason"], "on it");
  EXPECT_EQ(board["acked"][0]["acked_by"], "analyst");
  EXPECT_EQ(board["acked"][0]["acked_at"], format_rfc3339(kT0));
  EXPECT_EQ(audit_details("alert.ack")["asset_key"], "web-1");
}

TEST_F(AlertsRoutesTest, ARecoveredAssetsAlertIsResolvedWhateverItsState) {
  down("web-1");
  down("web-2");
  ASSERT_EQ(call("POST", "/alerts/assign", "analyst", Json{{"asset_key", "web-1"}, {"assigned_to", "bob"}}).status,
            200);
  ASSERT_EQ(call("POST", "/alerts/ack", "admin", Json{{"asset_key", "web-2"}}).status, 200);
  Json before = alerts();
  EXPECT_EQ(keys(before, "firing"), Keys{"web-1"});
  EXPECT_EQ(before["firing"][0]["assigned_to"], "bob");
  EXPECT_EQ(keys(before, "acked"), Keys{"web-2"});

  clock.advance_ms(kHour);
  set_status("web-1", "up", clock.now_ms());
  set_status("web-2", "up", clock.now_ms());
  Json after = alerts();
  EXPECT_TRUE(after["firing"].empty()) << after.dump();
  EXPECT_TRUE(after["acked"].empty());
  EXPECT_EQ(keys(after, "resolved"), (Keys{"web-1", "web-2"}));
}

TEST_F(AlertsRoutesTest, AResolvedAlertFiresAgainOnlyWhenTheAssetGoesDownAgain) {
  down("web-1", kT0 - kHour);
  Reply r = call("POST", "/alerts/resolve", "analyst", Json{{"asset_key", "web-1"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["state"], "resolved");
  clock.advance_ms(kHour);
  EXPECT_EQ(keys(alerts(), "resolved"), Keys{"web-1"}) << "still the outage that was resolved";

  set_status("web-1", "up", clock.now_ms());
  EXPECT_EQ(keys(alerts(), "resolved"), Keys{"web-1"});
  clock.advance_ms(kHour);
  set_status("web-1", "down", clock.now_ms());
  Json board = alerts();
  EXPECT_EQ(keys(board, "firing"), Keys{"web-1"}) << "a new outage after resolved_at";
  EXPECT_EQ(board["firing"][0]["resolved_at"], format_rfc3339(kT0));
}

TEST_F(AlertsRoutesTest, AnActiveMaintenanceWindowMovesADownAssetToSuppressed) {
  down("web-1");
  Reply w = call("POST", "/suppression/maintenance-windows", "analyst",
                 Json{{"asset_key", "web-1"},
                      {"start_at", format_rfc3339(kT0 - 60'000)},
                      {"end_at", format_rfc3339(kT0 + kHour)},
                      {"reason", "db upgrade"}});
  ASSERT_EQ(w.status, 201) << w.body;
  const int64_t id = w.json()["id"].get<int64_t>();
  Json board = alerts();
  ASSERT_EQ(keys(board, "suppressed"), Keys{"web-1"});
  const Json& a = board["suppressed"][0];
  EXPECT_EQ(a["maintenance_active"], true);
  EXPECT_EQ(a["maintenance_reason"], "maintenance window " + std::to_string(id) + ": db upgrade");
  EXPECT_EQ(a["maintenance_end_at"], format_rfc3339(kT0 + kHour));
  EXPECT_EQ(a["effective_severity_score"], 38);
  EXPECT_EQ(a["effective_severity"], "low");

  clock.advance_ms(kHour + 1);
  EXPECT_EQ(keys(alerts(), "firing"), Keys{"web-1"}) << "the window has ended";
}

TEST_F(AlertsRoutesTest, AssetAndFindingRulesReportTheirReason) {
  down("web-1");
  Reply r = call("POST", "/suppression/rules", "analyst",
                 Json{{"scope", "asset"},
                      {"scope_value", "web-1"},
                      {"starts_at", "2026-09-21T00:00:00Z"},
                      {"ends_at", "2026-09-22T00:00:00+00:00"},
                      {"reason", "noisy"}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json()["scope_value"], "web-1");
  EXPECT_EQ(r.json()["ends_at"], "2026-09-22T00:00:00.000Z");
  Json board = alerts();
  ASSERT_EQ(keys(board, "suppressed"), Keys{"web-1"});
  EXPECT_EQ(board["suppressed"][0]["suppression_rule_active"], true);
  EXPECT_EQ(board["suppressed"][0]["suppression_end_at"], "2026-09-22T00:00:00.000Z");

  Reply f = call("POST", "/suppression/rules", "analyst",
                 Json{{"scope", "finding"},
                      {"scope_value", "tls-expired"},
                      {"starts_at", "2026-09-21T00:00:00Z"},
                      {"ends_at", "2026-09-22T00:00:00Z"}});
  ASSERT_EQ(f.status, 201) << f.body;
  auto hit = sup->check("web-9", std::string("tls-expired"), kT0);
  ASSERT_TRUE(hit.ok());
  ASSERT_TRUE(hit->has_value()) << "finding-scope rules are evaluated";
  EXPECT_EQ((*hit)->id, f.json()["id"].get<int64_t>());
}

TEST_F(AlertsRoutesTest, ManualSuppressionNeedsAZonedFutureTime) {
  down("web-1");
  const std::string until = "2026-09-21T16:30:00+02:00";  // after kT0 (2026-09-21T14:13:20Z)
  Reply r = call("POST", "/alerts/suppress", "analyst", Json{{"asset_key", "web-1"}, {"until_iso", until}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json(), (Json{{"ok", true}, {"asset_key", "web-1"}, {"state", "suppressed"}, {"suppressed_until", until}}));
  Json board = alerts();
  ASSERT_EQ(keys(board, "suppressed"), Keys{"web-1"});
  EXPECT_EQ(board["suppressed"][0]["suppressed_by"][0]["kind"], "alert_suppressed");
  EXPECT_EQ(board["suppressed"][0]["suppressed_until"], "2026-09-21T14:30:00.000Z");

  Reply naive = call("POST", "/alerts/suppress", "analyst",
                     Json{{"asset_key", "web-1"}, {"until_iso", "2026-09-21T16:00:00"}});
  EXPECT_EQ(naive.status, 400);
  EXPECT_NE(naive.json()["detail"].get<std::string>().find("time zone"), std::string::npos) << naive.body;
  EXPECT_EQ(call("POST", "/alerts/suppress", "analyst", Json{{"asset_key", "web-1"}}).status, 400);
  EXPECT_EQ(call("POST", "/alerts/suppress", "analyst",
                 Json{{"asset_key", "web-1"}, {"until_iso", "2026-09-21T10:00:00Z"}})
                .status,
            400)
      << "in the past";
  EXPECT_EQ(audit_details("alert.suppress")["asset_key"], "web-1");
}

TEST_F(AlertsRoutesTest, ADownParentSuppressesItsChildsAlert) {
  down("db-1");
  down("web-1");
  Reply d = call("POST", "/suppression/dependencies", "analyst", Json{{"asset_key", "web-1"}, {"depends_on", "db-1"}});
  ASSERT_EQ(d.status, 201) << d.body;
  EXPECT_EQ(d.json()["depends_on"], "db-1");
  EXPECT_EQ(d.json()["created_by"], "analyst");
  Json board = alerts();
  EXPECT_EQ(keys(board, "firing"), Keys{"db-1"});
  ASSERT_EQ(keys(board, "suppressed"), Keys{"web-1"});
  EXPECT_EQ(board["suppressed"][0]["suppressed_by"][0]["reason"], "parent db-1 is down");

  set_status("db-1", "up", kT0);
  EXPECT_EQ(keys(alerts(), "firing"), Keys{"web-1"}) << "the parent is back: the child's own outage shows";
}

TEST_F(AlertsRoutesTest, DependencyCrudRefusesDuplicatesSelfAndCycles) {
  auto post = [&](const Json& body) { return call("POST", "/suppression/dependencies", "analyst", body); };
  Reply a = post(Json{{"asset_key", "app"}, {"depends_on", "db"}});
  ASSERT_EQ(a.status, 201) << a.body;
  EXPECT_EQ(post(Json{{"asset_key", "app"}, {"depends_on", "db"}}).status, 409);
  EXPECT_EQ(post(Json{{"asset_key", "app"}, {"depends_on", "app"}}).status, 400);
  Reply cycle = post(Json{{"asset_key", "db"}, {"depends_on", "app"}});
  EXPECT_EQ(cycle.status, 400);
  EXPECT_NE(cycle.json()["detail"].get<std::string>().find("cycle"), std::string::npos) << cycle.body;
  EXPECT_EQ(post(Json{{"asset_key", "app"}}).status, 422);
  EXPECT_EQ(call("POST", "/suppression/dependencies", "viewer", Json{{"asset_key", "x"}, {"depends_on", "y"}}).status,
            403);

  Reply list = call("GET", "/suppression/dependencies?asset_key=db", "viewer");
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.json()["items"].size(), 1u);
  const std::string path = "/suppression/dependencies/" + std::to_string(a.json()["id"].get<int64_t>());
  EXPECT_EQ(call("DELETE", path, "analyst").json(), (Json{{"ok", true}}));
  Reply gone = call("DELETE", path, "analyst");
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(gone.json()["detail"], "Asset dependency not found");
  EXPECT_EQ(audit_details("asset_dependency.create")["depends_on"], "db");
  EXPECT_EQ(audit_details("asset_dependency.delete")["asset_key"], "app");
}

TEST_F(AlertsRoutesTest, ViewersMayReadButNotChange) {
  down("web-1");
  EXPECT_EQ(call("GET", "/alerts", "viewer").status, 200);
  for (const char* path : {"/alerts/ack", "/alerts/suppress", "/alerts/resolve", "/alerts/assign"}) {
    EXPECT_EQ(call("POST", path, "viewer", Json{{"asset_key", "web-1"}}).status, 403) << path;
  }
  EXPECT_EQ(call("POST", "/suppression/maintenance-windows", "viewer",
                 Json{{"asset_key", "web-1"}, {"start_at", "2026-09-21T00:00:00Z"}, {"end_at", "2026-09-22T00:00:00Z"}})
                .status,
            403);
  EXPECT_EQ(call("POST", "/suppression/rules", "viewer", Json{{"scope", "all"}}).status, 403);
  EXPECT_EQ(call("DELETE", "/suppression/rules/1", "viewer").status, 403);
  EXPECT_EQ(call("GET", "/alerts", "nobody").status, 401);
  auto states = book->list_states();
  ASSERT_TRUE(states.ok());
  EXPECT_TRUE(states->empty());
}

TEST_F(AlertsRoutesTest, UnknownAssetsAndV2AlertIdsAreNotFound) {
  for (const char* path : {"/alerts/ack", "/alerts/resolve", "/alerts/assign"}) {
    Reply r = call("POST", path, "analyst", Json{{"asset_key", "no-such-asset"}});
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.json()["detail"], "Asset not found");
  }
  EXPECT_EQ(call("POST", "/alerts/suppress", "analyst",
                 Json{{"asset_key", "no-such-asset"}, {"until_iso", "2026-09-22T00:00:00Z"}})
                .status,
            404);
  Reply v2 = call("POST", "/alerts/ack", "analyst", Json{{"alert_id", 5}});
  EXPECT_EQ(v2.status, 404);
  EXPECT_EQ(v2.json()["detail"], "Alert not found");
  Reply none = call("POST", "/alerts/ack", "analyst", Json::object());
  EXPECT_EQ(none.status, 400);
  EXPECT_EQ(none.json()["detail"], "asset_key or alert_id is required");
  auto states = book->list_states();
  ASSERT_TRUE(states.ok());
  EXPECT_TRUE(states->empty()) << "no rows for arbitrary keys";
  EXPECT_EQ(audit_count("alert.ack"), 0);

  make_asset("quiet-1");  // a known asset that is not alerting may still be acted on
  EXPECT_EQ(call("POST", "/alerts/ack", "analyst", Json{{"asset_key", "quiet-1"}}).status, 200);
  EXPECT_EQ(keys(alerts(), "resolved"), Keys{"quiet-1"});
}

TEST_F(AlertsRoutesTest, MaintenanceWindowCrudValidatesAndAudits) {
  auto post = [&](const Json& body) { return call("POST", "/suppression/maintenance-windows", "analyst", body); };
  Reply ok = post(Json{{"asset_key", "db-1"}, {"start_at", "2026-09-21T12:00:00Z"}, {"end_at", "2026-09-21T16:00:00Z"}});
  ASSERT_EQ(ok.status, 201) << ok.body;
  const Json w = ok.json();
  EXPECT_EQ(w["asset_key"], "db-1");
  EXPECT_EQ(w["start_at"], "2026-09-21T12:00:00.000Z");
  EXPECT_TRUE(w["reason"].is_null());
  EXPECT_EQ(w["created_by"], "analyst");

  Reply naive = post(Json{{"asset_key", "db-1"}, {"start_at", "2026-09-21T12:00:00"}, {"end_at", "2026-09-21T16:00:00Z"}});
  EXPECT_EQ(naive.status, 400);
  EXPECT_NE(naive.json()["detail"].get<std::string>().find("must be ISO 8601"), std::string::npos) << naive.body;
  Reply backwards =
      post(Json{{"asset_key", "db-1"}, {"start_at", "2026-09-21T16:00:00Z"}, {"end_at", "2026-09-21T12:00:00Z"}});
  EXPECT_EQ(backwards.status, 400);
  EXPECT_EQ(backwards.json()["detail"], "end_at must be after start_at");
  EXPECT_EQ(post(Json{{"start_at", "2026-09-21T12:00:00Z"}, {"end_at", "2026-09-21T16:00:00Z"}}).status, 422);

  ASSERT_TRUE(post(Json{{"asset_key", "db-2"}, {"start_at", "2026-09-20T00:00:00Z"}, {"end_at", "2026-09-20T01:00:00Z"}})
                  .status == 201);
  EXPECT_EQ(call("GET", "/suppression/maintenance-windows", "viewer").json()["items"].size(), 2u);
  Json active = call("GET", "/suppression/maintenance-windows?active_only=true", "viewer").json();
  ASSERT_EQ(active["items"].size(), 1u);
  EXPECT_EQ(active["items"][0]["asset_key"], "db-1");
  EXPECT_EQ(call("GET", "/suppression/maintenance-windows?asset_key=db-2", "viewer").json()["items"].size(), 1u);

  const std::string path = "/suppression/maintenance-windows/" + std::to_string(w["id"].get<int64_t>());
  Reply del = call("DELETE", path, "analyst");
  ASSERT_EQ(del.status, 200);
  EXPECT_EQ(del.json(), (Json{{"ok", true}}));
  Reply again = call("DELETE", path, "analyst");
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(again.json()["detail"], "Maintenance window not found");
  EXPECT_EQ(audit_count("maintenance_window.create"), 2);
  EXPECT_EQ(audit_details("maintenance_window.delete")["asset_key"], "db-1");
}

TEST_F(AlertsRoutesTest, RuleCrudValidatesAndAudits) {
  auto post = [&](const Json& body) { return call("POST", "/suppression/rules", "analyst", body); };
  const Json range = {{"starts_at", "2026-09-21T00:00:00Z"}, {"ends_at", "2026-09-22T00:00:00Z"}};
  auto with = [&](Json extra) {
    Json b = range;
    for (auto it = extra.begin(); it != extra.end(); ++it) b[it.key()] = it.value();
    return b;
  };
  Reply all = post(with({{"scope", "all"}}));
  ASSERT_EQ(all.status, 201) << all.body;
  EXPECT_TRUE(all.json()["scope_value"].is_null());
  Reply bad = post(with({{"scope", "host"}, {"scope_value", "x"}}));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json()["detail"], "scope must be asset, finding, or all");
  Reply missing = post(with({{"scope", "asset"}}));
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.json()["detail"], "scope_value required for asset/finding");
  Reply naive = post(Json{{"scope", "all"}, {"starts_at", "2026-09-21T00:00:00"}, {"ends_at", "2026-09-22T00:00:00"}});
  EXPECT_EQ(naive.status, 400);
  EXPECT_NE(naive.json()["detail"].get<std::string>().find("starts_at and ends_at"), std::string::npos) << naive.body;

  EXPECT_EQ(call("GET", "/suppression/rules?scope=bogus", "viewer").status, 400);
  EXPECT_EQ(call("GET", "/suppression/rules?scope=all&active_only=true", "viewer").json()["items"].size(), 1u);
  const std::string path = "/suppression/rules/" + std::to_string(all.json()["id"].get<int64_t>());
  EXPECT_EQ(call("DELETE", path, "admin").status, 200);
  Reply again = call("DELETE", path, "admin");
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(again.json()["detail"], "Suppression rule not found");
  EXPECT_EQ(audit_details("suppression_rule.create")["scope"], "all");
  EXPECT_EQ(audit_count("suppression_rule.delete"), 1);
}

}  // namespace
}  // namespace secplat::incidents
