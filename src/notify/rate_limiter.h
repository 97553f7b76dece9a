// Pacing for outbound notifications: a token bucket per channel, Retry-After parsing and
// exponential backoff with full jitter. Pure policy; nothing here sleeps or sends.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "core/clock.h"

namespace secplat::notify {

// `capacity` tokens, refilled continuously at `capacity` per `interval_ms` (so at most `capacity`
// sends per interval once the bucket is drained). Starts full.
//
// Threading: all methods are thread-safe (one mutex per limiter).
class RateLimiter {
 public:
  RateLimiter(const Clock& clock, int64_t capacity, int64_t interval_ms);

  // Takes one token for `channel` if one is available.
  bool try_acquire(const std::string& channel);
  // Milliseconds until `channel` has a token again (0 = one is available now).
  int64_t wait_ms(const std::string& channel);
  // The channel's server asked us to wait (429/503 with Retry-After): no token before `until_ms`,
  // and the bucket is empty then (refilling from that moment). A later hold never shortens one.
  void hold(const std::string& channel, int64_t until_ms);

 private:
  struct Bucket {
    double tokens;
    int64_t last_ms;
    int64_t held_until_ms = 0;
  };
  Bucket& refill(const std::string& channel);  // requires mu_

  const Clock& clock_;
  const int64_t capacity_;
  const int64_t interval_ms_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
};

// A Retry-After value in milliseconds from now: delta-seconds ("7" → 7000) or an HTTP-date
// ("Sun, 06 Nov 1994 08:49:37 GMT"; a date in the past → 0). nullopt when malformed or empty.
std::optional<int64_t> parse_retry_after(std::string_view value, int64_t now_ms);

// Full-jitter backoff for attempt n (1-based): uniform in [0, min(cap_ms, base_ms · 2^(n-1))].
// Not thread-safe in `rng` (give each thread its own generator).
int64_t backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, std::mt19937_64& rng);

}  // namespace secplat::notify
