// AssetRepo against a real SQLite file.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "findings/findings_fixture.h"

namespace secplat::posture {
namespace {

using AssetRepoTest = findings::testing::FindingsFixture;

Asset asset(const std::string& key, const std::string& type = "app") {
  Asset a;
  a.asset_key = key;
  a.type = type;
  a.name = key + ".example.com";
  return a;
}

TEST_F(AssetRepoTest, EnsureIsIdempotentUnderConcurrency) {
  constexpr int kThreads = 8;
  std::vector<int64_t> ids(kThreads, -1);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto r = assets->ensure("repo-x", "repository", "Repo X");
      ids[i] = r.ok() ? *r : -1;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), 1u);
  EXPECT_GT(ids[0], 0);
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM assets"), 1);
  auto a = assets->get_by_key("repo-x");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->asset_type, "repository");
  EXPECT_EQ(a->type, "app");
  EXPECT_EQ(a->name, "Repo X");
  // An existing asset keeps its attributes.
  EXPECT_EQ(*assets->ensure("repo-x", "host", "Other"), ids[0]);
  EXPECT_EQ(assets->get_by_key("repo-x")->name, "Repo X");
  EXPECT_EQ(assets->get(ids[0])->asset_key, "repo-x");
}

TEST_F(AssetRepoTest, CreateRefusesATakenKeyNamingTheExistingId) {
  auto first = assets->create(asset("web-1"));
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto dup = assets->create(asset("web-1"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, Errc::conflict);
  EXPECT_NE(dup.error().message.find("asset_id " + std::to_string(first->asset_id)), std::string::npos);
}

TEST_F(AssetRepoTest, ExternalWebAssetsGetAVerificationToken) {
  auto web = assets->create(asset("site", "external_web"));
  ASSERT_TRUE(web.ok());
  ASSERT_TRUE(web->verification_token.has_value());
  EXPECT_EQ(web->verification_token->size(), 24u);
  for (char c : *web->verification_token) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)));
  EXPECT_FALSE(assets->create(asset("host-1", "host"))->verification_token.has_value());
}

TEST_F(AssetRepoTest, ProbeSettingsRoundTripAndProbedAssetsAreListed) {
  Asset a = asset("probed");
  a.probe = Probe{.url = "https://probed.example.com/health",
                  .method = "GET",
                  .expected_status = {{200, 200}, {300, 399}},
                  .keyword = "ok",
                  .interval_seconds = 30,
                  .timeout_ms = 2000};
  ASSERT_TRUE(assets->create(a).ok());
  ASSERT_TRUE(assets->create(asset("plain")).ok());
  auto probed = assets->list_probed();
  ASSERT_TRUE(probed.ok());
  ASSERT_EQ(probed->size(), 1u);
  EXPECT_EQ(probed->front().asset_key, "probed");
  EXPECT_EQ(probed->front().probe, a.probe);
  EXPECT_TRUE(a.probe->accepts(200));
  EXPECT_TRUE(a.probe->accepts(302));
  EXPECT_FALSE(a.probe->accepts(204));
  EXPECT_FALSE(a.probe->accepts(404));
}

TEST_F(AssetRepoTest, UpdateChangesFieldsButNeverTheKeyAndRunsTheAuditHookInTheTransaction) {
  ASSERT_TRUE(assets->create(asset("web-1")).ok());
  clock.advance_ms(5000);
  auto updated = assets->update(
      "web-1",
      [](Asset& a) {
        a.asset_key = "hijacked";
        a.environment = "prod";
        a.tags = {"public"};
        return ok_status();
      },
      [&](store::Tx& tx, const Asset& a) {
        return audit->append(tx, "asset.update", "alice", a.asset_key, Json::object(), "r");
      });
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->asset_key, "web-1");
  EXPECT_EQ(updated->updated_ms, findings::testing::kT0 + 5000);
  auto read = assets->get_by_key("web-1");
  EXPECT_EQ(read->environment, "prod");
  EXPECT_EQ(read->tags, std::vector<std::string>{"public"});
  EXPECT_EQ(audit_count("asset.update"), 1);

  // A failing change or audit hook leaves the row untouched.
  auto refused = assets->update("web-1", [](Asset&) -> Status { return Error::forbidden("no"); });
  EXPECT_EQ(refused.error().code, Errc::forbidden);
  auto audit_fails = assets->update(
      "web-1",
      [](Asset& a) {
        a.environment = "dev";
        return ok_status();
      },
      [](store::Tx&, const Asset&) -> Status { return Error::internal("audit down"); });
  EXPECT_FALSE(audit_fails.ok());
  EXPECT_EQ(assets->get_by_key("web-1")->environment, "prod");
  EXPECT_EQ(assets->update("missing", [](Asset&) { return ok_status(); }).error().code, Errc::not_found);
}

TEST_F(AssetRepoTest, RemoveIsNotFoundWhenMissingAndConflictWhileFindingsReferenceIt) {
  EXPECT_EQ(assets->remove("missing").error().code, Errc::not_found);
  ASSERT_TRUE(assets->create(asset("web-1")).ok());
  auto f = findings->upsert(input("web-1", "k"), actor);
  ASSERT_TRUE(f.ok());
  auto refused = assets->remove("web-1");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::conflict);
  ASSERT_TRUE(assets->create(asset("web-2")).ok());
  auto removed = assets->remove("web-2");
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(removed->asset_key, "web-2");
  EXPECT_EQ(assets->get_by_key("web-2").error().code, Errc::not_found);
}

TEST_F(AssetRepoTest, ListFiltersAndPagesNewestFirstWithTotal) {
  for (int i = 0; i < 7; ++i) {
    Asset a = asset("svc-" + std::to_string(i), i % 2 ? "host" : "app");
    a.environment = i < 3 ? "prod" : "dev";
    ASSERT_TRUE(assets->create(a).ok());
  }
  AssetFilter f;
  f.limit = 3;
  f.offset = 3;
  auto page = assets->list(f);
  ASSERT_TRUE(page.ok()) << page.error().message;
  EXPECT_EQ(page->total, 7);
  ASSERT_EQ(page->items.size(), 3u);
  EXPECT_EQ(page->items[0].asset_key, "svc-3");
  AssetFilter prod_hosts;
  prod_hosts.environment = "prod";
  prod_hosts.type = "host";
  EXPECT_EQ(assets->list(prod_hosts)->total, 1);
  AssetFilter q;
  q.q = "SVC-6";
  EXPECT_EQ(assets->list(q)->total, 1);
}

}  // namespace
}  // namespace secplat::posture
