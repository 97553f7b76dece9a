#include "notify/rate_limiter.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <limits>

namespace secplat::notify {

RateLimiter::RateLimiter(const Clock& clock, int64_t capacity, int64_t interval_ms)
    : clock_(clock), capacity_(std::max<int64_t>(1, capacity)), interval_ms_(std::max<int64_t>(1, interval_ms)) {}

RateLimiter::Bucket& RateLimiter::refill(const std::string& channel) {
  const int64_t now = clock_.now_ms();
  auto [it, inserted] = buckets_.try_emplace(channel, Bucket{static_cast<double>(capacity_), now, 0});
  Bucket& b = it->second;
  if (now < b.held_until_ms) return b;  // hold() left one token for the moment it ends
  if (!inserted && now > b.last_ms) {
    const double rate = static_cast<double>(capacity_) / static_cast<double>(interval_ms_);
    b.tokens = std::min(static_cast<double>(capacity_), b.tokens + rate * static_cast<double>(now - b.last_ms));
  }
  b.last_ms = std::max(b.last_ms, now);
  return b;
}

bool RateLimiter::try_acquire(const std::string& channel) {
  std::lock_guard lock(mu_);
  Bucket& b = refill(channel);
  if (clock_.now_ms() < b.held_until_ms || b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

int64_t RateLimiter::wait_ms(const std::string& channel) {
  std::lock_guard lock(mu_);
  Bucket& b = refill(channel);
  if (const int64_t now = clock_.now_ms(); now < b.held_until_ms) return b.held_until_ms - now;
  if (b.tokens >= 1.0) return 0;
  const double rate = static_cast<double>(capacity_) / static_cast<double>(interval_ms_);
  return static_cast<int64_t>(std::ceil((1.0 - b.tokens) / rate));
}

void RateLimiter::hold(const std::string& channel, int64_t until_ms) {
  std::lock_guard lock(mu_);
  Bucket& b = refill(channel);
  if (until_ms <= b.held_until_ms || until_ms <= clock_.now_ms()) return;
  b.held_until_ms = until_ms;
  b.tokens = 1.0;  // one try when the server said we may, then the usual pace
  b.last_ms = until_ms;
}

std::optional<int64_t> parse_retry_after(std::string_view value, int64_t now_ms) {
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) value.remove_prefix(1);
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 9) return std::nullopt;  // > ~31 years: nonsense
    int64_t s = 0;
    for (char c : value) s = s * 10 + (c - '0');
    return s * 1000;
  }
  // IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 §5.6.7).
  std::string text(value);
  std::tm tm{};
  const char* end = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  const int64_t at_ms = static_cast<int64_t>(::timegm(&tm)) * 1000;
  return std::max<int64_t>(0, at_ms - now_ms);
}

int64_t backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, std::mt19937_64& rng) {
  if (attempt < 1) attempt = 1;
  base_ms = std::max<int64_t>(0, base_ms);
  cap_ms = std::max<int64_t>(0, cap_ms);
  int64_t ceiling = base_ms;
  for (int i = 1; i < attempt && ceiling < cap_ms; ++i)
    ceiling = ceiling > std::numeric_limits<int64_t>::max() / 2 ? cap_ms : ceiling * 2;
  ceiling = std::min(ceiling, cap_ms);
  std::uniform_int_distribution<int64_t> dist(0, ceiling);
  return dist(rng);
}

}  // namespace secplat::notify
