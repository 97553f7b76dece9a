// tls_headers (and the TLS side of web_exposure/health_http) against a loopback TLS server with
// certificates generated in the test.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <memory>
#include <string>

#include "scanners/web/test_web_server.h"
#include "scanners/web/web_checks.h"

namespace secplat::scanners::web {
namespace {

using testing::CertSpec;
using testing::make_self_signed;
using testing::Response;
using testing::server_context;
using testing::TempFile;
using testing::TestCert;
using testing::TestWebServer;

constexpr int64_t kDay = 86400;
const char* const kStrongHsts = "max-age=31536000; includeSubDomains";

// A TLS server on 127.0.0.1 presenting `cert`.
struct TlsFixture {
  TestCert cert;
  std::unique_ptr<TestWebServer> server;
  std::unique_ptr<TempFile> ca;  // the certificate as a trust anchor

  explicit TlsFixture(const CertSpec& spec, int max_version = 0) : cert(make_self_signed(spec)) {
    SSL_CTX* ctx = server_context(cert, max_version);
    server = std::make_unique<TestWebServer>(ctx);
    SSL_CTX_free(ctx);  // the server holds its own reference
    ca = std::make_unique<TempFile>(cert.cert_pem);
  }
  void serve_root(const std::string& hsts) {
    Response r{200, {{"Content-Type", "text/html"}}, "<!doctype html><html><body>tls</body></html>"};
    if (!hsts.empty()) r.headers.emplace_back("Strict-Transport-Security", hsts);
    server->route("/", r);
  }
};

CheckOptions local_options() {
  CheckOptions o;
  o.net.allow_private = true;
  o.timeout_ms = 5000;
  return o;
}

CheckOptions trusting(const TlsFixture& f) {
  CheckOptions o = local_options();
  o.ca_file = f.ca->path();
  return o;
}

const WebFinding* find(const CheckResult& r, const std::string& title) {
  for (const auto& f : r.findings)
    if (f.title == title) return &f;
  return nullptr;
}

std::string dump(const CheckResult& r) {
  std::string s = "error: " + r.error + "\nfindings:\n";
  for (const auto& f : r.findings) s += "  [" + f.severity + "] " + f.category + " / " + f.title + ": " + f.evidence + "\n";
  s += "log:\n";
  for (const auto& l : r.log) s += "  " + l + "\n";
  return s;
}

bool has_key(const std::vector<std::string>& keys, const std::string& key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

TEST(WebTlsHeaders, SelfSignedCertificateIsUntrustedAndItsExpiryReported) {
  CertSpec spec;
  spec.not_after_offset_s = 20 * kDay;
  TlsFixture tls(spec);
  tls.serve_root(kStrongHsts);
  const CheckResult r = tls_headers("internal", tls.server->url(), local_options());
  ASSERT_TRUE(r.error.empty()) << dump(r);

  const WebFinding* untrusted = find(r, "Certificate not trusted");
  ASSERT_NE(untrusted, nullptr) << dump(r);
  EXPECT_EQ(untrusted->severity, "high");
  EXPECT_EQ(untrusted->category, "tls");
  EXPECT_EQ(untrusted->source, "tls_headers");
  EXPECT_NE(untrusted->evidence.find("self-signed"), std::string::npos) << untrusted->evidence;
  EXPECT_NE(untrusted->evidence.find("CN=localhost"), std::string::npos) << untrusted->evidence;

  const WebFinding* expiry = find(r, "Certificate expires within 30 days");
  ASSERT_NE(expiry, nullptr) << dump(r);
  EXPECT_EQ(expiry->severity, "medium");
  EXPECT_NE(expiry->evidence.find("in 19 days"), std::string::npos) << expiry->evidence;

  EXPECT_EQ(find(r, "Certificate hostname mismatch"), nullptr) << dump(r);  // SAN has IP:127.0.0.1
  // The response came over an unverified connection: HSTS is neither reported nor cleared.
  EXPECT_EQ(find(r, "HSTS not enabled"), nullptr);
  EXPECT_TRUE(has_key(r.inconclusive_keys,
                      finding_key("internal", "security_headers", "HSTS not enabled", "strict-transport-security")));
}

TEST(WebTlsHeaders, TrustedViaCaFileAndExpiringIn10DaysIsHigh) {
  CertSpec spec;
  spec.not_after_offset_s = 10 * kDay;
  TlsFixture tls(spec);
  tls.serve_root(kStrongHsts);
  // By name, so the DNS:localhost entry is what matches.
  const std::string url = "https://localhost:" + std::to_string(tls.server->port());
  const CheckResult r = tls_headers("internal", url, trusting(tls));
  ASSERT_TRUE(r.error.empty()) << dump(r);
  const WebFinding* expiry = find(r, "Certificate expires within 14 days");
  ASSERT_NE(expiry, nullptr) << dump(r);
  EXPECT_EQ(expiry->severity, "high");
  EXPECT_NE(expiry->evidence.find("in 9 days"), std::string::npos) << expiry->evidence;
  EXPECT_EQ(find(r, "Certificate not trusted"), nullptr) << dump(r);
  EXPECT_EQ(find(r, "Certificate hostname mismatch"), nullptr) << dump(r);
  EXPECT_EQ(find(r, "HSTS not enabled"), nullptr) << dump(r);
  EXPECT_EQ(find(r, "HSTS max-age too short"), nullptr) << dump(r);
  EXPECT_EQ(r.findings.size(), 1u) << dump(r);
  EXPECT_TRUE(r.inconclusive_keys.empty()) << dump(r);
}

TEST(WebTlsHeaders, ExpiredCertificateIsCritical) {
  CertSpec spec;
  spec.not_before_offset_s = -40 * kDay;
  spec.not_after_offset_s = -3 * kDay;
  TlsFixture tls(spec);
  tls.serve_root(kStrongHsts);
  const CheckResult r = tls_headers("old", tls.server->url(), trusting(tls));
  ASSERT_TRUE(r.error.empty()) << dump(r);
  const WebFinding* expired = find(r, "Certificate expired");
  ASSERT_NE(expired, nullptr) << dump(r);
  EXPECT_EQ(expired->severity, "critical");
  EXPECT_NE(expired->evidence.find("3 days ago"), std::string::npos) << expired->evidence;
  // Trusted anchor, right host: expiry is the whole story.
  EXPECT_EQ(find(r, "Certificate not trusted"), nullptr) << dump(r);
  EXPECT_EQ(find(r, "Certificate verification failed"), nullptr) << dump(r);
}

TEST(WebTlsHeaders, HostnameMismatchIsHigh) {
  CertSpec spec;
  spec.common_name = "other.example";
  spec.subject_alt_names = "DNS:other.example";
  TlsFixture tls(spec);
  tls.serve_root(kStrongHsts);
  const CheckResult r = tls_headers("wrong-name", tls.server->url(), trusting(tls));
  ASSERT_TRUE(r.error.empty()) << dump(r);
  const WebFinding* mismatch = find(r, "Certificate hostname mismatch");
  ASSERT_NE(mismatch, nullptr) << dump(r);
  EXPECT_EQ(mismatch->severity, "high");
  EXPECT_NE(mismatch->evidence.find("other.example"), std::string::npos) << mismatch->evidence;
  EXPECT_NE(mismatch->evidence.find("127.0.0.1"), std::string::npos) << mismatch->evidence;
  EXPECT_EQ(find(r, "Certificate not trusted"), nullptr) << dump(r);
}

TEST(WebTlsHeaders, MissingAndWeakHsts) {
  TlsFixture tls(CertSpec{});
  tls.serve_root("");
  const CheckResult missing = tls_headers("site", tls.server->url(), trusting(tls));
  const WebFinding* m = find(missing, "HSTS not enabled");
  ASSERT_NE(m, nullptr) << dump(missing);
  EXPECT_EQ(m->severity, "medium");
  EXPECT_EQ(m->category, "security_headers");
  EXPECT_EQ(missing.findings.size(), 1u) << dump(missing);

  tls.serve_root("max-age=86400");
  const CheckResult weak = tls_headers("site", tls.server->url(), trusting(tls));
  const WebFinding* w = find(weak, "HSTS max-age too short");
  ASSERT_NE(w, nullptr) << dump(weak);
  EXPECT_EQ(w->severity, "low");
  EXPECT_NE(w->evidence.find("max-age=86400"), std::string::npos);
  EXPECT_EQ(find(weak, "HSTS not enabled"), nullptr);
}

TEST(WebTlsHeaders, OutdatedProtocolIsHigh) {
  TlsFixture tls(CertSpec{}, TLS1_1_VERSION);
  tls.serve_root(kStrongHsts);
  const CheckResult r = tls_headers("legacy", tls.server->url(), trusting(tls));
  ASSERT_TRUE(r.error.empty()) << dump(r);
  const WebFinding* old = find(r, "Outdated TLS protocol");
  ASSERT_NE(old, nullptr) << dump(r);
  EXPECT_EQ(old->severity, "high");
  EXPECT_NE(old->evidence.find("TLSv1.1"), std::string::npos) << old->evidence;
  EXPECT_EQ(find(r, "Certificate not trusted"), nullptr) << dump(r);
}

TEST(WebTlsHeaders, CertificateFromAnUnknownCaIsUntrustedButNotSelfSigned) {
  CertSpec ca_spec;
  ca_spec.common_name = "SecPlat Test CA";
  ca_spec.subject_alt_names = "";
  ca_spec.is_ca = true;
  const TestCert ca = testing::make_certificate(ca_spec);
  const TestCert leaf = testing::make_certificate(CertSpec{}, &ca);
  SSL_CTX* ctx = server_context(leaf);
  TestWebServer server(ctx);
  SSL_CTX_free(ctx);
  server.route("/", {200, {{"Strict-Transport-Security", kStrongHsts}}, "ok"});

  const CheckResult unknown = tls_headers("ca-signed", server.url(), local_options());
  const WebFinding* untrusted = find(unknown, "Certificate not trusted");
  ASSERT_NE(untrusted, nullptr) << dump(unknown);
  EXPECT_NE(untrusted->evidence.find("not issued by a trusted CA"), std::string::npos) << untrusted->evidence;
  EXPECT_NE(untrusted->evidence.find("issuer CN=SecPlat Test CA"), std::string::npos) << untrusted->evidence;

  // With the CA as an extra anchor the same server is fine.
  TempFile anchor(ca.cert_pem);
  CheckOptions o = local_options();
  o.ca_file = anchor.path();
  const CheckResult trusted = tls_headers("ca-signed", server.url(), o);
  EXPECT_TRUE(trusted.findings.empty()) << dump(trusted);
  EXPECT_TRUE(trusted.error.empty()) << dump(trusted);
}

TEST(WebTlsHeaders, ClosedHttpsPortIsARetryableError) {
  const std::string url = "https://127.0.0.1:" + std::to_string(testing::closed_port());
  const CheckResult r = tls_headers("down", url, local_options());
  EXPECT_NE(r.error.find("refused"), std::string::npos) << dump(r);
  EXPECT_TRUE(r.retryable);
  EXPECT_TRUE(r.findings.empty());
}

TEST(WebTlsExposure, HttpsTargetChecksHstsAndNeedsATrustedCertificate) {
  TlsFixture tls(CertSpec{});
  tls.serve_root("");
  const CheckResult trusted = web_exposure("site", tls.server->url(), trusting(tls));
  ASSERT_TRUE(trusted.error.empty()) << dump(trusted);
  const WebFinding* hsts = find(trusted, "Missing Strict-Transport-Security header");
  ASSERT_NE(hsts, nullptr) << dump(trusted);
  EXPECT_EQ(hsts->severity, "medium");
  // Same header, other source: distinct keys, so the two jobs never fight over one finding.
  EXPECT_NE(hsts->finding_key, finding_key("site", "security_headers", "HSTS not enabled", "strict-transport-security"));

  const CheckResult untrusted = web_exposure("site", tls.server->url(), local_options());
  EXPECT_NE(untrusted.error.find("tls"), std::string::npos) << dump(untrusted);
  EXPECT_FALSE(untrusted.retryable);
  EXPECT_TRUE(untrusted.findings.empty());
}

TEST(WebTlsHealthHttp, UntrustedCertificateIsATlsFailure) {
  TlsFixture tls(CertSpec{});
  tls.serve_root("");
  const CheckResult r = health_http("api", tls.server->url() + "/", local_options());
  ASSERT_EQ(r.findings.size(), 1u) << dump(r);
  EXPECT_EQ(r.findings[0].evidence.rfind("tls", 0), 0u) << r.findings[0].evidence;
  const CheckResult ok = health_http("api", tls.server->url() + "/", trusting(tls));
  EXPECT_TRUE(ok.findings.empty()) << dump(ok);
}

}  // namespace
}  // namespace secplat::scanners::web
