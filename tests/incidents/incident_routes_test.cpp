// The /incidents routes through a real http::Server on loopback (TokenTableAuth: "<role>-token")
// over a migrated SQLite database; Jira is a fake hook that counts calls.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <memory>
#include <string>

#include "api/incidents_routes.h"
#include "auth/audit_log.h"
#include "auth/migrations.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/json.h"
#include "http/client.h"
#include "http/test_server.h"
#include "incidents/incident_service.h"
#include "store/sqlite_db.h"

namespace secplat::incidents {
namespace {

constexpr int64_t kT0 = 1'790'000'000'000;
constexpr int64_t kHourMs = 3600 * 1000;

struct Reply {
  int status = 0;
  Json body;
};

class IncidentRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("secplat-incident-routes-" + random_hex(8));
    std::filesystem::create_directories(dir_);
    auto db = store::open_sqlite({.path = (dir_ / "test.db").string(), .readers = 2, .busy_timeout_ms = 10000});
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(*db);
    auto migrations = auth::auth_migrations();
    for (auto& m : incident_migrations()) migrations.push_back(std::move(m));
    auto st = store::migrate(*db_, migrations);
    ASSERT_TRUE(st.ok()) << st.error().message;
    audit_ = std::make_unique<auth::AuditLog>(*db_, clock_);
    svc_ = std::make_unique<IncidentService>(*db_, clock_, *audit_);
    server_ = std::make_unique<http::testing::TestServer>(
        api::incidents_routes(*svc_, [this](const Incident& inc, const std::string& project) {
          return jira_(inc, project);
        }));
    ASSERT_NE(server_->port, 0);
  }
  void TearDown() override {
    if (server_ && server_->server) server_->server->shutdown();
    server_.reset();
    svc_.reset();
    audit_.reset();
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  Reply call(const std::string& method, const std::string& target, const std::string& role,
             const Json& body = nullptr) {
    http::ClientRequest req;
    req.method = method;
    req.url = "http://127.0.0.1:" + std::to_string(server_->port) + target;
    if (!role.empty()) req.headers.emplace_back("Authorization", "Bearer " + role + "-token");
    if (!body.is_null()) {
      req.headers.emplace_back("Content-Type", "application/json");
      req.body = body.dump();
    }
    req.timeout_ms = 10000;
    auto r = http::perform(req);
    EXPECT_TRUE(r.ok()) << method << " " << target << ": " << (r.ok() ? "" : r.error().message);
    if (!r.ok()) return {};
    return {static_cast<int>(r->status), Json::parse(r->body, nullptr, false)};
  }

  int64_t create(const Json& body) {
    Reply r = call("POST", "/incidents", "analyst", body);
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.body.value("id", int64_t{0});
  }

  std::string path(int64_t id, const std::string& rest = "") { return "/incidents/" + std::to_string(id) + rest; }

  int64_t audit_count(const std::string& action) {
    auto rows = db_->query("SELECT COUNT(*) AS n FROM audit_events WHERE action = $1", {action});
    return rows.ok() ? rows->front().i64("n") : -1;
  }

  static std::string first_loc(const Reply& r) {
    const Json& d = r.body["error"]["detail"];
    return d.is_array() && !d.empty() ? d[0]["loc"].back().get<std::string>() : "";
  }

  ManualClock clock_{kT0};
  std::filesystem::path dir_;
  std::unique_ptr<store::Db> db_;
  std::unique_ptr<auth::AuditLog> audit_;
  std::unique_ptr<IncidentService> svc_;
  std::unique_ptr<http::testing::TestServer> server_;
  std::function<api::JiraResult(const Incident&, const std::string&)> jira_ = [](const Incident&,
                                                                                  const std::string&) {
    api::JiraResult r;
    r.configured = false;
    return r;
  };
};

TEST_F(IncidentRoutesTest, CreateIs201ThenTheSameKeyIs200DedupedAndListsAreNewestFirst) {
  Json body{{"title", "Web down"}, {"severity", "critical"}, {"incident_key", "k-1"}, {"asset_keys", {"web-1"}}};
  Reply first = call("POST", "/incidents", "analyst", body);
  ASSERT_EQ(first.status, 201) << first.body.dump();
  EXPECT_EQ(first.body["deduped"], false);
  EXPECT_EQ(first.body["status"], "new");
  EXPECT_EQ(first.body["alert_count"], 1);
  EXPECT_EQ(first.body["created_at"], format_rfc3339(kT0));
  EXPECT_EQ(first.body["sla_due_at"], format_rfc3339(kT0 + 4 * kHourMs));
  Reply again = call("POST", "/incidents", "analyst", body);
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.body["deduped"], true);
  EXPECT_EQ(again.body["id"], first.body["id"]);

  clock_.advance_ms(1000);
  const int64_t second = create({{"title", "Later"}, {"sla_due_at", "2026-09-22T00:00:00Z"}});
  Reply list = call("GET", "/incidents", "viewer");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body["total"], 2);
  ASSERT_EQ(list.body["items"].size(), 2u);
  EXPECT_EQ(list.body["items"][0]["id"], second);
  EXPECT_EQ(list.body["items"][0]["sla_due_at"], "2026-09-22T00:00:00.000Z");
  EXPECT_EQ(list.body["items"][0]["severity"], "medium");

  Reply critical = call("GET", "/incidents?severity=critical&limit=1", "viewer");
  EXPECT_EQ(critical.body["total"], 1);
  EXPECT_EQ(critical.body["items"][0]["title"], "Web down");

  Reply bad_status = call("GET", "/incidents?status=open", "viewer");
  EXPECT_EQ(bad_status.status, 422);
  EXPECT_EQ(first_loc(bad_status), "status");
  EXPECT_EQ(call("GET", "/incidents?limit=201", "viewer").status, 422);
  Reply bad_severity = call("POST", "/incidents", "analyst", Json{{"title", "x"}, {"severity", "urgent"}});
  EXPECT_EQ(bad_severity.status, 422);
  EXPECT_EQ(first_loc(bad_severity), "severity");
  Reply no_title = call("POST", "/incidents", "analyst", Json{{"severity", "low"}});
  EXPECT_EQ(no_title.status, 422);
  EXPECT_EQ(first_loc(no_title), "title");
  EXPECT_EQ(first_loc(call("POST", "/incidents", "analyst", Json{{"title", "x"}, {"sla_due_at", "tomorrow"}})),
            "sla_due_at");
  EXPECT_EQ(first_loc(call("POST", "/incidents", "analyst", Json{{"title", "x"}, {"colour", "red"}})), "colour");
  EXPECT_EQ(audit_count("incident.create"), 2);
  EXPECT_EQ(audit_count("incident.dedupe_hit"), 1);
}

TEST_F(IncidentRoutesTest, StatusMovesFollowTheLifecycleAndARefusedMoveIs409) {
  const int64_t id = create({{"title", "Breach"}});
  Reply triaged = call("PATCH", path(id, "/status"), "analyst", Json{{"status", "triaged"}});
  ASSERT_EQ(triaged.status, 200) << triaged.body.dump();
  EXPECT_EQ(triaged.body["status"], "triaged");
  EXPECT_EQ(triaged.body["assigned_to"], "analyst");

  Reply refused = call("PATCH", path(id, "/status"), "analyst", Json{{"status", "new"}});
  EXPECT_EQ(refused.status, 409);
  EXPECT_EQ(refused.body["detail"], "Cannot change incident status from triaged to new");

  clock_.advance_ms(5000);
  Reply resolved = call("PATCH", path(id, "/status"), "analyst", Json{{"status", "resolved"}, {"reason", "fixed"}});
  ASSERT_EQ(resolved.status, 200);
  EXPECT_EQ(resolved.body["resolved_at"], format_rfc3339(kT0 + 5000));
  Reply reopened = call("PATCH", path(id, "/status"), "analyst", Json{{"status", "triaged"}});
  ASSERT_EQ(reopened.status, 200);
  EXPECT_TRUE(reopened.body["resolved_at"].is_null());
  EXPECT_EQ(reopened.body["reopen_count"], 1);

  Reply invalid = call("PATCH", path(id, "/status"), "analyst", Json{{"status", "done"}});
  EXPECT_EQ(invalid.status, 422);
  EXPECT_EQ(first_loc(invalid), "status");
  Reply missing = call("PATCH", path(999, "/status"), "analyst", Json{{"status", "triaged"}});
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body["detail"], "Incident not found");
  EXPECT_EQ(audit_count("incident.status.update"), 3);
}

TEST_F(IncidentRoutesTest, ViewersReadButCannotWrite) {
  const int64_t id = create({{"title", "Breach"}});
  EXPECT_EQ(call("GET", path(id), "viewer").status, 200);
  EXPECT_EQ(call("GET", path(id, "/timeline"), "viewer").status, 200);
  EXPECT_EQ(call("POST", "/incidents", "viewer", Json{{"title", "x"}}).status, 403);
  EXPECT_EQ(call("PATCH", path(id, "/status"), "viewer", Json{{"status", "triaged"}}).status, 403);
  EXPECT_EQ(call("POST", path(id, "/notes"), "viewer", Json{{"body", "hi"}}).status, 403);
  EXPECT_EQ(call("POST", path(id, "/watchers"), "viewer", Json{{"username", "bob"}}).status, 403);
  EXPECT_EQ(call("POST", path(id, "/jira"), "viewer", Json::object()).status, 403);
  EXPECT_EQ(call("GET", "/incidents", "").status, 401);
  Reply detail = call("GET", path(id), "viewer");
  EXPECT_EQ(detail.body["status"], "new");
}

TEST_F(IncidentRoutesTest, MissingThingsAre404WithTheirMessages) {
  EXPECT_EQ(call("GET", "/incidents/999", "viewer").body["detail"], "Incident not found");
  EXPECT_EQ(call("GET", "/incidents/999/timeline", "viewer").status, 404);
  EXPECT_EQ(call("POST", "/incidents/999/notes", "analyst", Json{{"body", "x"}}).status, 404);
  EXPECT_EQ(call("POST", "/incidents/999/jira", "analyst", Json::object()).status, 404);
  EXPECT_EQ(call("GET", "/incidents/abc", "viewer").status, 422);
  const int64_t id = create({{"title", "Breach"}});
  Reply link = call("DELETE", path(id, "/alerts?asset_key=nope"), "analyst");
  EXPECT_EQ(link.status, 404);
  EXPECT_EQ(link.body["detail"], "Link not found");
  Reply watcher = call("DELETE", path(id, "/watchers?username=nobody"), "analyst");
  EXPECT_EQ(watcher.status, 404);
  EXPECT_EQ(watcher.body["detail"], "Watcher not found");
  Reply item = call("PATCH", path(id, "/checklist/999"), "analyst", Json{{"done", true}});
  EXPECT_EQ(item.status, 404);
  EXPECT_EQ(item.body["detail"], "Checklist item not found");
}

TEST_F(IncidentRoutesTest, CollaborationShowsUpInTheDetailAndTheTimeline) {
  const int64_t id = create({{"title", "Breach"}, {"asset_keys", {"web-1"}}});
  clock_.advance_ms(1000);
  Reply note = call("POST", path(id, "/notes"), "analyst", Json{{"body", "Investigating"}});
  ASSERT_EQ(note.status, 201) << note.body.dump();
  EXPECT_EQ(note.body["event_type"], "note");
  EXPECT_EQ(note.body["author"], "analyst");
  EXPECT_EQ(note.body["body"], "Investigating");

  Reply link = call("POST", path(id, "/alerts"), "analyst", Json{{"asset_key", "db-1"}, {"alert_id", 7}});
  ASSERT_EQ(link.status, 201) << link.body.dump();
  EXPECT_EQ(link.body["asset_key"], "db-1");
  EXPECT_EQ(link.body["alert_id"], 7);
  Reply again = call("POST", path(id, "/alerts"), "analyst", Json{{"asset_key", "db-1"}});
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(again.body["message"], "already linked");
  EXPECT_EQ(call("POST", path(id, "/alerts"), "analyst", Json::object()).status, 400);
  EXPECT_EQ(call("DELETE", path(id, "/alerts?asset_key=web-1"), "analyst").body["ok"], true);

  Reply ev = call("POST", path(id, "/evidence"), "analyst",
                  Json{{"evidence_type", "finding"}, {"ref_id", "42"}, {"summary", "TLS 1.0"}});
  ASSERT_EQ(ev.status, 201) << ev.body.dump();
  EXPECT_EQ(ev.body["relation"], "linked");
  Reply ev_again = call("POST", path(id, "/evidence"), "analyst", Json{{"evidence_type", "finding"}, {"ref_id", "42"}});
  EXPECT_EQ(ev_again.body["evidence_id"], ev.body["evidence_id"]);
  EXPECT_EQ(call("POST", path(id, "/evidence"), "analyst", Json{{"evidence_type", "gossip"}, {"ref_id", "1"}}).status,
            400);

  Reply watcher = call("POST", path(id, "/watchers"), "analyst", Json{{"username", "bob"}});
  ASSERT_EQ(watcher.status, 201);
  EXPECT_EQ(watcher.body["username"], "bob");
  EXPECT_EQ(watcher.body["added_by"], "analyst");
  EXPECT_EQ(call("POST", path(id, "/watchers"), "analyst", Json{{"username", "  "}}).status, 400);
  ASSERT_EQ(call("POST", path(id, "/watchers"), "analyst", Json{{"username", "carol"}}).status, 201);
  EXPECT_EQ(call("DELETE", path(id, "/watchers?username=carol"), "analyst").status, 200);
  EXPECT_EQ(call("GET", path(id, "/watchers"), "viewer").body["items"].size(), 1u);

  Reply item = call("POST", path(id, "/checklist"), "analyst", Json{{"title", "Rotate keys"}});
  ASSERT_EQ(item.status, 201);
  EXPECT_EQ(item.body["done"], false);
  clock_.advance_ms(1000);
  Reply done = call("PATCH", path(id, "/checklist/" + std::to_string(item.body["item_id"].get<int64_t>())), "analyst",
                    Json{{"done", true}});
  ASSERT_EQ(done.status, 200);
  EXPECT_EQ(done.body["done"], true);
  EXPECT_EQ(done.body["done_by"], "analyst");

  Reply decision = call("POST", path(id, "/decisions"), "analyst",
                        Json{{"decision", "Isolate host"}, {"rationale", "blast radius"}, {"details", {{"ticket", 1}}}});
  ASSERT_EQ(decision.status, 201);
  EXPECT_EQ(decision.body["decided_by"], "analyst");
  EXPECT_EQ(call("POST", path(id, "/decisions"), "analyst", Json{{"rationale", "x"}}).status, 422);

  Reply detail = call("GET", path(id), "viewer");
  ASSERT_EQ(detail.status, 200);
  EXPECT_EQ(detail.body["alerts"].size(), 1u);
  EXPECT_EQ(detail.body["alerts"][0]["asset_key"], "db-1");
  EXPECT_EQ(detail.body["asset_key"], "db-1");
  EXPECT_EQ(detail.body["watchers"].size(), 1u);
  EXPECT_EQ(detail.body["checklist"].size(), 1u);
  EXPECT_EQ(detail.body["decisions"].size(), 1u);
  EXPECT_GE(detail.body["evidence"].size(), 2u);
  EXPECT_FALSE(detail.body.contains("linked_risk"));

  Reply timeline = call("GET", path(id, "/timeline"), "viewer");
  ASSERT_EQ(timeline.status, 200);
  const Json& items = timeline.body["items"];
  ASSERT_GE(items.size(), 6u);
  for (const char* field : {"id", "incident_id", "event_type", "author", "body", "details", "created_at", "source_type",
                            "source_id"}) {
    EXPECT_TRUE(items[0].contains(field)) << field;
  }
  for (std::size_t i = 1; i < items.size(); ++i) {
    EXPECT_LE(items[i - 1]["created_at"].get<std::string>(), items[i]["created_at"].get<std::string>());
  }
  EXPECT_EQ(items.back()["event_type"], "decision");

  Reply notes = call("GET", path(id, "/timeline?source_type=note&event_type=note"), "viewer");
  ASSERT_EQ(notes.body["items"].size(), 1u);
  EXPECT_EQ(notes.body["items"][0]["body"], "Investigating");
  Reply two = call("GET", path(id, "/timeline?source_type=checklist,decision&limit=2"), "viewer");
  ASSERT_EQ(two.body["items"].size(), 2u);
  EXPECT_EQ(two.body["items"][0]["event_type"], "checklist_added");
  EXPECT_EQ(call("GET", path(id, "/timeline?lookback_hours=0"), "viewer").status, 422);
  EXPECT_EQ(call("GET", path(id, "/timeline?lookback_hours=721"), "viewer").status, 422);
  EXPECT_EQ(call("GET", path(id, "/timeline?limit=2001"), "viewer").status, 422);

  for (const char* action : {"incident.note.create", "incident.alert.link", "incident.alert.unlink",
                             "incident.evidence.add", "incident.watcher.add", "incident.watcher.remove",
                             "incident.checklist.add", "incident.checklist.update", "incident.decision.add"}) {
    EXPECT_GE(audit_count(action), 1) << action;
  }
}

TEST_F(IncidentRoutesTest, TwoConcurrentJiraClicksCreateOneIssue) {
  std::atomic<int> calls{0};
  http::testing::Gate entered, release;
  std::string seen_project;
  jira_ = [&](const Incident& inc, const std::string& project) {
    ++calls;
    seen_project = project;
    entered.open();
    release.wait();
    api::JiraResult r;
    r.ok = true;
    r.issue_key = "SEC-" + std::to_string(inc.id);
    r.url = "https://jira.example/browse/" + r.issue_key;
    return r;
  };
  const int64_t id = create({{"title", "Breach"}});
  auto first = std::async(std::launch::async,
                          [&] { return call("POST", path(id, "/jira"), "analyst", Json{{"project_key", "sec"}}); });
  ASSERT_TRUE(entered.wait());
  Reply second = call("POST", path(id, "/jira"), "analyst", Json{{"project_key", "sec"}});
  EXPECT_EQ(second.status, 409) << second.body.dump();
  release.open();
  Reply created = first.get();
  ASSERT_EQ(created.status, 201) << created.body.dump();
  EXPECT_EQ(created.body["issue_key"], "SEC-" + std::to_string(id));
  EXPECT_EQ(seen_project, "SEC");

  Reply third = call("POST", path(id, "/jira"), "analyst");
  ASSERT_EQ(third.status, 200);
  EXPECT_EQ(third.body["issue_key"], "SEC-" + std::to_string(id));
  EXPECT_EQ(third.body["url"], "https://jira.example/browse/SEC-" + std::to_string(id));
  EXPECT_EQ(third.body["message"], "Jira ticket already created for this incident");
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(audit_count("incident.jira.create"), 1);
  EXPECT_EQ(call("GET", path(id), "viewer").body["metadata"]["jira_issue_key"], "SEC-" + std::to_string(id));
}

TEST_F(IncidentRoutesTest, JiraFailuresAreReportedAndLeaveTheIncidentRetryable) {
  const int64_t id = create({{"title", "Breach"}});
  Reply unconfigured = call("POST", path(id, "/jira"), "analyst", Json::object());
  EXPECT_EQ(unconfigured.status, 503);

  jira_ = [](const Incident&, const std::string&) {
    api::JiraResult r;
    r.error = "400 project does not exist";
    return r;
  };
  Reply failed = call("POST", path(id, "/jira"), "analyst", Json{{"project_key", "NOPE"}});
  EXPECT_EQ(failed.status, 502);
  EXPECT_EQ(failed.body["detail"], "Jira API error: 400 project does not exist");
  EXPECT_EQ(failed.body["error"]["status_code"], 502);

  jira_ = [](const Incident&, const std::string& project) {
    api::JiraResult r;
    r.needs_project_key = project.empty();
    r.ok = !project.empty();
    r.issue_key = "OPS-1";
    r.url = "https://jira.example/browse/OPS-1";
    return r;
  };
  EXPECT_EQ(call("POST", path(id, "/jira"), "analyst", Json::object()).status, 400);
  Reply ok = call("POST", path(id, "/jira"), "analyst", Json{{"project_key", "ops"}});
  EXPECT_EQ(ok.status, 201) << ok.body.dump();
  EXPECT_EQ(ok.body["issue_key"], "OPS-1");
}

}  // namespace
}  // namespace secplat::incidents
