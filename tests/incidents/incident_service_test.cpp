// IncidentService on a migrated SQLite database: lifecycle, SLA, correlation (append, dedupe,
// reopen, concurrency), the outbox relayed to the local queue, and the Jira claim.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "core/json.h"
#include "incident_fixture.h"
#include "incidents/incident_service.h"
#include "queue/local_queue.h"
#include "queue/streams.h"
#include "store/sqlite_db.h"

namespace secplat::incidents {
namespace {

using testing::kHourMs;
using testing::kT0;

class IncidentServiceTest : public testing::IncidentFixture {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("secplat-incidents-" + random_hex(8));
    std::filesystem::create_directories(dir_);
    auto db = store::open_sqlite({.path = (dir_ / "test.db").string(), .readers = 2, .busy_timeout_ms = 10000});
    ASSERT_TRUE(db.ok()) << db.error().message;
    init(std::move(*db));
  }
  void TearDown() override {
    IncidentFixture::TearDown();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::filesystem::path dir_;
};

TEST_F(IncidentServiceTest, CreateLinksAssetsAndTheSameIncidentKeyDedupes) {
  NewIncident in;
  in.title = "Web down";
  in.severity = "high";
  in.incident_key = "alert:2026-09-21T10:abc";
  in.asset_keys = {"web-1", "", "web-2", "web-1"};
  auto first = svc_->create(in, actor_);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->incident.status, "new");
  EXPECT_EQ(first->incident.asset_key, "web-1");
  EXPECT_EQ(first->incident.alert_count, 2);
  EXPECT_EQ(first->incident.created_ms, kT0);

  in.title = "Another title";
  auto second = svc_->create(in, actor_);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->incident.id, first->incident.id);
  EXPECT_EQ(second->incident.title, "Web down");
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM incidents"), 1);
  EXPECT_EQ(audit_count("incident.create"), 1);
  EXPECT_EQ(audit_count("incident.dedupe_hit"), 1);

  auto links = svc_->alerts(first->incident.id);
  ASSERT_TRUE(links.ok());
  ASSERT_EQ(links->size(), 2u);
  auto items = timeline(first->incident.id, {"alert_added"});
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].body, "Linked assets: web-1, web-2");

  // Incidents without a key never dedupe.
  EXPECT_NE(make().id, make().id);
}

TEST_F(IncidentServiceTest, CreateNamesTheBadField) {
  NewIncident in;
  auto r = svc_->create(in, actor_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::validation);
  EXPECT_EQ(r.error().fields.at(0).loc, (std::vector<std::string>{"body", "title"}));
  in.title = "x";
  in.severity = "urgent";
  r = svc_->create(in, actor_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().fields.at(0).loc, (std::vector<std::string>{"body", "severity"}));
}

TEST_F(IncidentServiceTest, SlaIsComputedFromSeverityUnlessGiven) {
  EXPECT_EQ(make("a", "critical").sla_due_ms, kT0 + 4 * kHourMs);
  EXPECT_EQ(make("b", "high").sla_due_ms, kT0 + 24 * kHourMs);
  EXPECT_EQ(make("c", "medium").sla_due_ms, kT0 + 72 * kHourMs);
  EXPECT_EQ(make("d", "low").sla_due_ms, kT0 + 7 * 24 * kHourMs);
  EXPECT_FALSE(make("e", "info").sla_due_ms.has_value());
  NewIncident in;
  in.title = "given";
  in.severity = "critical";
  in.sla_due_ms = kT0 + 123;
  auto r = svc_->create(in, actor_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->incident.sla_due_ms, kT0 + 123);

  IncidentService custom(*db_, clock_, *audit_, SlaPolicy{.critical_s = 60});
  in.sla_due_ms.reset();
  in.title = "custom";
  auto c = custom.create(in, actor_);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->incident.sla_due_ms, kT0 + 60'000);
}

TEST_F(IncidentServiceTest, EveryMoveFollowsTheLifecycleTable) {
  const std::vector<std::string> states = {"new", "triaged", "contained", "resolved", "closed"};
  const std::map<std::string, std::vector<std::string>> allowed = {
      {"new", {"triaged", "contained", "resolved", "closed"}},
      {"triaged", {"contained", "resolved", "closed"}},
      {"contained", {"triaged", "resolved", "closed"}},
      {"resolved", {"closed", "new", "triaged"}},
      {"closed", {"triaged"}}};
  for (const auto& from : states) {
    for (const auto& to : states) {
      const auto& ok_set = allowed.at(from);
      const bool expected = from == to || std::find(ok_set.begin(), ok_set.end(), to) != ok_set.end();
      EXPECT_EQ(transition_allowed(from, to), expected) << from << " -> " << to;

      Incident inc = make(from + "->" + to);
      if (from != "new") {
        ASSERT_TRUE(svc_->set_status(inc.id, from, actor_).ok()) << from;
      }
      auto r = svc_->set_status(inc.id, to, actor_);
      if (expected) {
        ASSERT_TRUE(r.ok()) << from << " -> " << to << ": " << r.error().message;
        EXPECT_EQ(r->status, to);
      } else {
        ASSERT_FALSE(r.ok()) << from << " -> " << to;
        EXPECT_EQ(r.error().code, Errc::conflict);
        EXPECT_NE(r.error().message.find(from), std::string::npos) << r.error().message;
        EXPECT_NE(r.error().message.find(to), std::string::npos) << r.error().message;
        auto after = svc_->get(inc.id);
        ASSERT_TRUE(after.ok());
        EXPECT_EQ(after->status, from);
      }
    }
  }
  auto bad = svc_->set_status(make().id, "done", actor_);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::validation);
  EXPECT_EQ(svc_->set_status(999, "triaged", actor_).error().code, Errc::not_found);
}

TEST_F(IncidentServiceTest, ResolveAndCloseSetTimesAndReopenClearsThem) {
  Incident inc = make();
  EXPECT_FALSE(inc.assigned_to.has_value());
  clock_.advance_ms(1000);
  auto resolved = svc_->set_status(inc.id, "resolved", actor_, "patched");
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(resolved->resolved_ms, kT0 + 1000);
  EXPECT_EQ(resolved->assigned_to, "alice");
  clock_.advance_ms(1000);
  auto closed = svc_->set_status(inc.id, "closed", actor_);
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(closed->resolved_ms, kT0 + 1000);
  EXPECT_EQ(closed->closed_ms, kT0 + 2000);
  clock_.advance_ms(1000);
  auto reopened = svc_->set_status(inc.id, "triaged", actor_, "came back");
  ASSERT_TRUE(reopened.ok());
  EXPECT_FALSE(reopened->resolved_ms.has_value());
  EXPECT_FALSE(reopened->closed_ms.has_value());
  EXPECT_EQ(reopened->reopen_count, 1);
  EXPECT_EQ(reopened->updated_ms, kT0 + 3000);

  // Closing straight from new fills resolved_at too.
  Incident other = make("other");
  auto direct = svc_->set_status(other.id, "closed", actor_);
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(direct->resolved_ms, kT0 + 3000);
  EXPECT_EQ(direct->closed_ms, kT0 + 3000);

  auto changes = timeline(inc.id, {"state_change"});
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].body, "patched");
  EXPECT_EQ(Json::parse(changes[2].details_json)["from"], "closed");
  EXPECT_EQ(audit_count("incident.status.update"), 4);

  // Setting the current status again changes nothing.
  auto same = svc_->set_status(inc.id, "triaged", actor_);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(audit_count("incident.status.update"), 4);
}

TEST_F(IncidentServiceTest, TwentyRepeatedSignalsBecomeOneIncidentWithTwentyTimelineEntries) {
  Correlated first = correlate(signal("availability:web-1", "ev-0"));
  EXPECT_EQ(first.action, "created");
  EXPECT_EQ(first.incident.category, "availability");
  EXPECT_EQ(first.incident.correlation_key, "availability:web-1");
  EXPECT_EQ(first.incident.incident_key, "availability:web-1:" + std::to_string(kT0));
  EXPECT_EQ(first.incident.severity, "high");
  EXPECT_EQ(first.incident.sla_due_ms, kT0 + 24 * kHourMs);
  EXPECT_EQ(first.incident.asset_key, "web-1");
  for (int i = 1; i < 20; ++i) {
    clock_.advance_ms(60'000);
    Correlated c = correlate(signal("availability:web-1", "ev-" + std::to_string(i)));
    EXPECT_EQ(c.action, "appended");
    EXPECT_EQ(c.incident.id, first.incident.id);
  }
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM incidents"), 1);
  auto signals = timeline(first.incident.id, {"signal"});
  ASSERT_EQ(signals.size(), 20u);
  EXPECT_EQ(signals.front().body, "probe failed (ev-0)");
  EXPECT_EQ(signals.back().body, "probe failed (ev-19)");
  EXPECT_EQ(Json::parse(signals.back().details_json)["event_id"], "ev-19");
  auto open = svc_->find_open("availability:web-1");
  ASSERT_TRUE(open.ok());
  ASSERT_TRUE(open->has_value());
  EXPECT_EQ((*open)->alert_count, 1);
  // One outbox event: the creation.
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM incident_outbox"), 1);
}

TEST_F(IncidentServiceTest, AReplayedEventIdIsADuplicate) {
  Correlated first = correlate(signal("availability:web-1", "ev-1"));
  Correlated again = correlate(signal("availability:web-1", "ev-1"));
  EXPECT_EQ(again.action, "duplicate");
  EXPECT_EQ(again.incident.id, first.incident.id);
  EXPECT_EQ(timeline(first.incident.id, {"signal"}).size(), 1u);

  // Still a duplicate after the incident was resolved: a redelivery does not reopen it.
  ASSERT_TRUE(svc_->resolve_correlated("availability:web-1", "ev-up", "recovered", system_).ok());
  Correlated late = correlate(signal("availability:web-1", "ev-1"));
  EXPECT_EQ(late.action, "duplicate");
  EXPECT_EQ(late.incident.status, "resolved");
}

TEST_F(IncidentServiceTest, ASignalSoonAfterResolutionReopensLaterOnesOpenANewIncident) {
  Correlated first = correlate(signal("availability:web-1", "ev-1"));
  clock_.advance_ms(60'000);
  auto resolved = svc_->resolve_correlated("availability:web-1", "ev-up-1", "probe recovered", system_);
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  ASSERT_TRUE(resolved->has_value());
  EXPECT_EQ((*resolved)->status, "resolved");
  EXPECT_EQ((*resolved)->resolved_ms, kT0 + 60'000);
  EXPECT_FALSE((*resolved)->assigned_to.has_value());  // an automatic move assigns nobody
  auto note = timeline(first.incident.id, {"state_change"});
  ASSERT_EQ(note.size(), 1u);
  EXPECT_EQ(note[0].body, "probe recovered");

  // A replayed resolution changes nothing; with nothing open there is nothing to resolve.
  auto replay = svc_->resolve_correlated("availability:web-1", "ev-up-1", "probe recovered", system_);
  ASSERT_TRUE(replay.ok());
  ASSERT_TRUE(replay->has_value());
  EXPECT_EQ((*replay)->status, "resolved");
  auto none = svc_->resolve_correlated("availability:web-1", "ev-up-2", "again", system_);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  clock_.advance_ms(30 * 60'000);  // within the 1 h window
  Correlated back = correlate(signal("availability:web-1", "ev-2"));
  EXPECT_EQ(back.action, "reopened");
  EXPECT_EQ(back.incident.id, first.incident.id);
  EXPECT_EQ(back.incident.status, "new");
  EXPECT_EQ(back.incident.reopen_count, 1);
  EXPECT_FALSE(back.incident.resolved_ms.has_value());
  EXPECT_EQ(timeline(first.incident.id, {"signal"}).size(), 2u);

  ASSERT_TRUE(svc_->resolve_correlated("availability:web-1", "ev-up-3", "recovered", system_).ok());
  clock_.advance_ms(2 * kHourMs);  // outside the window
  Correlated fresh = correlate(signal("availability:web-1", "ev-3"));
  EXPECT_EQ(fresh.action, "created");
  EXPECT_NE(fresh.incident.id, first.incident.id);
  auto old = svc_->get(first.incident.id);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->status, "resolved");
}

TEST_F(IncidentServiceTest, AClosedIncidentIsNeverReopenedAutomatically) {
  Correlated first = correlate(signal("flapping:web-1", "ev-1"));
  ASSERT_TRUE(svc_->set_status(first.incident.id, "closed", actor_).ok());
  Correlated next = correlate(signal("flapping:web-1", "ev-2"));
  EXPECT_EQ(next.action, "created");
  EXPECT_NE(next.incident.id, first.incident.id);

  // Reopening the closed one by hand while the new one is open would make two open incidents.
  auto reopen = svc_->set_status(first.incident.id, "triaged", actor_);
  ASSERT_FALSE(reopen.ok());
  EXPECT_EQ(reopen.error().code, Errc::conflict);
  EXPECT_NE(reopen.error().message.find("#" + std::to_string(next.incident.id)), std::string::npos);
  ASSERT_TRUE(svc_->set_status(next.incident.id, "resolved", actor_).ok());
  auto now_ok = svc_->set_status(first.incident.id, "triaged", actor_);
  ASSERT_TRUE(now_ok.ok()) << now_ok.error().message;
  auto open = svc_->find_open("flapping:web-1");
  ASSERT_TRUE(open.ok() && open->has_value());
  EXPECT_EQ((*open)->id, first.incident.id);
}

TEST_F(IncidentServiceTest, ConcurrentSignalsOnOneKeyOpenExactlyOneIncident) {
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::vector<std::string> actions(kThreads);
  std::atomic<int> failures{0};
  std::atomic<bool> go{false};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      auto r = svc_->correlate(signal("availability:db-1", "ev-" + std::to_string(i), "db-1"), system_);
      if (!r.ok()) {
        ++failures;
        return;
      }
      actions[i] = r->action;
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM incidents"), 1);
  EXPECT_EQ(std::count(actions.begin(), actions.end(), "created"), 1);
  EXPECT_EQ(std::count(actions.begin(), actions.end(), "appended"), kThreads - 1);
  auto open = svc_->find_open("availability:db-1");
  ASSERT_TRUE(open.ok() && open->has_value());
  EXPECT_EQ(timeline((*open)->id, {"signal"}).size(), static_cast<std::size_t>(kThreads));
}

TEST_F(IncidentServiceTest, OutboxEventsAreRelayedToTheNotifyStreamOnce) {
  queue::LocalQueueOptions qo;
  qo.clock = &clock_;
  auto q = queue::open_local_queue(*db_, qo);
  ASSERT_TRUE(q.ok()) << q.error().message;

  NewIncident in;
  in.title = "Web down";
  in.severity = "critical";
  in.asset_keys = {"web-1", "web-2"};
  auto created = svc_->create(in, actor_);
  ASSERT_TRUE(created.ok());
  const int64_t id = created->incident.id;
  const std::string prefix = "incident-" + std::to_string(id);
  clock_.advance_ms(10);
  ASSERT_TRUE(svc_->set_status(id, "triaged", actor_).ok());
  ASSERT_TRUE(svc_->set_status(id, "resolved", actor_).ok());
  ASSERT_TRUE(svc_->set_status(id, "new", actor_).ok());
  ASSERT_TRUE(svc_->set_status(id, "closed", actor_).ok());
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM incident_outbox WHERE published_at IS NULL"), 5);

  auto n = svc_->relay_outbox(**q);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 5);
  auto again = svc_->relay_outbox(**q);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);

  auto msgs = (*q)->range(std::string(queue::kNotifyEvents), "0-0", 100);
  ASSERT_TRUE(msgs.ok());
  ASSERT_EQ(msgs->size(), 5u);
  std::vector<std::string> ids, types, actions;
  for (const auto& m : *msgs) {
    ids.push_back(m.fields.at("event_id"));
    types.push_back(m.fields.at("event_type"));
    actions.push_back(m.fields.at("action"));
  }
  EXPECT_EQ(ids, (std::vector<std::string>{prefix + "-created", prefix + "-triaged-" + std::to_string(kT0 + 10),
                                           prefix + "-resolved-0", prefix + "-reopened-1", prefix + "-closed-1"}));
  EXPECT_EQ(types, (std::vector<std::string>{"incident.created", "incident.updated", "incident.updated",
                                             "incident.updated", "incident.closed"}));
  EXPECT_EQ(actions, (std::vector<std::string>{"created", "status", "resolved", "reopened", "closed"}));

  const auto& created_msg = msgs->front().fields;
  EXPECT_EQ(created_msg.at("asset_key"), "web-1");
  EXPECT_EQ(created_msg.at("severity"), "critical");
  EXPECT_EQ(created_msg.at("request_id"), "req-1");
  Json p = Json::parse(created_msg.at("payload"));
  EXPECT_EQ(p["incident_id"], id);
  EXPECT_EQ(p["title"], "Web down");
  EXPECT_EQ(p["status"], "new");
  EXPECT_EQ(p["category"], "manual");
  EXPECT_EQ(p["asset_keys"], (Json{"web-1", "web-2"}));
  EXPECT_TRUE(p["from"].is_null());
  EXPECT_EQ(p["to"], "new");
  EXPECT_EQ(p["sla_due_at"], format_rfc3339(kT0 + 4 * kHourMs));
  EXPECT_EQ(p["created_at"], format_rfc3339(kT0));
  Json resolved = Json::parse((*msgs)[2].fields.at("payload"));
  EXPECT_EQ(resolved["from"], "triaged");
  EXPECT_EQ(resolved["to"], "resolved");
  EXPECT_EQ(resolved["status"], "resolved");
}

TEST_F(IncidentServiceTest, ConcurrentRelaysPublishEachEventOnce) {
  queue::LocalQueueOptions qo;
  qo.clock = &clock_;
  auto q = queue::open_local_queue(*db_, qo);
  ASSERT_TRUE(q.ok()) << q.error().message;
  for (int i = 0; i < 30; ++i) make("incident " + std::to_string(i));
  std::atomic<int64_t> total{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 5; ++round) {
        auto n = svc_->relay_outbox(**q, 4);
        if (n.ok()) total += *n;
      }
    });
  }
  for (auto& t : threads) t.join();
  while (true) {  // whatever the rounds above left
    auto n = svc_->relay_outbox(**q);
    ASSERT_TRUE(n.ok());
    if (*n == 0) break;
    total += *n;
  }
  EXPECT_EQ(total.load(), 30);
  auto msgs = (*q)->range(std::string(queue::kNotifyEvents), "0-0", 100);
  ASSERT_TRUE(msgs.ok());
  EXPECT_EQ(msgs->size(), 30u);
}

TEST_F(IncidentServiceTest, JiraClaimAdmitsOneCreatorAndRemembersTheTicket) {
  Incident inc = make();
  auto a = svc_->claim_jira(inc.id, "token-a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->state, JiraClaim::State::claimed);
  auto b = svc_->claim_jira(inc.id, "token-b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->state, JiraClaim::State::busy);

  // A holder that died: its lease runs out and another caller may claim.
  clock_.advance_ms(61'000);
  auto c = svc_->claim_jira(inc.id, "token-c");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->state, JiraClaim::State::claimed);
  EXPECT_EQ(svc_->record_jira(inc.id, "token-a", "SEC-1", "https://j/browse/SEC-1", actor_).error().code,
            Errc::conflict);
  auto rec = svc_->record_jira(inc.id, "token-c", "SEC-2", "https://j/browse/SEC-2", actor_);
  ASSERT_TRUE(rec.ok()) << rec.error().message;
  EXPECT_EQ(Json::parse(rec->metadata_json)["jira_issue_key"], "SEC-2");
  auto d = svc_->claim_jira(inc.id, "token-d");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->state, JiraClaim::State::already_created);
  EXPECT_EQ(d->issue_key, "SEC-2");
  EXPECT_EQ(d->url, "https://j/browse/SEC-2");
  EXPECT_EQ(audit_count("incident.jira.create"), 1);
  EXPECT_EQ(svc_->claim_jira(999, "t").error().code, Errc::not_found);
}

TEST_F(IncidentServiceTest, TimelineMergesSourcesInOrderWithinTheLookback) {
  Incident inc = make();
  clock_.advance_ms(1000);
  ASSERT_TRUE(svc_->add_note(inc.id, "looking", actor_).ok());
  clock_.advance_ms(1000);
  auto item = svc_->add_checklist_item(inc.id, "Rotate keys", actor_);
  ASSERT_TRUE(item.ok());
  clock_.advance_ms(1000);
  ASSERT_TRUE(svc_->set_checklist_done(inc.id, item->item_id, true, actor_).ok());
  clock_.advance_ms(1000);
  ASSERT_TRUE(svc_->add_decision(inc.id, "Isolate host", std::string("limits blast radius"), "{}", actor_).ok());
  clock_.advance_ms(1000);
  EvidenceInput ev{"job", "42", "linked", std::string("scan job"), "{}"};
  ASSERT_TRUE(svc_->add_evidence(inc.id, ev, actor_).ok());
  ASSERT_TRUE(svc_->add_evidence(inc.id, ev, actor_).ok());  // idempotent

  auto all = timeline(inc.id);
  std::vector<std::string> types;
  for (const auto& t : all) types.push_back(t.event_type);
  EXPECT_EQ(types, (std::vector<std::string>{"note", "checklist_added", "checklist_done", "decision",
                                             "evidence_linked"}));
  EXPECT_EQ(all[0].author, "alice");
  EXPECT_EQ(all[0].source_type, "note");
  EXPECT_EQ(all[4].body, "scan job");

  TimelineQuery q;
  q.lookback_hours = 1;
  q.limit = 2;
  q.source_types = {"checklist", "decision"};
  auto some = svc_->timeline(inc.id, q);
  ASSERT_TRUE(some.ok());
  ASSERT_EQ(some->size(), 2u);
  EXPECT_EQ((*some)[0].event_type, "checklist_added");
  EXPECT_EQ((*some)[1].event_type, "checklist_done");

  clock_.advance_ms(2 * kHourMs);
  auto later = svc_->timeline(inc.id, q);
  ASSERT_TRUE(later.ok());
  EXPECT_TRUE(later->empty());
  EXPECT_EQ(svc_->timeline(999, q).error().code, Errc::not_found);
}

}  // namespace
}  // namespace secplat::incidents
