#include "core/ids.h"

#include "core/encoding.h"

#include <cstring>
#include <random>

namespace secplat {


namespace {
std::string format_uuid4(std::string b) {
  b[6] = static_cast<char>((static_cast<unsigned char>(b[6]) & 0x0F) | 0x40);
  b[8] = static_cast<char>((static_cast<unsigned char>(b[8]) & 0x3F) | 0x80);
  std::string h = hex_encode(b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}
}  // namespace

std::string new_request_id() {
  thread_local std::mt19937_64 gen = [] {
    std::string seed = random_bytes(32);
    std::seed_seq seq(seed.begin(), seed.end());
    return std::mt19937_64(seq);
  }();
  uint64_t w[2] = {gen(), gen()};
  std::string b(16, '\0');
  std::memcpy(b.data(), w, 16);
  return format_uuid4(std::move(b));
}

std::string new_uuid() { return format_uuid4(random_bytes(16)); }

std::string random_token(std::size_t bytes) { return base64url_encode(random_bytes(bytes)); }
std::string random_hex(std::size_t bytes) { return hex_encode(random_bytes(bytes)); }

bool is_sane_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace secplat
