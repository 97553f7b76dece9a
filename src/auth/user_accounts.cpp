#include "auth/user_accounts.h"

#include "auth/workspace_grants.h"
#include "core/json.h"

namespace secplat::auth {
namespace {

constexpr std::size_t kMaxUsername = 64;
constexpr std::size_t kMinPassword = 8;
constexpr std::size_t kMaxPassword = 1024;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

Json user_details(const User& u) {
  return Json{{"username", u.username}, {"role", role_to_string(u.role)}, {"disabled", u.disabled}};
}

}  // namespace

Status UserAccounts::validate_username(std::string_view username) {
  if (trim(username).empty()) return Error::bad_request("username must not be blank");
  if (username.size() > kMaxUsername) return Error::bad_request("username must be at most 64 characters");
  for (char c : username) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '@' || c == '+' || c == '-';
    if (!ok) return Error::bad_request("username may contain only letters, digits and . _ @ + -");
  }
  return ok_status();
}

Status UserAccounts::validate_password(std::string_view password) {
  if (trim(password).size() < kMinPassword) return Error::bad_request("password must be at least 8 characters");
  if (password.size() > kMaxPassword) return Error::bad_request("password must be at most 1024 characters");
  return ok_status();
}

namespace {
constexpr const char* kNoServiceUsers =
    "the service role is for API keys of role processes (POST /auth/api-keys), not for users";
}  // namespace

Result<User> UserAccounts::create(const NewUser& req, const Actor& actor) {
  SECPLAT_TRY(validate_username(req.username));
  if (req.role == http::Role::service) return Error::bad_request(kNoServiceUsers);
  std::string hash;
  if (req.password) {
    SECPLAT_TRY(validate_password(*req.password));
    auto h = crypto::password_hash(*req.password, params_);
    if (!h.ok()) return std::move(h).take_error();
    hash = std::move(*h);
  }
  std::optional<User> created;
  SECPLAT_TRY(db_.transact([&](store::Tx& tx) -> Status {
    auto u = users_.create(tx, req.username, req.role, hash, req.disabled);
    if (!u.ok()) return std::move(u).take_error();
    created = std::move(*u);
    return audit_.append(tx, "user.create", actor.user_name, "", user_details(*created), actor.request_id);
  }));
  return std::move(*created);
}

Result<User> UserAccounts::change(std::string_view username, std::optional<http::Role> role,
                                  std::optional<bool> disabled, const char* action, const Actor& actor) {
  if (role == http::Role::service) return Error::bad_request(kNoServiceUsers);
  if (username == kBootstrapAdmin) {
    if (disabled && *disabled) return Error::bad_request("the admin user cannot be disabled");
    if (role && *role != http::Role::admin) return Error::bad_request("the admin user cannot be demoted");
  }
  std::optional<User> updated;
  SECPLAT_TRY(db_.transact([&](store::Tx& tx) -> Status {
    auto before = users_.find_by_name(tx, username);
    if (!before.ok()) return std::move(before).take_error();
    if (!*before) return Error::not_found("user not found");
    auto u = users_.update(tx, username, role, disabled);
    if (!u.ok()) return std::move(u).take_error();
    updated = std::move(*u);
    if (updated->token_version != (*before)->token_version) {
      SECPLAT_TRY(refresh_.revoke_user(tx, updated->id, action));
    }
    Json details = user_details(*updated);
    if (role) details["previous_role"] = role_to_string((*before)->role);
    return audit_.append(tx, action, actor.user_name, "", details, actor.request_id);
  }));
  users_.forget_recent();  // committed: the next request reads the new row
  return std::move(*updated);
}

Result<User> UserAccounts::update(std::string_view username, std::optional<http::Role> role,
                                  std::optional<bool> disabled, const Actor& actor) {
  if (!role && !disabled) return Error::bad_request("no user fields provided");
  return change(username, role, disabled, "user.update", actor);
}

Result<User> UserAccounts::disable(std::string_view username, const Actor& actor) {
  return change(username, std::nullopt, true, "user.disable", actor);
}

Result<User> UserAccounts::enable(std::string_view username, const Actor& actor) {
  return change(username, std::nullopt, false, "user.enable", actor);
}

Result<User> UserAccounts::reset_password(std::string_view username, std::string_view password, const Actor& actor) {
  SECPLAT_TRY(validate_password(password));
  auto hash = crypto::password_hash(password, params_);
  if (!hash.ok()) return std::move(hash).take_error();
  std::optional<User> updated;
  SECPLAT_TRY(db_.transact([&](store::Tx& tx) -> Status {
    auto u = users_.set_password(tx, username, *hash);
    if (!u.ok()) return std::move(u).take_error();
    updated = std::move(*u);
    SECPLAT_TRY(refresh_.revoke_user(tx, updated->id, "password_reset"));
    return audit_.append(tx, "user.reset_password", actor.user_name, "", Json{{"username", updated->username}},
                         actor.request_id);
  }));
  users_.forget_recent();
  return std::move(*updated);
}

Status UserAccounts::remove(std::string_view username, const Actor& actor) {
  if (username == kBootstrapAdmin) return Error::bad_request("the admin user cannot be deleted");
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    auto user = users_.find_by_name(tx, username);
    if (!user.ok()) return std::move(user).take_error();
    if (!*user) return Error::not_found("user not found");
    auto n = tx.exec("DELETE FROM refresh_tokens WHERE user_id = $1", {(*user)->id});
    if (!n.ok()) return std::move(n).take_error();
    SECPLAT_TRY(WorkspaceGrants::remove_all(tx, "user", (*user)->id));
    SECPLAT_TRY(users_.remove(tx, username));
    return audit_.append(tx, "user.delete", actor.user_name, "", Json{{"username", std::string(username)}},
                         actor.request_id);
  });
  users_.forget_recent();
  return st;
}

}  // namespace secplat::auth
