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
  const int64_t now_s = clock_.now_ms() / 1000;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = verified_.find(token); it != verified_.end()) {
      if (it->second.exp_s > now_s) return it->second.claims;
      verified_.erase(it);
      return Error::unauthorized("Invalid or expired token");
    }
  }
  int64_t exp_s = 0;
  auto claims = verify_uncached(token, now_s, exp_s);
  if (!claims.ok()) return claims;
  std::lock_guard<std::mutex> lock(mu_);
  if (verified_.size() >= kMaxRemembered) verified_.clear();
  verified_.insert_or_assign(std::string(token), Verified{*claims, exp_s});
  return claims;
}

std::size_t AccessTokens::remembered() const {
  std::lock_guard<std::mutex> lock(mu_);
  return verified_.size();
}

Result<AccessClaims> AccessTokens::verify_uncached(std::string_view token, int64_t now_s, int64_t& exp_s) const {
  auto claims = crypto::jwt_verify_hs256(token, secret_, now_s);
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
  exp_s = c.at("exp").get<int64_t>();  // jwt_verify_hs256 accepted it as integer seconds after now
  return AccessClaims{sub->get<std::string>(), role->get<std::string>(), uid->get<int64_t>(), tv->get<int64_t>()};
}

}  // namespace secplat::auth
