// JSON Web Tokens signed with HMAC-SHA256 (RFC 7519 / RFC 7515, compact form), for access tokens.
// Only "HS256" is accepted when verifying: a header naming any other algorithm ("none",
// "RS256", "hs256", ...) is rejected, so an attacker cannot pick the algorithm.
// Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "core/error.h"

namespace secplat::crypto {

// Header {"alg":"HS256","typ":"JWT"}; claims must be a JSON object. Keys are serialised in sorted
// order, so equal claims give equal tokens.
std::string jwt_sign_hs256(const nlohmann::json& claims, std::string_view key);

// Returns the claims of a well-formed token whose signature matches `key`, whose `exp` (required,
// integer seconds) is after `now_s`, and whose `nbf`/`iat`, when present, are integers not in the
// future (60 s of clock skew allowed). Every failure is the same Errc::unauthorized
// "Invalid or expired token", so a client learns nothing about which check failed.
Result<nlohmann::json> jwt_verify_hs256(std::string_view token, std::string_view key, int64_t now_s);

}  // namespace secplat::crypto
