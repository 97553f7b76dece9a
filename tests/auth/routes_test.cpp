// The /auth and /audit routes through a real http::Server on loopback, with the real
// AuthService as the server's Authenticator and a migrated SQLite database.
#include <gtest/gtest.h>

#include "api/audit_routes.h"
#include "api/auth_routes.h"
#include "auth/bootstrap.h"
#include "auth_fixture.h"
#include "http/server.h"
#include "http/test_client.h"

namespace secplat::auth {
namespace {

using http::testing::Reply;
using http::testing::TestClient;
using Headers = std::vector<std::pair<std::string, std::string>>;

class RoutesTest : public AuthFixture {
 protected:
  void SetUp() override {
    AuthFixture::SetUp();
    ASSERT_TRUE(bootstrap_admin(*users, *audit, "admin-password", kCheapArgon).ok());
    auto routes = api::auth_routes({users.get(), accounts.get(), login.get(), api_keys.get()});
    for (auto& r : api::audit_routes(*audit)) routes.push_back(std::move(r));
    server_ = std::make_unique<http::Server>(http::ServerOptions{}, std::move(routes), authenticator.get(), nullptr);
    auto port = server_->start();
    ASSERT_TRUE(port.ok()) << port.error().message;
    port_ = *port;
    admin_token_ = login_as("admin", "admin-password");
  }
  void TearDown() override {
    if (server_) server_->shutdown();
    server_.reset();
    AuthFixture::TearDown();
  }

  Reply call(const std::string& method, const std::string& target, const std::string& token = "",
             const std::string& body = "", const std::string& content_type = "application/json") {
    TestClient client(port_);
    Headers h;
    if (!token.empty()) h.emplace_back("Authorization", "Bearer " + token);
    if (!body.empty()) h.emplace_back("Content-Type", content_type);
    auto reply = client.request(method, target, body, h);
    EXPECT_TRUE(reply.has_value()) << method << " " << target;
    return reply.value_or(Reply{});
  }

  std::string login_as(const std::string& user, const std::string& password) {
    Reply r = call("POST", "/auth/login", "", "username=" + user + "&password=" + password,
                   "application/x-www-form-urlencoded");
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json().value("access_token", "");
  }

  std::unique_ptr<http::Server> server_;
  uint16_t port_ = 0;
  std::string admin_token_;
};

TEST_F(RoutesTest, LoginWithFormOrJsonAndMe) {
  Reply form = call("POST", "/auth/login", "", "username=admin&password=admin-password",
                    "application/x-www-form-urlencoded");
  ASSERT_EQ(form.status, 200) << form.body;
  EXPECT_EQ(form.json()["token_type"], "bearer");
  EXPECT_TRUE(form.json()["refresh_token"].is_string());
  Reply json = call("POST", "/auth/login", "", R"({"username":"admin","password":"admin-password"})");
  EXPECT_EQ(json.status, 200) << json.body;

  Reply me = call("GET", "/auth/me", admin_token_);
  ASSERT_EQ(me.status, 200);
  EXPECT_EQ(me.json(), (Json{{"username", "admin"}, {"role", "admin"}}));
  EXPECT_EQ(call("GET", "/auth/me").status, 401);
  EXPECT_EQ(call("GET", "/auth/config").json(), (Json{{"oidc_enabled", false}}));

  Reply bad = call("POST", "/auth/login", "", "username=admin&password=nope", "application/x-www-form-urlencoded");
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(bad.json()["detail"], "Invalid username or password");
}

TEST_F(RoutesTest, LimitedLoginAnswers429WithRetryAfter) {
  for (int i = 0; i < kMaxFailures; ++i) {
    EXPECT_EQ(call("POST", "/auth/login", "", "username=admin&password=x", "application/x-www-form-urlencoded").status,
              401);
  }
  Reply limited = call("POST", "/auth/login", "", "username=admin&password=admin-password",
                       "application/x-www-form-urlencoded");
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.json()["detail"], "Too many login attempts. Try again later.");
  EXPECT_TRUE(limited.header("retry-after").has_value());
}

TEST_F(RoutesTest, UserAdministrationAndImmediateCutOff) {
  Reply created = call("POST", "/auth/users", admin_token_, R"({"username":"vic","password":"vic-password"})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.json()["role"], "viewer");
  EXPECT_EQ(created.json()["password_configured"], true);
  EXPECT_EQ(call("POST", "/auth/users", admin_token_, R"({"username":"vic"})").status, 409);
  EXPECT_EQ(call("POST", "/auth/users", admin_token_, R"({"username":"x","role":"root"})").status, 400);
  EXPECT_EQ(call("POST", "/auth/users", admin_token_, R"({"username":"y","password":"short"})").status, 400);
  Reply unknown = call("POST", "/auth/users", admin_token_, R"({"username":"z","is_admin":true})");
  EXPECT_EQ(unknown.status, 422);
  EXPECT_NE(unknown.body.find("is_admin"), std::string::npos);

  std::string vic = login_as("vic", "vic-password");
  EXPECT_EQ(call("GET", "/auth/me", vic).status, 200);
  EXPECT_EQ(call("GET", "/auth/users", vic).status, 403);
  EXPECT_EQ(call("GET", "/audit", vic).status, 403);

  Reply list = call("GET", "/auth/users", admin_token_);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.json()["items"].size(), 2u);
  EXPECT_EQ(list.json()["items"][1]["source"], "db");

  EXPECT_EQ(call("PATCH", "/auth/users/vic", admin_token_, "{}").status, 400);
  EXPECT_EQ(call("PATCH", "/auth/users/nobody", admin_token_, R"({"disabled":true})").status, 404);
  EXPECT_EQ(call("POST", "/auth/users/admin/disable", admin_token_).status, 400);
  ASSERT_EQ(call("POST", "/auth/users/vic/disable", admin_token_).status, 200);
  EXPECT_EQ(call("GET", "/auth/me", vic).status, 401);
  ASSERT_EQ(call("POST", "/auth/users/vic/reset-password", admin_token_, R"({"password":"vic-password-2"})").status,
            200);
  EXPECT_EQ(call("GET", "/auth/me", login_as("vic", "vic-password-2")).status, 200);
  EXPECT_EQ(call("DELETE", "/auth/users/vic", admin_token_).status, 200);
  EXPECT_EQ(call("DELETE", "/auth/users/vic", admin_token_).status, 404);
}

TEST_F(RoutesTest, RefreshRotatesAndReplayFails) {
  EXPECT_EQ(call("POST", "/auth/refresh", "", R"({"refresh_token":" "})").status, 400);
  Reply l = call("POST", "/auth/login", "", R"({"username":"admin","password":"admin-password"})");
  std::string rt = l.json()["refresh_token"];
  Reply r1 = call("POST", "/auth/refresh", "", Json{{"refresh_token", rt}}.dump());
  ASSERT_EQ(r1.status, 200) << r1.body;
  EXPECT_EQ(call("GET", "/auth/me", r1.json()["access_token"]).status, 200);
  EXPECT_EQ(call("POST", "/auth/refresh", "", Json{{"refresh_token", rt}}.dump()).status, 401);
  EXPECT_EQ(call("POST", "/auth/refresh", "", Json{{"refresh_token", r1.json()["refresh_token"]}}.dump()).status,
            401);
}

TEST_F(RoutesTest, ApiKeysShownOnceAndRevocable) {
  Reply created = call("POST", "/auth/api-keys", admin_token_, R"({"name":"ci","role":"analyst"})");
  ASSERT_EQ(created.status, 201) << created.body;
  std::string key = created.json()["key"];
  Reply me = call("GET", "/auth/me", key);
  ASSERT_EQ(me.status, 200);
  EXPECT_EQ(me.json()["role"], "analyst");
  Reply list = call("GET", "/auth/api-keys", admin_token_);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body.find(key), std::string::npos);
  EXPECT_FALSE(list.json()["items"][0].contains("key"));
  EXPECT_EQ(call("DELETE", "/auth/api-keys/abc", admin_token_).status, 422);
  EXPECT_EQ(call("DELETE", "/auth/api-keys/" + std::to_string(created.json()["id"].get<int64_t>()), admin_token_).status,
            200);
  EXPECT_EQ(call("GET", "/auth/me", key).status, 401);
}

// The service role: API keys of role processes without database credentials. Such a key reaches
// no user route (only the /internal routes, tests/notify/notifier_test.cpp); users cannot have it.
TEST_F(RoutesTest, ServiceRoleIsForApiKeysAndReachesNoUserRoute) {
  Reply created = call("POST", "/auth/api-keys", admin_token_, R"({"name":"notifier","role":"service"})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.json()["role"], "service");
  const std::string key = created.json()["key"];
  EXPECT_EQ(call("GET", "/auth/me", key).status, 403);
  EXPECT_EQ(call("GET", "/auth/api-keys", key).status, 403);
  Reply user = call("POST", "/auth/users", admin_token_, R"({"username":"svc","role":"service"})");
  EXPECT_EQ(user.status, 400);
  EXPECT_NE(user.body.find("API keys"), std::string::npos) << user.body;
  EXPECT_EQ(call("GET", "/auth/users", admin_token_).json()["items"].size(), 1u);  // nothing created
  ASSERT_EQ(call("POST", "/auth/users", admin_token_, R"({"username":"ann"})").status, 201);
  EXPECT_EQ(call("PATCH", "/auth/users/ann", admin_token_, R"({"role":"service"})").status, 400);
}

TEST_F(RoutesTest, AuditListsFilteredEventsForAdmins) {
  ASSERT_EQ(call("POST", "/auth/users", admin_token_, R"({"username":"ann"})").status, 201);
  Reply r = call("GET", "/audit?action=user.create&limit=5", admin_token_);
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = r.json();
  ASSERT_GE(j["items"].size(), 1u);
  const Json& first = j["items"][0];
  EXPECT_EQ(first["action"], "user.create");
  EXPECT_EQ(first["user_name"], "admin");
  EXPECT_EQ(first["details"]["username"], "ann");
  EXPECT_TRUE(first["created_at"].get<std::string>().ends_with("Z"));
  EXPECT_TRUE(first["request_id"].is_string());
  EXPECT_NE(std::find(j["actions"].begin(), j["actions"].end(), "login"), j["actions"].end());
  EXPECT_EQ(call("GET", "/audit?limit=0", admin_token_).status, 422);
  EXPECT_EQ(call("GET", "/audit?since=yesterday", admin_token_).status, 422);
}

}  // namespace
}  // namespace secplat::auth
