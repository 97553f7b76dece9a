#include "auth/auth_service.h"

namespace secplat::auth {
namespace {
Error invalid_token() { return Error::unauthorized("Invalid or expired token"); }
}  // namespace

Result<http::Principal> AuthService::principal_of(const AccessClaims& claims, const User& u) {
  if (u.disabled || u.username != claims.username || u.token_version != claims.token_version) {
    return invalid_token();
  }
  return http::Principal{u.username, u.role, "user", u.id};
}

std::optional<Result<http::Principal>> AuthService::authenticate_cached(std::string_view bearer) {
  if (bearer.starts_with(ApiKeys::kPrefix)) {
    auto key = api_keys_.recent_only(bearer, user_check_ms_);
    if (!key) return std::nullopt;  // looked up in the store
    return Result<http::Principal>(http::Principal{"apikey:" + key->name, key->role, "api_key", key->id});
  }
  auto claims = tokens_.verify(bearer);
  if (!claims.ok()) return Result<http::Principal>(std::move(claims).take_error());
  auto user = users_.recent_only(claims->user_id, user_check_ms_);
  if (!user) return std::nullopt;
  return principal_of(*claims, *user);
}

Result<http::Principal> AuthService::authenticate(std::string_view bearer) {
  if (bearer.starts_with(ApiKeys::kPrefix)) {
    auto key = api_keys_.find_active_recent(bearer, user_check_ms_);
    if (!key.ok()) return std::move(key).take_error();
    if (!*key) return invalid_token();
    return http::Principal{"apikey:" + (*key)->name, (*key)->role, "api_key", (*key)->id};
  }
  auto claims = tokens_.verify(bearer);
  if (!claims.ok()) return std::move(claims).take_error();
  auto user = users_.find_by_id_recent(claims->user_id, user_check_ms_);
  if (!user.ok()) return std::move(user).take_error();
  if (!*user) return invalid_token();
  return principal_of(*claims, **user);
}

}  // namespace secplat::auth
