#include "auth/login_service.h"

#include "core/ids.h"
#include "core/json.h"
#include "core/log.h"

namespace secplat::auth {

LoginService::LoginService(UserRepo& users, RefreshTokens& refresh, LoginLimiter& limiter,
                           const AccessTokens& tokens, AuditLog& audit, const crypto::Argon2Params& params)
    : users_(users), refresh_(refresh), limiter_(limiter), tokens_(tokens), audit_(audit) {
  auto h = crypto::password_hash(random_token(24), params);
  if (h.ok()) dummy_hash_ = std::move(*h);
}

void LoginService::audit(const char* action, std::string_view user, bool success, std::string_view reason,
                         const LoginContext& ctx) {
  Json details{{"success", success}, {"client_ip", ctx.client.ip}};
  if (std::string_view(action) == "login") details["method"] = "password";
  if (!reason.empty()) details["reason"] = reason;
  // An audit failure must not change the login outcome; it is logged instead.
  auto st = audit_.append(action, user, "", details, ctx.request_id);
  if (!st.ok()) log::warn("audit append failed", {log::str("action", action), log::str("request_id", ctx.request_id)});
}

Result<TokenPair> LoginService::login(std::string_view username, std::string_view password,
                                      const LoginContext& ctx) {
  if (int wait = limiter_.retry_after_s(username, ctx.client.ip); wait > 0) {
    audit("login", username, false, "rate_limited", ctx);
    return Error::rate_limited("Too many login attempts. Try again later.", wait);
  }
  auto found = users_.find_by_name(username);
  if (!found.ok()) return std::move(found).take_error();
  const std::optional<User>& user = *found;
  bool password_ok = false;
  if (user && user->password_configured()) {
    password_ok = crypto::password_verify(user->password_hash, password);
  } else {
    (void)crypto::password_verify(dummy_hash_, password);
  }
  if (!password_ok || user->disabled) {
    limiter_.record_failure(username, ctx.client.ip);
    audit("login", username, false, password_ok ? "disabled" : "invalid", ctx);
    return Error::unauthorized("Invalid username or password");
  }
  limiter_.clear_user(username);
  auto refresh = refresh_.issue(user->id, ctx.client);
  if (!refresh.ok()) return std::move(refresh).take_error();
  audit("login", user->username, true, "", ctx);
  return TokenPair{tokens_.issue(*user), std::move(*refresh)};
}

Result<TokenPair> LoginService::refresh(std::string_view refresh_token, const LoginContext& ctx) {
  std::string reason;
  auto rotated = refresh_.rotate(refresh_token, ctx.client, reason);
  if (!rotated.ok()) {
    if (!reason.empty()) audit("token.refresh", "", false, reason, ctx);
    return std::move(rotated).take_error();
  }
  auto user = users_.find_by_id(rotated->user_id);
  if (!user.ok()) return std::move(user).take_error();
  if (!*user || (*user)->disabled) {
    // Disabled between rotation and now: the new refresh token is useless (rotate checks again).
    audit("token.refresh", "", false, "user_inactive", ctx);
    return Error::unauthorized("Invalid refresh token");
  }
  audit("token.refresh", (*user)->username, true, "", ctx);
  return TokenPair{tokens_.issue(**user), std::move(rotated->refresh_token)};
}

Status LoginService::logout(std::string_view refresh_token, const Actor& actor) {
  SECPLAT_TRY(refresh_.revoke_family(refresh_token, "logout"));
  return audit_.append("logout", actor.user_name, "", Json::object(), actor.request_id);
}

}  // namespace secplat::auth
