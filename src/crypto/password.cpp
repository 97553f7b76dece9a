#include "crypto/password.h"

#include <argon2.h>

#include <vector>

#include "core/encoding.h"

namespace secplat::crypto {

Result<std::string> password_hash(std::string_view password, const Argon2Params& p) {
  std::string salt = random_bytes(p.salt_bytes);
  std::size_t len = argon2_encodedlen(p.time_cost, p.memory_kib, p.parallelism, p.salt_bytes, p.hash_bytes, Argon2_id);
  std::vector<char> encoded(len + 1, '\0');
  int rc = argon2id_hash_encoded(p.time_cost, p.memory_kib, p.parallelism, password.data(), password.size(),
                                 salt.data(), salt.size(), p.hash_bytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) return Error::internal(std::string("password hashing failed: ") + argon2_error_message(rc));
  return std::string(encoded.data());
}

bool password_verify(std::string_view encoded, std::string_view password) {
  if (!encoded.starts_with("$argon2id$")) return false;
  std::string enc(encoded);  // libargon2 wants a NUL-terminated string
  return argon2id_verify(enc.c_str(), password.data(), password.size()) == ARGON2_OK;
}

}  // namespace secplat::crypto
