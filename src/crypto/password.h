// Password hashing with Argon2id (libargon2), stored as the standard PHC string
// "$argon2id$v=19$m=...,t=...,p=...$salt$hash", so parameters can change without a migration:
// verification reads them from the stored string. Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace secplat::crypto {

// Defaults follow the OWASP recommendation for Argon2id (19 MiB, 2 passes, 1 lane).
// Tests pass cheaper parameters; production keeps the defaults.
struct Argon2Params {
  uint32_t time_cost = 2;
  uint32_t memory_kib = 19 * 1024;
  uint32_t parallelism = 1;
  uint32_t salt_bytes = 16;
  uint32_t hash_bytes = 32;
};

// A fresh random salt per call. Fails only on invalid parameters or out-of-memory (Errc::internal).
Result<std::string> password_hash(std::string_view password, const Argon2Params& params = {});

// True iff `encoded` is a well-formed Argon2id PHC string for `password`. Malformed input → false.
bool password_verify(std::string_view encoded, std::string_view password);

}  // namespace secplat::crypto
