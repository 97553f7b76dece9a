#include "crypto/password.h"

#include <gtest/gtest.h>

namespace secplat::crypto {
namespace {

// Cheap parameters keep the suite fast; production uses the Argon2Params defaults.
const Argon2Params kCheap{.time_cost = 1, .memory_kib = 64, .parallelism = 1, .salt_bytes = 16, .hash_bytes = 32};

TEST(Password, HashVerifiesOnlyTheRightPassword) {
  auto h = password_hash("correct horse battery", kCheap);
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_TRUE(h->starts_with("$argon2id$v=19$m=64,t=1,p=1$")) << *h;
  EXPECT_TRUE(password_verify(*h, "correct horse battery"));
  EXPECT_FALSE(password_verify(*h, "correct horse batterY"));
  EXPECT_FALSE(password_verify(*h, ""));
}

TEST(Password, SaltMakesEachHashDifferent) {
  auto a = password_hash("same password", kCheap);
  auto b = password_hash("same password", kCheap);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(password_verify(*b, "same password"));
}

TEST(Password, DefaultParametersAreOwaspArgon2id) {
  auto h = password_hash("pw with defaults");
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->starts_with("$argon2id$v=19$m=19456,t=2,p=1$")) << *h;
  EXPECT_TRUE(password_verify(*h, "pw with defaults"));
}

TEST(Password, MalformedOrForeignHashesNeverVerify) {
  EXPECT_FALSE(password_verify("", "x"));
  EXPECT_FALSE(password_verify("plaintext", "plaintext"));
  EXPECT_FALSE(password_verify("$2b$12$abcdefghijklmnopqrstuu", "x"));  // bcrypt
  auto h = password_hash("pw", kCheap);
  ASSERT_TRUE(h.ok());
  std::string truncated = h->substr(0, h->size() - 5);
  EXPECT_FALSE(password_verify(truncated, "pw"));
}

TEST(Password, PasswordWithEmbeddedNulIsNotTruncated) {
  std::string pw("abc\0def", 7);
  auto h = password_hash(pw, kCheap);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(password_verify(*h, pw));
  EXPECT_FALSE(password_verify(*h, "abc"));
}

}  // namespace
}  // namespace secplat::crypto
