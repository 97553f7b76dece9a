#include "auth/api_keys.h"

#include "auth/user_repo.h"
#include "core/encoding.h"
#include "core/ids.h"
#include "core/json.h"

namespace secplat::auth {
namespace {

constexpr const char* kColumns = "id, name, prefix, role, created_by, created_at, last_used_at, revoked_at";
constexpr std::size_t kDisplayPrefixChars = 12;  // "spk_" + 8 random characters
constexpr int64_t kTouchIntervalMs = 60'000;

ApiKey from_row(const store::Row& r) {
  return {r.i64("id"),
          r.str("name"),
          r.str("prefix"),
          role_from_string(r.str("role")).value_or(http::Role::viewer),
          r.str("created_by"),
          r.i64("created_at"),
          r.opt_i64("last_used_at"),
          r.opt_i64("revoked_at")};
}

}  // namespace

Result<CreatedApiKey> ApiKeys::create(const std::string& name, http::Role role, const Actor& actor) {
  CreatedApiKey out;
  out.raw_key = std::string(kPrefix) + random_token(32);
  SECPLAT_TRY(db_.transact([&](store::Tx& tx) -> Status {
    auto rows = tx.query(std::string("INSERT INTO api_keys (name, key_hash, prefix, role, created_by, created_at) "
                                     "VALUES ($1, $2, $3, $4, $5, $6) RETURNING ") +
                             kColumns,
                         {name, sha256_hex(out.raw_key), out.raw_key.substr(0, kDisplayPrefixChars),
                          std::string(role_to_string(role)), actor.user_name, clock_.now_ms()});
    if (!rows.ok()) {
      if (rows.error().code == Errc::conflict) return Error::conflict("api key name already exists");
      return std::move(rows).take_error();
    }
    if (rows->empty()) return Error::internal("insert returned no row");
    out.key = from_row(rows->front());
    return audit_.append(tx, "apikey.create", actor.user_name, "",
                         Json{{"api_key_id", out.key.id}, {"name", name}, {"role", role_to_string(role)}},
                         actor.request_id);
  }));
  return out;
}

Result<std::vector<ApiKey>> ApiKeys::list() {
  auto rows = db_.query(std::string("SELECT ") + kColumns + " FROM api_keys ORDER BY id");
  if (!rows.ok()) return std::move(rows).take_error();
  std::vector<ApiKey> out;
  for (const auto& r : *rows) out.push_back(from_row(r));
  return out;
}

Result<ApiKey> ApiKeys::revoke(int64_t id, const Actor& actor) {
  std::optional<ApiKey> revoked;
  // Before and after the commit: no check in between or after answers from memory with the key.
  forget_recent();
  struct ForgetAfter {
    ApiKeys* keys;
    ~ForgetAfter() { keys->forget_recent(); }
  } forget_after{this};
  SECPLAT_TRY(db_.transact([&](store::Tx& tx) -> Status {
    auto n = tx.exec("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", {clock_.now_ms(), id});
    if (!n.ok()) return std::move(n).take_error();
    auto rows = tx.query(std::string("SELECT ") + kColumns + " FROM api_keys WHERE id = $1", {id});
    if (!rows.ok()) return std::move(rows).take_error();
    if (rows->empty()) return Error::not_found("api key not found");
    revoked = from_row(rows->front());
    return audit_.append(tx, "apikey.revoke", actor.user_name, "", Json{{"api_key_id", id}, {"name", revoked->name}},
                         actor.request_id);
  }));
  return std::move(*revoked);
}

Result<std::optional<ApiKey>> ApiKeys::find_active(std::string_view raw_key) {
  if (!raw_key.starts_with(kPrefix) || raw_key.size() > 256) return std::optional<ApiKey>{};
  auto rows = db_.query(std::string("SELECT ") + kColumns + " FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
                        {sha256_hex(raw_key)});
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return std::optional<ApiKey>{};
  ApiKey key = from_row(rows->front());
  int64_t now = clock_.now_ms();
  if (!key.last_used_at_ms || now - *key.last_used_at_ms >= kTouchIntervalMs) {
    // Best effort: a failed bookkeeping write must not reject a valid key.
    auto n = db_.exec("UPDATE api_keys SET last_used_at = $1 WHERE id = $2", {now, key.id});
    if (n.ok()) key.last_used_at_ms = now;
  }
  return std::optional<ApiKey>{std::move(key)};
}

Result<std::optional<ApiKey>> ApiKeys::find_active_recent(std::string_view raw_key, int64_t max_age_ms) {
  if (max_age_ms <= 0) return find_active(raw_key);
  if (auto known = recent_only(raw_key, max_age_ms)) return std::optional<ApiKey>(std::move(*known));
  uint64_t generation = 0;
  {
    std::lock_guard lk(recent_mu_);
    generation = recent_generation_;
  }
  const int64_t read_at = steady_ms();
  auto key = find_active(raw_key);
  if (key.ok() && key->has_value()) {
    std::lock_guard lk(recent_mu_);
    // A revoke committed while we read makes this row suspect: do not remember it.
    if (recent_generation_ == generation) {
      if (recent_.size() >= 4096) recent_.clear();  // bounded; refilled on demand
      recent_[sha256_hex(raw_key)] = Recent{**key, read_at};
    }
  }
  return key;
}

std::optional<ApiKey> ApiKeys::recent_only(std::string_view raw_key, int64_t max_age_ms) {
  if (max_age_ms <= 0 || !raw_key.starts_with(kPrefix) || raw_key.size() > 256) return std::nullopt;
  const std::string hash = sha256_hex(raw_key);
  std::lock_guard lk(recent_mu_);
  if (auto it = recent_.find(hash); it != recent_.end() && steady_ms() - it->second.read_at_ms < max_age_ms)
    return it->second.key;
  return std::nullopt;
}

void ApiKeys::forget_recent() {
  std::lock_guard lk(recent_mu_);
  recent_.clear();
  ++recent_generation_;
}

}  // namespace secplat::auth
