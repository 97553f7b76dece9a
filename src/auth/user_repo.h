// Users of the platform (table `users`). A user's role and `disabled` flag are checked against this
// table on every request (through a memory of at most `max_age_ms`, see find_by_id_recent), and
// `token_version` is part of every access token: bumping it makes all outstanding access tokens of
// that user invalid at once.
//
// Threading: safe to share between threads (state lives in the Db, plus the small memory of
// recently checked users under its own mutex).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "http/route.h"
#include "store/db.h"

namespace secplat::auth {

const char* role_to_string(http::Role role);
std::optional<http::Role> role_from_string(std::string_view s);

struct User {
  int64_t id = 0;
  std::string username;
  http::Role role = http::Role::viewer;
  std::string password_hash;  // Argon2id PHC string; "" = no password (cannot log in)
  bool disabled = false;
  int64_t token_version = 0;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;

  bool password_configured() const { return !password_hash.empty(); }
};

class UserRepo {
 public:
  UserRepo(store::Db& db, const Clock& clock) : db_(db), clock_(clock) {}

  // Errc::conflict "user already exists" if the name is taken.
  Result<User> create(store::Tx& tx, const std::string& username, http::Role role, const std::string& password_hash,
                      bool disabled);
  Result<User> create(const std::string& username, http::Role role, const std::string& password_hash, bool disabled);

  Result<std::optional<User>> find_by_name(std::string_view username);
  Result<std::optional<User>> find_by_id(int64_t id);  // primary-key lookup
  // The per-request check: the row as read at most max_age_ms ago (0 = read it now). Every change
  // made through this repo forgets what was remembered, at once in this process; a change made by
  // another process (another API replica) is seen within max_age_ms. Unknown ids are not remembered.
  Result<std::optional<User>> find_by_id_recent(int64_t id, int64_t max_age_ms);
  // Only what find_by_id_recent remembers (read at most max_age_ms ago); nullopt means "ask it".
  // Never touches the store.
  std::optional<User> recent_only(int64_t id, int64_t max_age_ms);
  // Forgets every remembered row; callers that changed users in a transaction call it once that
  // transaction committed (the mutators below also call it, before the commit).
  void forget_recent();
  Result<std::optional<User>> find_by_name(store::Tx& tx, std::string_view username);
  Result<std::vector<User>> list();  // ordered by username

  // Applies the given changes and bumps token_version if the role is lowered or the user becomes
  // disabled. Errc::not_found "user not found".
  Result<User> update(store::Tx& tx, std::string_view username, std::optional<http::Role> role,
                      std::optional<bool> disabled);
  // Sets the password, re-enables the user and bumps token_version.
  Result<User> set_password(store::Tx& tx, std::string_view username, const std::string& password_hash);
  // Errc::not_found "user not found".
  Status remove(store::Tx& tx, std::string_view username);

 private:
  store::Db& db_;
  const Clock& clock_;
  struct Recent {
    User user;
    int64_t read_at_ms = 0;  // steady clock
  };
  std::mutex recent_mu_;
  std::unordered_map<int64_t, Recent> recent_;  // guarded by recent_mu_
  uint64_t recent_generation_ = 0;              // guarded by recent_mu_; bumped by forget_recent()
};

}  // namespace secplat::auth
