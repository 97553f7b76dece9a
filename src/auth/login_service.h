// Password login and token refresh. Every attempt is audited (`login`, `token.refresh`) with its
// outcome and, on failure, a reason; passwords and tokens never reach the audit log.
//
// Login order: (1) the limiter — a tripped username or address is refused with 429 even for the
// right password; (2) Argon2id verification — for an unknown user or one without a password a
// dummy hash is verified instead, so response time does not reveal which usernames exist;
// (3) disabled users fail like a wrong password.
//
// Threading: safe to call from many worker threads at once.
#pragma once

#include <string>
#include <string_view>

#include "auth/access_tokens.h"
#include "auth/audit_log.h"
#include "auth/login_limiter.h"
#include "auth/refresh_tokens.h"
#include "auth/user_repo.h"
#include "crypto/password.h"

namespace secplat::auth {

struct TokenPair {
  std::string access_token;
  std::string refresh_token;
};

struct LoginContext {
  ClientInfo client;
  std::string request_id;
};

class LoginService {
 public:
  LoginService(UserRepo& users, RefreshTokens& refresh, LoginLimiter& limiter, const AccessTokens& tokens,
               AuditLog& audit, const crypto::Argon2Params& params = {});

  // Errc::unauthorized "Invalid username or password", or Errc::rate_limited
  // "Too many login attempts. Try again later." with retry_after_s.
  Result<TokenPair> login(std::string_view username, std::string_view password, const LoginContext& ctx);
  // See RefreshTokens::rotate for the errors.
  Result<TokenPair> refresh(std::string_view refresh_token, const LoginContext& ctx);
  // Revokes the token's family; unknown tokens are ignored.
  Status logout(std::string_view refresh_token, const Actor& actor);

 private:
  void audit(const char* action, std::string_view user, bool success, std::string_view reason,
             const LoginContext& ctx);

  UserRepo& users_;
  RefreshTokens& refresh_;
  LoginLimiter& limiter_;
  const AccessTokens& tokens_;
  AuditLog& audit_;
  std::string dummy_hash_;  // same parameters as real hashes, so a miss costs the same time
};

}  // namespace secplat::auth
