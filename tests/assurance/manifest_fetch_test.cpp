// http(s) manifest and signature URIs against a real loopback HTTP server: the host allow-list at
// submit time, signature verification of fetched manifests, and the failures a user can hit
// (address refused by the SSRF guard, 404, redirect, oversize body, a server that never answers).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "assurance/manifest.h"
#include "crypto/ecdsa.h"
#include "scanners/web/test_web_server.h"

namespace secplat::assurance {
namespace {

using scanners::web::testing::Response;
using scanners::web::testing::TestWebServer;

const char* kManifest = R"({"product":"p","profiles":[{"name":"ci","tools":["secrets"]}]})";

class ManifestFetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto kp = crypto::ec_p256_generate();
    ASSERT_TRUE(kp.ok());
    keys = *kp;
    auto sig = crypto::ec_sign_b64(keys.private_pem, kManifest);
    ASSERT_TRUE(sig.ok());
    server.route("/m.json", {200, {{"Content-Type", "application/json"}}, kManifest});
    server.route("/m.json.sig", {200, {{"Content-Type", "text/plain"}}, *sig});
    server.route("/moved", {302, {{"Location", server.url() + "/m.json"}}, ""});
    server.route("/huge", {200, {}, std::string((1 << 20) + 10, 'x')});
    policy.http.allowed_hosts = {"127.0.0.1"};
    policy.http.net.allow_private = true;
    policy.http.timeout_s = 2;
  }
  ScanRequest request(const std::string& manifest, const std::string& sig) {
    ScanRequest r;
    r.manifest_uri = server.url() + manifest;
    r.manifest_signature_uri = server.url() + sig;
    return r;
  }
  std::string resolve_error(const ScanRequest& r) {
    auto m = resolve_manifest(r, "/nonexistent", policy);
    return m.ok() ? "" : m.error().message;
  }

  TestWebServer server;
  crypto::EcKeyPair keys;
  ManifestPolicy policy;
};

TEST_F(ManifestFetchTest, SignedManifestFetchedOverHttpIsVerifiedAndParsed) {
  policy.trusted_key_pems = {keys.public_pem};
  policy.require_signed = true;
  auto m = resolve_manifest(request("/m.json", "/m.json.sig"), "/nonexistent", policy);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->text, kManifest);
  EXPECT_EQ(m->origin, "uri");
  EXPECT_TRUE(m->verified);
  EXPECT_EQ(m->verified_key_id, crypto::ec_key_id(keys.public_pem));
  EXPECT_EQ(m->parsed["profiles"][0]["name"], "ci");
}

TEST_F(ManifestFetchTest, SignatureOfAnotherKeyIsRefused) {
  auto other = crypto::ec_p256_generate();
  ASSERT_TRUE(other.ok());
  policy.trusted_key_pems = {other->public_pem};
  EXPECT_EQ(resolve_error(request("/m.json", "/m.json.sig")),
            "manifest signature does not verify against any trusted key");
}

TEST_F(ManifestFetchTest, SubmitTimeHostAllowList) {
  ScanRequest r = request("/m.json", "/m.json.sig");
  EXPECT_TRUE(check_manifest_fields(r, policy).ok());
  policy.http.allowed_hosts = {"manifests.example.com"};
  auto st = check_manifest_fields(r, policy);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().fields.at(0).msg, "manifest_uri host '127.0.0.1' is not in assurance.manifest_http_hosts");
  r.manifest_uri = "https://user:pw@manifests.example.com/m.json";
  st = check_manifest_fields(r, policy);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().fields.at(0).msg, "manifest_uri must not carry credentials");
  r.manifest_uri = "https://MANIFESTS.example.com:8443/m.json";
  r.manifest_signature_uri = "s3://bucket/m.json.sig";
  st = check_manifest_fields(r, policy);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().fields.at(0).msg,
            "manifest_signature_uri: s3:// manifests need s3.endpoint to be configured");
  // The fetch itself checks the list again (a request stored before the list changed).
  EXPECT_EQ(resolve_error(request("/m.json", "/m.json.sig")),
            "manifest_uri host '127.0.0.1' is not in assurance.manifest_http_hosts");
}

TEST_F(ManifestFetchTest, LoopbackRefusedUnlessPrivateAddressesAllowed) {
  policy.http.net.allow_private = false;
  std::string err = resolve_error(request("/m.json", "/m.json.sig"));
  EXPECT_NE(err.find("manifest_uri " + server.url() + "/m.json: "), std::string::npos) << err;
  EXPECT_NE(err.find("127.0.0.1"), std::string::npos) << err;
  EXPECT_NE(err.find("not allowed"), std::string::npos) << err;
  EXPECT_TRUE(server.paths().empty());
}

TEST_F(ManifestFetchTest, StatusRedirectAndSizeFailuresNameTheUri) {
  EXPECT_EQ(resolve_error(request("/missing", "/m.json.sig")),
            "manifest_uri " + server.url() + "/missing: answered HTTP 404");
  EXPECT_EQ(resolve_error(request("/moved", "/m.json.sig")),
            "manifest_uri " + server.url() + "/moved: answered 302; redirects are not followed");
  EXPECT_EQ(resolve_error(request("/huge", "/m.json.sig")),
            "manifest_uri " + server.url() + "/huge: larger than 1 MiB");
  EXPECT_EQ(resolve_error(request("/m.json", "/missing?X-Amz-Signature=abc123")),
            "manifest_signature_uri " + server.url() + "/missing: answered HTTP 404");  // no query in errors
}

TEST_F(ManifestFetchTest, ServerThatNeverAnswersTimesOut) {
  // A listening socket nobody accepts from: the connection completes, no response ever comes.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  policy.http.timeout_s = 1;
  ScanRequest r;
  r.manifest_uri = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/m.json";
  r.manifest_signature_uri = r.manifest_uri;
  EXPECT_EQ(resolve_error(r), "manifest_uri " + *r.manifest_uri + ": timed out after 1 s");
  ::close(fd);
}

}  // namespace
}  // namespace secplat::assurance
