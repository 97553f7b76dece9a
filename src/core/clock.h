// Time sources. Domain code takes a Clock& so tests can move time; production uses SystemClock.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace secplat {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t now_ms() const = 0;  // epoch milliseconds, wall clock
};

class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override;
};

// A clock that only moves when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms) : now_(start_ms) {}
  int64_t now_ms() const override;
  void advance_ms(int64_t d);
  void set_ms(int64_t t);

 private:
  std::atomic<int64_t> now_;
};

// Monotonic milliseconds for measuring durations (not wall time).
int64_t steady_ms();

// RFC 3339 UTC with millisecond precision and `Z`: 2026-11-23T10:50:49.123Z
std::string format_rfc3339(int64_t epoch_ms);
// Accepts `Z` or `±HH:MM` offsets, optional fractional seconds; nullopt if malformed.
std::optional<int64_t> parse_rfc3339(std::string_view s);

}  // namespace secplat
