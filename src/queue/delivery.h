// Rules every Queue adapter applies the same way, so a deployment behaves alike on the local queue
// and on Redis: name and field checks, the retry backoff, and the shape of a dead letter.
#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <string>

#include "queue/queue.h"

namespace secplat::queue {

// Stream and group names: 1..256 bytes of UTF-8 (Errc::bad_request otherwise).
Status check_name(const std::string& what, const std::string& name);

// Field names and values must be valid UTF-8 (Errc::bad_request): the local queue stores them as
// JSON text, and the Redis adapter refuses the same input so a producer cannot depend on a backend.
Status check_fields(const Fields& fields);

bool is_dlq_stream(const std::string& stream);

// min(max, base·2^(attempts-1)) with "equal jitter": uniform in [d/2, d]. Thread-safe.
class Backoff {
 public:
  explicit Backoff(RetryPolicy policy) : policy_(policy), rng_(std::random_device{}()) {}
  int64_t delay_ms(int attempts);

 private:
  RetryPolicy policy_;
  std::mutex mu_;
  std::mt19937_64 rng_;
};

// The entry written to `<stream>.dlq`: the original fields plus original_stream, original_id,
// error, retryable ("true"/"false"), attempts and failed_at (RFC 3339, UTC).
Fields dead_letter_fields(const Message& msg, const std::string& error, bool retryable, int attempts,
                          int64_t now_ms);

}  // namespace secplat::queue
