#include <gtest/gtest.h>

#include "auth_fixture.h"
#include "core/json.h"

namespace secplat::auth {
namespace {

using LoginTest = AuthFixture;

TEST_F(LoginTest, CorrectPasswordGivesWorkingTokens) {
  make_user("alice", http::Role::analyst);
  auto pair = login->login("alice", "correct-horse", ctx());
  ASSERT_TRUE(pair.ok()) << pair.error().message;
  auto p = authenticator->authenticate(pair->access_token);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->subject, "alice");
  EXPECT_EQ(p->role, http::Role::analyst);
  EXPECT_EQ(p->kind, "user");
}

TEST_F(LoginTest, WrongPasswordUnknownUserAndDisabledUserLookTheSame) {
  make_user("alice", http::Role::viewer);
  accounts->create({"nopass", http::Role::viewer, std::nullopt, false}, admin_actor).value();
  make_user("carol", http::Role::viewer);
  ASSERT_TRUE(accounts->disable("carol", admin_actor).ok());
  const std::vector<std::pair<std::string, std::string>> attempts = {
      {"alice", "wrong-password"}, {"nobody", "correct-horse"}, {"nopass", ""}, {"carol", "correct-horse"}};
  for (const auto& [user, pw] : attempts) {
    auto r = login->login(user, pw, ctx("198.51.100." + std::to_string(user.size())));
    ASSERT_FALSE(r.ok()) << user;
    EXPECT_EQ(r.error().code, Errc::unauthorized);
    EXPECT_EQ(r.error().message, "Invalid username or password");
  }
}

TEST_F(LoginTest, LimiterBlocksEvenTheCorrectPasswordUntilTheWindowPasses) {
  make_user("alice", http::Role::viewer);
  for (int i = 0; i < kMaxFailures; ++i) {
    EXPECT_EQ(login->login("alice", "guess" + std::to_string(i), ctx()).error().code, Errc::unauthorized);
    clock.advance_ms(1000);
  }
  auto blocked = login->login("alice", "correct-horse", ctx());
  ASSERT_FALSE(blocked.ok());
  EXPECT_EQ(blocked.error().code, Errc::rate_limited);
  EXPECT_EQ(blocked.error().message, "Too many login attempts. Try again later.");
  EXPECT_GT(blocked.error().retry_after_s, 0);
  EXPECT_LE(blocked.error().retry_after_s, kWindowS);
  // Another address is blocked too: the username key is tripped.
  EXPECT_EQ(login->login("alice", "correct-horse", ctx("203.0.113.9")).error().code, Errc::rate_limited);

  clock.advance_ms(int64_t{blocked.error().retry_after_s} * 1000);
  auto ok = login->login("alice", "correct-horse", ctx());
  EXPECT_TRUE(ok.ok()) << ok.error().message;
}

TEST_F(LoginTest, LimiterTripsPerClientAddressAcrossUsernames) {
  make_user("alice", http::Role::viewer);
  for (int i = 0; i < kMaxFailures; ++i) (void)login->login("user" + std::to_string(i), "x", ctx("192.0.2.77"));
  EXPECT_EQ(login->login("alice", "correct-horse", ctx("192.0.2.77")).error().code, Errc::rate_limited);
  EXPECT_TRUE(login->login("alice", "correct-horse", ctx("192.0.2.78")).ok());
}

TEST_F(LoginTest, SuccessfulLoginClearsTheUsersFailures) {
  make_user("alice", http::Role::viewer);
  for (int i = 0; i < kMaxFailures - 1; ++i) (void)login->login("alice", "bad", ctx("192.0.2.1"));
  ASSERT_TRUE(login->login("alice", "correct-horse", ctx("192.0.2.2")).ok());
  // Were the failures still counted, this one more failure would trip the user key.
  (void)login->login("alice", "bad", ctx("192.0.2.3"));
  EXPECT_TRUE(login->login("alice", "correct-horse", ctx("192.0.2.4")).ok());
}

TEST_F(LoginTest, LoginsAreAuditedWithoutThePassword) {
  make_user("alice", http::Role::viewer);
  (void)login->login("alice", "wrong-secret-pw", ctx());
  ASSERT_TRUE(login->login("alice", "correct-horse", ctx()).ok());
  auto page = audit->list({.user_name = "alice", .action = "login"});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 2u);
  auto newest = Json::parse(page->items[0].details_json);
  auto oldest = Json::parse(page->items[1].details_json);
  EXPECT_EQ(newest["success"], true);
  EXPECT_EQ(oldest["success"], false);
  EXPECT_EQ(oldest["reason"], "invalid");
  for (const auto& item : page->items) {
    EXPECT_EQ(item.details_json.find("correct-horse"), std::string::npos);
    EXPECT_EQ(item.details_json.find("wrong-secret-pw"), std::string::npos);
  }
}

TEST_F(LoginTest, RefreshRotatesAndReplayRevokesTheWholeFamily) {
  make_user("alice", http::Role::viewer);
  auto first = login->login("alice", "correct-horse", ctx());
  ASSERT_TRUE(first.ok());
  auto second = login->refresh(first->refresh_token, ctx());
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_NE(second->refresh_token, first->refresh_token);
  EXPECT_TRUE(authenticator->authenticate(second->access_token).ok());

  // The rotated token is presented again: someone copied it.
  auto replay = login->refresh(first->refresh_token, ctx());
  ASSERT_FALSE(replay.ok());
  EXPECT_EQ(replay.error().code, Errc::unauthorized);
  EXPECT_EQ(replay.error().message, "Invalid refresh token");
  // ... so the legitimate successor is dead too.
  auto successor = login->refresh(second->refresh_token, ctx());
  ASSERT_FALSE(successor.ok());
  EXPECT_EQ(successor.error().code, Errc::unauthorized);

  auto page = audit->list({.action = "token.refresh"});
  ASSERT_TRUE(page.ok());
  bool saw_replay = false;
  for (const auto& e : page->items) saw_replay |= Json::parse(e.details_json).value("reason", "") == "replayed";
  EXPECT_TRUE(saw_replay);
}

TEST_F(LoginTest, RefreshRejectsUnknownExpiredAndDisabledUsers) {
  make_user("alice", http::Role::viewer);
  EXPECT_EQ(login->refresh("not-a-token", ctx()).error().message, "Invalid refresh token");

  auto pair = login->login("alice", "correct-horse", ctx());
  ASSERT_TRUE(pair.ok());
  clock.advance_ms(int64_t{31} * 24 * 3600 * 1000);
  auto expired = login->refresh(pair->refresh_token, ctx());
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().message, "Refresh token expired");

  auto fresh = login->login("alice", "correct-horse", ctx());
  ASSERT_TRUE(fresh.ok());
  ASSERT_TRUE(accounts->disable("alice", admin_actor).ok());
  ASSERT_TRUE(accounts->enable("alice", admin_actor).ok());
  // Disabling revoked the refresh token; re-enabling does not bring it back.
  EXPECT_EQ(login->refresh(fresh->refresh_token, ctx()).error().code, Errc::unauthorized);
}

TEST_F(LoginTest, LogoutRevokesTheFamily) {
  make_user("alice", http::Role::viewer);
  auto pair = login->login("alice", "correct-horse", ctx());
  ASSERT_TRUE(pair.ok());
  ASSERT_TRUE(login->logout(pair->refresh_token, {"alice", "r1"}).ok());
  EXPECT_EQ(login->refresh(pair->refresh_token, ctx()).error().code, Errc::unauthorized);
}

}  // namespace
}  // namespace secplat::auth
