// Bundle signing end to end on real files: the persisted signing key, the in-toto attestation
// (digests cross-checked with sha256sum), detached manifest signatures (checked with the openssl
// CLI), verify_bundle's tamper detection and the keygen/verify commands.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include <sys/stat.h>
#include <sys/wait.h>

#include "app/cli_keys.h"
#include "assurance/attestation.h"
#include "assurance/bundle_verify.h"
#include "assurance/signing_key.h"
#include "core/encoding.h"
#include "core/json.h"
#include "crypto/dsse.h"
#include "crypto/ecdsa.h"

namespace secplat::assurance {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("secplat-signing-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write(const fs::path& p, std::string_view bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

// Runs a shell command in `dir`; returns {exit status, stdout}.
std::pair<int, std::string> sh(const fs::path& dir, const std::string& cmd) {
  std::string full = "cd '" + dir.string() + "' && " + cmd + " 2>/dev/null";
  FILE* p = ::popen(full.c_str(), "r");
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = ::pclose(p);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

bool mentions(const BundleReport& r, const std::string& needle) {
  for (const auto& p : r.problems) {
    if (p.find(needle) != std::string::npos) return true;
  }
  return false;
}

std::string joined(const BundleReport& r) {
  std::string s;
  for (const auto& p : r.problems) s += p + "\n";
  return s;
}

// ---------------------------------------------------------------- signing key

TEST(SigningKey, CreatedOnceWithMode0600AndReused) {
  TempDir data;
  auto first = load_or_create_signing_key(data.path().string());
  ASSERT_TRUE(first.ok()) << first.error().message;
  fs::path key = data.path() / "keys" / "signing.key";
  fs::path pub = data.path() / "keys" / "signing.pub";
  EXPECT_EQ(mode_of(key), 0600u);
  EXPECT_EQ(mode_of(data.path() / "keys"), 0700u);
  EXPECT_EQ(read(key), first->private_pem);
  EXPECT_EQ(read(pub), first->public_pem);
  // No temp files left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(data.path() / "keys"), fs::directory_iterator()), 2);

  auto second = load_or_create_signing_key(data.path().string());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->private_pem, first->private_pem);
  EXPECT_EQ(second->public_pem, first->public_pem);

  // The persisted pair works with openssl: sign with the key file, verify with signing.pub.
  write(data.path() / "blob", "hello");
  EXPECT_EQ(sh(data.path(), "openssl dgst -sha256 -sign keys/signing.key -out sig blob && "
                            "openssl dgst -sha256 -verify keys/signing.pub -signature sig blob").first,
            0);
}

TEST(SigningKey, CorruptKeyIsAnErrorNamingTheFileAndIsNotReplaced) {
  TempDir data;
  ASSERT_TRUE(load_or_create_signing_key(data.path().string()).ok());
  fs::path key = data.path() / "keys" / "signing.key";
  write(key, "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n");
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  auto r = load_or_create_signing_key(data.path().string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(key.string()), std::string::npos) << r.error().message;
  EXPECT_EQ(read(key), "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n");
}

TEST(SigningKey, GroupReadableKeyIsRefused) {
  TempDir data;
  ASSERT_TRUE(load_or_create_signing_key(data.path().string()).ok());
  fs::path key = data.path() / "keys" / "signing.key";
  fs::permissions(key, fs::perms::group_read | fs::perms::others_read, fs::perm_options::add);
  auto r = load_or_create_signing_key(data.path().string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("chmod 600"), std::string::npos) << r.error().message;
}

TEST(SigningKey, PublicKeyOfAnotherKeyIsAnErrorAndAMissingOneIsRederived) {
  TempDir data;
  auto kp = load_or_create_signing_key(data.path().string());
  ASSERT_TRUE(kp.ok());
  fs::path pub = data.path() / "keys" / "signing.pub";
  fs::remove(pub);
  ASSERT_TRUE(load_or_create_signing_key(data.path().string()).ok());
  EXPECT_EQ(read(pub), kp->public_pem);

  auto other = crypto::ec_p256_generate();
  ASSERT_TRUE(other.ok());
  write(pub, other->public_pem);
  auto r = load_or_create_signing_key(data.path().string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(pub.string()), std::string::npos) << r.error().message;
}

// ---------------------------------------------------------------- attestation + verification

class BundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto k = crypto::ec_p256_generate();
    auto o = crypto::ec_p256_generate();
    ASSERT_TRUE(k.ok() && o.ok());
    key_ = *k;
    other_ = *o;
    bundle_ = dir_.path() / "bundle";
    write(bundle_ / "scan.json", R"({"schema_version":1,"test_id":"t-1"})");
    write(bundle_ / "manifest.json", R"({"name":"demo","profile":"light"})");
    write(bundle_ / "summary.json", "{}");
    write(bundle_ / "reports/sast/trivy.sarif.json", R"({"version":"2.1.0","runs":[]})");
    write(bundle_ / "reports/sbom/sbom.spdx.json", std::string(200000, 'x'));  // several read chunks
    write(bundle_ / "logs/runner.log", std::string("binary\0bytes\xff", 13));
    write(bundle_ / "stream.jsonl", "");  // empty files are attested too
    fs::create_directories(bundle_ / "reports/dast");  // empty dirs are not subjects
    info_.test_id = "t-1";
    info_.workspace_id = "ws";
    info_.component_id = "comp";
    info_.source_uri = "https://git.example.com/demo.git";
    info_.source_digest = "0123456789abcdef0123456789abcdef01234567";
    info_.manifest_digest = sha256_hex(read(bundle_ / "manifest.json"));
    info_.started_ms = 1700000000000;
    info_.finished_ms = 1700000060000;
  }

  void sign_bundle(const crypto::EcKeyPair& manifest_key, const crypto::EcKeyPair& attest_key) {
    ASSERT_TRUE(write_detached_signature((bundle_ / "manifest.json").string(), manifest_key).ok());
    Status st = write_attestation(bundle_.string(), info_, attest_key);
    ASSERT_TRUE(st.ok()) << st.error().message;
  }

  BundleReport verify(const crypto::EcKeyPair& k) {
    auto r = verify_bundle(bundle_.string(), k.public_pem);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : BundleReport{};
  }

  TempDir dir_;
  fs::path bundle_;
  crypto::EcKeyPair key_, other_;
  AttestationInfo info_;
};

TEST_F(BundleTest, AttestationListsEveryFileWithItsSha256) {
  sign_bundle(key_, key_);
  Json envelope = Json::parse(read(bundle_ / kAttestationPath));
  EXPECT_EQ(envelope["payloadType"], "application/vnd.in-toto+json");
  auto payload = crypto::dsse_verify(envelope, key_.public_pem);
  ASSERT_TRUE(payload.ok()) << payload.error().message;
  Json statement = Json::parse(*payload);
  EXPECT_EQ(statement["_type"], "https://in-toto.io/Statement/v1");
  EXPECT_EQ(statement["predicateType"], "https://slsa.dev/provenance/v1");

  // Expected subjects from coreutils, independent of our walker and hasher.
  auto [rc, out] = sh(bundle_, "find . -type f ! -path ./" + std::string(kAttestationPath) +
                                   " | sed 's|^\\./||' | LC_ALL=C sort | xargs sha256sum");
  ASSERT_EQ(rc, 0);
  std::vector<std::pair<std::string, std::string>> expected;  // (name, digest) in sorted order
  std::istringstream lines(out);
  for (std::string digest, name; lines >> digest >> name;) expected.emplace_back(name, digest);
  ASSERT_EQ(expected.size(), 8u);  // 7 written + manifest.sig

  std::vector<std::pair<std::string, std::string>> actual;
  for (const Json& s : statement["subject"]) {
    actual.emplace_back(s["name"].get<std::string>(), s["digest"]["sha256"].get<std::string>());
  }
  EXPECT_EQ(actual, expected);

  const Json& pred = statement["predicate"];
  EXPECT_EQ(pred["runDetails"]["builder"]["id"], "https://secplat.dev/secplat");
  EXPECT_EQ(pred["runDetails"]["metadata"]["invocationId"], "t-1");
  EXPECT_EQ(pred["runDetails"]["metadata"]["startedOn"], "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(pred["buildDefinition"]["resolvedDependencies"][0]["digest"]["gitCommit"], info_.source_digest);
  EXPECT_EQ(pred["buildDefinition"]["resolvedDependencies"][1]["digest"]["sha256"], info_.manifest_digest);
}

TEST_F(BundleTest, ManifestSignatureIsCosignFormatThatOpensslAccepts) {
  sign_bundle(key_, key_);
  std::string sig = read(bundle_ / "manifest.sig");
  ASSERT_FALSE(sig.empty());
  EXPECT_NE(sig.back(), '\n');
  write(dir_.path() / "pub.pem", key_.public_pem);
  write(dir_.path() / "sig.der", *base64_decode(sig));
  EXPECT_EQ(sh(dir_.path(), "openssl dgst -sha256 -verify pub.pem -signature sig.der bundle/manifest.json").first, 0);
}

TEST_F(BundleTest, IntactBundleVerifies) {
  sign_bundle(key_, key_);
  BundleReport r = verify(key_);
  EXPECT_TRUE(r.ok) << joined(r);
  EXPECT_EQ(r.files_checked, 8);
}

TEST_F(BundleTest, ModifiedReportIsNamed) {
  sign_bundle(key_, key_);
  write(bundle_ / "reports/sast/trivy.sarif.json", R"({"version":"2.1.0","runs":[{}]})");
  BundleReport r = verify(key_);
  EXPECT_FALSE(r.ok);
  ASSERT_EQ(r.problems.size(), 1u) << joined(r);
  EXPECT_TRUE(mentions(r, "modified file: reports/sast/trivy.sarif.json")) << joined(r);
  EXPECT_EQ(r.files_checked, 7);
}

TEST_F(BundleTest, ExtraFileIsNamed) {
  sign_bundle(key_, key_);
  write(bundle_ / "reports/dast/injected.html", "<script>");
  BundleReport r = verify(key_);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(mentions(r, "unattested file: reports/dast/injected.html")) << joined(r);
}

TEST_F(BundleTest, DeletedFileIsNamed) {
  sign_bundle(key_, key_);
  fs::remove(bundle_ / "logs/runner.log");
  BundleReport r = verify(key_);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(mentions(r, "missing file: logs/runner.log")) << joined(r);
}

TEST_F(BundleTest, AlteredEnvelopeSignatureFails) {
  sign_bundle(key_, key_);
  Json envelope = Json::parse(read(bundle_ / kAttestationPath));
  std::string der = *base64_decode(envelope["signatures"][0]["sig"].get<std::string>());
  der.back() = static_cast<char>(der.back() ^ 0x10);
  envelope["signatures"][0]["sig"] = base64_encode(der);
  write(bundle_ / kAttestationPath, envelope.dump());
  BundleReport r = verify(key_);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(mentions(r, std::string(kAttestationPath) + ": signature does not verify")) << joined(r);
}

TEST_F(BundleTest, SubjectListRewrittenWithoutResigningFails) {
  sign_bundle(key_, key_);
  // An attacker edits a report and patches the digest inside the payload but cannot re-sign.
  write(bundle_ / "summary.json", R"({"all":"clean"})");
  Json envelope = Json::parse(read(bundle_ / kAttestationPath));
  Json statement = Json::parse(*base64_decode(envelope["payload"].get<std::string>()));
  for (Json& s : statement["subject"]) {
    if (s["name"] == "summary.json") s["digest"]["sha256"] = sha256_hex(R"({"all":"clean"})");
  }
  envelope["payload"] = base64_encode(statement.dump());
  write(bundle_ / kAttestationPath, envelope.dump());
  BundleReport r = verify(key_);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(mentions(r, "signature does not verify")) << joined(r);
}

TEST_F(BundleTest, AnotherKeyFails) {
  sign_bundle(key_, key_);
  BundleReport r = verify(other_);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(mentions(r, "no signature by this key")) << joined(r);
  EXPECT_EQ(r.files_checked, 0);
}

TEST_F(BundleTest, ManifestSignedByAnotherKeyFails) {
  sign_bundle(other_, key_);  // attestation fine, manifest.sig by the wrong key
  BundleReport r = verify(key_);
  EXPECT_FALSE(r.ok);
  ASSERT_EQ(r.problems.size(), 1u) << joined(r);
  EXPECT_TRUE(mentions(r, "manifest.sig: signature does not verify")) << joined(r);
}

TEST_F(BundleTest, MissingAttestationFails) {
  ASSERT_TRUE(write_detached_signature((bundle_ / "manifest.json").string(), key_).ok());
  BundleReport r = verify(key_);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(mentions(r, kAttestationPath)) << joined(r);
}

TEST_F(BundleTest, SymlinksAreRefusedWhenSigningAndVerifying) {
  write(dir_.path() / "outside.txt", "secret outside the bundle");
  fs::create_symlink(dir_.path() / "outside.txt", bundle_ / "link.txt");
  Status st = write_attestation(bundle_.string(), info_, key_);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("link.txt"), std::string::npos) << st.error().message;

  fs::remove(bundle_ / "link.txt");
  sign_bundle(key_, key_);
  fs::create_directory_symlink(dir_.path(), bundle_ / "reports/escape");
  BundleReport r = verify(key_);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(mentions(r, "symlink not allowed in a bundle: reports/escape")) << joined(r);
}

TEST_F(BundleTest, SubjectPathsEscapingTheBundleAreProblems) {
  // A validly signed attestation (by the right key) whose subject points outside the bundle.
  write(dir_.path() / "outside.txt", "x");
  Json statement = {{"_type", kStatementType},
                    {"predicateType", kSlsaProvenanceType},
                    {"predicate", Json::object()},
                    {"subject", Json::array({{{"name", "../outside.txt"}, {"digest", {{"sha256", sha256_hex("x")}}}}})}};
  auto env = crypto::dsse_sign(kInTotoPayloadType, statement.dump(), key_.private_pem);
  ASSERT_TRUE(env.ok());
  write(bundle_ / kAttestationPath, env->dump());
  BundleReport r = verify(key_);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(mentions(r, "escapes the bundle: ../outside.txt")) << joined(r);
}

TEST_F(BundleTest, NonP256KeyAndMissingDirAreErrors) {
  sign_bundle(key_, key_);
  auto bad_key = verify_bundle(bundle_.string(), "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
  ASSERT_FALSE(bad_key.ok());
  EXPECT_EQ(bad_key.error().message, "not a P-256 public key");
  auto no_dir = verify_bundle((dir_.path() / "nope").string(), key_.public_pem);
  ASSERT_FALSE(no_dir.ok());
  EXPECT_EQ(no_dir.error().code, Errc::not_found);
}

// ---------------------------------------------------------------- keygen / verify commands

TEST_F(BundleTest, KeygenThenVerifyCommands) {
  fs::path keys = dir_.path() / "out-keys";
  ASSERT_EQ(app::run_keygen(keys.string(), false), 0);
  EXPECT_EQ(mode_of(keys / "signing.key"), 0600u);
  std::string first_key = read(keys / "signing.key");
  EXPECT_EQ(app::run_keygen(keys.string(), false), 1);  // refuses to overwrite
  EXPECT_EQ(read(keys / "signing.key"), first_key);
  ASSERT_EQ(app::run_keygen(keys.string(), true), 0);
  EXPECT_NE(read(keys / "signing.key"), first_key);
  EXPECT_EQ(mode_of(keys / "signing.key"), 0600u);
  write(dir_.path() / "a-file", "x");
  EXPECT_EQ(app::run_keygen((dir_.path() / "a-file").string(), false), 2);

  auto kp = load_signing_key(keys.string());
  ASSERT_TRUE(kp.ok()) << kp.error().message;
  sign_bundle(*kp, *kp);
  std::string pub = (keys / "signing.pub").string();

  testing::internal::CaptureStdout();
  int rc = app::run_verify(bundle_.string(), pub);
  std::string out = testing::internal::GetCapturedStdout();
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out, "OK: 8 files verified\n");

  write(bundle_ / "summary.json", "tampered");
  testing::internal::CaptureStdout();
  rc = app::run_verify(bundle_.string(), pub);
  out = testing::internal::GetCapturedStdout();
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("modified file: summary.json"), std::string::npos) << out;

  EXPECT_EQ(app::run_verify(bundle_.string(), (dir_.path() / "no-such.pem").string()), 2);
  EXPECT_EQ(app::run_verify((dir_.path() / "no-such-bundle").string(), pub), 2);
}

}  // namespace
}  // namespace secplat::assurance
