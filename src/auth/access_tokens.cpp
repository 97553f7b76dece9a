#include "auth/access_tokens.h"

#include "core/json.h"
#include "crypto/jwt.h"

namespace secplat::auth {

std::string AccessTokens::issue(const User& user) const {
  int64_t now_s = clock_.now_ms() / 1000;
  Json claims{{"sub", user.username}, {"role", role_to_string(user.role)}, {"uid", user.id},
              {"tv", user.token_version}, {"iat", now_s}, {"exp", now_s + ttl_s_}};
  return crypto::jwt_sign_hs256(claims, secret_);
}

Result<AccessClaims> AccessTokens::verify(std::string_view token) const {
  auto claims = crypto::jwt_verify_hs256(token, secret_, clock_.now_ms() / 1000);
  if (!claims.ok()) return std::move(claims).take_error();
  const Json& c = *claims;
  auto sub = c.find("sub");
  auto role = c.find("role");
  auto uid = c.find("uid");
  auto tv = c.find("tv");
  if (sub == c.end() || !sub->is_string() || role == c.end() || !role->is_string() || uid == c.end() ||
      !uid->is_number_integer() || tv == c.end() || !tv->is_number_integer() ||
      !role_from_string(role->get<std::string>())) {
    return Error::unauthorized("Invalid or expired token");
  }
  return AccessClaims{sub->get<std::string>(), role->get<std::string>(), uid->get<int64_t>(), tv->get<int64_t>()};
}

}  // namespace secplat::auth
