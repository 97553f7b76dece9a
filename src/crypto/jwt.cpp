#include "crypto/jwt.h"

#include <cstdint>
#include <optional>

#include "core/encoding.h"
#include "core/json.h"

namespace secplat::crypto {
namespace {

constexpr int64_t kClockSkewS = 60;

Error invalid_token() { return Error::unauthorized("Invalid or expired token"); }

// An integer-valued JSON number that fits int64 (JWT NumericDate; fractions are refused).
bool as_seconds(const Json& v, int64_t& out) {
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) return false;
    out = v.get<int64_t>();
    return true;
  }
  return false;
}

std::optional<Json> decode_json_object(std::string_view b64) {
  auto raw = base64url_decode(b64);
  if (!raw) return std::nullopt;
  Json j = Json::parse(*raw, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  return j;
}

}  // namespace

std::string jwt_sign_hs256(const Json& claims, std::string_view key) {
  static const std::string kHeader = base64url_encode(R"({"alg":"HS256","typ":"JWT"})");
  std::string signing_input = kHeader + "." + base64url_encode(claims.dump());
  std::string sig = base64url_encode(hmac_sha256(key, signing_input));
  return signing_input + "." + sig;
}

Result<Json> jwt_verify_hs256(std::string_view token, std::string_view key, int64_t now_s) {
  if (key.empty() || token.size() > 8192) return invalid_token();
  std::size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return invalid_token();
  std::size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) return invalid_token();

  auto header = decode_json_object(token.substr(0, dot1));
  if (!header) return invalid_token();
  auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string() || alg->get<std::string>() != "HS256") return invalid_token();
  // A "crit" header lists extensions we would have to understand; we understand none.
  if (header->contains("crit")) return invalid_token();

  // Compare the canonical encoding, not decoded bytes: a decoder ignores the unused low bits of
  // the last character, which would let one token have several accepted spellings.
  std::string expected = base64url_encode(hmac_sha256(key, token.substr(0, dot2)));
  if (!constant_time_equal(token.substr(dot2 + 1), expected)) return invalid_token();

  auto claims = decode_json_object(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!claims) return invalid_token();
  int64_t t = 0;
  auto exp = claims->find("exp");
  if (exp == claims->end() || !as_seconds(*exp, t) || t <= now_s) return invalid_token();
  if (auto nbf = claims->find("nbf"); nbf != claims->end() && (!as_seconds(*nbf, t) || t > now_s + kClockSkewS)) {
    return invalid_token();
  }
  if (auto iat = claims->find("iat"); iat != claims->end() && (!as_seconds(*iat, t) || t > now_s + kClockSkewS)) {
    return invalid_token();
  }
  return std::move(*claims);
}

}  // namespace secplat::crypto
