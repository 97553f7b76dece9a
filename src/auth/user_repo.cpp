#include "auth/user_repo.h"

#include <chrono>

namespace secplat::auth {
namespace {

constexpr const char* kColumns =
    "id, username, role, password_hash, disabled, token_version, created_at, updated_at";

User from_row(const store::Row& r) {
  User u;
  u.id = r.i64("id");
  u.username = r.str("username");
  u.role = role_from_string(r.str("role")).value_or(http::Role::viewer);
  u.password_hash = r.str("password_hash");
  u.disabled = r.i64("disabled") != 0;
  u.token_version = r.i64("token_version");
  u.created_at_ms = r.i64("created_at");
  u.updated_at_ms = r.i64("updated_at");
  return u;
}

Result<std::optional<User>> first_user(Result<store::Rows> rows) {
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return std::optional<User>{};
  return std::optional<User>{from_row(rows->front())};
}

std::string select_where(const char* condition) {
  return std::string("SELECT ") + kColumns + " FROM users WHERE " + condition;
}

Error user_not_found() { return Error::not_found("user not found"); }

}  // namespace

const char* role_to_string(http::Role role) {
  switch (role) {
    case http::Role::viewer: return "viewer";
    case http::Role::analyst: return "analyst";
    case http::Role::admin: return "admin";
    case http::Role::service: return "service";
  }
  return "viewer";
}

std::optional<http::Role> role_from_string(std::string_view s) {
  if (s == "viewer") return http::Role::viewer;
  if (s == "analyst") return http::Role::analyst;
  if (s == "admin") return http::Role::admin;
  if (s == "service") return http::Role::service;
  return std::nullopt;
}

Result<User> UserRepo::create(store::Tx& tx, const std::string& username, http::Role role,
                              const std::string& password_hash, bool disabled) {
  int64_t now = clock_.now_ms();
  auto rows = tx.query(std::string("INSERT INTO users (username, role, password_hash, disabled, created_at, updated_at, "
                                   "token_version) VALUES ($1, $2, $3, $4, $5, $5, 0) RETURNING ") +
                           kColumns,
                       {username, std::string(role_to_string(role)),
                        password_hash.empty() ? store::null() : store::Value(password_hash), int64_t{disabled}, now});
  if (!rows.ok()) {
    if (rows.error().code == Errc::conflict) return Error::conflict("user already exists");
    return std::move(rows).take_error();
  }
  if (rows->empty()) return Error::internal("insert returned no row");
  return from_row(rows->front());
}

Result<User> UserRepo::create(const std::string& username, http::Role role, const std::string& password_hash,
                              bool disabled) {
  std::optional<User> created;
  SECPLAT_TRY(db_.transact([&](store::Tx& tx) -> Status {
    auto u = create(tx, username, role, password_hash, disabled);
    if (!u.ok()) return std::move(u).take_error();
    created = std::move(*u);
    return ok_status();
  }));
  return std::move(*created);
}

Result<std::optional<User>> UserRepo::find_by_name(std::string_view username) {
  return first_user(db_.query(select_where("username = $1"), {std::string(username)}));
}

Result<std::optional<User>> UserRepo::find_by_name(store::Tx& tx, std::string_view username) {
  return first_user(tx.query(select_where("username = $1"), {std::string(username)}));
}

Result<std::optional<User>> UserRepo::find_by_id(int64_t id) {
  return first_user(db_.query(select_where("id = $1"), {id}));
}

namespace {
int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Result<std::optional<User>> UserRepo::find_by_id_recent(int64_t id, int64_t max_age_ms) {
  if (max_age_ms <= 0) return find_by_id(id);
  uint64_t generation = 0;
  {
    std::lock_guard lk(recent_mu_);
    if (auto it = recent_.find(id); it != recent_.end() && steady_now_ms() - it->second.read_at_ms < max_age_ms)
      return std::optional<User>(it->second.user);
    generation = recent_generation_;
  }
  const int64_t read_at = steady_now_ms();
  auto user = find_by_id(id);
  if (user.ok() && user->has_value()) {
    std::lock_guard lk(recent_mu_);
    // A change committed while we read makes this row suspect: do not remember it.
    if (recent_generation_ == generation) {
      if (recent_.size() >= 4096) recent_.clear();  // bounded; refilled on demand
      recent_[id] = Recent{**user, read_at};
    }
  }
  return user;
}

std::optional<User> UserRepo::recent_only(int64_t id, int64_t max_age_ms) {
  if (max_age_ms <= 0) return std::nullopt;
  std::lock_guard lk(recent_mu_);
  if (auto it = recent_.find(id); it != recent_.end() && steady_now_ms() - it->second.read_at_ms < max_age_ms)
    return it->second.user;
  return std::nullopt;
}

void UserRepo::forget_recent() {
  std::lock_guard lk(recent_mu_);
  recent_.clear();
  ++recent_generation_;
}

Result<std::vector<User>> UserRepo::list() {
  auto rows = db_.query(std::string("SELECT ") + kColumns + " FROM users ORDER BY username");
  if (!rows.ok()) return std::move(rows).take_error();
  std::vector<User> out;
  out.reserve(rows->size());
  for (const auto& r : *rows) out.push_back(from_row(r));
  return out;
}

Result<User> UserRepo::update(store::Tx& tx, std::string_view username, std::optional<http::Role> role,
                              std::optional<bool> disabled) {
  forget_recent();
  auto cur = find_by_name(tx, username);
  if (!cur.ok()) return std::move(cur).take_error();
  if (!*cur) return user_not_found();
  User u = std::move(**cur);
  bool lowered = role && *role < u.role;
  bool disabling = disabled && *disabled && !u.disabled;
  if (role) u.role = *role;
  if (disabled) u.disabled = *disabled;
  if (lowered || disabling) ++u.token_version;
  u.updated_at_ms = clock_.now_ms();
  auto n = tx.exec("UPDATE users SET role = $1, disabled = $2, token_version = $3, updated_at = $4 WHERE id = $5",
                   {std::string(role_to_string(u.role)), int64_t{u.disabled}, u.token_version, u.updated_at_ms, u.id});
  if (!n.ok()) return std::move(n).take_error();
  return u;
}

Result<User> UserRepo::set_password(store::Tx& tx, std::string_view username, const std::string& password_hash) {
  forget_recent();
  auto rows = tx.query(std::string("UPDATE users SET password_hash = $1, disabled = 0, token_version = token_version + 1, "
                                   "updated_at = $2 WHERE username = $3 RETURNING ") +
                           kColumns,
                       {password_hash, clock_.now_ms(), std::string(username)});
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return user_not_found();
  return from_row(rows->front());
}

Status UserRepo::remove(store::Tx& tx, std::string_view username) {
  forget_recent();
  auto n = tx.exec("DELETE FROM users WHERE username = $1", {std::string(username)});
  if (!n.ok()) return std::move(n).take_error();
  if (*n == 0) return user_not_found();
  return ok_status();
}

}  // namespace secplat::auth
