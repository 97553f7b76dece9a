// FindingsService against a real SQLite file: upsert races, per-asset keys, the status machine,
// accepted-risk expiry, risk scoring and listing.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "findings/risk_score.h"
#include "findings_fixture.h"

namespace secplat::findings::testing {
namespace {

using FindingsServiceTest = FindingsFixture;

TEST_F(FindingsServiceTest, ConcurrentFirstUpsertsOfOneKeyCreateExactlyOneFinding) {
  make_asset("web-1");
  constexpr int kThreads = 8;
  std::atomic<int> created{0}, failed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      auto r = findings->upsert(input("web-1", "tls:weak-cipher", "Weak cipher"), actor);
      if (!r.ok()) {
        ++failed;
      } else if (r->created) {
        ++created;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM findings"), 1);
  EXPECT_EQ(audit_count("finding.upsert"), kThreads);
}

TEST_F(FindingsServiceTest, UpdateKeepsFirstSeenMovesLastSeenAndOverwritesGivenFields) {
  make_asset("web-1");
  auto in = input("web-1", "k1", "Old title");
  in.severity = "low";
  in.evidence = "first evidence";
  auto first = findings->upsert(in, actor);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(first->created);

  clock.advance_ms(60'000);
  auto again = input("web-1", "k1", "New title");  // no severity/evidence given: kept
  auto second = findings->upsert(again, actor);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->finding.finding_id, first->finding.finding_id);
  EXPECT_EQ(second->finding.title, "New title");
  EXPECT_EQ(second->finding.severity, "low");
  EXPECT_EQ(second->finding.evidence, "first evidence");
  EXPECT_EQ(second->finding.first_seen_ms, kT0);
  EXPECT_EQ(second->finding.last_seen_ms, kT0 + 60'000);
}

TEST_F(FindingsServiceTest, EachUpsertIsAuditedWithItsFindingAndWhetherItUpdated) {
  const int64_t asset_id = make_asset("web-\"1\"");
  auto in = input("web-\"1\"", "key \\ with \"quotes\"\n", "T");
  in.source = "zap";
  auto first = findings->upsert(in, actor);
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto second = findings->upsert(in, actor);
  ASSERT_TRUE(second.ok()) << second.error().message;
  auto rows = db_->query("SELECT details, user_name, asset_key, request_id FROM audit_events "
                         "WHERE action = 'finding.upsert' ORDER BY id");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const store::Row& r = (*rows)[i];
    Json details = Json::parse(r.str("details"), nullptr, false);
    ASSERT_TRUE(details.is_object()) << r.str("details");
    EXPECT_EQ(details, (Json{{"asset_id", asset_id}, {"asset_key", "web-\"1\""}, {"finding_id", first->finding.finding_id},
                             {"finding_key", "key \\ with \"quotes\"\n"}, {"source", "zap"}, {"updated", i == 1}}));
    EXPECT_EQ(r.str("details"), details.dump());  // as a Json object of them would be stored
    EXPECT_EQ(r.str("user_name"), "alice");
    EXPECT_EQ(r.str("asset_key"), "web-\"1\"");
    EXPECT_EQ(r.str("request_id"), "req-1");
  }
}

TEST_F(FindingsServiceTest, FindingKeysAreScopedToTheirAsset) {
  const int64_t a = make_asset("asset-a");
  const int64_t b = make_asset("asset-b");
  auto fa = findings->upsert(input("asset-a", "shared-key", "On A"), actor);
  auto fb = findings->upsert(input("asset-b", "shared-key", "On B"), actor);
  ASSERT_TRUE(fa.ok() && fb.ok());
  EXPECT_TRUE(fb->created);  // not an update of A's finding
  EXPECT_NE(fa->finding.finding_id, fb->finding.finding_id);
  auto still_a = findings->get(fa->finding.finding_id);
  ASSERT_TRUE(still_a.ok());
  EXPECT_EQ(still_a->asset_id, a);
  EXPECT_EQ(still_a->title, "On A");
  EXPECT_EQ(fb->finding.asset_id, b);
}

TEST_F(FindingsServiceTest, UpsertOnUnknownAssetIsNotFoundAndWritesNothing) {
  auto r = findings->upsert(input("nope", "k"), actor);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::not_found);
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM findings"), 0);
  EXPECT_EQ(audit_count("finding.upsert"), 0);
}

TEST_F(FindingsServiceTest, StatusMachineAllowsListedTransitionsAndRefusesOthersNamingBothStates) {
  make_asset("web-1");
  auto f = findings->upsert(input("web-1", "k"), actor);
  ASSERT_TRUE(f.ok());
  const int64_t id = f->finding.finding_id;

  auto s = findings->set_status(id, "in_progress", actor);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->status, "in_progress");
  ASSERT_TRUE(findings->set_status(id, "remediated", actor).ok());

  auto bad = findings->set_status(id, "in_progress", actor);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::conflict);
  EXPECT_NE(bad.error().message.find("remediated"), std::string::npos);
  EXPECT_NE(bad.error().message.find("in_progress"), std::string::npos);

  auto no_accept = findings->accept_risk(id, "fine", kT0 + kDayMs, actor);
  ASSERT_FALSE(no_accept.ok());
  EXPECT_EQ(no_accept.error().code, Errc::conflict);

  ASSERT_TRUE(findings->set_status(id, "open", actor).ok());
  auto via_patch = findings->set_status(id, "accepted_risk", actor);
  ASSERT_FALSE(via_patch.ok());
  EXPECT_EQ(via_patch.error().code, Errc::validation);
  auto unknown = findings->set_status(id, "closed", actor);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, Errc::validation);
  auto missing = findings->set_status(id + 100, "open", actor);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);

  EXPECT_EQ(audit_count("finding_status"), 3);
}

TEST_F(FindingsServiceTest, SeeingARemediatedFindingAgainReopensIt) {
  make_asset("web-1");
  auto f = findings->upsert(input("web-1", "k"), actor);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(findings->set_status(f->finding.finding_id, "remediated", actor).ok());
  auto again = findings->upsert(input("web-1", "k"), actor);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->finding.status, "open");
}

TEST_F(FindingsServiceTest, AcceptRiskNeedsReasonAndFutureExpiry) {
  make_asset("web-1");
  auto f = findings->upsert(input("web-1", "k"), actor);
  ASSERT_TRUE(f.ok());
  const int64_t id = f->finding.finding_id;
  EXPECT_EQ(findings->accept_risk(id, "ok", kT0, actor).error().code, Errc::validation);
  EXPECT_EQ(findings->accept_risk(id, "", kT0 + kDayMs, actor).error().code, Errc::validation);
  auto ok = findings->accept_risk(id, "compensating control", kT0 + kDayMs, actor);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->status, "accepted_risk");
  EXPECT_EQ(ok->accepted_risk_by, "alice");
  EXPECT_EQ(ok->accepted_risk_expires_at_ms, kT0 + kDayMs);
  EXPECT_EQ(ok->accepted_risk_reason, "compensating control");
  EXPECT_EQ(audit_count("accept_risk"), 1);
}

TEST_F(FindingsServiceTest, ExpiredAcceptedRiskReadsAsOpenAndTheSweepMakesItDurable) {
  make_asset("web-1");
  auto f = findings->upsert(input("web-1", "k"), actor);
  ASSERT_TRUE(f.ok());
  const int64_t id = f->finding.finding_id;
  ASSERT_TRUE(findings->accept_risk(id, "later", kT0 + kDayMs, actor).ok());
  const int accepted_score = findings->get(id)->risk_score;

  clock.advance_ms(kDayMs - 1);
  EXPECT_EQ(findings->get(id)->status, "accepted_risk");
  EXPECT_EQ(*findings->expire_accepted_risks(clock.now_ms()), 0);

  clock.advance_ms(1);
  auto read = findings->get(id);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->status, "open");
  EXPECT_GT(read->risk_score, accepted_score);
  FindingFilter open_filter;
  open_filter.status = "open";
  EXPECT_EQ(findings->list(open_filter)->total, 1);
  FindingFilter accepted_filter;
  accepted_filter.status = "accepted_risk";
  EXPECT_EQ(findings->list(accepted_filter)->total, 0);
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM findings WHERE status = 'accepted_risk'"), 1);

  EXPECT_EQ(*findings->expire_accepted_risks(clock.now_ms()), 1);
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM findings WHERE status = 'open'"), 1);
  EXPECT_EQ(*findings->expire_accepted_risks(clock.now_ms()), 0);
  EXPECT_EQ(audit_count("accept_risk.expired"), 1);
  // Reopened: it can go through the machine again.
  EXPECT_TRUE(findings->set_status(id, "in_progress", actor).ok());
}

TEST_F(FindingsServiceTest, RiskScoreFollowsSeverityAssetAndStatusAndIsRecomputedOnAssetChange) {
  make_prod_web();
  auto in = input("prod-web", "k");
  in.severity = "high";
  auto f = findings->upsert(in, actor);
  ASSERT_TRUE(f.ok());
  // 68 high + 8 confidence + 12 criticality + 10 prod + 14 internet-facing = 112 → clamped.
  EXPECT_EQ(f->finding.risk_score, 100);
  EXPECT_EQ(f->finding.risk_level, "critical");

  ASSERT_NO_FATAL_FAILURE(make_prod_web_mild());
  ASSERT_TRUE(findings->recompute_risk_for_asset(f->finding.asset_id).ok());
  auto dev = findings->get(f->finding.finding_id);
  EXPECT_EQ(dev->risk_score, 68 + 8 - 6);  // high + confidence + dev
  EXPECT_EQ(dev->risk_level, "high");

  auto rem = findings->set_status(f->finding.finding_id, "remediated", actor);
  ASSERT_TRUE(rem.ok());
  EXPECT_LE(rem->risk_score, 5);
  EXPECT_EQ(rem->risk_level, "low");
}

// New keys on an asset unchanged since its last upsert are inserted without reading the asset
// again; a change to the asset — through this store, or another process's on the same file — is in
// the very next finding's score, which is what scoring the stored row again gives.
TEST_F(FindingsServiceTest, ANewFindingIsScoredWithItsAssetAsItIsNow) {
  make_prod_web();
  auto upsert_new = [&](const std::string& key) {
    auto in = input("prod-web", key);
    in.severity = "high";
    auto f = findings->upsert(in, actor);
    EXPECT_TRUE(f.ok() && f->created) << key;
    if (!f.ok()) return Finding{};
    EXPECT_TRUE(findings->recompute_risk_for_asset(f->finding.asset_id).ok());
    auto rescored = findings->get(f->finding.finding_id);
    EXPECT_TRUE(rescored.ok() && f->finding == *rescored)
        << key << ": returned risk " << f->finding.risk_score << ", scored from the stored row "
        << (rescored.ok() ? rescored->risk_score : -1);
    return f->finding;
  };
  EXPECT_EQ(upsert_new("a").risk_score, 100);
  EXPECT_EQ(upsert_new("b").risk_score, 100);
  EXPECT_EQ(upsert_new("b2").risk_score, 100);

  ASSERT_NO_FATAL_FAILURE(make_prod_web_mild());
  const Finding dev = upsert_new("c");
  EXPECT_EQ(dev.risk_score, 68 + 8 - 6);  // high + confidence + dev
  EXPECT_EQ(upsert_new("c2").risk_score, 68 + 8 - 6);

  {  // another process: its own store on the same file
    auto other = store::open_sqlite({.path = (dir_ / "test.db").string(), .readers = 0, .busy_timeout_ms = 10000});
    ASSERT_TRUE(other.ok()) << other.error().message;
    ASSERT_TRUE((*other)->exec("UPDATE assets SET environment = 'prod' WHERE asset_key = 'prod-web'").ok());
  }
  const Finding prod = upsert_new("d");
  EXPECT_EQ(prod.risk_score, 68 + 8 + 10) << "high + confidence + prod (criticality low adds nothing)";
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM findings"), 6);
  EXPECT_EQ(audit_count("finding.upsert"), 6);
}

// The upsert answers with the finding it stored without reading a new one back: what it returns
// must be exactly what a later read sees, whatever the input leaves out, sends empty or sends.
TEST_F(FindingsServiceTest, WhatAnUpsertReturnsIsWhatIsStored) {
  make_prod_web({"pci", "internet"}, R"({"team":"blue"})");
  std::vector<FindingInput> inputs;
  inputs.push_back(input("prod-web", "minimal"));
  auto full = input("prod-web", "full", "Outdated openssl");
  full.category = "dependency";
  full.severity = "critical";
  full.confidence = "medium";
  full.evidence = "openssl 1.1.1 in /usr/lib";
  full.remediation = "upgrade";
  full.source = "sbom";
  full.vulnerability_id = "CVE-2024-0001";
  full.package_ecosystem = "deb";
  full.package_name = "openssl";
  full.package_version = "1.1.1";
  full.fixed_version = "3.0.0";
  full.scanner_metadata_json = R"({"tool":"x","n":[1,2]})";
  inputs.push_back(full);
  auto empties = input("prod-web", "empties", "Empty strings given");
  empties.category = empties.evidence = empties.remediation = empties.source = "";
  empties.vulnerability_id = empties.package_name = empties.fixed_version = "";
  inputs.push_back(empties);
  auto low = input("prod-web", "low", "Low and unsure");
  low.severity = "info";
  low.confidence = "low";
  low.source = "zap";
  inputs.push_back(low);

  for (const auto& in : inputs) {
    SCOPED_TRACE(in.finding_key);
    auto created = findings->upsert(in, actor);
    ASSERT_TRUE(created.ok()) << created.error().message;
    EXPECT_TRUE(created->created);
    // Scored again the way every other change scores a finding: from the row as stored.
    ASSERT_TRUE(findings->recompute_risk_for_asset(created->finding.asset_id).ok());
    auto stored = findings->get(created->finding.finding_id);
    ASSERT_TRUE(stored.ok());
    EXPECT_TRUE(created->finding == *stored)
        << "returned risk " << created->finding.risk_score << " " << created->finding.risk_factors_json
        << ", stored risk " << stored->risk_score << " " << stored->risk_factors_json;
    EXPECT_GT(stored->risk_score, 0);

    clock.advance_ms(3 * kDayMs);  // the update path: the score also ages
    auto updated = findings->upsert(in, actor);
    ASSERT_TRUE(updated.ok());
    EXPECT_FALSE(updated->created);
    auto as_stored = findings->get(created->finding.finding_id);  // the stored score, before any rescore
    ASSERT_TRUE(as_stored.ok());
    EXPECT_TRUE(updated->finding == *as_stored);
    ASSERT_TRUE(findings->recompute_risk_for_asset(created->finding.asset_id).ok());
    auto again = findings->get(created->finding.finding_id);
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(updated->finding == *again);
  }
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM findings"), 4);
  EXPECT_EQ(audit_count("finding.upsert"), 8);

  // Updates that reopen (a remediated finding, an accepted risk past its expiry) and change fields:
  // the returned finding is open, is what is stored, and its stored score is the open finding's.
  auto remediated = findings->upsert(input("prod-web", "was-fixed", "Fixed once"), actor);
  ASSERT_TRUE(remediated.ok());
  ASSERT_TRUE(findings->set_status(remediated->finding.finding_id, "remediated", actor).ok());
  auto accepted = findings->upsert(input("prod-web", "was-accepted", "Accepted once"), actor);
  ASSERT_TRUE(accepted.ok());
  ASSERT_TRUE(findings->accept_risk(accepted->finding.finding_id, "control", clock.now_ms() + kDayMs, actor).ok());
  clock.advance_ms(2 * kDayMs);
  for (const auto& [key, id] : {std::pair{"was-fixed", remediated->finding.finding_id},
                                std::pair{"was-accepted", accepted->finding.finding_id}}) {
    SCOPED_TRACE(key);
    auto in = input("prod-web", key, "Seen again");
    in.severity = "high";
    in.evidence = "new evidence";
    auto up = findings->upsert(in, actor);
    ASSERT_TRUE(up.ok());
    EXPECT_FALSE(up->created);
    EXPECT_EQ(up->finding.status, "open");
    EXPECT_EQ(up->finding.severity, "high");
    auto as_stored = findings->get(id);
    ASSERT_TRUE(as_stored.ok());
    EXPECT_TRUE(up->finding == *as_stored) << "returned risk " << up->finding.risk_score << ", stored "
                                           << as_stored->risk_score;
    ASSERT_TRUE(findings->recompute_risk_for_asset(up->finding.asset_id).ok());
    auto rescored = findings->get(id);
    ASSERT_TRUE(rescored.ok());
    EXPECT_TRUE(up->finding == *rescored);
  }
}

TEST(RiskScore, AgeAcceptedRiskAndInactiveAssetAdjustments) {
  RiskInputs base;
  base.severity = "medium";
  base.confidence = "low";
  base.status = "open";
  EXPECT_EQ(compute_risk(base).score, 44);
  RiskInputs old = base;
  old.age_ms = 31 * kDayMs;
  EXPECT_EQ(compute_risk(old).score, 50);
  RiskInputs accepted = base;
  accepted.status = "accepted_risk";
  EXPECT_EQ(compute_risk(accepted).score, 26);
  accepted.accepted_risk_expired = true;
  EXPECT_EQ(compute_risk(accepted).score, 36);
  RiskInputs inactive = base;
  inactive.is_active = false;
  EXPECT_EQ(compute_risk(inactive).score, 36);
  RiskInputs numeric = base;
  numeric.criticality = "5";
  EXPECT_EQ(compute_risk(numeric).score, 56);
}

TEST_F(FindingsServiceTest, ListFiltersPagesAndCountsTotal) {
  make_asset("a");
  make_asset("b");
  for (int i = 0; i < 5; ++i) {
    auto in = input("a", "k" + std::to_string(i), "Title " + std::to_string(i));
    in.severity = i < 2 ? "high" : "low";
    ASSERT_TRUE(findings->upsert(in, actor).ok());
    clock.advance_ms(1000);
  }
  auto other = input("b", "CVE-2024-1234", "100%_match in b");
  other.vulnerability_id = "CVE-2024-1234";
  ASSERT_TRUE(findings->upsert(other, actor).ok());

  FindingFilter page;
  page.asset_key = "a";
  page.limit = 2;
  page.offset = 2;
  auto p = findings->list(page);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->total, 5);
  ASSERT_EQ(p->items.size(), 2u);
  EXPECT_EQ(p->items[0].finding_key, "k2");  // newest first
  EXPECT_EQ(p->items[1].finding_key, "k1");

  FindingFilter high;
  high.severity = "high";
  EXPECT_EQ(findings->list(high)->total, 2);
  FindingFilter q;
  q.q = "cve-2024";
  EXPECT_EQ(findings->list(q)->total, 1);
  q.q = "100%_";  // wildcards match literally
  EXPECT_EQ(findings->list(q)->total, 1);
  q.q = "0%";
  EXPECT_EQ(findings->list(q)->total, 1);
}

// upsert_async: the same outcomes as upsert (201/200 semantics, validation, unknown asset), given
// once committed, with the same announcement; the announcement's sink may itself write (as the
// local queue's publish does) without deadlocking the writer that answers.
TEST_F(FindingsServiceTest, AsyncUpsertAnswersLikeTheWaitingOne) {
  std::mutex mu;
  std::vector<FindingEvent> seen;
  findings->set_event_sink([&](const std::vector<FindingEvent>& events) {
    ASSERT_TRUE(db_->exec("CREATE TABLE IF NOT EXISTS sink_writes (n INTEGER)").ok());
    ASSERT_TRUE(db_->exec("INSERT INTO sink_writes (n) VALUES (1)").ok());
    std::lock_guard lk(mu);
    seen.insert(seen.end(), events.begin(), events.end());
  });
  make_asset("web-1");
  auto run = [&](const FindingInput& in) {
    std::promise<Result<UpsertResult>> p;
    auto f = p.get_future();
    findings->upsert_async(in, actor, [&](Result<UpsertResult> r) { p.set_value(std::move(r)); });
    EXPECT_EQ(f.wait_for(std::chrono::seconds(20)), std::future_status::ready);
    return f.get();
  };
  auto in = input("web-1", "tls:weak", "Weak TLS");
  in.severity = "high";
  auto created = run(in);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_TRUE(created->created);
  auto stored = findings->get(created->finding.finding_id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->title, "Weak TLS");
  EXPECT_EQ(stored->risk_score, created->finding.risk_score);
  auto updated = run(in);
  ASSERT_TRUE(updated.ok());
  EXPECT_FALSE(updated->created);
  EXPECT_EQ(updated->finding.finding_id, created->finding.finding_id);
  // The creation is announced (once: the update changed no status), from the service's own thread,
  // where the sink may write to the store like any caller.
  findings.reset();  // delivers what is queued
  {
    std::lock_guard lk(mu);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].type, "finding.created");
  }
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM sink_writes"), 1);
  findings = std::make_unique<FindingsService>(*db_, clock, *audit);

  auto unknown = run(input("nope", "k", "T"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, Errc::not_found);
  auto invalid = input("web-1", "k", "T");
  invalid.severity = "catastrophic";
  auto refused = run(invalid);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::validation);
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM findings"), 1);
}

// A sink that publishes over the network may be slow (a Redis reconnect): asynchronous writes keep
// committing and answering meanwhile, and the announcements follow in commit order.
TEST_F(FindingsServiceTest, ASlowEventSinkDoesNotHoldUpAsynchronousWrites) {
  std::promise<void> release_p;
  std::shared_future<void> release = release_p.get_future().share();
  std::once_flag released;
  auto let_go = [&] { std::call_once(released, [&] { release_p.set_value(); }); };
  std::mutex mu;
  std::vector<std::string> seen;
  findings->set_event_sink([&](const std::vector<FindingEvent>& events) {
    release.wait();
    std::lock_guard lk(mu);
    for (const auto& e : events) seen.push_back(e.finding_key);
  });
  make_asset("web-1");
  auto run = [&](const std::string& key) {
    std::promise<Result<UpsertResult>> p;
    auto f = p.get_future();
    findings->upsert_async(input("web-1", key, "T"), actor, [&](Result<UpsertResult> r) { p.set_value(std::move(r)); });
    if (f.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      ADD_FAILURE() << key << " held up by the sink";
      let_go();  // so that the test ends
    }
    return f.get();
  };
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(run("k" + std::to_string(i)).ok());  // the first one's sink is stuck
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM findings"), 20);
  let_go();
  findings.reset();
  std::vector<std::string> expected;
  for (int i = 0; i < 20; ++i) expected.push_back("k" + std::to_string(i));
  EXPECT_EQ(seen, expected);
}

// The sink hears only what it wants, whichever way the finding was written.
TEST_F(FindingsServiceTest, TheSinksFilterAppliesToEveryAnnouncement) {
  std::mutex mu;
  std::vector<std::string> seen;
  findings->set_event_sink(
      [&](const std::vector<FindingEvent>& events) {
        std::lock_guard lk(mu);
        for (const auto& e : events) seen.push_back(e.finding_key);
      },
      [](const FindingEvent& e) { return e.severity == "high"; });
  make_asset("web-1");
  for (const char* sev : {"medium", "high"}) {
    auto in = input("web-1", std::string("sync-") + sev, "T");
    in.severity = sev;
    ASSERT_TRUE(findings->upsert(in, actor).ok());
    in.finding_key = std::string("async-") + sev;
    std::promise<Result<UpsertResult>> p;
    findings->upsert_async(in, actor, [&](Result<UpsertResult> r) { p.set_value(std::move(r)); });
    ASSERT_TRUE(p.get_future().get().ok());
  }
  findings.reset();
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"async-high", "sync-high"}));
}

// Committed changes are announced once each (the correlator's input): a creation, a status move,
// an accepted risk, a reconcile's new and auto-remediated findings. A refused move announces nothing.
TEST_F(FindingsServiceTest, CommittedChangesAreAnnouncedToTheEventSink) {
  std::vector<FindingEvent> seen;
  findings->set_event_sink([&](const std::vector<FindingEvent>& events) {
    seen.insert(seen.end(), events.begin(), events.end());
  });
  make_asset("web-1");
  auto in = input("web-1", "tls:weak", "Weak TLS");
  in.severity = "high";
  auto f = findings->upsert(in, actor);
  ASSERT_TRUE(f.ok());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].type, "finding.created");
  EXPECT_EQ(seen[0].asset_key, "web-1");
  EXPECT_EQ(seen[0].finding_key, "tls:weak");
  EXPECT_EQ(seen[0].severity, "high");
  ASSERT_TRUE(findings->upsert(in, actor).ok());  // seen again, nothing changed
  EXPECT_EQ(seen.size(), 1u);

  ASSERT_TRUE(findings->set_status(f->finding.finding_id, "in_progress", actor).ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].type, "finding.updated");
  EXPECT_EQ(seen[1].status, "in_progress");
  EXPECT_FALSE(findings->set_status(f->finding.finding_id, "accepted_risk", actor).ok());
  EXPECT_EQ(seen.size(), 2u);
  ASSERT_TRUE(findings->accept_risk(f->finding.finding_id, "compensating control", kT0 + 86'400'000, actor).ok());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[2].status, "accepted_risk");

  // A scanner's result set: one new finding, and the one it no longer reports is remediated.
  auto a = input("web-1", "scan:a", "A");
  auto b = input("web-1", "scan:b", "B");
  ASSERT_TRUE(findings->reconcile("web-1", "scanner", {a, b}, actor, "finding.import").ok());
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[3].type, "finding.created");
  EXPECT_EQ(seen[4].type, "finding.created");
  ASSERT_TRUE(findings->reconcile("web-1", "scanner", {a}, actor, "finding.import").ok());
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_EQ(seen[5].type, "finding.updated");
  EXPECT_EQ(seen[5].finding_key, "scan:b");
  EXPECT_EQ(seen[5].status, "remediated");
}

// The factors are written without building a Json value: the text must be what one would dump
// (valid, keys sorted), whatever the inputs add or leave out.
TEST(RiskFactorsText, IsWhatAJsonObjectOfTheFactorsDumps) {
  RiskInputs a;
  a.severity = "critical";
  a.confidence = "low";
  a.environment = "prod";
  a.criticality = "high";
  a.asset_kind = "external_web";
  a.verified = true;
  a.source = "tls_scan";
  a.age_ms = 40 * kDayMs;
  a.is_active = false;
  a.status = "accepted_risk";
  RiskInputs b;  // defaults: medium, nothing added
  b.status = "open";
  b.is_active = true;
  RiskInputs c = a;
  c.status = "remediated";
  for (const RiskInputs& in : {a, b, c}) {
    RiskScore r = compute_risk(in);
    Json parsed = Json::parse(r.factors_json, nullptr, false);
    ASSERT_TRUE(parsed.is_object()) << r.factors_json;
    EXPECT_EQ(parsed.dump(), r.factors_json);
    EXPECT_EQ(parsed["score"], r.score);
  }
  EXPECT_EQ(compute_risk(c).factors_json.find("\"status\":-85"), compute_risk(c).factors_json.rfind("\"status\""));
}

// Migration 302 rebuilds the SQLite findings table: every finding keeps its id and fields, a new one
// never reuses the id of one deleted before, and the status rule still holds.
TEST(FindingsMigration, LeanWritesKeepEveryFindingItsIdAndTheStatusRule) {
  auto dir = std::filesystem::temp_directory_path() / ("secplat-findings-mig-" + random_hex(8));
  std::filesystem::create_directories(dir);
  {
    auto db = store::open_sqlite({.path = (dir / "m.db").string(), .readers = 1, .busy_timeout_ms = 5000});
    ASSERT_TRUE(db.ok()) << db.error().message;
    auto all = auth::auth_migrations();
    for (auto& m : findings_migrations()) all.push_back(std::move(m));
    std::vector<store::Migration> before;
    for (const auto& m : all)
      if (m.version < 302) before.push_back(m);
    ASSERT_TRUE(store::migrate(**db, before).ok());
    auto& d = **db;
    ASSERT_TRUE(d.exec("INSERT INTO assets (asset_key, type, name, created_at, updated_at) VALUES ('a', 'app', 'A', 1, 1)").ok());
    for (int i = 1; i <= 3; ++i)
      ASSERT_TRUE(d.exec("INSERT INTO findings (asset_id, finding_key, created_at, title, first_seen, last_seen, status, "
                         "accepted_risk_expires_at, risk_score) VALUES (1, $1, $2, 'T', $2, $2, $3, $4, $5)",
                         {"k" + std::to_string(i), int64_t{i}, std::string(i == 2 ? "accepted_risk" : "open"),
                          i == 2 ? store::Value(int64_t{500}) : store::null(), int64_t{10 * i}})
                      .ok());
    ASSERT_TRUE(d.exec("DELETE FROM findings WHERE finding_key = 'k3'").ok());  // the highest id so far

    ASSERT_TRUE(store::migrate(d, all).ok());
    auto rows = d.query("SELECT finding_id, finding_key, status, accepted_risk_expires_at, risk_score FROM findings "
                        "ORDER BY finding_id");
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows->size(), 2u);
    EXPECT_EQ((*rows)[0].i64("finding_id"), 1);
    EXPECT_EQ((*rows)[1].str("finding_key"), "k2");
    EXPECT_EQ((*rows)[1].str("status"), "accepted_risk");
    EXPECT_EQ((*rows)[1].i64("accepted_risk_expires_at"), 500);
    EXPECT_EQ((*rows)[1].i64("risk_score"), 20);
    ASSERT_TRUE(d.exec("INSERT INTO findings (asset_id, finding_key, created_at, title, first_seen, last_seen) "
                       "VALUES (1, 'k4', 4, 'T', 4, 4)").ok());
    auto id = d.query("SELECT finding_id FROM findings WHERE finding_key = 'k4'");
    ASSERT_TRUE(id.ok());
    EXPECT_EQ(id->front().i64("finding_id"), 4) << "the deleted finding's id 3 was handed out again";
    auto bad = d.exec("UPDATE findings SET status = 'closed' WHERE finding_key = 'k4'");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, Errc::bad_request);
    auto dup = d.exec("INSERT INTO findings (asset_id, finding_key, created_at, title, first_seen, last_seen) "
                      "VALUES (1, 'k4', 5, 'T', 5, 5)");
    ASSERT_FALSE(dup.ok());
    EXPECT_EQ(dup.error().code, Errc::conflict);
    auto indexes = d.query("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'findings' "
                           "AND name NOT LIKE 'sqlite_autoindex%' ORDER BY name");
    ASSERT_TRUE(indexes.ok());
    std::vector<std::string> names;
    for (const auto& r : *indexes) names.push_back(r.str("name"));
    EXPECT_EQ(names, (std::vector<std::string>{"findings_accepted_expiry_idx", "findings_asset_source_idx",
                                               "findings_last_seen_idx"}));
    auto plan = d.query("EXPLAIN QUERY PLAN SELECT finding_id FROM findings f "
                        "WHERE f.status = 'accepted_risk' AND f.accepted_risk_expires_at <= $1", {int64_t{1000}});
    ASSERT_TRUE(plan.ok());
    EXPECT_NE(plan->front().str("detail").find("findings_accepted_expiry_idx"), std::string::npos)
        << plan->front().str("detail");
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace secplat::findings::testing
