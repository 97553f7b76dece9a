// The verify-and-permit gate on real signed bundles (written by the assurance signing code, the
// same path a scan takes): what it permits, every denial reason a tampered or foreign bundle
// earns, and the permit's single use, expiry and binding. Store: SQLite in a temp dir.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "api/trust_routes.h"
#include "assurance/attestation.h"
#include "assurance/http_upload_gate.h"
#include "assurance/signing_key.h"
#include "core/encoding.h"
#include "crypto/ecdsa.h"
#include "http/test_server.h"
#include "store/sqlite_db.h"
#include "trust/transparency_log.h"
#include "trust/trust_gate.h"

namespace secplat::trust {
namespace {

namespace fs = std::filesystem;

const std::string kScan = "test_0123456789ab";

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class TrustGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    root_ = fs::temp_directory_path() / ("secplat-gate-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(root_);
    auto db = store::open_sqlite({(root_ / "db.sqlite").string(), 2, 5000});
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(*db);
    ASSERT_TRUE(store::migrate(*db_, transparency_log_migrations()).ok());
    ASSERT_TRUE(store::migrate(*db_, trust_gate_migrations()).ok());
    auto key = crypto::ec_p256_generate();
    ASSERT_TRUE(key.ok());
    key_ = *key;
    log_ = std::make_unique<TransparencyLog>(*db_, key_, "secplat/test", clock_);
    GateSettings s;
    s.trusted_keys = {key_.public_pem};
    s.permit_ttl_s = 60;
    gate_ = std::make_unique<TrustGate>(*db_, *log_, key_, s, clock_);
    make_bundle(key_, kScan, true);
  }
  void TearDown() override {
    gate_.reset();
    log_.reset();
    db_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // A bundle as the pipeline writes it: reports, a signed manifest, a policy result, attested.
  void make_bundle(const crypto::EcKeyPair& key, const std::string& test_id, bool policy_passed) {
    bundle_ = root_ / test_id;
    fs::remove_all(bundle_);
    write(bundle_ / "reports/secrets/secrets.sarif.json", R"({"version":"2.1.0","runs":[]})");
    write(bundle_ / "summary.json", R"({"tools":[]})");
    write(bundle_ / "manifest.json", R"({"profile":"light"})");
    write(bundle_ / "policy-result.json", std::string(R"({"policy_passed":)") + (policy_passed ? "true" : "false") + "}");
    ASSERT_TRUE(assurance::write_detached_signature((bundle_ / "manifest.json").string(), key).ok());
    assurance::AttestationInfo info;
    info.test_id = test_id;
    info.workspace_id = "w";
    info.component_id = "c";
    info.source_uri = "file:///src";
    ASSERT_TRUE(assurance::write_attestation(bundle_.string(), info, key).ok());
  }

  // The request the publisher sends for the bundle on disk.
  Json request(const std::string& tier = "verified") {
    auto listing = assurance::list_bundle_files(bundle_.string());
    EXPECT_TRUE(listing.ok());
    Json arts = Json::array();
    for (const auto& f : listing->files) arts.push_back({{"name", f.path}, {"hash", "sha256:" + f.sha256_hex}, {"size", f.size}});
    Json env = Json::parse(read(bundle_ / assurance::kAttestationPath));
    return {{"scan_id", kScan},
            {"tier", tier},
            {"inner_signature",
             {{"signer", "secplat"}, {"timestamp", "2026-11-23T00:00:00Z"}, {"signature", env["signatures"][0]["sig"]},
              {"algorithm", "ECDSA-P256-SHA256"}, {"certificate", nullptr}}},
            {"artifacts", arts},
            {"metadata", {{"git_url", nullptr}, {"branch", "main"}, {"commit", "HEAD"}, {"requested_by", "alice"}}},
            {"attestation", env},
            {"documents",
             {{"manifest.json", read(bundle_ / "manifest.json")},
              {"manifest.sig", read(bundle_ / "manifest.sig")},
              {"policy-result.json", read(bundle_ / "policy-result.json")}}}};
  }

  std::map<std::string, std::string> digests_of(const Json& req) {
    std::map<std::string, std::string> d;
    for (const auto& a : req["artifacts"]) d[a["name"]] = a["hash"].get<std::string>().substr(7);
    return d;
  }

  std::string denial_of(const Json& req) {
    auto r = gate_->verify_and_permit(req);
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (!r.ok()) return "error";
    EXPECT_FALSE((*r)["permitted"].get<bool>()) << r->dump();
    EXPECT_TRUE((*r)["verification_proof"].is_null());
    EXPECT_TRUE((*r)["permit"].is_null());
    return (*r)["reason"].is_string() ? (*r)["reason"].get<std::string>() : "";
  }

  fs::path root_, bundle_;
  ManualClock clock_{1'800'000'000'000};
  std::unique_ptr<store::Db> db_;
  crypto::EcKeyPair key_;
  std::unique_ptr<TransparencyLog> log_;
  std::unique_ptr<TrustGate> gate_;
};

TEST_F(TrustGateTest, AnIntactBundleIsPermittedLoggedAndProvable) {
  auto r = gate_->verify_and_permit(request());
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE((*r)["permitted"].get<bool>()) << r->dump();
  EXPECT_TRUE((*r)["reason"].is_null());
  const Json& proof = (*r)["verification_proof"];
  EXPECT_TRUE(proof["inner_signature_valid"].get<bool>());
  EXPECT_EQ(proof["checks"]["policy_passed"], true);
  EXPECT_EQ(proof["checks"]["manifest_signature_valid"], true);
  // Two log entries: the attestation's signature and the permit; the permit's proof verifies
  // offline against the signed checkpoint.
  auto size = log_->size();
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 2);
  auto entry = log_->get(proof["rekor_entry_uuid"].get<std::string>());
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(entry->kind, "permit");
  EXPECT_EQ(entry->subject, "scan:" + kScan);
  auto head = log_->checkpoint();
  ASSERT_TRUE(head.ok());
  auto inc = log_->inclusion_proof(entry->index, head->tree_size);
  ASSERT_TRUE(inc.ok());
  EXPECT_TRUE(verify_entry_inclusion(*entry, *inc, *head, key_.public_pem).ok());
  EXPECT_EQ(proof["transparency"]["inclusion_proof"]["root_hash"], head->root_hash_hex);
}

TEST_F(TrustGateTest, EveryTamperedOrForeignBundleIsDeniedWithItsReason) {
  {
    Json req = request();
    req["artifacts"] = Json::array();
    EXPECT_EQ(denial_of(req), "no_artifacts");
  }
  {
    // The statement re-signed by a key the gate does not trust.
    auto other = crypto::ec_p256_generate();
    ASSERT_TRUE(other.ok());
    make_bundle(*other, kScan, true);
    EXPECT_EQ(denial_of(request()), "untrusted_signer");
    make_bundle(key_, kScan, true);
  }
  {
    Json req = request();
    req["inner_signature"]["signature"] = base64_encode(std::string(70, 'x'));
    EXPECT_EQ(denial_of(req), "invalid_signature");
  }
  {
    // A report changed after signing: its digest no longer matches the attestation.
    write(bundle_ / "summary.json", R"({"tools":["forged"]})");
    EXPECT_EQ(denial_of(request()), "digest_mismatch");
    make_bundle(key_, kScan, true);
  }
  {
    // Same digest claimed, different size.
    Json req = request();
    for (auto& a : req["artifacts"])
      if (a["name"] == "summary.json") a["size"] = a["size"].get<int64_t>() + 1;
    EXPECT_EQ(denial_of(req), "size_mismatch");
  }
  {
    Json req = request();
    req["artifacts"].push_back({{"name", "extra.bin"}, {"hash", "sha256:" + std::string(64, 'a')}, {"size", 1}});
    EXPECT_EQ(denial_of(req), "unattested_artifact");
  }
  {
    Json req = request();
    req["artifacts"].erase(0);
    EXPECT_EQ(denial_of(req), "missing_artifact");
  }
  {
    // A document that is not the attested file.
    Json req = request();
    req["documents"]["policy-result.json"] = R"({"policy_passed":true,"forged":1})";
    EXPECT_EQ(denial_of(req), "digest_mismatch");
  }
  {
    Json req = request();
    req["documents"].erase("manifest.sig");
    EXPECT_EQ(denial_of(req), "manifest_unverifiable");
  }
  {
    // The attestation is about another scan.
    Json req = request();
    req["scan_id"] = "test_ffffffffffff";
    EXPECT_EQ(denial_of(req), "scan_mismatch");
  }
  {
    // A failing policy: verified tier denied, basic tier permitted (and says so).
    make_bundle(key_, kScan, false);
    EXPECT_EQ(denial_of(request("verified")), "policy_failed");
    auto basic = gate_->verify_and_permit(request("basic"));
    ASSERT_TRUE(basic.ok());
    EXPECT_TRUE((*basic)["permitted"].get<bool>());
    EXPECT_EQ((*basic)["checks"]["policy_passed"], false);
  }
  // Nothing denied reached the log: only the basic-tier permit (2 entries).
  auto size = log_->size();
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 2);
}

TEST_F(TrustGateTest, VerifiedTierNeedsAnAllowedSigner) {
  auto other = crypto::ec_p256_generate();
  ASSERT_TRUE(other.ok());
  GateSettings s;
  s.trusted_keys = {key_.public_pem, other->public_pem};
  s.verified_signers = {crypto::ec_key_id(key_.public_pem)};
  TrustGate gate(*db_, *log_, key_, s, clock_);
  make_bundle(*other, kScan, true);
  auto verified = gate.verify_and_permit(request("verified"));
  ASSERT_TRUE(verified.ok());
  EXPECT_EQ((*verified)["reason"], "invalid_signer");
  auto basic = gate.verify_and_permit(request("basic"));
  ASSERT_TRUE(basic.ok());
  EXPECT_TRUE((*basic)["permitted"].get<bool>()) << basic->dump();
}

TEST_F(TrustGateTest, MalformedRequestsAre422NamingTheField) {
  Json req = request();
  req["tier"] = "gold";
  auto r = gate_->verify_and_permit(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::validation);
  EXPECT_EQ(r.error().fields.front().loc, (std::vector<std::string>{"body", "tier"}));
  req = request();
  req["artifacts"][0]["hash"] = "sha256:sha256:abc";  // the reference's doubled prefix
  r = gate_->verify_and_permit(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().fields.front().loc, (std::vector<std::string>{"body", "artifacts", "0", "hash"}));
  req = request();
  req.erase("attestation");
  r = gate_->verify_and_permit(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().fields.front().loc, (std::vector<std::string>{"body", "attestation"}));
}

TEST_F(TrustGateTest, APermitIsRedeemedOnceForExactlyItsScanAndDigests) {
  Json req = request();
  auto r = gate_->verify_and_permit(req);
  ASSERT_TRUE(r.ok());
  const std::string token = (*r)["permit"];
  auto digests = digests_of(req);

  auto other = digests;
  other.begin()->second = std::string(64, '0');
  auto wrong = gate_->redeem(token, kScan, other, "w1");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, Errc::forbidden);
  auto wrong_scan = gate_->redeem(token, "test_ffffffffffff", digests, "w1");
  ASSERT_FALSE(wrong_scan.ok());
  // A token with one character changed does not verify.
  std::string forged = token;
  forged[10] = forged[10] == 'A' ? 'B' : 'A';
  auto bad = gate_->redeem(forged, kScan, digests, "w1");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::forbidden);

  auto first = gate_->redeem(token, kScan, digests, "w1");
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->permit_id, (*r)["upload_permission_id"]);
  auto replay = gate_->redeem(token, kScan, digests, "w2");
  ASSERT_FALSE(replay.ok());
  EXPECT_EQ(replay.error().code, Errc::forbidden);
  EXPECT_NE(replay.error().message.find("already used"), std::string::npos) << replay.error().message;
}

// The gate of a worker without database credentials: the API's /internal/trust routes, for service
// keys only (the /v1 routes stay for users' analyst keys and the trust role), same checks and
// single-use permits as in-process.
TEST_F(TrustGateTest, ServiceKeysReachTheGateUnderInternalTrustAndNothingElse) {
  std::vector<http::Route> routes = api::trust_routes(*gate_, *log_);
  for (auto& r : api::trust_internal_routes(*gate_, *log_)) routes.push_back(std::move(r));
  HttpConfig limits = http::testing::TestServer::small_limits();
  limits.max_body_bytes = 1 << 20;
  http::testing::TestServer api(std::move(routes), limits);
  ASSERT_NE(api.port, 0);
  const std::string base = "http://127.0.0.1:" + std::to_string(api.port);
  Json req = request();

  assurance::HttpUploadGate worker_gate(base + "/internal/trust", "service-token");
  auto r = worker_gate.verify_and_permit(req);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_TRUE((*r)["permitted"].get<bool>()) << r->dump();
  const std::string token = (*r)["permit"];
  ASSERT_TRUE(worker_gate.redeem(token, kScan, digests_of(req), "worker-1").ok());
  auto replay = worker_gate.redeem(token, kScan, digests_of(req), "worker-2");
  ASSERT_FALSE(replay.ok());
  EXPECT_EQ(replay.error().code, Errc::forbidden);

  // A user's key does not reach the internal routes, a service key not the users' ones.
  assurance::HttpUploadGate analyst_on_internal(base + "/internal/trust", "analyst-token");
  EXPECT_EQ(analyst_on_internal.verify_and_permit(req).error().code, Errc::forbidden);
  assurance::HttpUploadGate service_on_v1(base, "service-token");
  EXPECT_EQ(service_on_v1.verify_and_permit(req).error().code, Errc::forbidden);
  assurance::HttpUploadGate analyst_on_v1(base, "analyst-token");
  auto user = analyst_on_v1.verify_and_permit(req);
  ASSERT_TRUE(user.ok()) << user.error().message;
  EXPECT_TRUE((*user)["permitted"].get<bool>());
}

TEST_F(TrustGateTest, AnExpiredPermitIsRefused) {
  Json req = request();
  auto r = gate_->verify_and_permit(req);
  ASSERT_TRUE(r.ok());
  clock_.advance_ms(61'000);
  auto late = gate_->redeem((*r)["permit"], kScan, digests_of(req), "w1");
  ASSERT_FALSE(late.ok());
  EXPECT_NE(late.error().message.find("expired"), std::string::npos) << late.error().message;
}

TEST_F(TrustGateTest, APermitFromAnotherGateKeyIsRefused) {
  auto other = crypto::ec_p256_generate();
  ASSERT_TRUE(other.ok());
  GateSettings s;
  s.trusted_keys = {key_.public_pem};
  TrustGate foreign(*db_, *log_, *other, s, clock_);
  Json req = request();
  auto r = foreign.verify_and_permit(req);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE((*r)["permitted"].get<bool>());
  auto refused = gate_->redeem((*r)["permit"], kScan, digests_of(req), "w1");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("signature"), std::string::npos);
}

}  // namespace
}  // namespace secplat::trust
