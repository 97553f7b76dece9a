#include "crypto/jwt.h"

#include <gtest/gtest.h>

#include "core/encoding.h"
#include "core/json.h"

namespace secplat::crypto {
namespace {

const std::string kKey = "test-secret-key-of-at-least-32-bytes!!";
constexpr int64_t kNow = 1900000000;

// Computed independently with python3 (hmac, hashlib, base64, json.dumps(sort_keys=True)).
const std::string kKnownToken =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJleHAiOjIwMDAwMDAwMDAsInJvbGUiOiJhZG1pbiIsInN1YiI6ImFsaWNlIiwidHYiOjMsInVpZCI6N30."
    "7cV9bRaARaNeKHughtsp0ECjA9ZeX0hPXU8mb1olhGU";

Json known_claims() { return Json{{"sub", "alice"}, {"role", "admin"}, {"exp", 2000000000}, {"uid", 7}, {"tv", 3}}; }

void expect_rejected(const std::string& token, int64_t now = kNow) {
  auto r = jwt_verify_hs256(token, kKey, now);
  ASSERT_FALSE(r.ok()) << token;
  EXPECT_EQ(r.error().code, Errc::unauthorized);
  EXPECT_EQ(r.error().message, "Invalid or expired token");
}

TEST(Jwt, SignMatchesIndependentlyComputedToken) { EXPECT_EQ(jwt_sign_hs256(known_claims(), kKey), kKnownToken); }

TEST(Jwt, VerifyReturnsClaimsOfKnownToken) {
  auto r = jwt_verify_hs256(kKnownToken, kKey, kNow);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, known_claims());
}

TEST(Jwt, WrongKeyRejected) {
  auto r = jwt_verify_hs256(kKnownToken, "another-key-another-key-another-key", kNow);
  EXPECT_FALSE(r.ok());
}

TEST(Jwt, TamperedPayloadRejected) {
  Json claims = known_claims();
  claims["role"] = "viewer";
  std::string forged = jwt_sign_hs256(claims, kKey);
  // Splice the forged payload into the known token's signature.
  std::string payload = forged.substr(forged.find('.') + 1, forged.rfind('.') - forged.find('.') - 1);
  std::string spliced = kKnownToken.substr(0, kKnownToken.find('.') + 1) + payload + kKnownToken.substr(kKnownToken.rfind('.'));
  expect_rejected(spliced);
  // A changed signature character, including one that only differs in the unused low bits of the
  // last base64url character ('U' and 'V' decode to the same bytes).
  for (char c : {'V', 'A'}) {
    std::string changed = kKnownToken;
    changed.back() = c;
    expect_rejected(changed);
  }
  std::string first_changed = kKnownToken;
  first_changed[first_changed.rfind('.') + 1] = 'X';
  expect_rejected(first_changed);
}

TEST(Jwt, AlgNoneAndOtherAlgorithmsRejected) {
  std::string payload = kKnownToken.substr(kKnownToken.find('.') + 1, kKnownToken.rfind('.') - kKnownToken.find('.') - 1);
  expect_rejected(base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." + payload + ".");
  // Correct HMAC but alg spelled differently: still refused.
  for (const char* header : {R"({"alg":"hs256","typ":"JWT"})", R"({"alg":"HS512"})", R"({"typ":"JWT"})"}) {
    std::string input = base64url_encode(header) + "." + payload;
    expect_rejected(input + "." + base64url_encode(hmac_sha256(kKey, input)));
  }
}

TEST(Jwt, ExpiredOrMissingExpRejected) {
  expect_rejected(kKnownToken, 2000000000);  // exp == now
  expect_rejected(jwt_sign_hs256(Json{{"sub", "alice"}, {"role", "admin"}}, kKey));
  expect_rejected(jwt_sign_hs256(Json{{"sub", "alice"}, {"exp", "2000000000"}}, kKey));
  expect_rejected(jwt_sign_hs256(Json{{"sub", "alice"}, {"exp", 2000000000.5}}, kKey));
}

TEST(Jwt, FutureNbfOrIatRejected) {
  expect_rejected(jwt_sign_hs256(Json{{"exp", kNow + 600}, {"nbf", kNow + 300}}, kKey));
  expect_rejected(jwt_sign_hs256(Json{{"exp", kNow + 600}, {"iat", kNow + 300}}, kKey));
  auto r = jwt_verify_hs256(jwt_sign_hs256(Json{{"exp", kNow + 600}, {"iat", kNow}, {"nbf", kNow}}, kKey), kKey, kNow);
  EXPECT_TRUE(r.ok());
}

TEST(Jwt, MalformedTokensRejected) {
  for (const char* t : {"", ".", "..", "a.b.c", "a.b.c.d", "eyJhbGciOiJIUzI1NiJ9..", "not a token"}) expect_rejected(t);
  // A payload that is not a JSON object.
  std::string input = base64url_encode(R"({"alg":"HS256"})") + "." + base64url_encode("[1,2]");
  expect_rejected(input + "." + base64url_encode(hmac_sha256(kKey, input)));
}

}  // namespace
}  // namespace secplat::crypto
