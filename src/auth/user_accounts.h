// Administration of users, with the rules the routes must not bypass:
//   * usernames are 1..64 characters of [A-Za-z0-9._@+-]; passwords are at least 8 characters
//     (ignoring surrounding blanks) and at most 1024;
//   * the bootstrap `admin` user cannot be disabled, demoted or deleted (no lock-out);
//   * disabling, demoting, resetting a password or deleting ends the user's sessions at once
//     (token_version bump + refresh tokens revoked);
//   * each change and its audit event (user.create/update/disable/enable/reset_password/delete)
//     commit in one transaction.
//
// Threading: safe to share between threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "auth/audit_log.h"
#include "auth/refresh_tokens.h"
#include "auth/user_repo.h"
#include "crypto/password.h"

namespace secplat::auth {

inline constexpr std::string_view kBootstrapAdmin = "admin";

struct NewUser {
  std::string username;
  http::Role role = http::Role::viewer;
  std::optional<std::string> password;  // none = cannot log in until reset
  bool disabled = false;
};

class UserAccounts {
 public:
  UserAccounts(store::Db& db, UserRepo& users, RefreshTokens& refresh, AuditLog& audit,
               const crypto::Argon2Params& params = {})
      : db_(db), users_(users), refresh_(refresh), audit_(audit), params_(params) {}

  // Errc::bad_request for an invalid username or password, Errc::conflict "user already exists".
  Result<User> create(const NewUser& request, const Actor& actor);
  // Errc::bad_request "no user fields provided" when both are empty, or for the bootstrap admin;
  // Errc::not_found "user not found".
  Result<User> update(std::string_view username, std::optional<http::Role> role, std::optional<bool> disabled,
                      const Actor& actor);
  Result<User> disable(std::string_view username, const Actor& actor);
  Result<User> enable(std::string_view username, const Actor& actor);
  // Also re-enables the user.
  Result<User> reset_password(std::string_view username, std::string_view password, const Actor& actor);
  Status remove(std::string_view username, const Actor& actor);

  static Status validate_username(std::string_view username);
  static Status validate_password(std::string_view password);

 private:
  Result<User> change(std::string_view username, std::optional<http::Role> role, std::optional<bool> disabled,
                      const char* action, const Actor& actor);

  store::Db& db_;
  UserRepo& users_;
  RefreshTokens& refresh_;
  AuditLog& audit_;
  crypto::Argon2Params params_;
};

}  // namespace secplat::auth
