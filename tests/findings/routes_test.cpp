// The /assets and /findings routes through a real http::Server on loopback with the TokenTableAuth
// test authenticator ("<role>-token") and a migrated SQLite database.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "api/assets_routes.h"
#include "api/findings_routes.h"
#include "findings_fixture.h"
#include "http/test_client.h"
#include "http/test_server.h"

namespace secplat::findings::testing {
namespace {

using http::testing::Reply;
using http::testing::TestClient;
using Headers = std::vector<std::pair<std::string, std::string>>;

class FindingsRoutesTest : public FindingsFixture {
 protected:
  void SetUp() override {
    FindingsFixture::SetUp();
    auto routes = api::asset_routes(*assets, *findings, *audit);
    for (auto& r : api::findings_routes(*findings)) routes.push_back(std::move(r));
    server_ = std::make_unique<http::testing::TestServer>(std::move(routes));
    ASSERT_NE(server_->port, 0);
  }
  void TearDown() override {
    if (server_ && server_->server) server_->server->shutdown();
    server_.reset();
    FindingsFixture::TearDown();
  }

  Reply call(const std::string& method, const std::string& target, const std::string& role,
             const std::string& body = "") {
    TestClient client(server_->port);
    Headers h{{"Authorization", "Bearer " + role + "-token"}};
    if (!body.empty()) h.emplace_back("Content-Type", "application/json");
    auto reply = client.request(method, target, body, h);
    EXPECT_TRUE(reply.has_value()) << method << " " << target;
    return reply.value_or(Reply{});
  }
  Reply call(const std::string& method, const std::string& target, const std::string& role, const Json& body) {
    return call(method, target, role, body.dump());
  }

  Reply create_asset(const Json& body, const std::string& role = "analyst") {
    return call("POST", "/assets/", role, body);
  }

  std::unique_ptr<http::testing::TestServer> server_;
};

const Json kWeb = {{"asset_key", "web-1"},
                   {"type", "external_web"},
                   {"name", "web.example.com"},
                   {"owner_email", "ops@example.com"},
                   {"address", "10.0.0.5"},
                   {"port", 443},
                   {"metadata", {{"team", "blue"}}},
                   {"probe", {{"url", "https://web.example.com/health"}}}};

TEST_F(FindingsRoutesTest, CreateAssetIs201AndADuplicateKeyIs409NamingTheExistingId) {
  Reply r = create_asset(kWeb);
  ASSERT_EQ(r.status, 201) << r.body;
  const Json a = r.json();
  EXPECT_EQ(a["asset_key"], "web-1");
  EXPECT_EQ(a["environment"], "dev");
  EXPECT_EQ(a["criticality"], "medium");
  EXPECT_EQ(a["verification_token"].get<std::string>().size(), 24u);
  EXPECT_EQ(a["probe"], (Json{{"url", "https://web.example.com/health"},
                              {"method", "GET"},
                              {"expected_status", {"200-399"}},
                              {"keyword", nullptr},
                              {"interval_seconds", 60},
                              {"timeout_ms", 5000}}));
  EXPECT_EQ(a["created_at"].get<std::string>().back(), 'Z');

  Reply dup = create_asset(kWeb);
  EXPECT_EQ(dup.status, 409);
  EXPECT_NE(dup.json()["detail"].get<std::string>().find("asset_id " + std::to_string(a["asset_id"].get<int64_t>())),
            std::string::npos)
      << dup.body;
  EXPECT_EQ(audit_count("asset.create"), 1);
}

TEST_F(FindingsRoutesTest, MissingAssetsAre404OnEveryVerb) {
  EXPECT_EQ(call("GET", "/assets/by-key/nope", "viewer").status, 404);
  EXPECT_EQ(call("GET", "/assets/999", "viewer").status, 404);
  EXPECT_EQ(call("PATCH", "/assets/by-key/nope", "analyst", Json{{"name", "x"}}).status, 404);
  EXPECT_EQ(call("PATCH", "/assets/by-key/nope", "analyst", Json::object()).status, 404);
  Reply del = call("DELETE", "/assets/by-key/nope", "admin");
  EXPECT_EQ(del.status, 404);
  EXPECT_EQ(del.json()["detail"], "Asset not found");
}

TEST_F(FindingsRoutesTest, ViewersSeeRedactedAssets) {
  ASSERT_EQ(create_asset(kWeb).status, 201);
  Json viewer = call("GET", "/assets/by-key/web-1", "viewer").json();
  EXPECT_TRUE(viewer["owner_email"].is_null());
  EXPECT_TRUE(viewer["verification_token"].is_null());
  EXPECT_TRUE(viewer["address"].is_null());
  EXPECT_TRUE(viewer["port"].is_null());
  EXPECT_EQ(viewer["metadata"], Json::object());
  EXPECT_TRUE(viewer["probe"]["url"].is_null());
  Json analyst = call("GET", "/assets/by-key/web-1", "analyst").json();
  EXPECT_EQ(analyst["owner_email"], "ops@example.com");
  EXPECT_EQ(analyst["port"], 443);
  EXPECT_EQ(analyst["metadata"], (Json{{"team", "blue"}}));
  Reply list = call("GET", "/assets/", "viewer");
  ASSERT_EQ(list.status, 200);
  EXPECT_TRUE(list.json()[0]["owner_email"].is_null());
}

TEST_F(FindingsRoutesTest, OnlyAdminsMayMarkAnAssetVerified) {
  ASSERT_EQ(create_asset(kWeb).status, 201);
  Json verified = kWeb;
  verified["asset_key"] = "web-2";
  verified["verified"] = true;
  EXPECT_EQ(create_asset(verified).status, 403);
  EXPECT_EQ(call("PATCH", "/assets/by-key/web-1", "analyst", Json{{"verified", true}}).status, 403);
  EXPECT_EQ(call("PATCH", "/assets/by-key/web-1", "analyst", Json{{"verification_token", "x"}}).status, 403);
  EXPECT_FALSE(call("GET", "/assets/by-key/web-1", "analyst").json()["verified"].get<bool>());
  Reply admin =
      call("PATCH", "/assets/by-key/web-1", "admin", Json{{"verified", true}, {"verification_method", "dns_txt"}});
  ASSERT_EQ(admin.status, 200) << admin.body;
  EXPECT_TRUE(admin.json()["verified"].get<bool>());
  EXPECT_EQ(audit_count("asset.update"), 1);
}

TEST_F(FindingsRoutesTest, InvalidAssetBodiesAre422) {
  auto status_of = [&](const Json& patch) {
    Json body = kWeb;
    body["asset_key"] = "bad";
    for (auto it = patch.begin(); it != patch.end(); ++it) body[it.key()] = it.value();
    return create_asset(body).status;
  };
  EXPECT_EQ(status_of({{"colour", "red"}}), 422);
  EXPECT_EQ(status_of({{"type", "mainframe"}}), 422);
  EXPECT_EQ(status_of({{"criticality", "extreme"}}), 422);
  EXPECT_EQ(status_of({{"probe", {{"url", "ftp://x.example.com"}}}}), 422);
  EXPECT_EQ(status_of({{"probe", {{"url", "https://x"}, {"interval_seconds", 0}}}}), 422);
  EXPECT_EQ(status_of({{"probe", {{"url", "https://x"}, {"timeout_ms", 100000}}}}), 422);
  EXPECT_EQ(status_of({{"probe", {{"url", "https://x"}, {"expected_status", {"399-200"}}}}}), 422);
  EXPECT_EQ(status_of({{"probe", {{"url", "https://x"}, {"retries", 3}}}}), 422);
  EXPECT_EQ(status_of({{"asset_key", "a/b"}}), 422);
  Json no_name = kWeb;
  no_name.erase("name");
  EXPECT_EQ(create_asset(no_name).status, 422);
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM assets"), 0);
  EXPECT_EQ(create_asset(kWeb, "viewer").status, 403);

  ASSERT_EQ(create_asset(kWeb).status, 201);
  EXPECT_EQ(call("PATCH", "/assets/by-key/web-1", "analyst", Json{{"asset_key", "other"}}).status, 422);
  Reply probe = call("PATCH", "/assets/by-key/web-1", "analyst",
                     Json{{"probe", {{"expected_status", {200, "301-302"}}, {"keyword", "healthy"}}}});
  ASSERT_EQ(probe.status, 200) << probe.body;
  EXPECT_EQ(probe.json()["probe"]["expected_status"], (Json{200, "301-302"}));
  EXPECT_EQ(probe.json()["probe"]["url"], "https://web.example.com/health");  // merged with the stored probe
  EXPECT_EQ(call("PATCH", "/assets/by-key/web-1", "analyst", Json::object()).json()["message"], "No changes");
}

TEST_F(FindingsRoutesTest, AssetListFiltersAndReportsTotal) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(create_asset({{"asset_key", "h" + std::to_string(i)},
                            {"type", "host"},
                            {"name", "h"},
                            {"environment", i < 2 ? "prod" : "dev"}})
                  .status,
              201);
  }
  Reply page = call("GET", "/assets/?limit=2&offset=1", "viewer");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.json().size(), 2u);
  EXPECT_EQ(page.json()[0]["asset_key"], "h3");
  EXPECT_EQ(page.header("x-total-count"), "5");
  Reply prod = call("GET", "/assets/?environment=prod", "viewer");
  EXPECT_EQ(prod.json().size(), 2u);
  EXPECT_EQ(prod.header("x-total-count"), "2");
  EXPECT_EQ(call("GET", "/assets/?limit=0", "viewer").status, 422);
}

TEST_F(FindingsRoutesTest, FindingUpsertIs201ThenUpdateIs200) {
  ASSERT_EQ(create_asset(kWeb).status, 201);
  const Json body = {{"asset_key", "web-1"}, {"finding_key", "tls:weak"}, {"title", "Weak TLS"}, {"severity", "high"},
                     {"scanner_metadata_json", {{"tool", "x"}}}};
  Reply first = call("POST", "/findings/", "analyst", body);
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(first.json()["updated"], false);
  EXPECT_EQ(first.json()["finding_key"], "tls:weak");
  Reply second = call("POST", "/findings/", "analyst", body);
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.json()["updated"], true);
  EXPECT_EQ(second.json()["finding_id"], first.json()["finding_id"]);

  Json unknown = body;
  unknown["colour"] = "red";
  EXPECT_EQ(call("POST", "/findings/", "analyst", unknown).status, 422);
  Json bad_sev = body;
  bad_sev["severity"] = "catastrophic";
  EXPECT_EQ(call("POST", "/findings/", "analyst", bad_sev).status, 422);
  Json no_asset = body;
  no_asset["asset_key"] = "missing";
  EXPECT_EQ(call("POST", "/findings/", "analyst", no_asset).status, 422);
  EXPECT_EQ(call("POST", "/findings/", "viewer", body).status, 403);

  const std::string id = std::to_string(first.json()["finding_id"].get<int64_t>());
  Reply one = call("GET", "/findings/" + id, "viewer");
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(one.json()["asset_key"], "web-1");
  EXPECT_TRUE(one.json()["evidence"].is_null());  // redacted for viewers
  EXPECT_EQ(call("GET", "/findings/99999", "viewer").status, 404);
}

// The asset may be named by id instead of key; an unknown one is a 422 naming that field, and
// nothing is written (no finding, no audit row).
TEST_F(FindingsRoutesTest, FindingUpsertByAssetIdAndUnknownAssetsWriteNothing) {
  Reply asset = create_asset(kWeb);
  ASSERT_EQ(asset.status, 201);
  const int64_t asset_id = asset.json()["asset_id"].get<int64_t>();
  Reply by_id = call("POST", "/findings/", "analyst",
                     Json{{"asset_id", asset_id}, {"finding_key", "hdr:csp"}, {"title", "No CSP"}});
  ASSERT_EQ(by_id.status, 201) << by_id.body;
  const std::string fid = std::to_string(by_id.json()["finding_id"].get<int64_t>());
  EXPECT_EQ(call("GET", "/findings/" + fid, "viewer").json()["asset_key"], "web-1");
  Reply again = call("POST", "/findings/", "analyst",
                     Json{{"asset_key", "web-1"}, {"finding_key", "hdr:csp"}, {"title", "No CSP"}});
  EXPECT_EQ(again.status, 200) << "the same key on the same asset, named by key";

  const int64_t audits = audit_count("finding.upsert");
  Reply missing_id = call("POST", "/findings/", "analyst",
                          Json{{"asset_id", asset_id + 1000}, {"finding_key", "x"}, {"title", "X"}});
  ASSERT_EQ(missing_id.status, 422) << missing_id.body;
  EXPECT_NE(missing_id.body.find("asset_id"), std::string::npos) << missing_id.body;
  EXPECT_NE(missing_id.body.find("Asset not found: " + std::to_string(asset_id + 1000)), std::string::npos)
      << missing_id.body;
  Reply missing_key = call("POST", "/findings/", "analyst",
                           Json{{"asset_key", "nope"}, {"finding_key", "x"}, {"title", "X"}});
  ASSERT_EQ(missing_key.status, 422) << missing_key.body;
  EXPECT_NE(missing_key.body.find("Asset not found: nope"), std::string::npos) << missing_key.body;
  Reply neither = call("POST", "/findings/", "analyst", Json{{"finding_key", "x"}, {"title", "X"}});
  EXPECT_EQ(neither.status, 422) << neither.body;
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM findings"), 1);
  EXPECT_EQ(audit_count("finding.upsert"), audits);
}

TEST_F(FindingsRoutesTest, ConcurrentFirstPostsOfOneKeyGiveOne201AndThe200s) {
  ASSERT_EQ(create_asset(kWeb).status, 201);
  constexpr int kThreads = 8;
  std::vector<int> statuses(kThreads, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      statuses[i] = call("POST", "/findings/", "analyst",
                         Json{{"asset_key", "web-1"}, {"finding_key", "race"}, {"title", "Race"}})
                        .status;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 201), 1);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), kThreads - 1);
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM findings"), 1);
}

TEST_F(FindingsRoutesTest, AdminDeletesAnUnreferencedAsset) {
  ASSERT_EQ(create_asset(kWeb).status, 201);
  Reply del = call("DELETE", "/assets/by-key/web-1", "admin");
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_EQ(del.json()["asset_key"], "web-1");
  EXPECT_EQ(call("GET", "/assets/by-key/web-1", "viewer").status, 404);
  EXPECT_EQ(audit_count("asset.delete"), 1);
}

TEST_F(FindingsRoutesTest, StatusAndAcceptRiskValidateAndFollowTheStateMachine) {
  ASSERT_EQ(create_asset(kWeb).status, 201);
  Reply f = call("POST", "/findings/", "analyst", Json{{"asset_key", "web-1"}, {"finding_key", "k"}, {"title", "T"}});
  const std::string base = "/findings/" + std::to_string(f.json()["finding_id"].get<int64_t>());

  auto accept = [&](const Json& body) { return call("POST", base + "/accept-risk", "analyst", body); };
  EXPECT_EQ(accept({{"reason", "r"}, {"expires_at", "next tuesday"}}).status, 422);
  EXPECT_EQ(accept({{"reason", "r"}, {"expires_at", "2026-12-01T00:00:00"}}).status, 422);  // no zone
  EXPECT_EQ(accept({{"reason", "r"}, {"expires_at", "2020-01-01T00:00:00Z"}}).status, 422);  // past
  EXPECT_EQ(accept({{"expires_at", "2030-01-01T00:00:00Z"}}).status, 422);
  Reply ok = accept({{"reason", "WAF rule in place"}, {"expires_at", "2030-01-01T00:00:00+02:00"}});
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.json()["status"], "accepted_risk");
  EXPECT_EQ(ok.json()["accepted_risk_expires_at"], "2029-12-31T22:00:00.000Z");

  Reply bad = call("PATCH", base + "/status", "analyst", Json{{"status", "remediated"}});
  EXPECT_EQ(bad.status, 409);
  EXPECT_NE(bad.body.find("from accepted_risk to remediated"), std::string::npos) << bad.body;
  EXPECT_EQ(call("PATCH", base + "/status", "analyst", Json{{"status", "bogus"}}).status, 422);
  Reply reopen = call("PATCH", base + "/status", "analyst", Json{{"status", "open"}});
  ASSERT_EQ(reopen.status, 200);
  EXPECT_EQ(reopen.json()["status"], "open");
  EXPECT_EQ(audit_count("accept_risk"), 1);
  EXPECT_EQ(audit_count("finding_status"), 1);
}

TEST_F(FindingsRoutesTest, FindingListPagesWithTotal) {
  ASSERT_EQ(create_asset(kWeb).status, 201);
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(call("POST", "/findings/", "analyst",
                   Json{{"asset_key", "web-1"}, {"finding_key", "k" + std::to_string(i)}, {"title", "T"}})
                  .status,
              201);
    clock.advance_ms(1000);
  }
  Reply page = call("GET", "/findings/?asset_key=web-1&limit=3&offset=0", "viewer");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.json().size(), 3u);
  EXPECT_EQ(page.header("x-total-count"), "4");
  EXPECT_EQ(page.json()[0]["finding_key"], "k3");
  EXPECT_EQ(call("GET", "/findings/?status=closed", "viewer").status, 422);
  EXPECT_EQ(call("GET", "/findings/?limit=501", "viewer").status, 422);
}

TEST_F(FindingsRoutesTest, SarifImportInBothBodyFormsAndMalformedLogsAre422) {
  ASSERT_EQ(create_asset(kWeb).status, 201);
  const Json log = {
      {"version", "2.1.0"},
      {"runs", Json::array({{{"tool", {{"driver", {{"name", "bandit"}}}}},
                             {"results", Json::array({{{"ruleId", "B105"},
                                                       {"level", "warning"},
                                                       {"message", {{"text", "Hardcoded password"}}},
                                                       {"partialFingerprints", {{"h", "1"}}}}})}}})}};
  Reply wrapped = call("POST", "/findings/import", "analyst", Json{{"asset_key", "web-1"}, {"sarif", log}});
  ASSERT_EQ(wrapped.status, 200) << wrapped.body;
  EXPECT_EQ(wrapped.json()["created"], 1);
  EXPECT_EQ(wrapped.json()["total"], 1);
  Reply raw = call("POST", "/findings/import?asset_key=web-1&source=bandit", "analyst", log);
  ASSERT_EQ(raw.status, 200) << raw.body;
  EXPECT_EQ(raw.json()["unchanged"], 1);

  Json broken = log;
  broken["version"] = "2.0.0";
  Reply bad = call("POST", "/findings/import", "analyst", Json{{"asset_key", "web-1"}, {"sarif", broken}});
  EXPECT_EQ(bad.status, 422);
  EXPECT_NE(bad.body.find("2.1.0"), std::string::npos);
  EXPECT_EQ(call("POST", "/findings/import", "analyst", Json{{"asset_key", "web-1"}}).status, 422);
  EXPECT_EQ(call("POST", "/findings/import", "analyst", Json{{"asset_key", "nope"}, {"sarif", log}}).status, 422);
  EXPECT_EQ(call("POST", "/findings/import", "viewer", Json{{"asset_key", "web-1"}, {"sarif", log}}).status, 403);
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM findings"), 1);
  EXPECT_EQ(audit_count("finding.import"), 2);

  // The asset cannot be deleted while its findings exist.
  EXPECT_EQ(call("DELETE", "/assets/by-key/web-1", "admin").status, 409);
  EXPECT_EQ(call("DELETE", "/assets/by-key/web-1", "analyst").status, 403);
}

}  // namespace
}  // namespace secplat::findings::testing
