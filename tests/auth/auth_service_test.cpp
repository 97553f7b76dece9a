#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "auth_fixture.h"
#include "core/json.h"
#include "crypto/jwt.h"

namespace secplat::auth {
namespace {

using AuthServiceTest = AuthFixture;

TEST_F(AuthServiceTest, DisabledUsersStillValidTokenIsRefusedImmediately) {
  User u = make_user("bob", http::Role::analyst);
  std::string token = tokens->issue(u);
  ASSERT_TRUE(authenticator->authenticate(token).ok());
  ASSERT_TRUE(accounts->disable("bob", admin_actor).ok());
  auto r = authenticator->authenticate(token);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unauthorized);
  EXPECT_EQ(r.error().message, "Invalid or expired token");
  // Re-enabling does not revive tokens issued before the disable.
  ASSERT_TRUE(accounts->enable("bob", admin_actor).ok());
  EXPECT_FALSE(authenticator->authenticate(token).ok());
}

TEST_F(AuthServiceTest, RoleComesFromTheRowNotTheToken) {
  User u = make_user("bob", http::Role::analyst);
  // A token that claims admin for an analyst (as if minted with the key) still yields analyst.
  Json claims{{"sub", "bob"}, {"role", "admin"}, {"uid", u.id}, {"tv", u.token_version},
              {"exp", clock.now_ms() / 1000 + 600}};
  auto p = authenticator->authenticate(crypto::jwt_sign_hs256(claims, kTestSecret));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->role, http::Role::analyst);

  // Promotion applies to the existing token at once; demotion ends it.
  std::string token = tokens->issue(u);
  ASSERT_TRUE(accounts->update("bob", http::Role::admin, std::nullopt, admin_actor).ok());
  auto promoted = authenticator->authenticate(token);
  ASSERT_TRUE(promoted.ok());
  EXPECT_EQ(promoted->role, http::Role::admin);
  ASSERT_TRUE(accounts->update("bob", http::Role::viewer, std::nullopt, admin_actor).ok());
  EXPECT_FALSE(authenticator->authenticate(token).ok());
  auto fresh = login->login("bob", "correct-horse", ctx());
  ASSERT_TRUE(fresh.ok());
  auto demoted = authenticator->authenticate(fresh->access_token);
  ASSERT_TRUE(demoted.ok());
  EXPECT_EQ(demoted->role, http::Role::viewer);
}

// A change this process did not make (another API replica's, written straight to the table) is
// seen once the remembered row is older than user_check_ms.
TEST_F(AuthServiceTest, ChangeByAnotherProcessIsSeenWithinTheCheckAge) {
  User u = make_user("bob", http::Role::analyst);
  std::string token = tokens->issue(u);
  AuthService replica(*tokens, *users, *api_keys, 300);
  ASSERT_TRUE(replica.authenticate(token).ok());
  ASSERT_TRUE(db().exec("UPDATE users SET disabled = 1 WHERE id = $1", {u.id}).ok());
  const auto changed = std::chrono::steady_clock::now();
  bool refused = false;
  while (std::chrono::steady_clock::now() - changed < std::chrono::seconds(2)) {
    auto r = replica.authenticate(token);
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, Errc::unauthorized);
      refused = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(refused);
  EXPECT_LE(std::chrono::steady_clock::now() - changed, std::chrono::milliseconds(300 + 100));
  // With 0 the row is read on every request.
  AuthService strict(*tokens, *users, *api_keys, 0);
  ASSERT_TRUE(db().exec("UPDATE users SET disabled = 0 WHERE id = $1", {u.id}).ok());
  EXPECT_TRUE(strict.authenticate(token).ok());
  ASSERT_TRUE(db().exec("UPDATE users SET disabled = 1 WHERE id = $1", {u.id}).ok());
  EXPECT_FALSE(strict.authenticate(token).ok());
}

// The answer without the store (for the HTTP I/O thread) is the full check's answer for a user
// checked recently, and "ask the full check" otherwise; it never outlives a change made here.
TEST_F(AuthServiceTest, CachedAnswerIsTheFullAnswerOrNone) {
  User u = make_user("bob", http::Role::analyst);
  std::string token = tokens->issue(u);
  EXPECT_FALSE(authenticator->authenticate_cached(token).has_value()) << "not checked yet";
  ASSERT_TRUE(authenticator->authenticate(token).ok());
  auto cached = authenticator->authenticate_cached(token);
  ASSERT_TRUE(cached.has_value());
  ASSERT_TRUE(cached->ok());
  EXPECT_EQ((*cached)->subject, "bob");
  EXPECT_EQ((*cached)->role, http::Role::analyst);
  EXPECT_EQ((*cached)->user_id, u.id);
  // A token that fails verification is refused from memory.
  auto forged = authenticator->authenticate_cached(token + "x");
  ASSERT_TRUE(forged.has_value());
  EXPECT_EQ(forged->error().code, Errc::unauthorized);
  // A demotion through this process is never answered from memory with the old role.
  ASSERT_TRUE(accounts->update("bob", http::Role::viewer, std::nullopt, admin_actor).ok());
  auto after = authenticator->authenticate_cached(token);
  EXPECT_TRUE(!after.has_value() || !after->ok());
  EXPECT_FALSE(authenticator->authenticate(token).ok());
  // With no memory of users (user_check_ms 0) there is never a cached answer.
  AuthService strict(*tokens, *users, *api_keys, 0);
  User v = make_user("carol", http::Role::analyst);
  std::string t2 = tokens->issue(v);
  ASSERT_TRUE(strict.authenticate(t2).ok());
  EXPECT_FALSE(strict.authenticate_cached(t2).has_value());
  // An API key nobody has checked is looked up in the store.
  EXPECT_FALSE(authenticator->authenticate_cached(std::string(ApiKeys::kPrefix) + "whatever").has_value());
}

// An API key checked recently is answered from memory (service keys call the API for every step of
// a worker's job); a revoke through this process ends it at once, one by another process within
// user_check_ms; wrong keys are never remembered.
TEST_F(AuthServiceTest, ApiKeysAreRememberedUntilRevoked) {
  auto made = api_keys->create("worker", http::Role::service, admin_actor);
  ASSERT_TRUE(made.ok()) << made.error().message;
  const std::string raw = made->raw_key;
  EXPECT_FALSE(authenticator->authenticate_cached(raw).has_value()) << "not checked yet";
  auto p = authenticator->authenticate(raw);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->role, http::Role::service);
  auto cached = authenticator->authenticate_cached(raw);
  ASSERT_TRUE(cached.has_value());
  ASSERT_TRUE(cached->ok());
  EXPECT_EQ((*cached)->subject, "apikey:worker");
  EXPECT_EQ((*cached)->role, http::Role::service);
  // Revoked here: refused at once, from memory or not.
  ASSERT_TRUE(api_keys->revoke(made->key.id, admin_actor).ok());
  EXPECT_FALSE(authenticator->authenticate_cached(raw).has_value());
  EXPECT_EQ(authenticator->authenticate(raw).error().code, Errc::unauthorized);
  // A wrong key is refused every time and never remembered.
  EXPECT_FALSE(authenticator->authenticate(raw + "x").ok());
  EXPECT_FALSE(authenticator->authenticate_cached(raw + "x").has_value());

  // Revoked by another process (straight in the table): seen within user_check_ms.
  auto other = api_keys->create("notifier", http::Role::service, admin_actor);
  ASSERT_TRUE(other.ok());
  AuthService replica(*tokens, *users, *api_keys, 300);
  ASSERT_TRUE(replica.authenticate(other->raw_key).ok());
  ASSERT_TRUE(db().exec("UPDATE api_keys SET revoked_at = 1 WHERE id = $1", {other->key.id}).ok());
  const auto changed = std::chrono::steady_clock::now();
  bool refused = false;
  while (std::chrono::steady_clock::now() - changed < std::chrono::seconds(2)) {
    if (!replica.authenticate(other->raw_key).ok()) {
      refused = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(refused);
  EXPECT_LE(std::chrono::steady_clock::now() - changed, std::chrono::milliseconds(300 + 100));
}

TEST_F(AuthServiceTest, TokenWithoutRoleOrVersionIsRefused) {
  User u = make_user("bob", http::Role::admin);
  int64_t exp = clock.now_ms() / 1000 + 600;
  for (const Json& claims : {Json{{"sub", "bob"}, {"uid", u.id}, {"tv", 0}, {"exp", exp}},
                             Json{{"sub", "bob"}, {"role", "admin"}, {"exp", exp}},
                             Json{{"sub", "bob"}, {"role", "root"}, {"uid", u.id}, {"tv", 0}, {"exp", exp}}}) {
    auto r = authenticator->authenticate(crypto::jwt_sign_hs256(claims, kTestSecret));
    EXPECT_FALSE(r.ok()) << claims.dump();
  }
}

TEST_F(AuthServiceTest, PasswordResetAndDeletionEndSessions) {
  User u = make_user("bob", http::Role::viewer);
  std::string token = tokens->issue(u);
  ASSERT_TRUE(accounts->reset_password("bob", "another-password", admin_actor).ok());
  EXPECT_FALSE(authenticator->authenticate(token).ok());
  auto pair = login->login("bob", "another-password", ctx());
  ASSERT_TRUE(pair.ok());
  ASSERT_TRUE(accounts->remove("bob", admin_actor).ok());
  EXPECT_FALSE(authenticator->authenticate(pair->access_token).ok());
  // A new user with the same name does not inherit the old token.
  make_user("bob", http::Role::viewer);
  EXPECT_FALSE(authenticator->authenticate(pair->access_token).ok());
}

TEST_F(AuthServiceTest, ExpiredAndForeignKeyTokensAreRefused) {
  User u = make_user("bob", http::Role::viewer);
  std::string token = tokens->issue(u);
  AccessTokens other("another-secret-another-secret-another", clock, 60);
  EXPECT_FALSE(authenticator->authenticate(other.issue(u)).ok());
  clock.advance_ms(61 * 60 * 1000);
  EXPECT_FALSE(authenticator->authenticate(token).ok());
}

// A verified token is remembered by its exact bytes: the same token again is accepted without a
// new HMAC until it expires; a token differing in any byte, or signed with another key, is verified
// (and refused) on its own; the memo never holds more than its bound.
TEST_F(AuthServiceTest, VerifiedTokensAreRememberedOnlyUntilTheyExpire) {
  User u = make_user("bob", http::Role::analyst);
  const std::string token = tokens->issue(u);
  ASSERT_TRUE(tokens->verify(token).ok());
  EXPECT_EQ(tokens->remembered(), 1u);
  auto again = tokens->verify(token);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->username, "bob");
  EXPECT_EQ(again->user_id, u.id);
  EXPECT_EQ(tokens->remembered(), 1u);

  std::string forged = token;
  forged[forged.size() - 2] = forged[forged.size() - 2] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(tokens->verify(forged).ok());
  std::string other_payload = token;
  other_payload[other_payload.find('.') + 3] ^= 1;  // a claim byte: the signature no longer matches
  EXPECT_FALSE(tokens->verify(other_payload).ok());
  AccessTokens other("another-secret-another-secret-another", clock, 60);
  EXPECT_FALSE(tokens->verify(other.issue(u)).ok());
  EXPECT_EQ(tokens->remembered(), 1u);

  clock.advance_ms(60 * 60 * 1000 - 1000);  // the last second of its hour
  EXPECT_TRUE(tokens->verify(token).ok());
  clock.advance_ms(1000);
  auto expired = tokens->verify(token);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, Errc::unauthorized);
  EXPECT_EQ(tokens->remembered(), 0u);
  EXPECT_FALSE(authenticator->authenticate(token).ok());

  for (std::size_t i = 0; i <= AccessTokens::kMaxRemembered; ++i) {
    clock.advance_ms(1000);  // a new iat: a distinct token
    ASSERT_TRUE(tokens->verify(tokens->issue(u)).ok());
    ASSERT_LE(tokens->remembered(), AccessTokens::kMaxRemembered);
  }
}

TEST_F(AuthServiceTest, ApiKeysAuthenticateUntilRevokedAndAreStoredOnlyHashed) {
  auto created = api_keys->create("ci-bot", http::Role::analyst, admin_actor);
  ASSERT_TRUE(created.ok()) << created.error().message;
  const std::string raw = created->raw_key;
  EXPECT_TRUE(raw.starts_with("spk_"));
  EXPECT_GE(raw.size(), 40u);
  EXPECT_TRUE(raw.starts_with(created->key.prefix));

  auto p = authenticator->authenticate(raw);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->subject, "apikey:ci-bot");
  EXPECT_EQ(p->role, http::Role::analyst);
  EXPECT_EQ(p->kind, "api_key");

  // Nothing in the table contains the raw key or its secret part.
  auto rows = db().query("SELECT id, name, key_hash, prefix, role, created_by FROM api_keys");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  for (std::size_t i = 0; i < rows->front().size(); ++i) {
    const auto* s = std::get_if<std::string>(&rows->front().at(i));
    if (s) {
      EXPECT_EQ(s->find(raw.substr(12)), std::string::npos) << *s;
    }
  }

  EXPECT_FALSE(authenticator->authenticate(raw + "x").ok());
  EXPECT_FALSE(authenticator->authenticate("spk_" + std::string(43, 'A')).ok());
  ASSERT_TRUE(api_keys->revoke(created->key.id, admin_actor).ok());
  auto revoked = authenticator->authenticate(raw);
  ASSERT_FALSE(revoked.ok());
  EXPECT_EQ(revoked.error().code, Errc::unauthorized);
}

// (Each check reads the key here: with a memory of checked keys, last_used_at is recorded when the
// memory is refreshed, at most user_check_ms later.)
TEST_F(AuthServiceTest, ApiKeyLastUsedIsRecordedAtMostOncePerMinute) {
  AuthService strict(*tokens, *users, *api_keys, 0);
  auto created = api_keys->create("ci-bot", http::Role::viewer, admin_actor);
  ASSERT_TRUE(created.ok());
  auto last_used = [&] { return api_keys->list().value().front().last_used_at_ms; };
  EXPECT_FALSE(last_used());
  int64_t t0 = clock.now_ms();
  ASSERT_TRUE(strict.authenticate(created->raw_key).ok());
  EXPECT_EQ(last_used(), t0);
  clock.advance_ms(30'000);
  ASSERT_TRUE(strict.authenticate(created->raw_key).ok());
  EXPECT_EQ(last_used(), t0);
  clock.advance_ms(30'000);
  ASSERT_TRUE(strict.authenticate(created->raw_key).ok());
  EXPECT_EQ(last_used(), t0 + 60'000);
}

TEST_F(AuthServiceTest, ApiKeyNamesAreUniqueAndChangesAudited) {
  ASSERT_TRUE(api_keys->create("ci-bot", http::Role::viewer, admin_actor).ok());
  auto dup = api_keys->create("ci-bot", http::Role::viewer, admin_actor);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, Errc::conflict);
  EXPECT_EQ(api_keys->revoke(9999, admin_actor).error().code, Errc::not_found);
  auto page = audit->list({.action = "apikey.create"});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), 1u);
}

}  // namespace
}  // namespace secplat::auth
