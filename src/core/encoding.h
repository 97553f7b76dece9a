// Byte encodings and digests (OpenSSL-backed). All functions are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace secplat {

std::string hex_encode(std::string_view bytes);
std::optional<std::string> hex_decode(std::string_view hex);
std::string base64_encode(std::string_view bytes);  // standard alphabet, padded
std::optional<std::string> base64_decode(std::string_view b64);
std::string base64url_encode(std::string_view bytes);  // URL alphabet, unpadded (JWT)
std::optional<std::string> base64url_decode(std::string_view b64);

std::string sha256(std::string_view data);  // raw 32 bytes
std::string sha256_hex(std::string_view data);
std::string sha1_hex(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw 32 bytes

// Cryptographically secure random bytes (RAND_bytes); aborts if the CSPRNG fails.
std::string random_bytes(std::size_t n);

// Constant-time equality for secrets (tokens, MACs).
bool constant_time_equal(std::string_view a, std::string_view b);

// Appends the UTF-8 encoding of code point `cp`; false (nothing appended) above U+10FFFF.
bool append_utf8(std::string& out, unsigned long cp);

// True if `s` is well-formed UTF-8 (no overlongs, no surrogates).
bool is_valid_utf8(std::string_view s);

// A relative, '/'-separated path that stays inside its root: not empty, at most 4096 bytes, no
// leading '/', no empty, "." or ".." segment, no '\\' or NUL (bundle files, object keys).
bool is_clean_relative_path(std::string_view p);

// 64 lower-case hex digits.
bool is_sha256_hex(std::string_view s);

// Percent-decoding for URL paths and query strings; nullopt on a malformed escape.
std::optional<std::string> url_decode(std::string_view s, bool plus_is_space);

}  // namespace secplat
