#include "queue/delivery.h"

#include <algorithm>
#include <string_view>

#include "core/clock.h"
#include "core/encoding.h"

namespace secplat::queue {

Status check_name(const std::string& what, const std::string& name) {
  if (name.empty() || name.size() > 256 || !is_valid_utf8(name)) {
    return Error::bad_request(what + " name must be 1..256 bytes of UTF-8");
  }
  return ok_status();
}

Status check_fields(const Fields& fields) {
  for (const auto& [k, v] : fields) {
    if (!is_valid_utf8(k) || !is_valid_utf8(v)) return Error::bad_request("message fields must be valid UTF-8");
  }
  return ok_status();
}

bool is_dlq_stream(const std::string& stream) {
  constexpr std::string_view kSuffix = ".dlq";
  return stream.size() > kSuffix.size() && stream.compare(stream.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

int64_t Backoff::delay_ms(int attempts) {
  int64_t d = std::max<int64_t>(policy_.backoff_base_ms, 0);
  for (int i = 1; i < attempts && d < policy_.backoff_max_ms; ++i) d *= 2;
  d = std::min(d, policy_.backoff_max_ms);
  const int64_t half = d / 2;
  std::lock_guard lock(mu_);
  return half + std::uniform_int_distribution<int64_t>(0, d - half)(rng_);
}

Fields dead_letter_fields(const Message& msg, const std::string& error, bool retryable, int attempts,
                          int64_t now_ms) {
  Fields fields = msg.fields;
  fields["original_stream"] = msg.stream;
  fields["original_id"] = msg.id;
  fields["error"] = error;
  fields["retryable"] = retryable ? "true" : "false";
  fields["attempts"] = std::to_string(attempts);
  fields["failed_at"] = format_rfc3339(now_ms);
  return fields;
}

}  // namespace secplat::queue
