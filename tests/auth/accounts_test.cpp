#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "auth/bootstrap.h"
#include "auth/workspace_grants.h"
#include "auth_fixture.h"
#include "core/json.h"

namespace secplat::auth {
namespace {

using AccountsTest = AuthFixture;

TEST_F(AccountsTest, BootstrapCreatesAdminOnceAndReturnsOnlyAGeneratedPassword) {
  auto first = bootstrap_admin(*users, *audit, "", kCheapArgon);
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_TRUE(first->has_value());
  const std::string generated = **first;
  EXPECT_GE(generated.size(), 20u);
  EXPECT_TRUE(login->login("admin", generated, ctx()).ok());

  // Second start, even with a configured password: nothing changes and nothing is printed.
  auto second = bootstrap_admin(*users, *audit, "a-different-password", kCheapArgon);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->has_value());
  EXPECT_TRUE(login->login("admin", generated, ctx()).ok());
  EXPECT_FALSE(login->login("admin", "a-different-password", ctx()).ok());

  auto all = users->list();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);  // no viewer/viewer or service users
  EXPECT_EQ(all->front().role, http::Role::admin);
}

TEST_F(AccountsTest, BootstrapWithConfiguredPasswordReturnsNothing) {
  auto r = bootstrap_admin(*users, *audit, "configured-pass", kCheapArgon);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_TRUE(login->login("admin", "configured-pass", ctx()).ok());
}

TEST_F(AccountsTest, BootstrapRefusesAWeakConfiguredPassword) {
  auto r = bootstrap_admin(*users, *audit, "short", kCheapArgon);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::bad_request);
  EXPECT_TRUE(users->list().value().empty());
}

TEST_F(AccountsTest, BootstrapAdminCannotBeDisabledDemotedOrDeleted) {
  ASSERT_TRUE(bootstrap_admin(*users, *audit, "configured-pass", kCheapArgon).ok());
  EXPECT_EQ(accounts->disable("admin", admin_actor).error().code, Errc::bad_request);
  EXPECT_EQ(accounts->update("admin", http::Role::viewer, std::nullopt, admin_actor).error().code,
            Errc::bad_request);
  EXPECT_EQ(accounts->update("admin", std::nullopt, true, admin_actor).error().code, Errc::bad_request);
  EXPECT_EQ(accounts->remove("admin", admin_actor).error().code, Errc::bad_request);
  EXPECT_TRUE(login->login("admin", "configured-pass", ctx()).ok());
}

TEST_F(AccountsTest, CreateValidatesAndRejectsDuplicates) {
  EXPECT_EQ(accounts->create({"  ", http::Role::viewer, std::nullopt, false}, admin_actor).error().code,
            Errc::bad_request);
  EXPECT_EQ(accounts->create({"bob", http::Role::viewer, "short", false}, admin_actor).error().code,
            Errc::bad_request);
  EXPECT_EQ(accounts->create({"bob", http::Role::viewer, "        x", false}, admin_actor).error().code,
            Errc::bad_request);
  auto bob = accounts->create({"bob", http::Role::analyst, "long-enough", false}, admin_actor);
  ASSERT_TRUE(bob.ok());
  EXPECT_TRUE(bob->password_configured());
  auto dup = accounts->create({"bob", http::Role::viewer, std::nullopt, false}, admin_actor);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, Errc::conflict);
  EXPECT_EQ(dup.error().message, "user already exists");
  EXPECT_EQ(accounts->update("bob", std::nullopt, std::nullopt, admin_actor).error().message,
            "no user fields provided");
  EXPECT_EQ(accounts->disable("nobody", admin_actor).error().code, Errc::not_found);
  EXPECT_EQ(accounts->remove("nobody", admin_actor).error().code, Errc::not_found);
}

TEST_F(AccountsTest, ResetPasswordReEnablesTheUser) {
  make_user("bob", http::Role::viewer);
  ASSERT_TRUE(accounts->disable("bob", admin_actor).ok());
  auto reset = accounts->reset_password("bob", "brand-new-pass", admin_actor);
  ASSERT_TRUE(reset.ok());
  EXPECT_FALSE(reset->disabled);
  EXPECT_FALSE(login->login("bob", "correct-horse", ctx()).ok());
  EXPECT_TRUE(login->login("bob", "brand-new-pass", ctx("192.0.2.50")).ok());
}

TEST_F(AccountsTest, AuditListFiltersByUserActionSinceAndLimit) {
  ASSERT_TRUE(audit->append("asset.create", "alice", "web-1", Json{{"k", 1}}, "r1").ok());
  clock.advance_ms(1000);
  int64_t mid = clock.now_ms();
  ASSERT_TRUE(audit->append("asset.update", "alice", "web-1", Json{{"k", 2}}, "r2").ok());
  clock.advance_ms(1000);
  ASSERT_TRUE(audit->append("asset.create", "bob", "", Json::object(), "").ok());

  auto all = audit->list({});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->items.size(), 3u);
  EXPECT_EQ(all->items[0].user_name, "bob");  // newest first
  EXPECT_FALSE(all->items[0].asset_key.has_value());
  EXPECT_FALSE(all->items[0].request_id.has_value());
  EXPECT_EQ(all->actions, (std::vector<std::string>{"asset.create", "asset.update"}));

  auto by_user = audit->list({.user_name = "alice"});
  ASSERT_EQ(by_user->items.size(), 2u);
  auto by_action = audit->list({.action = "asset.create"});
  ASSERT_EQ(by_action->items.size(), 2u);
  auto since = audit->list({.since_ms = mid});
  ASSERT_EQ(since->items.size(), 2u);
  auto combined = audit->list({.user_name = "alice", .action = "asset.update", .since_ms = mid});
  ASSERT_EQ(combined->items.size(), 1u);
  EXPECT_EQ(combined->items[0].request_id, "r2");
  EXPECT_EQ(Json::parse(combined->items[0].details_json), (Json{{"k", 2}}));
  auto limited = audit->list({.limit = 1});
  ASSERT_EQ(limited->items.size(), 1u);
  EXPECT_EQ(limited->actions.size(), 2u);
}

TEST_F(AccountsTest, UserChangesAreAudited) {
  make_user("bob", http::Role::viewer);
  ASSERT_TRUE(accounts->disable("bob", admin_actor).ok());
  ASSERT_TRUE(accounts->enable("bob", admin_actor).ok());
  ASSERT_TRUE(accounts->reset_password("bob", "brand-new-pass", admin_actor).ok());
  ASSERT_TRUE(accounts->remove("bob", admin_actor).ok());
  auto page = audit->list({.user_name = "admin"});
  ASSERT_TRUE(page.ok());
  std::vector<std::string> actions;
  for (auto it = page->items.rbegin(); it != page->items.rend(); ++it) actions.push_back(it->action);
  EXPECT_EQ(actions, (std::vector<std::string>{"user.create", "user.disable", "user.enable", "user.reset_password",
                                               "user.delete"}));
  for (const auto& e : page->items) EXPECT_EQ(e.request_id, "req-admin");
}

TEST_F(AccountsTest, JwtSecretConfiguredWinsElseGeneratedOnceWithMode0600) {
  std::string configured(40, 'k');
  EXPECT_EQ(load_or_create_jwt_secret(dir_.string(), configured).value(), configured);
  EXPECT_EQ(load_or_create_jwt_secret(dir_.string(), "change_me").error().code, Errc::bad_request);
  EXPECT_EQ(load_or_create_jwt_secret(dir_.string(), "too-short").error().code, Errc::bad_request);

  std::string data = (dir_ / "data").string();
  auto first = load_or_create_jwt_secret(data, "");
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_GE(first->size(), 64u);
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "data" / "jwt.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto second = load_or_create_jwt_secret(data, "");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, *first);
  // No temporary files left behind.
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(data)) ++files;
  EXPECT_EQ(files, 1);
}

TEST_F(AccountsTest, WorkspaceGrantsAreScopedValidatedAndGoWithTheUser) {
  WorkspaceGrants grants(db(), clock, *audit);
  User ana = make_user("ana", http::Role::analyst);
  http::Principal p{"ana", http::Role::analyst, "user", ana.id};
  auto none = grants.scope_of(p);
  ASSERT_TRUE(none.ok());
  ASSERT_TRUE(none->has_value());
  EXPECT_TRUE((*none)->empty());  // no grant, no workspace
  auto set = grants.replace("user", ana.id, "ana", {"w2", "w1", "w1"}, admin_actor);
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(*set, (std::vector<std::string>{"w1", "w2"}));
  auto scope = grants.scope_of(p);
  ASSERT_TRUE(scope.ok());
  EXPECT_TRUE(scope_allows(*scope, "w1"));
  EXPECT_FALSE(scope_allows(*scope, "w3"));
  auto bad = grants.replace("user", ana.id, "ana", {"ok", "not ok"}, admin_actor);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().fields.at(0).loc.back(), "1");
  EXPECT_EQ(*grants.list("user", ana.id), (std::vector<std::string>{"w1", "w2"}));  // unchanged
  ASSERT_TRUE(grants.replace("user", ana.id, "ana", {"*"}, admin_actor).ok());
  EXPECT_FALSE(grants.scope_of(p)->has_value());  // "*": every workspace
  EXPECT_FALSE(grants.scope_of({"root", http::Role::admin, "user", 999})->has_value());

  ASSERT_TRUE(accounts->remove("ana", admin_actor).ok());
  auto left = db().query("SELECT COUNT(*) AS n FROM workspace_grants WHERE principal_id = $1", {ana.id});
  ASSERT_TRUE(left.ok());
  EXPECT_EQ((*left)[0].i64("n"), 0);
}

}  // namespace
}  // namespace secplat::auth
