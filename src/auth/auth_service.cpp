#include "auth/auth_service.h"

namespace secplat::auth {
namespace {
Error invalid_token() { return Error::unauthorized("Invalid or expired token"); }
}  // namespace

Result<http::Principal> AuthService::authenticate(std::string_view bearer) {
  if (bearer.starts_with(ApiKeys::kPrefix)) {
    auto key = api_keys_.find_active(bearer);
    if (!key.ok()) return std::move(key).take_error();
    if (!*key) return invalid_token();
    return http::Principal{"apikey:" + (*key)->name, (*key)->role, "api_key", (*key)->id};
  }
  auto claims = tokens_.verify(bearer);
  if (!claims.ok()) return std::move(claims).take_error();
  auto user = users_.find_by_id_recent(claims->user_id, user_check_ms_);
  if (!user.ok()) return std::move(user).take_error();
  if (!*user) return invalid_token();
  const User& u = **user;
  if (u.disabled || u.username != claims->username || u.token_version != claims->token_version) {
    return invalid_token();
  }
  return http::Principal{u.username, u.role, "user", u.id};
}

}  // namespace secplat::auth
