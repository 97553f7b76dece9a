// First-start setup of the auth module: the JWT signing secret and the `admin` user.
#pragma once

#include <optional>
#include <string>

#include "auth/audit_log.h"
#include "auth/user_repo.h"
#include "crypto/password.h"

namespace secplat::auth {

// The HS256 secret: `configured` if set (at least 32 characters; the placeholder "change_me" is
// refused), else the contents of <data_dir>/jwt.key, else 48 fresh random bytes written there
// (mode 0600, created atomically so two processes starting together agree on one secret).
// Errc::bad_request naming auth.jwt_secret for a weak configured secret; Errc::internal for I/O.
Result<std::string> load_or_create_jwt_secret(const std::string& data_dir, const std::string& configured);

// Creates the `admin` user (role admin) if it does not exist, with `admin_password` or, if that
// is empty, a random 24-character password that is returned so the caller can print it once.
// Returns nullopt when admin already exists (its password is never re-applied) or when the
// configured password was used. Audits `user.create` with user "system".
Result<std::optional<std::string>> bootstrap_admin(UserRepo& users, AuditLog& audit,
                                                   const std::string& admin_password,
                                                   const crypto::Argon2Params& params = {});

}  // namespace secplat::auth
