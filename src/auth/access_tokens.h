// Short-lived access tokens: HS256 JWTs with claims sub (username), role, uid (users.id),
// tv (users.token_version), iat, exp. The role claim is informational; authorisation uses the
// user row (see AuthService).
//
// Threading: immutable after construction; safe to share.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

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

 private:
  std::string secret_;
  const Clock& clock_;
  int64_t ttl_s_;
};

}  // namespace secplat::auth
