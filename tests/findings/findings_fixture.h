// A migrated SQLite database (auth + assets/findings schema) in a fresh temp dir, with a ManualClock,
// an AuditLog, an AssetRepo and a FindingsService wired as in production.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "auth/audit_log.h"
#include "auth/migrations.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/json.h"
#include "findings/findings_service.h"
#include "findings/migrations.h"
#include "posture/asset_repo.h"
#include "store/sqlite_db.h"

namespace secplat::findings::testing {

inline constexpr int64_t kT0 = 1'790'000'000'000;  // 2026-09-21
inline constexpr int64_t kDayMs = int64_t{24} * 3600 * 1000;

class FindingsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("secplat-findings-" + random_hex(8));
    std::filesystem::create_directories(dir_);
    auto db = store::open_sqlite({.path = (dir_ / "test.db").string(), .readers = 2, .busy_timeout_ms = 10000});
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(*db);
    auto migrations = auth::auth_migrations();
    for (auto& m : findings_migrations()) migrations.push_back(std::move(m));
    auto st = store::migrate(*db_, migrations);
    ASSERT_TRUE(st.ok()) << st.error().message;
    audit = std::make_unique<auth::AuditLog>(*db_, clock);
    assets = std::make_unique<posture::AssetRepo>(*db_, clock);
    findings = std::make_unique<FindingsService>(*db_, clock, *audit);
  }

  void TearDown() override {
    findings.reset();
    assets.reset();
    audit.reset();
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  int64_t count(const std::string& sql, const store::Params& params = {}) {
    auto rows = db_->query(sql, params);
    EXPECT_TRUE(rows.ok()) << rows.error().message;
    return rows.ok() && !rows->empty() ? rows->front().i64("n") : -1;
  }

  int64_t audit_count(const std::string& action) {
    return count("SELECT COUNT(*) AS n FROM audit_events WHERE action = $1", {action});
  }

  int64_t make_asset(const std::string& key, const std::string& type = "app") {
    auto id = assets->ensure(key, type, key);
    EXPECT_TRUE(id.ok()) << id.error().message;
    return id.ok() ? *id : 0;
  }

  // "prod-web" made a plain app in dev of low criticality (a mild context).
  void make_prod_web_mild() {
    auto st = assets->update("prod-web", [](posture::Asset& a) {
      a.type = "app";
      a.environment = "dev";
      a.criticality = "low";
      return ok_status();
    });
    EXPECT_TRUE(st.ok()) << st.error().message;
  }

  // "prod-web": an internet-facing production asset of high criticality (the riskiest context).
  void make_prod_web(std::vector<std::string> tags = {}, std::string metadata_json = "{}") {
    make_asset("prod-web", "external_web");
    auto st = assets->update("prod-web", [&](posture::Asset& a) {
      a.environment = "prod";
      a.criticality = "high";
      a.tags = tags;
      a.metadata_json = metadata_json;
      return ok_status();
    });
    EXPECT_TRUE(st.ok()) << st.error().message;
  }

  FindingInput input(const std::string& asset_key, const std::string& key, const std::string& title = "A finding") {
    FindingInput in;
    in.asset_key = asset_key;
    in.finding_key = key;
    in.title = title;
    return in;
  }

  const auth::Actor actor{"alice", "req-1"};
  ManualClock clock{kT0};
  std::filesystem::path dir_;
  std::unique_ptr<store::Db> db_;
  std::unique_ptr<auth::AuditLog> audit;
  std::unique_ptr<posture::AssetRepo> assets;
  std::unique_ptr<FindingsService> findings;
};

}  // namespace secplat::findings::testing
