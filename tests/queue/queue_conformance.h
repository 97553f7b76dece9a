// The `Queue` conformance suite: port-level behaviour every Queue adapter must show.
//
// An adapter's test file instantiates it with a factory that builds a fresh, empty queue:
//
//   INSTANTIATE_TEST_SUITE_P(Local, QueueConformance,
//                            ::testing::Values(QueueFactory{"local", make_local_queue}),
//                            queue_factory_name);
//
// Time: visibility timeouts and retry delays are configured through the knobs and measured by
// knobs.clock, a ManualClock the tests advance. After advancing it, a test awaits the expected
// message with a real-time deadline (several seconds), so an adapter whose server measures idle time
// itself (Redis XAUTOCLAIM) passes too, only slower; the delays the suite uses are at most 2 s.
// Assertions that depend on the ManualClock alone (exact idle times, jitter bounds) belong in the
// adapter's own tests. Stream names are unique per test, so adapters may share a server.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "core/clock.h"
#include "core/ids.h"
#include "queue/queue.h"

namespace secplat::queue {

struct QueueTestKnobs {
  RetryPolicy retry{3, 500, 2000};
  int64_t visibility_timeout_ms = 1000;
  int64_t max_len = 1000;  // the adapter must trim exactly (length never exceeds it)
  int64_t dlq_max_len = 1000;
  ManualClock* clock = nullptr;  // owned by the test; outlives the queue
};

struct QueueFactory {
  std::string name;
  std::function<std::unique_ptr<Queue>(const QueueTestKnobs&)> make;
};

inline void PrintTo(const QueueFactory& f, std::ostream* os) { *os << f.name; }

inline std::string queue_factory_name(const ::testing::TestParamInfo<QueueFactory>& info) {
  return info.param.name;
}

// A queue together with whatever it lives in (a temp dir, a database), so a factory can hand out
// one object; every call goes to `queue`.
class QueueWithOwner final : public Queue {
 public:
  QueueWithOwner(std::shared_ptr<void> owner, std::unique_ptr<Queue> queue)
      : owner_(std::move(owner)), queue_(std::move(queue)) {}
  ~QueueWithOwner() override { queue_.reset(); }  // before the owner (its database)

  Result<std::string> publish(const std::string& s, const Fields& f) override { return queue_->publish(s, f); }
  Result<std::vector<std::string>> publish_batch(const std::string& s, const std::vector<Fields>& b) override {
    return queue_->publish_batch(s, b);
  }
  Status ensure_group(const std::string& s, const std::string& g) override { return queue_->ensure_group(s, g); }
  Result<std::vector<Message>> read(const std::string& s, const std::string& g, const std::string& c, int n,
                                    int64_t block_ms) override {
    return queue_->read(s, g, c, n, block_ms);
  }
  Status ack(const std::string& s, const std::string& g, const std::string& id) override {
    return queue_->ack(s, g, id);
  }
  Status ack_batch(const std::string& s, const std::string& g, const std::vector<std::string>& ids) override {
    return queue_->ack_batch(s, g, ids);
  }
  Result<bool> retry(const Message& m, const std::string& g, const std::string& e) override {
    return queue_->retry(m, g, e);
  }
  Status dead_letter(const Message& m, const std::string& g, const std::string& e) override {
    return queue_->dead_letter(m, g, e);
  }
  Result<StreamStats> stats(const std::string& s) override { return queue_->stats(s); }
  Result<std::vector<Message>> range(const std::string& s, const std::string& after, int n) override {
    return queue_->range(s, after, n);
  }
  Result<bool> touch(const Message& m, const std::string& g) override { return queue_->touch(m, g); }
  Result<std::vector<Message>> tail(const std::string& s, const std::string& after, int n, int64_t block_ms) override {
    return queue_->tail(s, after, n, block_ms);
  }
  Result<std::string> last_id(const std::string& s) override { return queue_->last_id(s); }
  Status ping() override { return queue_->ping(); }
  std::string backend() const override { return queue_->backend(); }
  Result<std::string> server_version() override { return queue_->server_version(); }

 private:
  std::shared_ptr<void> owner_;
  std::unique_ptr<Queue> queue_;
};

class QueueConformance : public ::testing::TestWithParam<QueueFactory> {
 protected:
  // A fresh queue driven by clock_; knobs.clock is filled in.
  std::unique_ptr<Queue> make(QueueTestKnobs knobs = {});

  ManualClock clock_{1'700'000'000'000};
  std::string stream_ = "conformance." + random_hex(6);
};

}  // namespace secplat::queue
