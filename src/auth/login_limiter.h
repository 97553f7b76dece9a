// Brute-force brake for password logins: a sliding window of failures per username and per
// client address. Once either key has `max_failures` failures within `window_s`, every attempt
// for it is refused, even with the correct password, until enough failures age out of the window.
// A successful login clears the username's failures (not the address's).
//
// State is in process memory (like the reference); a restart forgets it. Memory is bounded: keys
// whose failures have all aged out are dropped.
//
// Threading: all methods are thread-safe (one mutex).
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.h"

namespace secplat::auth {

class LoginLimiter {
 public:
  LoginLimiter(const Clock& clock, int max_failures, int window_s);

  // 0 if an attempt may proceed, else the seconds until it may (for Retry-After).
  int retry_after_s(std::string_view username, std::string_view client_ip);
  void record_failure(std::string_view username, std::string_view client_ip);
  void clear_user(std::string_view username);

 private:
  static std::string user_key(std::string_view username);
  static std::string ip_key(std::string_view client_ip);
  // Drops failures older than the window; returns seconds until `key` is allowed again (0 = now).
  int wait_s_locked(const std::string& key, int64_t now);
  void prune_locked(int64_t now);

  const Clock& clock_;
  const std::size_t max_failures_;
  const int64_t window_ms_;
  std::mutex mu_;
  std::unordered_map<std::string, std::deque<int64_t>> failures_;  // key → failure times, oldest first
  int64_t next_prune_ms_ = 0;
};

}  // namespace secplat::auth
