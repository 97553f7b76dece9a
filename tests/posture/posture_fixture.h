// The findings fixture (migrated SQLite, ManualClock, AssetRepo, FindingsService) plus the posture
// schema, an event store, a local queue and a deriver wired as in production.
#pragma once

#include "findings/findings_fixture.h"
#include "posture/deriver.h"
#include "posture/events.h"
#include "posture/migrations.h"
#include "posture/posture_view.h"
#include "posture/reports.h"
#include "queue/local_queue.h"
#include "queue/streams.h"

namespace secplat::posture::testing {

using findings::testing::kT0;

class PostureFixture : public findings::testing::FindingsFixture {
 protected:
  void SetUp() override {
    FindingsFixture::SetUp();
    auto migrations = posture_migrations();
    for (auto& m : queue::local_queue_migrations()) migrations.push_back(std::move(m));
    auto st = store::migrate(*db_, migrations);
    ASSERT_TRUE(st.ok()) << st.error().message;
    queue::LocalQueueOptions qo;
    qo.clock = &clock;
    auto q = queue::open_local_queue(*db_, qo);
    ASSERT_TRUE(q.ok()) << q.error().message;
    queue = std::move(*q);
    for (auto s : {queue::kNotifyEvents, queue::kCorrelationEvents})
      ASSERT_TRUE(queue->ensure_group(std::string(s), "test").ok());
    events = std::make_unique<EventStore>(*db_);
    view = std::make_unique<PostureView>(*db_, clock, 0);
    reports = std::make_unique<Reports>(*db_, *events, *view, clock);
    deriver = make_deriver();
  }

  void TearDown() override {
    deriver.reset();
    reports.reset();
    view.reset();
    events.reset();
    queue.reset();
    FindingsFixture::TearDown();
  }

  std::unique_ptr<Deriver> make_deriver(DeriverOptions o = {}) {
    return std::make_unique<Deriver>(*db_, queue.get(), clock, o);
  }

  void add_probed(const std::string& key, int interval_s = 60, const std::string& criticality = "medium") {
    Asset a;
    a.asset_key = key;
    a.name = key;
    a.criticality = criticality;
    Probe p;
    p.url = "http://" + key + ".test/";
    p.interval_seconds = interval_s;
    a.probe = p;
    auto r = assets->create(a);
    ASSERT_TRUE(r.ok()) << r.error().message;
  }

  void result(const std::string& key, int64_t ts, bool up, int code = 200, const char* error_class = nullptr) {
    HealthEvent e;
    e.asset_key = key;
    e.ts_ms = ts;
    e.up = up;
    e.code = code;
    e.latency_ms = 25;
    if (error_class) e.error_class = error_class;
    auto r = events->append(std::vector<HealthEvent>{e});
    ASSERT_TRUE(r.ok()) << r.error().message;
  }

  DerivePass pass() {
    auto r = deriver->run_once();
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : DerivePass{};
  }

  std::optional<store::Row> status_row(const std::string& key) {
    auto rows = db_->query("SELECT * FROM asset_status WHERE asset_key = $1", {key});
    EXPECT_TRUE(rows.ok());
    if (!rows.ok() || rows->empty()) return std::nullopt;
    return rows->front();
  }

  std::vector<queue::Message> published(std::string_view stream) {
    auto r = queue->read(std::string(stream), "test", "t", 1000, 0);
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return {};
    for (const auto& m : *r) (void)queue->ack(m.stream, "test", m.id);
    return *r;
  }

  std::unique_ptr<queue::Queue> queue;
  std::unique_ptr<EventStore> events;
  std::unique_ptr<PostureView> view;
  std::unique_ptr<Reports> reports;
  std::unique_ptr<Deriver> deriver;
};

}  // namespace secplat::posture::testing
