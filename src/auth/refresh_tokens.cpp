#include "auth/refresh_tokens.h"

#include <optional>

#include "core/encoding.h"
#include "core/ids.h"

namespace secplat::auth {
namespace {

constexpr std::size_t kMaxUserAgent = 512;
constexpr std::size_t kTokenBytes = 48;

std::string new_raw_token() { return random_token(kTokenBytes); }

Status insert(store::Tx& tx, const std::string& raw, const std::string& family, int64_t user_id, int64_t now,
              int64_t expires, const ClientInfo& client) {
  std::string ua = client.user_agent.substr(0, kMaxUserAgent);
  // Never cut a UTF-8 sequence in half: drop trailing continuation/lead bytes until valid.
  while (!ua.empty() && !is_valid_utf8(ua)) ua.pop_back();
  auto n = tx.exec(
      "INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at, expires_at, client_ip, user_agent) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7)",
      {sha256_hex(raw), family, user_id, now, expires, client.ip, ua});
  if (!n.ok()) return std::move(n).take_error();
  return ok_status();
}

Status revoke_family_tx(store::Tx& tx, const std::string& family, int64_t now, std::string_view reason) {
  auto n = tx.exec("UPDATE refresh_tokens SET revoked_at = $1, revoked_reason = $2 "
                   "WHERE family_id = $3 AND revoked_at IS NULL",
                   {now, std::string(reason), family});
  if (!n.ok()) return std::move(n).take_error();
  return ok_status();
}

}  // namespace

Result<std::string> RefreshTokens::issue(int64_t user_id, const ClientInfo& client) {
  std::string raw = new_raw_token();
  int64_t now = clock_.now_ms();
  SECPLAT_TRY(db_.transact(
      [&](store::Tx& tx) { return insert(tx, raw, new_uuid(), user_id, now, now + ttl_ms_, client); }));
  return raw;
}

Result<Rotation> RefreshTokens::rotate(std::string_view raw_token, const ClientInfo& client,
                                       std::string& failure_reason) {
  failure_reason.clear();
  std::string hash = sha256_hex(raw_token);
  std::string successor = new_raw_token();
  int64_t now = clock_.now_ms();
  Rotation out;
  // Failures that must still commit (revocations) set failure_reason and return ok.
  SECPLAT_TRY(db_.transact([&](store::Tx& tx) -> Status {
    auto rows = tx.query("SELECT family_id, user_id, expires_at, revoked_at FROM refresh_tokens WHERE token_hash = $1",
                         {hash});
    if (!rows.ok()) return std::move(rows).take_error();
    if (rows->empty()) {
      failure_reason = "unknown";
      return ok_status();
    }
    const store::Row& t = rows->front();
    std::string family = t.str("family_id");
    int64_t user_id = t.i64("user_id");
    if (!t.is_null("revoked_at")) {
      failure_reason = "replayed";
      return revoke_family_tx(tx, family, now, "replayed");
    }
    if (t.i64("expires_at") <= now) {
      failure_reason = "expired";
      return revoke_family_tx(tx, family, now, "expired");
    }
    auto user = tx.query("SELECT disabled FROM users WHERE id = $1", {user_id});
    if (!user.ok()) return std::move(user).take_error();
    if (user->empty() || user->front().i64("disabled") != 0) {
      failure_reason = "user_inactive";
      return revoke_family_tx(tx, family, now, "user_inactive");
    }
    SECPLAT_TRY(insert(tx, successor, family, user_id, now, now + ttl_ms_, client));
    auto n = tx.exec("UPDATE refresh_tokens SET revoked_at = $1, revoked_reason = 'rotated', replaced_by_hash = $2 "
                     "WHERE token_hash = $3 AND revoked_at IS NULL",
                     {now, sha256_hex(successor), hash});
    if (!n.ok()) return std::move(n).take_error();
    out = {user_id, successor};
    return ok_status();
  }));
  if (failure_reason == "expired") return Error::unauthorized("Refresh token expired");
  if (!failure_reason.empty()) return Error::unauthorized("Invalid refresh token");
  return out;
}

Status RefreshTokens::revoke_family(std::string_view raw_token, std::string_view reason) {
  std::string hash = sha256_hex(raw_token);
  int64_t now = clock_.now_ms();
  return db_.transact([&](store::Tx& tx) -> Status {
    auto rows = tx.query("SELECT family_id FROM refresh_tokens WHERE token_hash = $1", {hash});
    if (!rows.ok()) return std::move(rows).take_error();
    if (rows->empty()) return ok_status();
    return revoke_family_tx(tx, rows->front().str("family_id"), now, reason);
  });
}

Status RefreshTokens::revoke_user(store::Tx& tx, int64_t user_id, std::string_view reason) {
  auto n = tx.exec("UPDATE refresh_tokens SET revoked_at = $1, revoked_reason = $2 "
                   "WHERE user_id = $3 AND revoked_at IS NULL",
                   {clock_.now_ms(), std::string(reason), user_id});
  if (!n.ok()) return std::move(n).take_error();
  return ok_status();
}

}  // namespace secplat::auth
