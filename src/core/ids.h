// Identifiers: UUIDv4 for events and requests, URL-safe random tokens for secrets.
#pragma once

#include <string>
#include <string_view>

namespace secplat {

std::string new_uuid();                        // RFC 4122 v4, lower-case, from the CSPRNG
// A UUIDv4-shaped id for correlating requests: unique, not secret. Drawn from a per-thread
// generator seeded from the CSPRNG, so the hot path makes no OpenSSL call. Never use it for tokens.
std::string new_request_id();
std::string random_token(std::size_t bytes);   // base64url of `bytes` random bytes
std::string random_hex(std::size_t bytes);     // hex of `bytes` random bytes

// A caller-supplied X-Request-Id is kept only if it is 1..128 chars of [A-Za-z0-9._-].
bool is_sane_request_id(std::string_view id);

}  // namespace secplat
