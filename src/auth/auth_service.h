// The platform's http::Authenticator: turns a bearer credential into a Principal.
//   * `spk_...` → an API key that is not revoked; role from the key (the key's row as read at most
//     user_check_ms ago: a revoke through this process applies at once, one by another replica
//     within that age).
//   * anything else → an access token (JWT). The user row is checked on every request (one
//     primary-key SELECT, or the row as read at most user_check_ms ago): a deleted or disabled
//     user, or a token whose version is older than the row's (password reset, disable, demotion),
//     is refused, and the role comes from the row, never from the token.
//
// Threading: safe to call from many threads at once; authenticate_cached() never blocks.
#pragma once

#include <optional>
#include <string_view>

#include "auth/access_tokens.h"
#include "auth/api_keys.h"
#include "auth/user_repo.h"
#include "http/route.h"

namespace secplat::auth {

class AuthService final : public http::Authenticator {
 public:
  // user_check_ms: how old the user row behind a token may be (UserRepo::find_by_id_recent);
  // 0 reads it on every request.
  AuthService(const AccessTokens& tokens, UserRepo& users, ApiKeys& api_keys, int64_t user_check_ms = 0)
      : tokens_(tokens), users_(users), api_keys_(api_keys), user_check_ms_(user_check_ms) {}

  // Errc::unauthorized "Invalid or expired token" for any unacceptable credential; store failures
  // pass through (e.g. Errc::unavailable), so an outage is not reported as a bad token.
  Result<http::Principal> authenticate(std::string_view bearer) override;
  // Access tokens whose user row and API keys whose row were read within user_check_ms (the same
  // answer authenticate() would give, from memory); nullopt for those not checked recently.
  std::optional<Result<http::Principal>> authenticate_cached(std::string_view bearer) override;

 private:
  static Result<http::Principal> principal_of(const AccessClaims& claims, const User& u);
  const AccessTokens& tokens_;
  UserRepo& users_;
  ApiKeys& api_keys_;
  int64_t user_check_ms_;
};

}  // namespace secplat::auth
