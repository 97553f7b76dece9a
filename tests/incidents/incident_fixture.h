// What the SQLite and PostgreSQL IncidentService suites share: the migrations, the service built on
// a ManualClock, and small helpers (create, signal, correlate, timeline, counts). A suite opens its
// database in SetUp() and hands it to init().
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "auth/audit_log.h"
#include "auth/migrations.h"
#include "core/clock.h"
#include "incidents/incident_service.h"
#include "queue/local_queue.h"

namespace secplat::incidents::testing {

inline constexpr int64_t kT0 = 1'790'000'000'000;  // 2026-09-21
inline constexpr int64_t kHourMs = 3600 * 1000;

class IncidentFixture : public ::testing::Test {
 protected:
  static std::vector<store::Migration> migrations() {
    auto all = auth::auth_migrations();
    for (auto& m : incident_migrations()) all.push_back(std::move(m));
    for (auto& m : queue::local_queue_migrations()) all.push_back(std::move(m));
    return all;
  }

  // Migrates db and builds the audit log and the service on it.
  void init(std::unique_ptr<store::Db> db) {
    db_ = std::move(db);
    ASSERT_TRUE(db_);
    auto st = store::migrate(*db_, migrations());
    ASSERT_TRUE(st.ok()) << st.error().message;
    audit_ = std::make_unique<auth::AuditLog>(*db_, clock_);
    svc_ = std::make_unique<IncidentService>(*db_, clock_, *audit_);
  }
  void TearDown() override {
    svc_.reset();
    audit_.reset();
    db_.reset();
  }

  int64_t count(const std::string& sql, const store::Params& params = {}) {
    auto rows = db_->query(sql, params);
    EXPECT_TRUE(rows.ok()) << rows.error().message;
    return rows.ok() && !rows->empty() ? rows->front().i64("n") : -1;
  }
  int64_t audit_count(const std::string& action) {
    return count("SELECT COUNT(*) AS n FROM audit_events WHERE action = $1", {action});
  }

  Incident make(const std::string& title = "Disk full", const std::string& severity = "medium") {
    NewIncident in;
    in.title = title;
    in.severity = severity;
    auto r = svc_->create(in, actor_);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? r->incident : Incident{};
  }

  static Signal signal(const std::string& key, const std::string& event_id, const std::string& asset = "web-1") {
    Signal s;
    s.correlation_key = key;
    s.category = "availability";
    s.title = asset + " is down";
    s.severity = "high";
    s.asset_key = asset;
    s.event_id = event_id;
    s.event_type = "posture.changed";
    s.summary = "probe failed (" + event_id + ")";
    return s;
  }

  Correlated correlate(const Signal& s) {
    auto r = svc_->correlate(s, system_);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : Correlated{};
  }

  std::vector<TimelineItem> timeline(int64_t id, std::vector<std::string> event_types = {}) {
    TimelineQuery q;
    q.event_types = std::move(event_types);
    q.lookback_hours = 720;
    q.limit = 5000;
    auto t = svc_->timeline(id, q);
    EXPECT_TRUE(t.ok()) << t.error().message;
    return t.ok() ? *t : std::vector<TimelineItem>{};
  }

  const auth::Actor actor_{"alice", "req-1"};
  const auth::Actor system_{"correlator-service", "req-corr"};
  ManualClock clock_{kT0};
  std::unique_ptr<store::Db> db_;
  std::unique_ptr<auth::AuditLog> audit_;
  std::unique_ptr<IncidentService> svc_;
};

}  // namespace secplat::incidents::testing
