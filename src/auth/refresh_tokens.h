// Opaque refresh tokens with rotation and replay detection (table `refresh_tokens`).
// Each login starts a token *family*; every refresh revokes the presented token (reason
// "rotated") and issues its successor in the same family. Presenting a token that was already
// rotated or revoked means it was copied: the whole family is revoked, so neither the thief nor
// the victim can continue without logging in again. Only sha256 of a token is stored.
//
// Threading: safe to share between threads; rotation runs in one write transaction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "store/db.h"

namespace secplat::auth {

struct ClientInfo {
  std::string ip;
  std::string user_agent;  // truncated to 512 characters when stored
};

struct Rotation {
  int64_t user_id = 0;
  std::string refresh_token;  // the successor, raw
};

class RefreshTokens {
 public:
  RefreshTokens(store::Db& db, const Clock& clock, int64_t ttl_ms) : db_(db), clock_(clock), ttl_ms_(ttl_ms) {}

  // A new raw token starting a new family.
  Result<std::string> issue(int64_t user_id, const ClientInfo& client);

  // Exchanges a valid token for its successor. Failures are Errc::unauthorized: "Invalid refresh
  // token" (unknown, replayed, user gone or disabled) or "Refresh token expired". `failure_reason`
  // receives an audit reason: unknown | replayed | expired | user_inactive.
  Result<Rotation> rotate(std::string_view raw_token, const ClientInfo& client, std::string& failure_reason);

  // Revokes the family the token belongs to (logout). Unknown tokens are ignored.
  Status revoke_family(std::string_view raw_token, std::string_view reason);
  // Revokes every live token of a user (disable, password reset, delete).
  Status revoke_user(store::Tx& tx, int64_t user_id, std::string_view reason);

 private:
  store::Db& db_;
  const Clock& clock_;
  int64_t ttl_ms_;
};

}  // namespace secplat::auth
