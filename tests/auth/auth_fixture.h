// A migrated SQLite database in a fresh temp dir plus the auth services wired as in production,
// with cheap Argon2 parameters and a ManualClock.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "auth/access_tokens.h"
#include "auth/api_keys.h"
#include "auth/audit_log.h"
#include "auth/auth_service.h"
#include "auth/login_limiter.h"
#include "auth/login_service.h"
#include "auth/migrations.h"
#include "auth/refresh_tokens.h"
#include "auth/user_accounts.h"
#include "auth/user_repo.h"
#include "core/clock.h"
#include "core/ids.h"
#include "store/sqlite_db.h"

namespace secplat::auth {

inline const crypto::Argon2Params kCheapArgon{.time_cost = 1, .memory_kib = 64, .parallelism = 1, .salt_bytes = 16,
                                              .hash_bytes = 32};
inline const std::string kTestSecret = "0123456789abcdef0123456789abcdef-test";

class AuthFixture : public ::testing::Test {
 protected:
  static constexpr int kMaxFailures = 3;
  static constexpr int kWindowS = 60;

  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("secplat-auth-" + random_hex(8));
    std::filesystem::create_directories(dir_);
    auto db = store::open_sqlite({.path = (dir_ / "test.db").string(), .readers = 2, .busy_timeout_ms = 5000});
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(*db);
    auto st = store::migrate(*db_, auth_migrations());
    ASSERT_TRUE(st.ok()) << st.error().message;
    users = std::make_unique<UserRepo>(*db_, clock);
    audit = std::make_unique<AuditLog>(*db_, clock);
    api_keys = std::make_unique<ApiKeys>(*db_, clock, *audit);
    refresh = std::make_unique<RefreshTokens>(*db_, clock, int64_t{30} * 24 * 3600 * 1000);
    limiter = std::make_unique<LoginLimiter>(clock, kMaxFailures, kWindowS);
    tokens = std::make_unique<AccessTokens>(kTestSecret, clock, 60);
    login = std::make_unique<LoginService>(*users, *refresh, *limiter, *tokens, *audit, kCheapArgon);
    accounts = std::make_unique<UserAccounts>(*db_, *users, *refresh, *audit, kCheapArgon);
    // A long memory of checked users: changes made through the accounts service must still apply
    // to the very next request.
    authenticator = std::make_unique<AuthService>(*tokens, *users, *api_keys, int64_t{60000});
  }

  void TearDown() override {
    authenticator.reset();
    accounts.reset();
    login.reset();
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  User make_user(const std::string& name, http::Role role, const std::string& password = "correct-horse") {
    auto u = accounts->create({name, role, password, false}, admin_actor);
    EXPECT_TRUE(u.ok()) << u.error().message;
    return u.ok() ? *u : User{};
  }

  LoginContext ctx(const std::string& ip = "192.0.2.1") { return {{ip, "test-agent/1.0"}, "req-" + random_hex(4)}; }

  store::Db& db() { return *db_; }

  ManualClock clock{1'700'000'000'000};
  Actor admin_actor{"admin", "req-admin"};
  std::filesystem::path dir_;
  std::unique_ptr<store::Db> db_;
  std::unique_ptr<UserRepo> users;
  std::unique_ptr<AuditLog> audit;
  std::unique_ptr<ApiKeys> api_keys;
  std::unique_ptr<RefreshTokens> refresh;
  std::unique_ptr<LoginLimiter> limiter;
  std::unique_ptr<AccessTokens> tokens;
  std::unique_ptr<LoginService> login;
  std::unique_ptr<UserAccounts> accounts;
  std::unique_ptr<AuthService> authenticator;
};

}  // namespace secplat::auth
