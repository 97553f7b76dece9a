#include "queue/queue_conformance.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <set>
#include <thread>
#include <utility>

namespace secplat::queue {
namespace {

constexpr int64_t kAwaitMs = 10000;  // real-time deadline for a message that must arrive

// Reads until at least one message arrives or the deadline passes.
std::vector<Message> await_read(Queue& q, const std::string& stream, const std::string& group,
                                const std::string& consumer, int count = 10) {
  const int64_t deadline = steady_ms() + kAwaitMs;
  while (steady_ms() < deadline) {
    auto r = q.read(stream, group, consumer, count, 100);
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (!r.ok()) return {};
    if (!r->empty()) return std::move(*r);
  }
  return {};
}

std::vector<Message> read_now(Queue& q, const std::string& stream, const std::string& group,
                              const std::string& consumer, int count = 10) {
  auto r = q.read(stream, group, consumer, count, 0);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? std::move(*r) : std::vector<Message>{};
}

std::pair<uint64_t, uint64_t> split_id(const std::string& id) {
  auto dash = id.find('-');
  EXPECT_NE(dash, std::string::npos) << id;
  return {std::stoull(id.substr(0, dash)), std::stoull(id.substr(dash + 1))};
}

std::string publish_ok(Queue& q, const std::string& stream, const Fields& f) {
  auto r = q.publish(stream, f);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? *r : std::string{};
}

}  // namespace

std::unique_ptr<Queue> QueueConformance::make(QueueTestKnobs knobs) {
  knobs.clock = &clock_;
  auto q = GetParam().make(knobs);
  EXPECT_NE(q, nullptr);
  return q;
}

TEST_P(QueueConformance, RoundTripKeepsFieldsIntact) {
  auto q = make();
  ASSERT_TRUE(q->ensure_group(stream_, "g").ok());
  const Fields fields{{"greeting", "héllo wörld — 世界 🚀"},
                      {"empty", ""},
                      {"json", R"({"a":[1,2],"b":"\"quoted\""})"},
                      {"attempts_like", "007"}};
  const std::string id = publish_ok(*q, stream_, fields);

  auto got = read_now(*q, stream_, "g", "c1");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, id);
  EXPECT_EQ(got[0].stream, stream_);
  EXPECT_EQ(got[0].fields, fields);
  EXPECT_EQ(got[0].attempts, 1);
  EXPECT_EQ(got[0].consumer, "c1");

  ASSERT_TRUE(q->ack(stream_, "g", id).ok());
  EXPECT_TRUE(q->ack(stream_, "g", id).ok()) << "acking twice is fine";
  EXPECT_TRUE(q->ack(stream_, "g", "1-0").ok()) << "acking an unknown id is fine";
  EXPECT_TRUE(read_now(*q, stream_, "g", "c1").empty());
  EXPECT_TRUE(q->ping().ok());
}

TEST_P(QueueConformance, IdsIncreaseEvenIfTheClockGoesBack) {
  auto q = make();
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) {
    if (i == 20) clock_.set_ms(clock_.now_ms() - 60000);
    if (i % 7 == 0) clock_.advance_ms(3);
    ids.push_back(publish_ok(*q, stream_, {{"i", std::to_string(i)}}));
  }
  for (std::size_t i = 1; i < ids.size(); ++i) {
    EXPECT_LT(split_id(ids[i - 1]), split_id(ids[i])) << ids[i - 1] << " then " << ids[i];
  }
  auto all = q->range(stream_, "0", 100);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ((*all)[i].id, ids[i]);
    EXPECT_EQ((*all)[i].fields.at("i"), std::to_string(i));
  }
  auto tail = q->range(stream_, ids[26], 100);
  ASSERT_TRUE(tail.ok());
  ASSERT_EQ(tail->size(), 3u);
  EXPECT_EQ(tail->front().id, ids[27]);
}

TEST_P(QueueConformance, BatchPublishKeepsOrderAndFields) {
  auto q = make();
  ASSERT_TRUE(q->ensure_group(stream_, "g").ok());
  const std::string before = publish_ok(*q, stream_, {{"i", "single"}});
  std::vector<Fields> batch;
  for (int i = 0; i < 25; ++i) batch.push_back({{"i", std::to_string(i)}, {"note", "héllo"}});
  auto ids = q->publish_batch(stream_, batch);
  ASSERT_TRUE(ids.ok()) << ids.error().message;
  ASSERT_EQ(ids->size(), batch.size());
  EXPECT_LT(split_id(before), split_id(ids->front()));
  for (std::size_t i = 1; i < ids->size(); ++i) EXPECT_LT(split_id((*ids)[i - 1]), split_id((*ids)[i]));
  auto got = read_now(*q, stream_, "g", "c", 100);
  ASSERT_EQ(got.size(), 26u);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ(got[i + 1].id, (*ids)[i]);
    EXPECT_EQ(got[i + 1].fields, batch[i]);
  }
  auto empty = q->publish_batch(stream_, {});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST_P(QueueConformance, EveryGroupGetsEveryMessage) {
  auto q = make();
  ASSERT_TRUE(q->ensure_group(stream_, "g1").ok());
  ASSERT_TRUE(q->ensure_group(stream_, "g2").ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(publish_ok(*q, stream_, {{"i", std::to_string(i)}}));

  for (const char* group : {"g1", "g2"}) {
    auto got = read_now(*q, stream_, group, "c");
    ASSERT_EQ(got.size(), 5u) << group;
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].id, ids[i]);
  }
}

TEST_P(QueueConformance, ConsumersOfOneGroupSplitMessagesWithoutOverlap) {
  auto q = make(QueueTestKnobs{.visibility_timeout_ms = 60000});
  ASSERT_TRUE(q->ensure_group(stream_, "g").ok());
  constexpr int kMessages = 200;
  for (int i = 0; i < kMessages; ++i) publish_ok(*q, stream_, {{"i", std::to_string(i)}});

  constexpr int kConsumers = 4;
  std::atomic<int> received{0};
  std::vector<std::vector<std::string>> seen(kConsumers);
  std::vector<std::thread> threads;
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&, c] {
      const int64_t deadline = steady_ms() + kAwaitMs;
      while (received.load() < kMessages && steady_ms() < deadline) {
        auto r = q->read(stream_, "g", "c" + std::to_string(c), 7, 20);
        if (!r.ok()) {
          ADD_FAILURE() << r.error().message;
          return;
        }
        for (const auto& m : *r) {
          seen[c].push_back(m.id);
          EXPECT_TRUE(q->ack(stream_, "g", m.id).ok());
          ++received;
        }
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
  EXPECT_EQ(total, static_cast<std::size_t>(kMessages)) << "some message was delivered twice or lost";
  EXPECT_EQ(unique.size(), static_cast<std::size_t>(kMessages));
}

TEST_P(QueueConformance, UnackedMessageIsReclaimedAfterVisibilityTimeout) {
  auto q = make(QueueTestKnobs{.visibility_timeout_ms = 1000});
  ASSERT_TRUE(q->ensure_group(stream_, "g").ok());
  const std::string id = publish_ok(*q, stream_, {{"job", "1"}});

  auto first = read_now(*q, stream_, "g", "dies");
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(read_now(*q, stream_, "g", "survivor").empty()) << "still invisible within the timeout";

  clock_.advance_ms(1000);
  auto again = await_read(*q, stream_, "g", "survivor");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, id);
  EXPECT_EQ(again[0].attempts, 2);
  EXPECT_EQ(again[0].consumer, "survivor");
  EXPECT_EQ(again[0].fields.at("job"), "1");
}

TEST_P(QueueConformance, TouchKeepsALongJobFromBeingReclaimed) {
  auto q = make(QueueTestKnobs{.retry = {5, 200, 400}, .visibility_timeout_ms = 1000});
  ASSERT_TRUE(q->ensure_group(stream_, "g").ok());
  const std::string id = publish_ok(*q, stream_, {{"job", "long"}});
  auto held = read_now(*q, stream_, "g", "busy");
  ASSERT_EQ(held.size(), 1u);

  // A heartbeat every 400 ms for three visibility timeouts: nobody else gets the job.
  for (int beat = 0; beat < 8; ++beat) {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    clock_.advance_ms(400);
    auto t = q->touch(held[0], "g");
    ASSERT_TRUE(t.ok()) << t.error().message;
    EXPECT_TRUE(*t) << "beat " << beat;
    EXPECT_TRUE(read_now(*q, stream_, "g", "thief").empty()) << "reclaimed while its holder was alive, beat " << beat;
  }

  // The holder stalls: after the timeout the job is reclaimed, counted as a second delivery, and the
  // stalled holder learns it lost it.
  clock_.advance_ms(1000);
  auto taken = await_read(*q, stream_, "g", "thief");
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].id, id);
  EXPECT_EQ(taken[0].attempts, 2);
  auto late = q->touch(held[0], "g");
  ASSERT_TRUE(late.ok());
  EXPECT_FALSE(*late) << "a stalled holder must not take a reclaimed job back";

  // A job waiting out a retry delay cannot be touched (that would stretch the delay).
  ASSERT_TRUE(q->retry(taken[0], "g", "transient").ok());
  auto waiting = q->touch(taken[0], "g");
  ASSERT_TRUE(waiting.ok());
  EXPECT_FALSE(*waiting);
  // Acked: nothing to touch.
  clock_.advance_ms(400);
  auto back = await_read(*q, stream_, "g", "thief");
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].attempts, 3);
  ASSERT_TRUE(q->ack(stream_, "g", id).ok());
  auto acked = q->touch(back[0], "g");
  ASSERT_TRUE(acked.ok());
  EXPECT_FALSE(*acked);
}

TEST_P(QueueConformance, TailFansOutEveryEntryToEveryReader) {
  auto q = make();
  auto empty = q->last_id(stream_);
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_EQ(*empty, "0-0");
  const std::string a = publish_ok(*q, stream_, {{"n", "1"}});
  const std::string b = publish_ok(*q, stream_, {{"n", "2"}});
  auto last = q->last_id(stream_);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, b);

  // Two readers, no group: each sees both entries, in order.
  for (int reader = 0; reader < 2; ++reader) {
    auto got = q->tail(stream_, "0-0", 10, 0);
    ASSERT_TRUE(got.ok()) << got.error().message;
    ASSERT_EQ(got->size(), 2u);
    EXPECT_EQ((*got)[0].id, a);
    EXPECT_EQ((*got)[1].id, b);
    EXPECT_EQ((*got)[1].fields.at("n"), "2");
  }
  auto after_a = q->tail(stream_, a, 10, 0);
  ASSERT_TRUE(after_a.ok());
  ASSERT_EQ(after_a->size(), 1u);
  EXPECT_EQ((*after_a)[0].id, b);

  // From the newest entry: blocks until the next append, and wakes for it.
  auto follower = std::async(std::launch::async, [&] { return q->tail(stream_, b, 10, 30000); });
  EXPECT_EQ(follower.wait_for(std::chrono::milliseconds(150)), std::future_status::timeout);
  const std::string c = publish_ok(*q, stream_, {{"n", "3"}});
  ASSERT_EQ(follower.wait_for(std::chrono::seconds(5)), std::future_status::ready)
      << "tail(block 30 s) did not wake within 5 s of a publish";
  auto woke = follower.get();
  ASSERT_TRUE(woke.ok());
  ASSERT_EQ(woke->size(), 1u);
  EXPECT_EQ((*woke)[0].id, c);

  // Nothing new: waits about block_ms and returns empty.
  const int64_t start = steady_ms();
  auto none = q->tail(stream_, c, 10, 300);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_GE(steady_ms() - start, 290);
  EXPECT_FALSE(q->tail(stream_, "not-an-id", 10, 0).ok());
}

TEST_P(QueueConformance, AckedMessageIsNeverRedelivered) {
  auto q = make(QueueTestKnobs{.visibility_timeout_ms = 1000});
  ASSERT_TRUE(q->ensure_group(stream_, "g").ok());
  const std::string done = publish_ok(*q, stream_, {{"n", "1"}});
  const std::string dropped = publish_ok(*q, stream_, {{"n", "2"}});
  ASSERT_EQ(read_now(*q, stream_, "g", "c1").size(), 2u);
  ASSERT_TRUE(q->ack(stream_, "g", done).ok());

  clock_.advance_ms(1000);
  auto again = await_read(*q, stream_, "g", "c2");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, dropped);
  ASSERT_TRUE(q->ack(stream_, "g", dropped).ok());

  clock_.advance_ms(5000);
  auto r = q->read(stream_, "g", "c3", 10, 1500);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST_P(QueueConformance, BatchAckAcksExactlyTheGivenMessages) {
  auto q = make(QueueTestKnobs{.visibility_timeout_ms = 1000});
  ASSERT_TRUE(q->ensure_group(stream_, "g").ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(publish_ok(*q, stream_, {{"i", std::to_string(i)}}));
  ASSERT_EQ(read_now(*q, stream_, "g", "c1").size(), 5u);
  ASSERT_TRUE(q->ack_batch(stream_, "g", {ids[0], ids[2], ids[4], "1-0"}).ok());
  ASSERT_TRUE(q->ack_batch(stream_, "g", {}).ok());
  auto st = q->stats(stream_);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->groups.at("g").pending, 2);

  clock_.advance_ms(1000);
  std::set<std::string> back;
  const int64_t deadline = steady_ms() + 10000;
  while (back.size() < 2 && steady_ms() < deadline) {
    for (const auto& m : await_read(*q, stream_, "g", "c2")) back.insert(m.id);
  }
  EXPECT_EQ(back, (std::set<std::string>{ids[1], ids[3]}));
}

TEST_P(QueueConformance, RetryDelaysRedeliveryAndCountsAttempts) {
  auto q = make(QueueTestKnobs{.retry = {5, 500, 2000}, .visibility_timeout_ms = 60000});
  ASSERT_TRUE(q->ensure_group(stream_, "g").ok());
  const std::string id = publish_ok(*q, stream_, {{"job", "x"}});

  auto msgs = read_now(*q, stream_, "g", "c");
  ASSERT_EQ(msgs.size(), 1u);
  for (int attempt = 1; attempt <= 3; ++attempt) {
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_EQ(msgs[0].attempts, attempt);
    auto dead = q->retry(msgs[0], "g", "transient " + std::to_string(attempt));
    ASSERT_TRUE(dead.ok()) << dead.error().message;
    EXPECT_FALSE(*dead);
    EXPECT_TRUE(read_now(*q, stream_, "g", "c").empty()) << "redelivered before the backoff";
    clock_.advance_ms(std::min<int64_t>(2000, 500 << (attempt - 1)));  // the full backoff
    msgs = await_read(*q, stream_, "g", "c");
    ASSERT_EQ(msgs.size(), 1u) << "not redelivered after the backoff, attempt " << attempt;
    EXPECT_EQ(msgs[0].id, id);
  }
  EXPECT_EQ(msgs[0].attempts, 4);
}

TEST_P(QueueConformance, RetryDeadLettersAfterMaxAttempts) {
  auto q = make(QueueTestKnobs{.retry = {3, 100, 400}, .visibility_timeout_ms = 60000});
  ASSERT_TRUE(q->ensure_group(stream_, "g").ok());
  const Fields fields{{"job", "42"}, {"note", "ünïcode"}};
  const std::string id = publish_ok(*q, stream_, fields);

  auto msgs = read_now(*q, stream_, "g", "c");
  for (int attempt = 1; attempt < 3; ++attempt) {
    ASSERT_EQ(msgs.size(), 1u);
    auto dead = q->retry(msgs[0], "g", "boom");
    ASSERT_TRUE(dead.ok());
    EXPECT_FALSE(*dead);
    clock_.advance_ms(400);
    msgs = await_read(*q, stream_, "g", "c");
  }
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].attempts, 3);
  auto dead = q->retry(msgs[0], "g", "boom for good");
  ASSERT_TRUE(dead.ok());
  EXPECT_TRUE(*dead);

  auto dlq = q->range(stream_ + ".dlq", "0", 10);
  ASSERT_TRUE(dlq.ok());
  ASSERT_EQ(dlq->size(), 1u);
  const Fields& d = (*dlq)[0].fields;
  EXPECT_EQ(d.at("job"), "42");
  EXPECT_EQ(d.at("note"), "ünïcode");
  EXPECT_EQ(d.at("original_stream"), stream_);
  EXPECT_EQ(d.at("original_id"), id);
  EXPECT_EQ(d.at("error"), "boom for good");
  EXPECT_EQ(d.at("retryable"), "true");
  EXPECT_EQ(d.at("attempts"), "3");
  auto failed_at = parse_rfc3339(d.at("failed_at"));
  ASSERT_TRUE(failed_at.has_value()) << d.at("failed_at");
  EXPECT_EQ(d.at("failed_at").back(), 'Z');

  auto st = q->stats(stream_);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->dlq_length, 1);
  EXPECT_EQ(st->groups.at("g").pending, 0);
  clock_.advance_ms(120000);
  auto r = q->read(stream_, "g", "c", 10, 200);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty()) << "a dead-lettered message came back";
}

TEST_P(QueueConformance, DeadLetterIsImmediate) {
  auto q = make(QueueTestKnobs{.visibility_timeout_ms = 1000});
  ASSERT_TRUE(q->ensure_group(stream_, "g").ok());
  const std::string id = publish_ok(*q, stream_, {{"job", "bad"}});
  auto msgs = read_now(*q, stream_, "g", "c");
  ASSERT_EQ(msgs.size(), 1u);
  ASSERT_TRUE(q->dead_letter(msgs[0], "g", "invalid_job_id").ok());

  auto dlq = q->range(stream_ + ".dlq", "", 10);
  ASSERT_TRUE(dlq.ok());
  ASSERT_EQ(dlq->size(), 1u);
  const Fields& d = (*dlq)[0].fields;
  EXPECT_EQ(d.at("job"), "bad");
  EXPECT_EQ(d.at("original_stream"), stream_);
  EXPECT_EQ(d.at("original_id"), id);
  EXPECT_EQ(d.at("error"), "invalid_job_id");
  EXPECT_EQ(d.at("retryable"), "false");
  EXPECT_EQ(d.at("attempts"), "1");
  EXPECT_TRUE(parse_rfc3339(d.at("failed_at")).has_value());

  auto st = q->stats(stream_);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->groups.at("g").pending, 0);
  EXPECT_EQ(st->dlq_length, 1);
  clock_.advance_ms(5000);
  auto r = q->read(stream_, "g", "c", 10, 1200);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST_P(QueueConformance, BlockingReadWakesOnPublish) {
  auto q = make();
  ASSERT_TRUE(q->ensure_group(stream_, "g").ok());
  auto reader = std::async(std::launch::async, [&] { return q->read(stream_, "g", "c", 1, 30000); });
  // Give the reader time to start waiting; the assertion below is about how fast it wakes.
  EXPECT_EQ(reader.wait_for(std::chrono::milliseconds(150)), std::future_status::timeout);
  const int64_t published_at = steady_ms();
  const std::string id = publish_ok(*q, stream_, {{"wake", "up"}});
  ASSERT_EQ(reader.wait_for(std::chrono::seconds(5)), std::future_status::ready)
      << "read(block 30 s) did not wake within 5 s of a publish";
  const int64_t woke_after = steady_ms() - published_at;
  auto got = reader.get();
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].id, id);
  std::printf("[ queue ] blocked read woke %lld ms after publish\n", static_cast<long long>(woke_after));
}

TEST_P(QueueConformance, BlockingReadTimesOutEmpty) {
  auto q = make();
  ASSERT_TRUE(q->ensure_group(stream_, "g").ok());
  const int64_t start = steady_ms();
  auto r = q->read(stream_, "g", "c", 1, 200);
  const int64_t took = steady_ms() - start;
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  EXPECT_GE(took, 190);
  EXPECT_LT(took, 5000);
}

TEST_P(QueueConformance, MaxLenKeepsTheNewestEntries) {
  auto q = make(QueueTestKnobs{.max_len = 10});
  std::vector<std::string> ids;
  for (int i = 0; i < 25; ++i) ids.push_back(publish_ok(*q, stream_, {{"i", std::to_string(i)}}));
  auto st = q->stats(stream_);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->length, 10);
  auto all = q->range(stream_, "0", 100);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 10u);
  for (std::size_t i = 0; i < 10; ++i) EXPECT_EQ((*all)[i].id, ids[15 + i]);
}

TEST_P(QueueConformance, StatsReportLengthsAndPending) {
  auto q = make(QueueTestKnobs{.visibility_timeout_ms = 60000});
  ASSERT_TRUE(q->ensure_group(stream_, "busy").ok());
  ASSERT_TRUE(q->ensure_group(stream_, "idle").ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(publish_ok(*q, stream_, {{"i", std::to_string(i)}}));
  ASSERT_EQ(read_now(*q, stream_, "busy", "c1", 2).size(), 2u);
  ASSERT_EQ(read_now(*q, stream_, "busy", "c2", 2).size(), 1u);

  auto st = q->stats(stream_);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->length, 3);
  EXPECT_EQ(st->dlq_length, 0);
  ASSERT_EQ(st->groups.count("busy"), 1u);
  ASSERT_EQ(st->groups.count("idle"), 1u);
  const PendingSummary& busy = st->groups.at("busy");
  EXPECT_EQ(busy.pending, 3);
  EXPECT_EQ(busy.min_id, ids[0]);
  EXPECT_EQ(busy.max_id, ids[2]);
  ASSERT_TRUE(busy.oldest_idle_ms.has_value());
  EXPECT_GE(*busy.oldest_idle_ms, 0);
  EXPECT_EQ(st->groups.at("idle").pending, 0);
  EXPECT_EQ(busy.lag, std::optional<int64_t>(0)) << "every entry was delivered to busy";
  EXPECT_EQ(st->groups.at("idle").lag, std::optional<int64_t>(3)) << "idle has read nothing yet";

  ASSERT_TRUE(q->ack(stream_, "busy", ids[0]).ok());
  publish_ok(*q, stream_, {{"i", "3"}});
  ASSERT_EQ(read_now(*q, stream_, "idle", "c3", 1).size(), 1u);
  st = q->stats(stream_);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->groups.at("busy").pending, 2);
  EXPECT_EQ(st->groups.at("busy").min_id, ids[1]);
  EXPECT_EQ(st->length, 4) << "acking does not remove the entry from the stream";
  EXPECT_EQ(st->groups.at("busy").lag, std::optional<int64_t>(1)) << "a new entry is lag, an acked one is not";
  EXPECT_EQ(st->groups.at("idle").lag, std::optional<int64_t>(3));
}

TEST_P(QueueConformance, UnknownGroupIsNotFoundAndEnsureGroupIsIdempotent) {
  auto q = make();
  publish_ok(*q, stream_, {{"a", "b"}});
  auto r = q->read(stream_, "nobody", "c", 1, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::not_found);

  ASSERT_TRUE(q->ensure_group(stream_, "g").ok());
  auto got = read_now(*q, stream_, "g", "c");
  ASSERT_EQ(got.size(), 1u) << "a new group starts at the beginning of the stream";
  ASSERT_TRUE(q->ack(stream_, "g", got[0].id).ok());
  ASSERT_TRUE(q->ensure_group(stream_, "g").ok());
  EXPECT_TRUE(read_now(*q, stream_, "g", "c").empty()) << "ensure_group reset the group";
}

}  // namespace secplat::queue
