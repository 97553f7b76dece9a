// The queue conformance suite on a real Redis 7 (CTest fixture `redis`), plus what only the Redis
// adapter does: URL handling, approximate trimming, claims across separate clients (processes),
// and reconnecting after the server restarts.
#include "queue/redis_queue.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>

#include "queue/queue_conformance.h"
#include "queue/redis_client.h"
#include "support/redis_test.h"

namespace secplat::queue {
namespace {

RedisQueueOptions options_for(const QueueTestKnobs& k, const std::string& url) {
  RedisQueueOptions o;
  o.url = url;
  o.retry = k.retry;
  o.visibility_timeout_ms = k.visibility_timeout_ms;
  o.max_len = k.max_len;
  o.dlq_max_len = k.dlq_max_len;
  o.trim_exact = true;  // the suite checks exact lengths
  o.clock = k.clock;
  return o;
}

std::unique_ptr<Queue> make_redis_queue(const QueueTestKnobs& k) {
  const std::string url = secplat::testing::redis_server_url();
  if (url.empty()) return nullptr;
  auto q = open_redis_queue(options_for(k, url));
  EXPECT_TRUE(q.ok()) << q.error().message;
  return q.ok() ? std::move(*q) : nullptr;
}

INSTANTIATE_TEST_SUITE_P(Redis, QueueConformance, ::testing::Values(QueueFactory{"redis", make_redis_queue}),
                         queue_factory_name);

std::unique_ptr<Queue> open_or_fail(RedisQueueOptions o) {
  auto q = open_redis_queue(o);
  EXPECT_TRUE(q.ok()) << q.error().message;
  return q.ok() ? std::move(*q) : nullptr;
}

std::string fresh_stream() { return "redis-test." + random_hex(6); }

TEST(RedisQueue, BadUrlsAreNamed) {
  RedisQueueOptions o;
  o.url = "http://127.0.0.1:6379";
  auto r = open_redis_queue(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::bad_request);
  EXPECT_NE(r.error().message.find("redis://"), std::string::npos) << r.error().message;

  o.url = "rediss://127.0.0.1:6379";
  r = open_redis_queue(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("TLS"), std::string::npos) << r.error().message;

  o.url = "redis://127.0.0.1:99999/0";
  r = open_redis_queue(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("port"), std::string::npos) << r.error().message;
}

TEST(RedisQueue, UnreachableServerIsUnavailableAndNamesIt) {
  RedisQueueOptions o;
  o.url = "redis://:s3cret@127.0.0.1:1/0";
  auto r = open_redis_queue(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unavailable);
  EXPECT_NE(r.error().message.find("127.0.0.1:1"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find("s3cret"), std::string::npos) << "the password leaked into: " << r.error().message;
}

TEST(RedisQueue, WrongPasswordIsRefused) {
  const std::string url = secplat::testing::redis_server_url();
  ASSERT_FALSE(url.empty());
  RedisQueueOptions o;
  o.url = "redis://:wrong@" + url.substr(std::string("redis://").size());
  auto r = open_redis_queue(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("AUTH failed"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find("wrong@"), std::string::npos) << r.error().message;
}

TEST(RedisQueue, ApproximateTrimKeepsTheStreamNearItsCap) {
  QueueTestKnobs k;
  RedisQueueOptions o = options_for(k, secplat::testing::redis_server_url());
  o.trim_exact = false;  // the production default: MAXLEN ~
  o.max_len = 100;
  auto q = open_or_fail(o);
  ASSERT_NE(q, nullptr);
  const std::string s = fresh_stream();
  std::vector<Fields> batch(50, Fields{{"k", "v"}});
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(q->publish_batch(s, batch).ok());
  auto st = q->stats(s);
  ASSERT_TRUE(st.ok());
  EXPECT_GE(st->length, 100);
  EXPECT_LE(st->length, 300) << "1000 entries published with a cap of 100";
}

TEST(RedisQueue, EmptyMessageRoundTrips) {
  auto q = open_or_fail(options_for({}, secplat::testing::redis_server_url()));
  ASSERT_NE(q, nullptr);
  const std::string s = fresh_stream();
  ASSERT_TRUE(q->ensure_group(s, "g").ok());
  ASSERT_TRUE(q->publish(s, {}).ok());
  auto got = q->read(s, "g", "c", 10, 0);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_TRUE((*got)[0].fields.empty());
}

TEST(RedisQueue, InvalidUtf8IsRefusedLikeTheLocalQueue) {
  auto q = open_or_fail(options_for({}, secplat::testing::redis_server_url()));
  ASSERT_NE(q, nullptr);
  auto r = q->publish(fresh_stream(), {{"k", std::string("\xff\xfe", 2)}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::bad_request);
}

TEST(RedisQueue, ScheduledRetryCountsAsPendingAndAckCancelsIt) {
  QueueTestKnobs k;
  k.retry = {5, 60000, 60000};
  auto q = open_or_fail(options_for(k, secplat::testing::redis_server_url()));
  ASSERT_NE(q, nullptr);
  const std::string s = fresh_stream();
  ASSERT_TRUE(q->ensure_group(s, "g").ok());
  ASSERT_TRUE(q->publish(s, {{"job", "1"}}).ok());
  auto got = q->read(s, "g", "c", 1, 0);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  auto dead = q->retry((*got)[0], "g", "later");
  ASSERT_TRUE(dead.ok()) << dead.error().message;
  EXPECT_FALSE(*dead);
  auto st = q->stats(s);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->groups.at("g").pending, 1) << "a scheduled retry is still work to do";

  auto again = q->retry((*got)[0], "g", "twice");
  ASSERT_FALSE(again.ok()) << "a message waiting for its retry is not held by anyone";
  EXPECT_EQ(again.error().code, Errc::not_found);

  ASSERT_TRUE(q->ack(s, "g", (*got)[0].id).ok());
  st = q->stats(s);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->groups.at("g").pending, 0);
}

TEST(RedisQueue, AnotherClientReclaimsWorkOfOneThatDied) {
  QueueTestKnobs k;
  k.visibility_timeout_ms = 300;
  const std::string url = secplat::testing::redis_server_url();
  const std::string s = fresh_stream();
  std::string id;
  {
    auto dying = open_or_fail(options_for(k, url));
    ASSERT_NE(dying, nullptr);
    ASSERT_TRUE(dying->ensure_group(s, "workers").ok());
    auto p = dying->publish(s, {{"job", "x"}});
    ASSERT_TRUE(p.ok());
    id = *p;
    auto got = dying->read(s, "workers", "worker-1", 1, 0);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 1u);
  }  // the client goes away without acking, as a killed process would
  auto survivor = open_or_fail(options_for(k, url));
  ASSERT_NE(survivor, nullptr);
  auto got = survivor->read(s, "workers", "worker-2", 1, 5000);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].id, id);
  EXPECT_EQ((*got)[0].attempts, 2);
  EXPECT_EQ((*got)[0].consumer, "worker-2");
}

// The consumers of the group as Redis lists them: name → pending.
std::map<std::string, long long> consumers(const std::string& url, const std::string& stream, const std::string& group) {
  std::map<std::string, long long> out;
  auto c = RedisClient::open({url});
  EXPECT_TRUE(c.ok());
  if (!c.ok()) return out;
  auto r = (*c)->command({"XINFO", "CONSUMERS", stream, group});
  EXPECT_TRUE(r.ok() && !r->is_error());
  if (!r.ok()) return out;
  for (const auto& e : r->elements) {
    std::string name;
    long long pending = -1;
    for (std::size_t i = 0; i + 1 < e.elements.size(); i += 2) {
      if (e.elements[i].str == "name") name = e.elements[i + 1].str;
      if (e.elements[i].str == "pending") pending = e.elements[i + 1].integer;
    }
    out[name] = pending;
  }
  return out;
}

// Every process start reads under a fresh consumer name. Those that went away are removed once
// they hold nothing and have been idle long enough; one still holding an entry stays until the
// entry has been reclaimed and finished by a live consumer; the live ones stay.
TEST(RedisQueue, IdleConsumersThatHoldNothingAreRemoved) {
  const std::string url = secplat::testing::redis_server_url();
  ASSERT_FALSE(url.empty());
  QueueTestKnobs k;
  k.visibility_timeout_ms = 400;
  auto o = options_for(k, url);
  o.consumer_prune_idle_ms = 300;
  const std::string s = fresh_stream();
  {
    auto gone = open_or_fail(o);
    ASSERT_NE(gone, nullptr);
    ASSERT_TRUE(gone->ensure_group(s, "workers").ok());
    ASSERT_TRUE(gone->publish(s, {{"job", "1"}}).ok());
    ASSERT_TRUE(gone->publish(s, {{"job", "2"}}).ok());
    auto done = gone->read(s, "workers", "worker-exited", 1, 0);
    ASSERT_TRUE(done.ok());
    ASSERT_EQ(done->size(), 1u);
    ASSERT_TRUE(gone->ack(s, "workers", (*done)[0].id).ok());
    auto held = gone->read(s, "workers", "worker-killed", 1, 0);  // never acked: a killed process
    ASSERT_TRUE(held.ok());
    ASSERT_EQ(held->size(), 1u);
  }
  EXPECT_EQ(consumers(url, s, "workers"), (std::map<std::string, long long>{{"worker-exited", 0}, {"worker-killed", 1}}));

  auto live = open_or_fail(o);
  ASSERT_NE(live, nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  // The first read runs the claim script and the prune: the killed worker's entry is reclaimed
  // (idle past the visibility timeout) by this read, so it is no longer pending there either.
  auto got = live->read(s, "workers", "worker-live", 10, 0);
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].fields.at("job"), "2");
  auto after_first = consumers(url, s, "workers");
  EXPECT_EQ(after_first.count("worker-exited"), 0u) << "an exited consumer with nothing pending stayed";
  EXPECT_EQ(after_first.count("worker-live"), 1u);
  ASSERT_TRUE(live->ack(s, "workers", (*got)[0].id).ok());

  // A later pass removes the killed worker too, now that its entry has moved on; the live
  // consumer, reading all along, is never removed.
  const int64_t deadline = steady_ms() + 5000;
  std::map<std::string, long long> now;
  while (steady_ms() < deadline) {
    auto r = live->read(s, "workers", "worker-live", 10, 100);
    ASSERT_TRUE(r.ok()) << r.error().message;
    now = consumers(url, s, "workers");
    if (!now.count("worker-killed")) break;
  }
  EXPECT_EQ(now, (std::map<std::string, long long>{{"worker-live", 0}}));

  // 0 keeps every consumer.
  o.consumer_prune_idle_ms = 0;
  auto keeper = open_or_fail(o);
  ASSERT_NE(keeper, nullptr);
  ASSERT_TRUE(keeper->publish(s, {{"job", "3"}}).ok());
  auto third = keeper->read(s, "workers", "worker-other", 1, 0);
  ASSERT_TRUE(third.ok());
  ASSERT_EQ(third->size(), 1u);
  ASSERT_TRUE(keeper->ack(s, "workers", (*third)[0].id).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  ASSERT_TRUE(keeper->read(s, "workers", "worker-keeper", 1, 0).ok());
  EXPECT_EQ(consumers(url, s, "workers").count("worker-other"), 1u);
}

TEST(RedisQueue, ReconnectsAfterTheServerRestartsAndRecreatesItsGroups) {
  secplat::testing::PrivateRedis redis;
  ASSERT_TRUE(redis.ok());
  auto q = open_or_fail(options_for({}, redis.url()));
  ASSERT_NE(q, nullptr);
  const std::string s = fresh_stream();
  ASSERT_TRUE(q->ensure_group(s, "g").ok());
  ASSERT_TRUE(q->publish(s, {{"n", "1"}}).ok());

  ASSERT_TRUE(redis.pause());
  auto down = q->publish(s, {{"n", "2"}});
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code, Errc::unavailable) << down.error().message;
  EXPECT_FALSE(q->ping().ok());

  ASSERT_TRUE(redis.resume());
  // The reconnect backoff is at most 5 s; the same queue object recovers without a restart.
  const int64_t deadline = steady_ms() + 10000;
  Status ok = Error::unavailable("never tried");
  while (steady_ms() < deadline) {
    ok = q->ping();
    if (ok.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  // The server came back empty: the consumer re-creates the group it had ensured, no call needed.
  auto p = q->publish(s, {{"n", "3"}});
  ASSERT_TRUE(p.ok()) << p.error().message;
  auto got = q->read(s, "g", "c", 10, 0);
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_EQ(got->size(), 1u) << "a Redis without persistence starts empty after a restart";
  EXPECT_EQ((*got)[0].fields.at("n"), "3");
  auto v = q->server_version();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->substr(0, 2), "7.");
}

}  // namespace
}  // namespace secplat::queue
