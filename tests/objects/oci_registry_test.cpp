// The OCI registry client and bundle push against a real docker-registry (CTest fixture `oci`,
// tests/support/registry_test_server.sh), read back independently with skopeo and openssl.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "core/encoding.h"
#include "core/ids.h"
#include "core/json.h"
#include "crypto/dsse.h"
#include "crypto/ecdsa.h"
#include "objects/oci_bundle.h"
#include "objects/oci_registry.h"

namespace secplat::objects {
namespace {

namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, std::string_view content) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
}

// Runs a shell command; stdout in `out`, exit status returned.
int run(const std::string& cmd, std::string* out = nullptr) {
  std::FILE* p = ::popen((cmd + " 2>/dev/null").c_str(), "r");
  if (p == nullptr) return -1;
  std::string buf(4096, '\0');
  std::string all;
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) all.append(buf.data(), n);
  int rc = ::pclose(p);
  if (out) *out = std::move(all);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string host_of(const std::string& url) { return url.substr(url.find("://") + 3); }

// "host:port" of the shared test registry.
std::string shared_registry() {
  const char* dir = std::getenv("SECPLAT_TEST_OCI_DIR");
  std::string url = dir ? read_file(std::string(dir) + "/url") : "";
  while (!url.empty() && (url.back() == '\n' || url.back() == '\r')) url.pop_back();
  if (url.empty()) ADD_FAILURE() << "no test registry: run under ctest (fixture oci) or set SECPLAT_TEST_OCI_DIR";
  return host_of(url);
}

OciConfig config_for(const std::string& host) {
  OciConfig c;
  c.registry = host;
  c.insecure = true;
  c.max_attempts = 2;
  c.timeout_s = 60;
  return c;
}

std::string unique_repo(const std::string& stem) { return "secplat-test/" + stem + "-" + random_hex(4); }

// A registry of one's own (optionally with htpasswd auth), stopped and removed with the object.
class PrivateRegistry {
 public:
  explicit PrivateRegistry(const std::string& auth_args = "") : dir_("/tmp/secplat-oci-" + random_hex(6)) {
    ok_ = control("start", auth_args) == 0;
    if (ok_) host_ = host_of(read_file(dir_ + "/url").substr(0, read_file(dir_ + "/url").find('\n')));
  }
  ~PrivateRegistry() { stop(); }
  PrivateRegistry(const PrivateRegistry&) = delete;
  PrivateRegistry& operator=(const PrivateRegistry&) = delete;
  bool ok() const { return ok_; }
  const std::string& host() const { return host_; }
  const std::string& dir() const { return dir_; }
  void stop() { control("stop", ""); }

 private:
  int control(const std::string& what, const std::string& args) {
    return std::system((std::string(SECPLAT_SOURCE_DIR) + "/tests/support/registry_test_server.sh " + what + " " +
                        dir_ + " " + args)
                           .c_str());
  }
  std::string dir_, host_;
  bool ok_ = false;
};

// A bundle directory of real files, with the digests a trust gate would have verified.
class BundleFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = "/tmp/secplat-oci-bundle-" + random_hex(6);
    auto kp = crypto::ec_p256_generate();
    ASSERT_TRUE(kp.ok());
    key_ = *kp;
    add("scan.json", R"({"test_id":"test_ab12cd34ef56","status":"SUCCEEDED"})", "application/json");
    std::string sarif = R"({"version":"2.1.0","runs":[)";
    for (int i = 0; i < 60; ++i) sarif += R"({"tool":{"driver":{"name":"secrets","rules":[]}},"results":[]},)";
    sarif += "{}]}";
    add("reports/sast/secrets.sarif.json", sarif, "application/sarif+json");
    add("reports/sbom/sbom.cdx.json", std::string(3000, 'x'), "application/vnd.cyclonedx+json");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void add(const std::string& rel, const std::string& content, const std::string& media_type) {
    write_file(dir_ + "/" + rel, content);
    files_.push_back({rel, sha256_hex(content), static_cast<int64_t>(content.size()), media_type});
  }
  void add_big(const std::string& rel, std::size_t bytes) {
    std::string content(bytes, '\0');
    std::mt19937_64 rng(42);
    for (std::size_t i = 0; i + 8 <= bytes; i += 8) {
      uint64_t v = rng();
      std::memcpy(content.data() + i, &v, 8);
    }
    add(rel, content, "application/octet-stream");
  }

  BundleSigning signing() {
    std::string statement = R"({"_type":"https://in-toto.io/Statement/v1","subject":[],)"
                            R"("predicateType":"https://slsa.dev/provenance/v1","predicate":{}})";
    auto env = crypto::dsse_sign("application/vnd.in-toto+json", statement, key_.private_pem);
    EXPECT_TRUE(env.ok());
    return {key_.private_pem, env->dump()};
  }

  std::string dir_;
  crypto::EcKeyPair key_;
  std::vector<BundleLayer> files_;
  const BundleInfo info_{"test_ab12cd34ef56", "2026-01-02T03:04:05Z"};
};

// ---------------------------------------------------------------------------------------------
// Names and references.

TEST(OciNames, RepositoryAndTagGrammar) {
  for (const char* ok : {"a", "secplat/scans", "a.b_c__d---e/f0", "x/y/z"}) EXPECT_TRUE(is_valid_repository(ok)) << ok;
  for (const char* bad : {"", "Secplat/scans", "a//b", "/a", "a/", "a..b", "a___b", "-a", "a-", "a/.b", "a b"})
    EXPECT_FALSE(is_valid_repository(bad)) << bad;
  EXPECT_FALSE(is_valid_repository(std::string(256, 'a')));
  for (const char* ok : {"latest", "v1.2.3", "_x", "sha256-abc.sig", "A-b_C.d"}) EXPECT_TRUE(is_valid_tag(ok)) << ok;
  for (const char* bad : {"", ".x", "-x", "a:b", "a/b"}) EXPECT_FALSE(is_valid_tag(bad)) << bad;
  EXPECT_TRUE(is_valid_tag(std::string(128, 'a')));
  EXPECT_FALSE(is_valid_tag(std::string(129, 'a')));
  EXPECT_TRUE(is_valid_digest("sha256:" + std::string(64, 'a')));
  EXPECT_FALSE(is_valid_digest("sha256:" + std::string(64, 'A')));
  EXPECT_FALSE(is_valid_digest("sha512:" + std::string(64, 'a')));
}

TEST(OciUriTest, ParsesHostPortRepoTagAndDigest) {
  const std::string d = "sha256:" + std::string(64, 'e');
  auto a = parse_oci_uri("oci://registry.example.com:5000/secplat/scans:v1");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->registry, "registry.example.com:5000");
  EXPECT_EQ(a->repository, "secplat/scans");
  EXPECT_EQ(a->tag, "v1");
  EXPECT_EQ(a->reference(), "v1");

  auto b = parse_oci_uri("oci://127.0.0.1:5000/scans@" + d);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->tag, "");
  EXPECT_EQ(b->reference(), d);

  auto c = parse_oci_uri("oci://[::1]:5000/a/b:t@" + d);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->registry, "[::1]:5000");
  EXPECT_EQ(c->tag, "t");
  EXPECT_EQ(c->reference(), d);  // the digest wins

  auto e = parse_oci_uri("oci://localhost/scans");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->tag, "latest");

  for (const char* bad : {"https://h/r", "oci://h", "oci:///r", "oci://h/R", "oci://h/r:bad:tag", "oci://h:0/r",
                          "oci://h:99999/r", "oci://h:/r", "oci://h/r@sha256:abc", "oci://user@h/r", "oci://h/r:.x"})
    EXPECT_FALSE(parse_oci_uri(bad).ok()) << bad;
}

// ---------------------------------------------------------------------------------------------
// The client on its own.

TEST(OciRegistryTest, BlobRoundTripAndDigestChecks) {
  OciRegistry reg(config_for(shared_registry()));
  const std::string repo = unique_repo("blobs");
  const std::string content = "hello registry " + random_hex(8);
  auto d = reg.push_blob(repo, content, "text/plain");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->digest, "sha256:" + sha256_hex(content));
  auto exists = reg.blob_exists(repo, d->digest);
  ASSERT_TRUE(exists.ok());
  EXPECT_TRUE(*exists);
  auto back = reg.get_blob(repo, d->digest, 1024);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, content);
  EXPECT_EQ(reg.get_blob(repo, d->digest, 4).error().code, Errc::too_large);
  auto missing = reg.get_blob(repo, "sha256:" + std::string(64, '0'), 1024);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
  // The registry's error document reached the error, not the caller's sink.
  EXPECT_NE(missing.error().message.find("BLOB_UNKNOWN"), std::string::npos) << missing.error().message;
  EXPECT_EQ(reg.blob_exists(repo, "sha256:" + std::string(64, '0')).value(), false);
  EXPECT_EQ(reg.push_blob("Bad/Name", "x", "text/plain").error().code, Errc::bad_request);
}

TEST(OciRegistryTest, TamperedStorageIsDetectedOnRead) {
  // The registry is not trusted to serve the bytes it was given: corrupt its storage and read.
  const char* dir = std::getenv("SECPLAT_TEST_OCI_DIR");
  ASSERT_NE(dir, nullptr);
  OciRegistry reg(config_for(shared_registry()));
  const std::string repo = unique_repo("tamper");
  const std::string content = "original " + random_hex(8);
  auto d = reg.push_blob(repo, content, "text/plain");
  ASSERT_TRUE(d.ok()) << d.error().message;
  const std::string hex = d->digest.substr(7);
  const std::string data = std::string(dir) + "/data/docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" + hex + "/data";
  ASSERT_TRUE(fs::exists(data)) << data;
  write_file(data, std::string(content.size(), 'X'));
  auto back = reg.get_blob(repo, d->digest, 1024);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.error().code, Errc::bad_request);
  EXPECT_NE(back.error().message.find("hashes to"), std::string::npos) << back.error().message;
}

TEST(OciRegistryTest, ManifestDigestAndTagList) {
  OciRegistry reg(config_for(shared_registry()));
  const std::string repo = unique_repo("manifest");
  auto cfg = reg.push_blob(repo, "{}", "application/vnd.oci.image.config.v1+json");
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  const std::string manifest = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
                               R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                               cfg->digest + R"(","size":2},"layers":[]})";
  auto digest = reg.put_manifest(repo, "v1", manifest, kOciManifestType);
  ASSERT_TRUE(digest.ok()) << digest.error().message;
  EXPECT_EQ(*digest, "sha256:" + sha256_hex(manifest));
  auto got = reg.get_manifest(repo, "v1");
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->body, manifest);  // byte-identical
  EXPECT_EQ(got->digest, *digest);
  EXPECT_EQ(got->media_type, kOciManifestType);
  auto tags = reg.list_tags(repo);
  ASSERT_TRUE(tags.ok()) << tags.error().message;
  EXPECT_EQ(*tags, std::vector<std::string>{"v1"});
  EXPECT_EQ(reg.get_manifest(repo, "v2").error().code, Errc::not_found);
  EXPECT_EQ(reg.list_tags(unique_repo("none")).error().code, Errc::not_found);
  // A manifest that references a blob the registry does not have: the registry's error code.
  auto bad = reg.put_manifest(repo, "broken",
                              R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
                              R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:)" +
                                  std::string(64, '1') + R"(","size":2},"layers":[]})",
                              kOciManifestType);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::bad_request);
  EXPECT_NE(bad.error().message.find("MANIFEST_BLOB_UNKNOWN"), std::string::npos) << bad.error().message;
}

TEST(OciRegistryTest, WrongPasswordIsForbiddenAndRightOneWorks) {
  PrivateRegistry server("--htpasswd alice 'correct horse'");
  ASSERT_TRUE(server.ok());
  OciConfig cfg = config_for(server.host());
  cfg.username = "alice";
  cfg.password = "correct horse";
  OciRegistry good(cfg);
  EXPECT_TRUE(good.ping().ok());
  auto d = good.push_blob("private/scans", "secret-free content", "text/plain");
  ASSERT_TRUE(d.ok()) << d.error().message;

  cfg.password = "wrong-password-123";
  OciRegistry bad(cfg);
  auto r = bad.push_blob("private/scans", "more", "text/plain");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::forbidden);
  EXPECT_NE(r.error().message.find(server.host()), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("private/scans"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find("wrong-password-123"), std::string::npos);
  EXPECT_EQ(bad.stats().requests, 1u);  // HEAD refused; no upload, no retries after a 401

  OciRegistry anonymous(config_for(server.host()));
  EXPECT_EQ(anonymous.get_blob("private/scans", d->digest, 100).error().code, Errc::forbidden);
}

TEST(OciRegistryTest, BearerTokenFlowWithCachedTokensPerScope) {
  PrivateRegistry server("--token bob 'pw 1'");
  ASSERT_TRUE(server.ok());
  auto tokens_issued = [&] {
    std::string t = read_file(server.dir() + "/tokens");
    return std::count(t.begin(), t.end(), '\n');
  };
  OciConfig cfg = config_for(server.host());
  cfg.username = "bob";
  cfg.password = "pw 1";
  OciRegistry reg(cfg);
  auto d = reg.push_blob("team/scans", "token-protected " + random_hex(4), "text/plain");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(tokens_issued(), 1);  // one push token served HEAD, POST and PUT
  auto back = reg.get_blob("team/scans", d->digest, 1024);
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_TRUE(reg.push_blob("team/scans", "second " + random_hex(4), "text/plain").ok());
  EXPECT_EQ(tokens_issued(), 1);  // cached, and good for pulls too

  OciRegistry reader(cfg);
  ASSERT_TRUE(reader.get_blob("team/scans", d->digest, 1024).ok());
  EXPECT_EQ(tokens_issued(), 2);  // a pull token of its own
  ASSERT_TRUE(reader.list_tags("team/scans").error().code == Errc::not_found);  // authorised, no tags yet
  EXPECT_EQ(tokens_issued(), 2);

  cfg.password = "not-the-password";
  OciRegistry wrong(cfg);
  auto r = wrong.get_blob("team/scans", d->digest, 1024);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::forbidden);
  EXPECT_EQ(r.error().message.find("not-the-password"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find(server.host()), std::string::npos) << r.error().message;

  OciRegistry anonymous(config_for(server.host()));
  EXPECT_EQ(anonymous.get_blob("team/scans", d->digest, 1024).error().code, Errc::forbidden);
}

TEST(OciRegistryTest, StoppedRegistryIsUnavailableAfterRetries) {
  PrivateRegistry server;
  ASSERT_TRUE(server.ok());
  OciConfig cfg = config_for(server.host());
  cfg.max_attempts = 3;
  server.stop();
  OciRegistry reg(cfg);
  auto r = reg.push_blob("scans", "x", "text/plain");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unavailable);
  EXPECT_NE(r.error().message.find("registry " + server.host() + " unavailable after 3 attempts"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(reg.stats().requests, 3u);
}

// ---------------------------------------------------------------------------------------------
// Bundles.

TEST_F(BundleFixture, PushedBundleReadsBackWithSkopeoAndVerifies) {
  add_big("artifacts/big.bin", 20u << 20);
  const std::string host = shared_registry();
  OciRegistry reg(config_for(host));
  const std::string repo = unique_repo("bundle");

  auto t0 = std::chrono::steady_clock::now();
  auto pushed = push_bundle(reg, repo, "test_ab12cd34ef56", dir_, files_, signing(), info_);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(pushed.ok()) << pushed.error().message;
  std::cout << "[ figures ] pushed a 4-file bundle (20 MiB + 3 small files) in " << ms << " ms\n";
  RecordProperty("push_ms", static_cast<int>(ms));
  EXPECT_EQ(pushed->reference, host + "/" + repo + "@" + pushed->manifest_digest);
  EXPECT_EQ(pushed->signature_tag, "sha256-" + pushed->manifest_digest.substr(7) + ".sig");
  EXPECT_EQ(pushed->attestation_tag, "sha256-" + pushed->manifest_digest.substr(7) + ".att");

  // skopeo reads the raw manifest by digest: same bytes, and each layer is one of our files.
  std::string raw;
  ASSERT_EQ(run("skopeo inspect --raw --tls-verify=false docker://" + pushed->reference, &raw), 0);
  EXPECT_EQ("sha256:" + sha256_hex(raw), pushed->manifest_digest);
  Json m = Json::parse(raw);
  EXPECT_EQ(m["artifactType"], kBundleArtifactType);
  EXPECT_EQ(m["config"]["mediaType"], kBundleConfigType);
  EXPECT_EQ(m["annotations"]["org.opencontainers.image.created"], "2026-01-02T03:04:05Z");
  ASSERT_EQ(m["layers"].size(), files_.size());
  for (std::size_t i = 0; i < files_.size(); ++i) {
    EXPECT_EQ(m["layers"][i]["annotations"][kTitleAnnotation], files_[i].path);
    EXPECT_EQ(m["layers"][i]["digest"], "sha256:" + sha256_hex(read_file(dir_ + "/" + files_[i].path)));
    EXPECT_EQ(m["layers"][i]["size"], files_[i].size);
    EXPECT_EQ(m["layers"][i]["mediaType"], files_[i].media_type);
  }

  // skopeo copies the whole artifact into an OCI layout; every blob there hashes to its name.
  const std::string layout = dir_ + "-layout";
  ASSERT_EQ(run("skopeo copy --src-tls-verify=false docker://" + pushed->reference + " oci:" + layout + ":copy"), 0);
  for (std::size_t i = 0; i < files_.size(); ++i) {
    const std::string hex = m["layers"][i]["digest"].get<std::string>().substr(7);
    const std::string blob = read_file(layout + "/blobs/sha256/" + hex);
    EXPECT_EQ(sha256_hex(blob), hex) << files_[i].path;
    EXPECT_EQ(blob, read_file(dir_ + "/" + files_[i].path)) << files_[i].path;
  }
  fs::remove_all(layout);

  // The signature and attestation images are visible to skopeo by tag.
  std::string tags;
  ASSERT_EQ(run("skopeo list-tags --tls-verify=false docker://" + host + "/" + repo, &tags), 0);
  EXPECT_NE(tags.find(pushed->signature_tag), std::string::npos) << tags;
  EXPECT_NE(tags.find(pushed->attestation_tag), std::string::npos) << tags;
  EXPECT_NE(tags.find("test_ab12cd34ef56"), std::string::npos) << tags;

  auto verified = verify_pushed_bundle(reg, repo, pushed->manifest_digest, key_.public_pem);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->layers.size(), files_.size());
  EXPECT_EQ(verified->test_id, "test_ab12cd34ef56");
  EXPECT_EQ(verified->predicate_type, "https://slsa.dev/provenance/v1");
  EXPECT_TRUE(verified->attestation_verified);

  // Another key does not verify it.
  auto other = crypto::ec_p256_generate();
  ASSERT_TRUE(other.ok());
  auto refused = verify_pushed_bundle(reg, repo, pushed->manifest_digest, other->public_pem);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("signature does not verify"), std::string::npos) << refused.error().message;

  auto found = find_bundle(reg, repo, "test_ab12cd34ef56");
  ASSERT_TRUE(found.ok()) << found.error().message;
  EXPECT_EQ(found->manifest_digest, pushed->manifest_digest);
  EXPECT_EQ(found->signature_tag, pushed->signature_tag);
  EXPECT_EQ(found->attestation_tag, pushed->attestation_tag);
}

TEST_F(BundleFixture, SignatureVerifiesWithOpensslOverThePayloadBytes) {
  const std::string host = shared_registry();
  OciRegistry reg(config_for(host));
  const std::string repo = unique_repo("sig");
  const BundleSigning sign = signing();
  auto pushed = push_bundle(reg, repo, "v1", dir_, files_, sign, info_);
  ASSERT_TRUE(pushed.ok()) << pushed.error().message;

  auto sig = reg.get_manifest(repo, pushed->signature_tag);
  ASSERT_TRUE(sig.ok()) << sig.error().message;
  Json sm = Json::parse(sig->body);
  ASSERT_EQ(sm["layers"].size(), 1u);
  const Json& layer = sm["layers"][0];
  EXPECT_EQ(layer["mediaType"], "application/vnd.dev.cosign.simplesigning.v1+json");
  auto payload = reg.get_blob(repo, layer["digest"].get<std::string>(), 4096);
  ASSERT_TRUE(payload.ok());
  EXPECT_EQ(*payload, simple_signing_payload(host + "/" + repo, pushed->manifest_digest));
  EXPECT_EQ(*payload, R"({"critical":{"identity":{"docker-reference":")" + host + "/" + repo +
                          R"("},"image":{"docker-manifest-digest":")" + pushed->manifest_digest +
                          R"("},"type":"cosign container image signature"},"optional":null})");
  const std::string sig_b64 = layer["annotations"]["dev.cosignproject.cosign/signature"];
  EXPECT_TRUE(crypto::ec_verify_b64(key_.public_pem, *payload, sig_b64).ok());

  write_file(dir_ + "-payload", *payload);
  write_file(dir_ + "-sig.der", *base64_decode(sig_b64));
  write_file(dir_ + "-pub.pem", key_.public_pem);
  std::string out;
  EXPECT_EQ(run("openssl dgst -sha256 -verify " + dir_ + "-pub.pem -signature " + dir_ + "-sig.der " + dir_ + "-payload",
                &out),
            0);
  EXPECT_NE(out.find("Verified OK"), std::string::npos) << out;
  for (const char* s : {"-payload", "-sig.der", "-pub.pem"}) fs::remove(dir_ + s);

  // The attestation layer is the DSSE envelope byte for byte.
  auto att = reg.get_manifest(repo, pushed->attestation_tag);
  ASSERT_TRUE(att.ok());
  Json am = Json::parse(att->body);
  ASSERT_EQ(am["layers"].size(), 1u);
  EXPECT_EQ(am["layers"][0]["mediaType"], "application/vnd.dsse.envelope.v1+json");
  EXPECT_EQ(am["layers"][0]["annotations"]["predicateType"], "https://slsa.dev/provenance/v1");
  auto envelope = reg.get_blob(repo, am["layers"][0]["digest"].get<std::string>(), 1 << 20);
  ASSERT_TRUE(envelope.ok());
  EXPECT_EQ(*envelope, sign.attestation_dsse_json);
}

TEST_F(BundleFixture, TamperedFileIsRefusedBeforeAnythingIsPushed) {
  const std::string host = shared_registry();
  const std::string repo = unique_repo("tampered");
  write_file(dir_ + "/reports/sast/secrets.sarif.json", R"({"version":"2.1.0","runs":[]})");  // after "verification"
  OciRegistry reg(config_for(host));
  auto pushed = push_bundle(reg, repo, "v1", dir_, files_, signing(), info_);
  ASSERT_FALSE(pushed.ok());
  EXPECT_EQ(pushed.error().code, Errc::conflict);
  EXPECT_NE(pushed.error().message.find("reports/sast/secrets.sarif.json"), std::string::npos) << pushed.error().message;
  EXPECT_EQ(pushed.error().message.find("scan.json"), std::string::npos) << pushed.error().message;
  EXPECT_EQ(reg.stats().requests, 0u);  // the registry never heard from us

  OciRegistry fresh(config_for(host));
  EXPECT_EQ(fresh.list_tags(repo).error().code, Errc::not_found);
  std::string out;
  EXPECT_NE(run("skopeo list-tags --tls-verify=false docker://" + host + "/" + repo, &out), 0) << out;

  // A missing file and an unsafe path are refused the same way.
  std::vector<BundleLayer> missing = {{"nope.json", std::string(64, 'a'), 1, ""}};
  EXPECT_EQ(push_bundle(reg, repo, "v1", dir_, missing, signing(), info_).error().code, Errc::not_found);
  std::vector<BundleLayer> escape = {{"../etc/passwd", std::string(64, 'a'), 1, ""}};
  EXPECT_EQ(push_bundle(reg, repo, "v1", dir_, escape, signing(), info_).error().code, Errc::bad_request);
  EXPECT_EQ(reg.stats().requests, 0u);
}

TEST_F(BundleFixture, PushingTwiceIsIdempotent) {
  OciRegistry reg(config_for(shared_registry()));
  const std::string repo = unique_repo("twice");
  const BundleSigning sign = signing();
  auto first = push_bundle(reg, repo, "v1", dir_, files_, sign, info_);
  ASSERT_TRUE(first.ok()) << first.error().message;
  const OciStats after_first = reg.stats();
  EXPECT_EQ(after_first.blobs_uploaded, files_.size() + 5);  // files + config + sig payload/config + att/config

  OciRegistry again(config_for(shared_registry()));
  auto second = push_bundle(again, repo, "v1", dir_, files_, sign, info_);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->manifest_digest, first->manifest_digest);
  EXPECT_EQ(again.stats().blobs_uploaded, 0u);
  EXPECT_EQ(again.stats().blobs_skipped, files_.size() + 1);

  auto sig = again.get_manifest(repo, first->signature_tag);
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(Json::parse(sig->body)["layers"].size(), 1u);  // the existing signature was kept
  auto att = again.get_manifest(repo, first->attestation_tag);
  ASSERT_TRUE(att.ok());
  EXPECT_EQ(Json::parse(att->body)["layers"].size(), 1u);
}

TEST_F(BundleFixture, PullFileArtifactByOciUri) {
  const std::string host = shared_registry();
  OciRegistry reg(config_for(host));
  const std::string repo = unique_repo("pull");
  auto pushed = push_bundle(reg, repo, "manifest-v1", dir_, files_, signing(), info_);
  ASSERT_TRUE(pushed.ok()) << pushed.error().message;

  auto uri = parse_oci_uri("oci://" + host + "/" + repo + ":manifest-v1");
  ASSERT_TRUE(uri.ok()) << uri.error().message;
  OciConfig cfg = config_for(uri->registry);
  OciRegistry by_uri(cfg);
  auto content = pull_file_artifact(by_uri, uri->repository, uri->reference(), "scan.json");
  ASSERT_TRUE(content.ok()) << content.error().message;
  EXPECT_EQ(*content, read_file(dir_ + "/scan.json"));
  auto by_digest = pull_file_artifact(by_uri, repo, pushed->manifest_digest, "reports/sbom/sbom.cdx.json");
  ASSERT_TRUE(by_digest.ok());
  EXPECT_EQ(by_digest->size(), 3000u);
  EXPECT_EQ(pull_file_artifact(by_uri, repo, "manifest-v1", "absent.json").error().code, Errc::not_found);
  EXPECT_EQ(pull_file_artifact(by_uri, repo, "manifest-v1", "reports/sbom/sbom.cdx.json", 100).error().code,
            Errc::too_large);
}

}  // namespace
}  // namespace secplat::objects
