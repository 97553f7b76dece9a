// The local durable queue: the conformance suite on SQLite files, plus what only a durable,
// store-backed queue promises (restart survival, several processes on one file, exact timing).
#include "queue/local_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <set>
#include <thread>

#include "core/ids.h"
#include "queue/queue_conformance.h"
#include "store/sqlite_db.h"

namespace secplat::queue {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("secplat-queue-" + random_hex(8))) { fs::create_directories(path_); }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::unique_ptr<store::Db> open_db(const fs::path& file) {
  auto db = store::open_sqlite({.path = file.string()});
  EXPECT_TRUE(db.ok()) << db.error().message;
  if (!db.ok()) return nullptr;
  auto migrated = store::migrate(**db, local_queue_migrations());
  EXPECT_TRUE(migrated.ok()) << migrated.error().message;
  return std::move(*db);
}

LocalQueueOptions options_from(const QueueTestKnobs& k) {
  return {.retry = k.retry,
          .visibility_timeout_ms = k.visibility_timeout_ms,
          .max_len = k.max_len,
          .dlq_max_len = k.dlq_max_len,
          .clock = k.clock};
}

std::unique_ptr<Queue> open_queue(store::Db& db, const LocalQueueOptions& opts) {
  auto q = open_local_queue(db, opts);
  EXPECT_TRUE(q.ok()) << q.error().message;
  return q.ok() ? std::move(*q) : nullptr;
}

// The temp dir and database a conformance queue lives in.
struct TempDbOwner {
  TempDir dir;
  std::unique_ptr<store::Db> db = open_db(dir.path() / "queue.db");
};

INSTANTIATE_TEST_SUITE_P(Local, QueueConformance,
                         ::testing::Values(QueueFactory{"local",
                                                        [](const QueueTestKnobs& k) -> std::unique_ptr<Queue> {
                                                          auto owner = std::make_shared<TempDbOwner>();
                                                          auto q = open_queue(*owner->db, options_from(k));
                                                          return std::make_unique<QueueWithOwner>(owner, std::move(q));
                                                        }}),
                         queue_factory_name);

class LocalQueueTest : public ::testing::Test {
 protected:
  fs::path file() const { return dir_.path() / "queue.db"; }
  LocalQueueOptions opts(int64_t visibility_ms = 1000) const {
    return {.retry = {3, 1000, 3000}, .visibility_timeout_ms = visibility_ms, .clock = &clock_};
  }

  TempDir dir_;
  ManualClock clock_{1'700'000'000'000};
};

std::vector<Message> read_now(Queue& q, const std::string& stream, const std::string& group,
                              const std::string& consumer, int count = 10) {
  auto r = q.read(stream, group, consumer, count, 0);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? std::move(*r) : std::vector<Message>{};
}

TEST_F(LocalQueueTest, MigrationsUseTheQueueVersionRange) {
  for (const auto& m : local_queue_migrations()) {
    EXPECT_GE(m.version, 200);
    EXPECT_LE(m.version, 299);
  }
}

TEST_F(LocalQueueTest, RefusesADatabaseWithoutItsTables) {
  auto db = store::open_sqlite({.path = file().string()});
  ASSERT_TRUE(db.ok());
  auto q = open_local_queue(**db, opts());
  EXPECT_FALSE(q.ok());
}

TEST_F(LocalQueueTest, PendingMessageSurvivesRestartAndIsReclaimed) {
  std::string id;
  {
    auto db = open_db(file());
    auto q = open_queue(*db, opts(1000));
    ASSERT_TRUE(q->ensure_group("jobs", "workers").ok());
    id = *q->publish("jobs", {{"job_id", "42"}});
    auto got = read_now(*q, "jobs", "workers", "crashes");
    ASSERT_EQ(got.size(), 1u);
    // The process dies here: no ack.
  }
  auto db = open_db(file());
  auto q = open_queue(*db, opts(1000));
  auto st = q->stats("jobs");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->groups.at("workers").pending, 1);
  EXPECT_EQ(st->groups.at("workers").min_id, id);
  EXPECT_TRUE(read_now(*q, "jobs", "workers", "next").empty()) << "reclaimed before the visibility timeout";

  clock_.advance_ms(1000);
  auto got = read_now(*q, "jobs", "workers", "next");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, id);
  EXPECT_EQ(got[0].attempts, 2);
  EXPECT_EQ(got[0].fields.at("job_id"), "42");
}

TEST_F(LocalQueueTest, UnreadMessagesAndGroupPositionSurviveRestart) {
  std::vector<std::string> ids;
  {
    auto db = open_db(file());
    auto q = open_queue(*db, opts());
    ASSERT_TRUE(q->ensure_group("jobs", "workers").ok());
    for (int i = 0; i < 5; ++i) ids.push_back(*q->publish("jobs", {{"i", std::to_string(i)}}));
    auto first = read_now(*q, "jobs", "workers", "c", 2);
    ASSERT_EQ(first.size(), 2u);
    ASSERT_TRUE(q->ack("jobs", "workers", first[0].id).ok());
    ASSERT_TRUE(q->ack("jobs", "workers", first[1].id).ok());
  }
  auto db = open_db(file());
  auto q = open_queue(*db, opts());
  auto rest = read_now(*q, "jobs", "workers", "c");
  ASSERT_EQ(rest.size(), 3u);
  EXPECT_EQ(rest[0].id, ids[2]);
  EXPECT_EQ(rest[2].id, ids[4]);
  EXPECT_EQ(rest[0].attempts, 1);
  // Ids keep increasing after a restart, even with the clock set back.
  clock_.set_ms(clock_.now_ms() - 3600000);
  const std::string later = *q->publish("jobs", {{"i", "5"}});
  auto all = q->range("jobs", ids[4], 10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].id, later);
}

TEST_F(LocalQueueTest, TwoQueuesOnOneFileNeverDoubleDeliver) {
  auto db_a = open_db(file());
  auto db_b = open_db(file());  // a second "process": its own connections to the same file
  auto qa = open_queue(*db_a, opts(60000));
  auto qb = open_queue(*db_b, opts(60000));
  ASSERT_TRUE(qa->ensure_group("jobs", "workers").ok());
  constexpr int kMessages = 300;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE((i % 2 ? qa : qb)->publish("jobs", {{"i", std::to_string(i)}}).ok());
  }
  std::atomic<int> received{0};
  std::vector<std::vector<std::string>> seen(4);
  std::vector<std::thread> threads;
  for (int c = 0; c < 4; ++c) {
    Queue* q = c % 2 ? qa.get() : qb.get();
    threads.emplace_back([&, q, c] {
      const int64_t deadline = steady_ms() + 20000;
      while (received.load() < kMessages && steady_ms() < deadline) {
        auto r = q->read("jobs", "workers", "c" + std::to_string(c), 5, 20);
        if (!r.ok()) {
          ADD_FAILURE() << r.error().message;
          return;
        }
        for (const auto& m : *r) {
          seen[c].push_back(m.id);
          EXPECT_TRUE(q->ack("jobs", "workers", m.id).ok());
          ++received;
        }
        // Workers do something with what they read. Without it, one "process" claims and acks
        // back to back, holding the write lock but for microseconds at a time, and SQLite's busy
        // handler (which sleeps rather than queues) may give the other no turn before all 300
        // are gone — and then the test would prove nothing about two processes.
        if (!r->empty()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> unique;
  std::size_t total = 0;
  for (const auto& ids : seen) {
    total += ids.size();
    unique.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(total, static_cast<std::size_t>(kMessages));
  EXPECT_EQ(unique.size(), static_cast<std::size_t>(kMessages));
  EXPECT_GT(seen[0].size() + seen[2].size(), 0u);
  EXPECT_GT(seen[1].size() + seen[3].size(), 0u);
}

TEST_F(LocalQueueTest, BlockedReadSeesAPublishFromAnotherProcess) {
  auto db_a = open_db(file());
  auto db_b = open_db(file());
  auto reader = open_queue(*db_a, opts());
  auto writer = open_queue(*db_b, opts());
  ASSERT_TRUE(reader->ensure_group("jobs", "g").ok());
  std::thread publisher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let the read start blocking
    EXPECT_TRUE(writer->publish("jobs", {{"k", "v"}}).ok());
  });
  const int64_t start = steady_ms();
  auto r = reader->read("jobs", "g", "c", 1, 20000);
  const int64_t took = steady_ms() - start;
  publisher.join();
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_LT(took, 5000) << "the poll did not notice another process's publish";
}

TEST_F(LocalQueueTest, RetryBackoffUsesEqualJitterWithinBounds) {
  auto db = open_db(file());
  auto q = open_queue(*db, {.retry = {10, 1000, 3000}, .visibility_timeout_ms = 600000, .clock = &clock_});
  ASSERT_TRUE(q->ensure_group("s", "g").ok());
  ASSERT_TRUE(q->publish("s", {{"a", "1"}}).ok());
  auto msgs = read_now(*q, "s", "g", "c");
  // attempts 1 → d=1000, 2 → 2000, 3 → 4000 capped to 3000; delay in [d/2, d].
  for (int64_t d : {1000, 2000, 3000, 3000}) {
    ASSERT_EQ(msgs.size(), 1u);
    auto dead = q->retry(msgs[0], "g", "again");
    ASSERT_TRUE(dead.ok());
    ASSERT_FALSE(*dead);
    clock_.advance_ms(d / 2 - 1);
    EXPECT_TRUE(read_now(*q, "s", "g", "c").empty()) << "delay below d/2 for d=" << d;
    clock_.advance_ms(d - d / 2 + 1);
    msgs = read_now(*q, "s", "g", "c");
    ASSERT_EQ(msgs.size(), 1u) << "delay above d for d=" << d;
  }
  EXPECT_EQ(msgs[0].attempts, 5);
}

TEST_F(LocalQueueTest, StatsIdleTimeFollowsTheClock) {
  auto db = open_db(file());
  auto q = open_queue(*db, opts(600000));
  ASSERT_TRUE(q->ensure_group("s", "g").ok());
  ASSERT_TRUE(q->publish("s", {{"a", "1"}}).ok());
  ASSERT_TRUE(q->publish("s", {{"a", "2"}}).ok());
  ASSERT_EQ(read_now(*q, "s", "g", "c1", 1).size(), 1u);
  clock_.advance_ms(700);
  ASSERT_EQ(read_now(*q, "s", "g", "c2", 1).size(), 1u);
  clock_.advance_ms(300);
  auto st = q->stats("s");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->groups.at("g").oldest_idle_ms, 1000);
}

TEST_F(LocalQueueTest, TrimmingNeverDropsUndeliveredOrPendingEntries) {
  auto db = open_db(file());
  LocalQueueOptions o = opts(600000);
  o.max_len = 3;
  auto q = open_queue(*db, o);
  ASSERT_TRUE(q->ensure_group("s", "g").ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(*q->publish("s", {{"i", std::to_string(i)}}));

  auto full = q->publish("s", {{"i", "3"}});
  ASSERT_FALSE(full.ok()) << "trimmed an entry the group has not read";
  EXPECT_EQ(full.error().code, Errc::unavailable);

  auto got = read_now(*q, "s", "g", "c");
  ASSERT_EQ(got.size(), 3u);
  EXPECT_FALSE(q->publish("s", {{"i", "3"}}).ok()) << "trimmed an entry still pending";

  ASSERT_TRUE(q->ack("s", "g", ids[1]).ok());  // the middle one: the oldest trimmable entry
  auto id3 = q->publish("s", {{"i", "3"}});
  ASSERT_TRUE(id3.ok()) << id3.error().message;
  auto all = q->range("s", "0", 10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, ids[0]);
  EXPECT_EQ((*all)[1].id, ids[2]);
  EXPECT_EQ((*all)[2].id, *id3);
  EXPECT_EQ(q->stats("s")->length, 3);
}

TEST_F(LocalQueueTest, DeadLetterStreamIsCappedAtDlqMaxLen) {
  auto db = open_db(file());
  LocalQueueOptions o = opts();
  o.dlq_max_len = 2;
  auto q = open_queue(*db, o);
  ASSERT_TRUE(q->ensure_group("s", "g").ok());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(q->publish("s", {{"i", std::to_string(i)}}).ok());
  for (const auto& m : read_now(*q, "s", "g", "c")) ASSERT_TRUE(q->dead_letter(m, "g", "bad").ok());
  auto st = q->stats("s");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->dlq_length, 2);
  EXPECT_EQ(st->length, 4);
  auto dlq = q->range("s.dlq", "0", 10);
  ASSERT_TRUE(dlq.ok());
  ASSERT_EQ(dlq->size(), 2u);
  EXPECT_EQ((*dlq)[0].fields.at("i"), "2");
  EXPECT_EQ((*dlq)[1].fields.at("i"), "3");
}

TEST_F(LocalQueueTest, RejectsMalformedInput) {
  auto db = open_db(file());
  auto q = open_queue(*db, opts());
  EXPECT_EQ(q->publish("s", {{"bad", std::string("\xff\xfe", 2)}}).error().code, Errc::bad_request);
  EXPECT_EQ(q->publish("", {{"a", "b"}}).error().code, Errc::bad_request);
  EXPECT_EQ(q->range("s", "not-an-id", 10).error().code, Errc::bad_request);
  ASSERT_TRUE(q->ensure_group("s", "g").ok());
  EXPECT_EQ(q->read("s", "g", "c", 0, 0).error().code, Errc::bad_request);
}

// Throughput on this machine, for the report; no assertion on speed.
TEST_F(LocalQueueTest, ThroughputLog) {
  auto db = open_db(file());
  auto q = open_queue(*db, opts(600000));
  ASSERT_TRUE(q->ensure_group("bench", "g").ok());
  constexpr int kMessages = 2000;
  const Fields fields{{"event_id", new_uuid()}, {"event_type", "scan.requested"}, {"payload", R"({"job_id":42})"}};

  int64_t t0 = steady_ms();
  for (int i = 0; i < kMessages; ++i) ASSERT_TRUE(q->publish("bench", fields).ok());
  const int64_t publish_ms = std::max<int64_t>(1, steady_ms() - t0);

  t0 = steady_ms();
  for (int i = 0; i < kMessages / 2; ++i) {
    auto r = q->read("bench", "g", "c", 1, 0);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->size(), 1u);
    ASSERT_TRUE(q->ack("bench", "g", (*r)[0].id).ok());
  }
  const int64_t single_ms = std::max<int64_t>(1, steady_ms() - t0);

  t0 = steady_ms();
  int batched = 0;
  while (batched < kMessages / 2) {
    auto r = q->read("bench", "g", "c", 100, 0);
    ASSERT_TRUE(r.ok());
    ASSERT_FALSE(r->empty());
    for (const auto& m : *r) ASSERT_TRUE(q->ack("bench", "g", m.id).ok());
    batched += static_cast<int>(r->size());
  }
  const int64_t batch_ms = std::max<int64_t>(1, steady_ms() - t0);

  std::printf("[ queue ] publish %lld msg/s; read(1)+ack %lld msg/s; read(100)+ack %lld msg/s\n",
              static_cast<long long>(kMessages * 1000LL / publish_ms),
              static_cast<long long>((kMessages / 2) * 1000LL / single_ms),
              static_cast<long long>((kMessages / 2) * 1000LL / batch_ms));
}

}  // namespace
}  // namespace secplat::queue
