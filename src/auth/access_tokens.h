// Short-lived access tokens: HS256 JWTs with claims sub (username), role, uid (users.id),
// tv (users.token_version), iat, exp. The role claim is informational; authorisation uses the
// user row (see AuthService).
//
// Threading: safe to share. A verified token is remembered (its exact bytes, under a lock) until
// its expiry, so a client's next request with it costs a lookup, not an HMAC and two JSON parses.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/user_repo.h"
#include "core/clock.h"
#include "core/error.h"

namespace secplat::auth {

struct AccessClaims {
  std::string username;
  std::string role;
  int64_t user_id = 0;
  int64_t token_version = 0;
};

class AccessTokens {
 public:
  AccessTokens(std::string secret, const Clock& clock, int ttl_minutes)
      : secret_(std::move(secret)), clock_(clock), ttl_s_(int64_t{ttl_minutes} * 60) {}

  std::string issue(const User& user) const;
  // Errc::unauthorized "Invalid or expired token" for a bad signature, expiry, or missing claims
  // (a token without a role is refused, never treated as admin).
  Result<AccessClaims> verify(std::string_view token) const;

  // Tokens remembered as verified (at most kMaxRemembered; the memo starts over when full).
  std::size_t remembered() const;
  static constexpr std::size_t kMaxRemembered = 4096;

 private:
  struct Verified {
    AccessClaims claims;
    int64_t exp_s = 0;
  };
  Result<AccessClaims> verify_uncached(std::string_view token, int64_t now_s, int64_t& exp_s) const;

  std::string secret_;
  const Clock& clock_;
  int64_t ttl_s_;
  mutable std::mutex mu_;
  struct TokenHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  // guarded by mu_; key: the token's bytes (looked up without a copy)
  mutable std::unordered_map<std::string, Verified, TokenHash, std::equal_to<>> verified_;
};

}  // namespace secplat::auth
