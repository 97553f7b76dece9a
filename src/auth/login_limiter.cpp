#include "auth/login_limiter.h"

#include <algorithm>
#include <cctype>

namespace secplat::auth {

LoginLimiter::LoginLimiter(const Clock& clock, int max_failures, int window_s)
    : clock_(clock),
      max_failures_(static_cast<std::size_t>(std::max(1, max_failures))),
      window_ms_(int64_t{std::max(1, window_s)} * 1000) {}

std::string LoginLimiter::user_key(std::string_view username) {
  std::string k = "user:";
  for (char c : username) k.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return k;
}

std::string LoginLimiter::ip_key(std::string_view client_ip) { return "ip:" + std::string(client_ip); }

int LoginLimiter::wait_s_locked(const std::string& key, int64_t now) {
  auto it = failures_.find(key);
  if (it == failures_.end()) return 0;
  auto& times = it->second;
  while (!times.empty() && times.front() <= now - window_ms_) times.pop_front();
  if (times.size() < max_failures_) return 0;
  // Allowed again once enough failures leave the window that fewer than max remain.
  int64_t frees_at = times[times.size() - max_failures_] + window_ms_;
  return static_cast<int>(std::max<int64_t>(1, (frees_at - now + 999) / 1000));
}

int LoginLimiter::retry_after_s(std::string_view username, std::string_view client_ip) {
  std::lock_guard lock(mu_);
  int64_t now = clock_.now_ms();
  return std::max(wait_s_locked(user_key(username), now), wait_s_locked(ip_key(client_ip), now));
}

void LoginLimiter::record_failure(std::string_view username, std::string_view client_ip) {
  std::lock_guard lock(mu_);
  int64_t now = clock_.now_ms();
  prune_locked(now);
  for (const std::string& key : {user_key(username), ip_key(client_ip)}) {
    auto& times = failures_[key];
    times.push_back(now);
    // Only the newest max_failures matter for the decision.
    while (times.size() > max_failures_) times.pop_front();
  }
}

void LoginLimiter::clear_user(std::string_view username) {
  std::lock_guard lock(mu_);
  failures_.erase(user_key(username));
}

void LoginLimiter::prune_locked(int64_t now) {
  if (now < next_prune_ms_) return;
  next_prune_ms_ = now + window_ms_;
  std::erase_if(failures_, [&](const auto& kv) { return kv.second.empty() || kv.second.back() <= now - window_ms_; });
}

}  // namespace secplat::auth
