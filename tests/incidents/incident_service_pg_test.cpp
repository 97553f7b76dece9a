// IncidentService on a real PostgreSQL (SECPLAT_TEST_PG_DIR names a running test server,
// tests/support/pg_test_server.sh; skipped otherwise): the migrations, lifecycle, correlation, and
// what only a server with concurrent connections can show — many correlators on one key, resolutions
// racing signals, several outbox relays, two Jira claimers.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/json.h"
#include "incident_fixture.h"
#include "incidents/incident_service.h"
#include "queue/local_queue.h"
#include "queue/streams.h"
#include "support/pg_test_db.h"

namespace secplat::incidents {
namespace {

using testing::kHourMs;
using testing::kT0;
constexpr int kPool = 12;  // above every thread count below, so no test waits for a connection

// A Queue that records what is published to it and can be told to fail after a number of publishes.
class RecordingQueue final : public queue::Queue {
 public:
  Result<std::string> publish(const std::string& stream, const queue::Fields& fields) override {
    std::lock_guard lk(mu_);
    if (fail_after_ >= 0 && static_cast<int>(published_.size()) >= fail_after_) {
      return Error::unavailable("queue down");
    }
    published_.push_back({stream, fields});
    return std::to_string(published_.size()) + "-0";
  }
  Status ensure_group(const std::string&, const std::string&) override { return ok_status(); }
  Result<std::vector<queue::Message>> read(const std::string&, const std::string&, const std::string&, int,
                                           int64_t) override {
    return std::vector<queue::Message>{};
  }
  Status ack(const std::string&, const std::string&, const std::string&) override { return ok_status(); }
  Result<bool> retry(const queue::Message&, const std::string&, const std::string&) override { return false; }
  Status dead_letter(const queue::Message&, const std::string&, const std::string&) override { return ok_status(); }
  Result<queue::StreamStats> stats(const std::string&) override { return queue::StreamStats{}; }
  Result<bool> touch(const queue::Message&, const std::string&) override { return false; }
  Result<std::vector<queue::Message>> range(const std::string&, const std::string&, int) override {
    return std::vector<queue::Message>{};
  }
  Result<std::vector<queue::Message>> tail(const std::string&, const std::string&, int, int64_t) override {
    return std::vector<queue::Message>{};
  }
  Result<std::string> last_id(const std::string&) override { return std::string("0-0"); }
  Status ping() override { return ok_status(); }

  void fail_after(int n) {
    std::lock_guard lk(mu_);
    fail_after_ = n;
  }
  std::vector<std::string> event_ids() {
    std::lock_guard lk(mu_);
    std::vector<std::string> ids;
    for (const auto& [stream, fields] : published_) ids.push_back(fields.at("event_id"));
    return ids;
  }

 private:
  std::mutex mu_;
  int fail_after_ = -1;  // -1: never
  std::vector<std::pair<std::string, queue::Fields>> published_;
};

class IncidentServicePgTest : public testing::IncidentFixture {
 protected:
  void SetUp() override {
    if (secplat::testing::pg_server_url().empty()) GTEST_SKIP() << "SECPLAT_TEST_PG_DIR not set";
    auto db = secplat::testing::fresh_pg_db(kPool);
    ASSERT_TRUE(db);
    ASSERT_EQ(db->dialect(), store::Dialect::postgres);
    init(std::move(db));
  }

  int64_t open_count(const std::string& key) {
    return count(
        "SELECT COUNT(*) AS n FROM incidents WHERE correlation_key = $1 AND status IN ('new', 'triaged', 'contained')",
        {key});
  }
};

// Collects failures from worker threads, to be reported on the test thread.
class Failures {
 public:
  void add(const std::string& what) {
    std::lock_guard lk(mu_);
    list_.push_back(what);
  }
  std::vector<std::string> list() {
    std::lock_guard lk(mu_);
    return list_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> list_;
};

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

TEST_F(IncidentServicePgTest, MigrationsApplyOnceAndCreateTheTables) {
  auto applied = store::applied_migrations(*db_);
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  for (const auto& m : incident_migrations()) {
    EXPECT_NE(std::find(applied->begin(), applied->end(), m.version), applied->end()) << m.name;
  }
  for (const char* table : {"incidents", "incident_alerts", "incident_notes", "incident_evidence", "incident_watchers",
                            "incident_checklist_items", "incident_decisions", "incident_outbox"}) {
    EXPECT_EQ(count("SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = current_schema() "
                    "AND table_name = $1",
                    {std::string(table)}),
              1)
        << table;
  }
  // A second run (another replica starting) applies nothing and fails nothing.
  auto again = store::migrate(*db_, migrations());
  ASSERT_TRUE(again.ok()) << again.error().message;
  auto after = store::applied_migrations(*db_);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, *applied);
}

TEST_F(IncidentServicePgTest, CreateDedupesByIncidentKey) {
  NewIncident in;
  in.title = "Web down";
  in.severity = "high";
  in.incident_key = "alert:2026-09-21T10:abc";
  in.asset_keys = {"web-1", "", "web-2", "web-1"};
  in.alert_ids = {7, 8};
  auto first = svc_->create(in, actor_);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->incident.status, "new");
  EXPECT_EQ(first->incident.asset_key, "web-1");
  EXPECT_EQ(first->incident.alert_count, 2);
  EXPECT_EQ(first->incident.created_ms, kT0);
  EXPECT_EQ(first->incident.sla_due_ms, kT0 + 24 * kHourMs);

  in.title = "Another title";
  auto second = svc_->create(in, actor_);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->incident.id, first->incident.id);
  EXPECT_EQ(second->incident.title, "Web down");
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM incidents"), 1);
  EXPECT_EQ(audit_count("incident.create"), 1);
  EXPECT_EQ(audit_count("incident.dedupe_hit"), 1);
  auto ev = svc_->evidence(first->incident.id);
  ASSERT_TRUE(ev.ok()) << ev.error().message;
  EXPECT_EQ(ev->size(), 4u);  // two assets, two alerts

  // Incidents without a key never dedupe, and list() pages over them with LIMIT/OFFSET parameters.
  EXPECT_NE(make().id, make().id);
  IncidentFilter f;
  f.status = "new";
  f.limit = 2;
  f.offset = 1;
  auto page = svc_->list(f);
  ASSERT_TRUE(page.ok()) << page.error().message;
  EXPECT_EQ(page->total, 3);
  EXPECT_EQ(page->items.size(), 2u);
}

TEST_F(IncidentServicePgTest, CreateKeepsIdsBeyondThirtyTwoBits) {
  ASSERT_TRUE(db_->exec("SELECT setval(pg_get_serial_sequence('incidents', 'id'), 5000000000)").ok());
  Incident inc = make();
  EXPECT_EQ(inc.id, 5'000'000'001);
  auto got = svc_->get(inc.id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->id, inc.id);
  auto moved = svc_->set_status(inc.id, "triaged", actor_);
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_EQ(timeline(inc.id, {"state_change"}).size(), 1u);
}

TEST_F(IncidentServicePgTest, SetStatusFollowsTheLifecycleAndRefusesWithConflict) {
  const std::vector<std::string> states = {"new", "triaged", "contained", "resolved", "closed"};
  for (const auto& from : states) {
    for (const auto& to : states) {
      Incident inc = make(from + "->" + to);
      if (from != "new") {
        ASSERT_TRUE(svc_->set_status(inc.id, from, actor_).ok()) << from;
      }
      auto r = svc_->set_status(inc.id, to, actor_);
      if (transition_allowed(from, to)) {
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
  // The refused moves rolled back cleanly: the same connections still serve writes.
  EXPECT_TRUE(svc_->add_note(make().id, "still writable", actor_).ok());
  EXPECT_EQ(svc_->set_status(make().id, "done", actor_).error().code, Errc::validation);
  EXPECT_EQ(svc_->set_status(999, "triaged", actor_).error().code, Errc::not_found);
}

TEST_F(IncidentServicePgTest, ResolveAndCloseSetTimesAndReopenClearsThem) {
  Incident inc = make();
  clock_.advance_ms(1000);
  auto resolved = svc_->set_status(inc.id, "resolved", actor_, "patched");
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->resolved_ms, kT0 + 1000);
  EXPECT_FALSE(resolved->closed_ms.has_value());
  EXPECT_EQ(resolved->assigned_to, "alice");
  clock_.advance_ms(1000);
  auto closed = svc_->set_status(inc.id, "closed", actor_);
  ASSERT_TRUE(closed.ok()) << closed.error().message;
  EXPECT_EQ(closed->resolved_ms, kT0 + 1000);
  EXPECT_EQ(closed->closed_ms, kT0 + 2000);
  clock_.advance_ms(1000);
  auto reopened = svc_->set_status(inc.id, "triaged", actor_, "came back");
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  EXPECT_FALSE(reopened->resolved_ms.has_value());
  EXPECT_FALSE(reopened->closed_ms.has_value());
  EXPECT_EQ(reopened->reopen_count, 1);
  EXPECT_EQ(reopened->updated_ms, kT0 + 3000);
  auto stored = svc_->get(inc.id);
  ASSERT_TRUE(stored.ok());
  EXPECT_FALSE(stored->resolved_ms.has_value());
  EXPECT_FALSE(stored->closed_ms.has_value());

  auto changes = timeline(inc.id, {"state_change"});
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].body, "patched");
  EXPECT_EQ(Json::parse(changes[2].details_json)["from"], "closed");
  EXPECT_EQ(audit_count("incident.status.update"), 3);
  // Setting the current status again changes nothing.
  ASSERT_TRUE(svc_->set_status(inc.id, "triaged", actor_).ok());
  EXPECT_EQ(audit_count("incident.status.update"), 3);
}

TEST_F(IncidentServicePgTest, AttachmentsRoundTripAndTheTimelineMergesThem) {
  Incident inc = make();
  clock_.advance_ms(1000);
  ASSERT_TRUE(svc_->add_note(inc.id, "looking", actor_).ok());
  clock_.advance_ms(1000);
  auto item = svc_->add_checklist_item(inc.id, "Rotate keys", actor_);
  ASSERT_TRUE(item.ok()) << item.error().message;
  clock_.advance_ms(1000);
  auto done = svc_->set_checklist_done(inc.id, item->item_id, true, actor_);
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_TRUE(done->done);
  EXPECT_EQ(done->done_ms, kT0 + 3000);
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

  auto w1 = svc_->add_watcher(inc.id, "bob", actor_);
  ASSERT_TRUE(w1.ok()) << w1.error().message;
  ASSERT_TRUE(svc_->add_watcher(inc.id, "bob", actor_).ok());
  EXPECT_EQ(audit_count("incident.watcher.add"), 1);
  EXPECT_EQ(svc_->remove_watcher(inc.id, "carol", actor_).error().code, Errc::not_found);

  auto link = svc_->link_alert(inc.id, "web-9", int64_t{77}, actor_);
  ASSERT_TRUE(link.ok()) << link.error().message;
  EXPECT_TRUE(link->created);
  EXPECT_EQ(link->link.alert_id, 77);
  // The same alert under another asset key: refused, and the transaction is rolled back cleanly.
  auto twice = svc_->link_alert(inc.id, "web-10", int64_t{77}, actor_);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, Errc::conflict);
  auto got = svc_->get(inc.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->asset_key, "web-9");
  EXPECT_EQ(got->alert_count, 1);
  ASSERT_TRUE(svc_->unlink_alert(inc.id, "web-9", actor_).ok());
  got = svc_->get(inc.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->alert_count, 0);
  EXPECT_EQ(got->asset_key, "");
}

TEST_F(IncidentServicePgTest, CorrelateAppendsDedupesAndReopens) {
  const std::string key = "availability:web-1";
  Correlated first = correlate(signal(key, "ev-1"));
  EXPECT_EQ(first.action, "created");
  EXPECT_EQ(first.incident.incident_key, key + ":" + std::to_string(kT0));
  EXPECT_EQ(first.incident.category, "availability");
  EXPECT_EQ(first.incident.sla_due_ms, kT0 + 24 * kHourMs);
  clock_.advance_ms(1000);
  Correlated second = correlate(signal(key, "ev-2"));
  EXPECT_EQ(second.action, "appended");
  EXPECT_EQ(second.incident.id, first.incident.id);
  Correlated replay = correlate(signal(key, "ev-1"));
  EXPECT_EQ(replay.action, "duplicate");
  EXPECT_EQ(replay.incident.id, first.incident.id);
  EXPECT_EQ(timeline(first.incident.id, {"signal"}).size(), 2u);

  clock_.advance_ms(60'000);
  auto resolved = svc_->resolve_correlated(key, "ev-up-1", "probe recovered", system_);
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  ASSERT_TRUE(resolved->has_value());
  EXPECT_EQ((*resolved)->status, "resolved");
  EXPECT_FALSE((*resolved)->assigned_to.has_value());
  auto replayed = svc_->resolve_correlated(key, "ev-up-1", "probe recovered", system_);
  ASSERT_TRUE(replayed.ok());
  ASSERT_TRUE(replayed->has_value());
  EXPECT_EQ((*replayed)->id, first.incident.id);
  auto none = svc_->resolve_correlated(key, "ev-up-2", "again", system_);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  // A redelivered signal does not reopen the resolved incident.
  Correlated late = correlate(signal(key, "ev-2"));
  EXPECT_EQ(late.action, "duplicate");
  EXPECT_EQ(late.incident.status, "resolved");

  clock_.advance_ms(30 * 60'000);  // within the 1 h window
  Correlated back = correlate(signal(key, "ev-3"));
  EXPECT_EQ(back.action, "reopened");
  EXPECT_EQ(back.incident.id, first.incident.id);
  EXPECT_EQ(back.incident.status, "new");
  EXPECT_EQ(back.incident.reopen_count, 1);
  EXPECT_FALSE(back.incident.resolved_ms.has_value());
  EXPECT_EQ(timeline(first.incident.id, {"signal"}).size(), 3u);

  ASSERT_TRUE(svc_->resolve_correlated(key, "ev-up-3", "recovered", system_).ok());
  clock_.advance_ms(2 * kHourMs);  // outside the window
  Correlated fresh = correlate(signal(key, "ev-4"));
  EXPECT_EQ(fresh.action, "created");
  EXPECT_NE(fresh.incident.id, first.incident.id);

  // A closed incident is never reopened by a signal, nor by hand while another is open for its key.
  ASSERT_TRUE(svc_->set_status(first.incident.id, "closed", actor_).ok());
  auto reopen = svc_->set_status(first.incident.id, "triaged", actor_);
  ASSERT_FALSE(reopen.ok());
  EXPECT_EQ(reopen.error().code, Errc::conflict);
  EXPECT_EQ(open_count(key), 1);
  EXPECT_EQ(audit_count("incident.correlate"), 4);  // created, appended, reopened, created (duplicates: none)
}

TEST_F(IncidentServicePgTest, ConcurrentCorrelatorsOnOneKeyOpenExactlyOneIncident) {
  constexpr int kThreads = 8, kPerThread = 10;
  const std::string key = "availability:db-1";
  Failures failures;
  std::vector<std::map<std::string, int>> actions(kThreads);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        const std::string ev = "ev-" + std::to_string(t) + "-" + std::to_string(i);
        auto r = svc_->correlate(signal(key, ev, "db-1"), system_);
        if (!r.ok()) {
          failures.add(ev + ": " + r.error().message);
          continue;
        }
        ++actions[t][r->action];
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(failures.list().empty()) << joined(failures.list());

  std::map<std::string, int> total;
  for (const auto& m : actions) {
    for (const auto& [action, n] : m) total[action] += n;
  }
  EXPECT_EQ(total["created"], 1);
  EXPECT_EQ(total["appended"], kThreads * kPerThread - 1);
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM incidents"), 1);
  auto open = svc_->find_open(key);
  ASSERT_TRUE(open.ok()) << open.error().message;
  ASSERT_TRUE(open->has_value());
  EXPECT_EQ((*open)->alert_count, 1);
  auto signals = timeline((*open)->id, {"signal"});
  ASSERT_EQ(signals.size(), static_cast<std::size_t>(kThreads * kPerThread));
  std::set<std::string> event_ids;
  for (const auto& s : signals) event_ids.insert(Json::parse(s.details_json)["event_id"].get<std::string>());
  EXPECT_EQ(event_ids.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM incident_outbox"), 1);
}

TEST_F(IncidentServicePgTest, ResolutionsRacingSignalsNeverLeaveTwoOpenIncidents) {
  constexpr int kCorrelators = 4, kResolvers = 2, kRounds = 25;
  const std::string key = "availability:db-2";
  Failures failures;
  std::atomic<int> writers_left{kCorrelators + kResolvers};
  std::atomic<int> created{0}, reopened{0}, appended{0}, resolved{0}, max_open{0};
  std::latch start(kCorrelators + kResolvers + 1);
  std::vector<std::thread> threads;
  for (int t = 0; t < kCorrelators; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kRounds; ++i) {
        Signal s = signal(key, "ev-" + std::to_string(t) + "-" + std::to_string(i), "db-2");
        // Half of the signals may reopen a just-resolved incident; the other half open a new one once
        // the clock has moved past the resolution.
        s.reopen_window_ms = (i % 2 == 0) ? kHourMs : 0;
        auto r = svc_->correlate(s, system_);
        if (!r.ok()) {
          failures.add("correlate: " + r.error().message);
          continue;
        }
        if (r->action == "created") ++created;
        if (r->action == "reopened") ++reopened;
        if (r->action == "appended") ++appended;
        if (r->action == "duplicate") failures.add("unexpected duplicate for " + s.event_id);
      }
      --writers_left;
    });
  }
  for (int t = 0; t < kResolvers; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kRounds; ++i) {
        clock_.advance_ms(1);  // so a window of 0 has passed by the next signal
        auto r = svc_->resolve_correlated(key, "up-" + std::to_string(t) + "-" + std::to_string(i), "recovered",
                                          system_);
        if (!r.ok()) {
          failures.add("resolve: " + r.error().message);
          continue;
        }
        if (r->has_value()) ++resolved;
      }
      --writers_left;
    });
  }
  // Samples the invariant while the writers run (plain reads see committed state only).
  threads.emplace_back([&] {
    start.arrive_and_wait();
    while (writers_left.load() > 0) {
      const int n = static_cast<int>(open_count(key));
      if (n > max_open.load()) max_open = n;
    }
  });
  for (auto& th : threads) th.join();
  ASSERT_TRUE(failures.list().empty()) << joined(failures.list());

  RecordProperty("created", created.load());
  RecordProperty("reopened", reopened.load());
  RecordProperty("appended", appended.load());
  RecordProperty("resolved", resolved.load());
  EXPECT_LE(max_open.load(), 1);
  EXPECT_LE(open_count(key), 1);
  EXPECT_EQ(created + reopened + appended, kCorrelators * kRounds);
  EXPECT_GE(created.load(), 1);
  // open_key mirrors the status: set exactly on the open incident, NULL on every other one.
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM incidents WHERE correlation_key = $1 AND "
                  "(status IN ('new', 'triaged', 'contained')) <> (open_key IS NOT NULL)",
                  {key}),
            0);
  // Every signal is on the timeline of exactly one incident.
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM incident_notes WHERE event_type = 'signal'"), kCorrelators * kRounds);
  EXPECT_EQ(count("SELECT COUNT(DISTINCT source_event_id) AS n FROM incident_notes WHERE event_type = 'signal'"),
            kCorrelators * kRounds);
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM incidents WHERE correlation_key = $1", {key}), created.load());
}

TEST_F(IncidentServicePgTest, ConcurrentRelaysPublishEveryOutboxRowToTheLocalQueue) {
  queue::LocalQueueOptions qo;
  qo.clock = &clock_;
  auto q = queue::open_local_queue(*db_, qo);
  ASSERT_TRUE(q.ok()) << q.error().message;
  for (int i = 0; i < 40; ++i) {
    Incident inc = make("incident " + std::to_string(i));
    if (i % 4 == 0) {
      ASSERT_TRUE(svc_->set_status(inc.id, "resolved", actor_).ok());
    }
  }
  const int64_t rows = count("SELECT COUNT(*) AS n FROM incident_outbox");
  ASSERT_EQ(rows, 50);

  Failures failures;
  std::atomic<int64_t> total{0};
  std::latch start(3);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      // Until a relay finds nothing left to lease: every row is then published or leased by
      // another relay that publishes it.
      for (;;) {
        auto n = svc_->relay_outbox(**q, 3);
        if (!n.ok()) {
          failures.add(n.error().message);
          return;
        }
        if (*n == 0) return;
        total += *n;
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(failures.list().empty()) << joined(failures.list());

  EXPECT_EQ(total.load(), rows);
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM incident_outbox WHERE published_at IS NULL"), 0);
  auto msgs = (*q)->range(std::string(queue::kNotifyEvents), "0-0", 1000);
  ASSERT_TRUE(msgs.ok()) << msgs.error().message;
  std::set<std::string> ids;
  for (const auto& m : *msgs) ids.insert(m.fields.at("event_id"));
  EXPECT_EQ(static_cast<int64_t>(ids.size()), rows);
  EXPECT_EQ(static_cast<int64_t>(msgs->size()), rows);  // the leases kept the relays disjoint
}

TEST_F(IncidentServicePgTest, AFailedPublishHandsTheRestBackAtOnce) {
  for (int i = 0; i < 5; ++i) make("incident " + std::to_string(i));
  RecordingQueue q;
  q.fail_after(2);
  auto failed = svc_->relay_outbox(q);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, Errc::unavailable);
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM incident_outbox WHERE published_at IS NOT NULL"), 2);
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM incident_outbox WHERE lease_until IS NOT NULL AND published_at IS NULL"),
            0);

  q.fail_after(-1);
  auto rest = svc_->relay_outbox(q);  // the clock has not moved: only unleased rows can go
  ASSERT_TRUE(rest.ok()) << rest.error().message;
  EXPECT_EQ(*rest, 3);
  auto ids = q.event_ids();
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 5u);
  EXPECT_EQ(ids.size(), 5u);
}

TEST_F(IncidentServicePgTest, ConcurrentJiraClaimsAdmitOneCreator) {
  for (int round = 0; round < 10; ++round) {
    Incident inc = make("jira " + std::to_string(round));
    std::vector<Result<JiraClaim>> claims(2, Error::internal("not run"));
    std::latch start(2);
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, t] {
        start.arrive_and_wait();
        claims[t] = svc_->claim_jira(inc.id, "token-" + std::to_string(t));
      });
    }
    for (auto& th : threads) th.join();
    ASSERT_TRUE(claims[0].ok()) << claims[0].error().message;
    ASSERT_TRUE(claims[1].ok()) << claims[1].error().message;
    const int winners = (claims[0]->state == JiraClaim::State::claimed) + (claims[1]->state == JiraClaim::State::claimed);
    const int busy = (claims[0]->state == JiraClaim::State::busy) + (claims[1]->state == JiraClaim::State::busy);
    ASSERT_EQ(winners, 1) << "round " << round;
    ASSERT_EQ(busy, 1) << "round " << round;

    const std::string winner = claims[0]->state == JiraClaim::State::claimed ? "token-0" : "token-1";
    const std::string loser = winner == "token-0" ? "token-1" : "token-0";
    EXPECT_EQ(svc_->record_jira(inc.id, loser, "SEC-X", "https://j/browse/SEC-X", actor_).error().code,
              Errc::conflict);
    const std::string issue = "SEC-" + std::to_string(round);
    auto rec = svc_->record_jira(inc.id, winner, issue, "https://j/browse/" + issue, actor_);
    ASSERT_TRUE(rec.ok()) << rec.error().message;
    EXPECT_EQ(Json::parse(rec->metadata_json)["jira_issue_key"], issue);
    auto after = svc_->claim_jira(inc.id, "token-late");
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(after->state, JiraClaim::State::already_created);
    EXPECT_EQ(after->issue_key, issue);
  }
  EXPECT_EQ(audit_count("incident.jira.create"), 10);
  EXPECT_EQ(svc_->claim_jira(999, "t").error().code, Errc::not_found);
}

}  // namespace
}  // namespace secplat::incidents
