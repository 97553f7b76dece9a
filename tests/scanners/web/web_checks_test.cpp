// web_exposure, health_http and the plain-HTTP side of tls_headers against a loopback server.
#include "scanners/web/web_checks.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <algorithm>
#include <string>

#include "scanners/web/test_web_server.h"

namespace secplat::scanners::web {
namespace {

using testing::closed_port;
using testing::Response;
using testing::TestWebServer;

CheckOptions local_options() {
  CheckOptions o;
  o.net.allow_private = true;
  o.timeout_ms = 5000;
  return o;
}

const WebFinding* find(const CheckResult& r, const std::string& title, const std::string& evidence_part = "") {
  for (const auto& f : r.findings)
    if (f.title == title && f.evidence.find(evidence_part) != std::string::npos) return &f;
  return nullptr;
}

std::size_t count_category(const CheckResult& r, const std::string& category) {
  return static_cast<std::size_t>(
      std::count_if(r.findings.begin(), r.findings.end(), [&](const WebFinding& f) { return f.category == category; }));
}

bool log_contains(const CheckResult& r, const std::string& text) {
  return std::any_of(r.log.begin(), r.log.end(), [&](const std::string& l) { return l.find(text) != std::string::npos; });
}

std::string dump(const CheckResult& r) {
  std::string s = "error: " + r.error + "\nfindings:\n";
  for (const auto& f : r.findings) s += "  [" + f.severity + "] " + f.category + " / " + f.title + ": " + f.evidence + "\n";
  s += "log:\n";
  for (const auto& l : r.log) s += "  " + l + "\n";
  return s;
}

// The first 32 hex characters of sha256(text), computed independently of the library.
std::string sha256_prefix(const std::string& text) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), md);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : md) {
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 15]);
  }
  return out.substr(0, 32);
}

const Response kPlainPage{200, {{"Content-Type", "text/html"}}, "<!doctype html><html><body>hello</body></html>"};

Response hardened_page() {
  return {200,
          {{"Content-Type", "text/html"},
           {"Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"},
           {"X-Content-Type-Options", "nosniff"},
           {"Referrer-Policy", "no-referrer"},
           {"Permissions-Policy", "camera=()"},
           {"Server", "nginx"}},
          "<!doctype html><html><body>hello</body></html>"};
}

TEST(WebExposure, MissingSecurityHeadersAreReportedWithTheirSeverities) {
  TestWebServer server;
  server.route("/", kPlainPage);
  const CheckResult r = web_exposure("shop", server.url(), local_options());
  ASSERT_TRUE(r.error.empty()) << dump(r);

  const auto expect = [&](const std::string& title, const std::string& severity) {
    const WebFinding* f = find(r, title);
    ASSERT_NE(f, nullptr) << title << "\n" << dump(r);
    EXPECT_EQ(f->severity, severity) << title;
    EXPECT_EQ(f->category, "security_headers");
    EXPECT_EQ(f->source, "web_exposure");
    EXPECT_EQ(f->confidence, "high");
    EXPECT_EQ(f->finding_key.size(), 32u);
    EXPECT_FALSE(f->remediation.empty());
  };
  expect("Missing Content-Security-Policy header", "medium");
  expect("Missing clickjacking protection", "low");
  expect("Missing X-Content-Type-Options header", "low");
  expect("Missing Referrer-Policy header", "low");
  expect("Missing Permissions-Policy header", "info");
  // HSTS only matters on HTTPS.
  EXPECT_EQ(find(r, "Missing Strict-Transport-Security header"), nullptr);
  EXPECT_EQ(count_category(r, "exposure"), 0u) << dump(r);
  EXPECT_TRUE(log_contains(r, "GET " + server.url() + "/ -> 200 in ")) << dump(r);
}

TEST(WebExposure, PresentHeadersGiveNoHeaderFindings) {
  TestWebServer server;
  server.route("/", hardened_page());  // CSP frame-ancestors stands in for X-Frame-Options
  const CheckResult r = web_exposure("shop", server.url(), local_options());
  ASSERT_TRUE(r.error.empty()) << dump(r);
  EXPECT_EQ(count_category(r, "security_headers"), 0u) << dump(r);
  EXPECT_EQ(count_category(r, "banner"), 0u) << dump(r);  // "Server: nginx" has no version
  EXPECT_TRUE(r.findings.empty()) << dump(r);
}

TEST(WebExposure, ServerErrorPageIsNotJudgedForDocumentHeaders) {
  TestWebServer server;
  server.route("/", {502, {{"Content-Type", "text/html"}}, "<html>bad gateway</html>"});
  const CheckResult r = web_exposure("shop", server.url(), local_options());
  ASSERT_TRUE(r.error.empty()) << dump(r);
  EXPECT_EQ(count_category(r, "security_headers"), 0u) << dump(r);
  const std::string csp_key =
      finding_key("shop", "security_headers", "Missing Content-Security-Policy header", "content-security-policy");
  EXPECT_NE(std::find(r.inconclusive_keys.begin(), r.inconclusive_keys.end(), csp_key), r.inconclusive_keys.end());
}

TEST(WebExposure, WrongNosniffValueIsReported) {
  TestWebServer server;
  Response page = hardened_page();
  page.headers[2] = {"X-Content-Type-Options", "sniff-please"};
  server.route("/", page);
  const CheckResult r = web_exposure("shop", server.url(), local_options());
  const WebFinding* f = find(r, "Missing X-Content-Type-Options header");
  ASSERT_NE(f, nullptr) << dump(r);
  EXPECT_NE(f->evidence.find("sniff-please"), std::string::npos);
}

TEST(WebExposure, VersionedBannersAreLow) {
  TestWebServer server;
  Response page = hardened_page();
  page.headers.back() = {"Server", "nginx/1.18.0"};
  page.headers.emplace_back("X-Powered-By", "PHP/7.4.3");
  server.route("/", page);
  const CheckResult r = web_exposure("shop", server.url(), local_options());
  const WebFinding* server_banner = find(r, "Server header discloses software version");
  ASSERT_NE(server_banner, nullptr) << dump(r);
  EXPECT_EQ(server_banner->severity, "low");
  EXPECT_EQ(server_banner->category, "banner");
  EXPECT_NE(server_banner->evidence.find("nginx/1.18.0"), std::string::npos);
  const WebFinding* powered = find(r, "X-Powered-By header discloses technology");
  ASSERT_NE(powered, nullptr) << dump(r);
  EXPECT_EQ(powered->severity, "low");
  EXPECT_NE(server_banner->finding_key, powered->finding_key);
}

TEST(WebExposure, ExposedGitHeadIsCritical) {
  TestWebServer server;
  server.route("/", hardened_page());
  server.route("/.git/HEAD", {200, {{"Content-Type", "text/plain"}}, "ref: refs/heads/main\n"});
  const CheckResult r = web_exposure("shop", server.url(), local_options());
  const WebFinding* f = find(r, "Git repository exposed");
  ASSERT_NE(f, nullptr) << dump(r);
  EXPECT_EQ(f->severity, "critical");
  EXPECT_EQ(f->category, "exposure");
  EXPECT_NE(f->evidence.find("/.git/HEAD"), std::string::npos);
  EXPECT_NE(f->evidence.find("refs/heads/main"), std::string::npos);
}

TEST(WebExposure, ExposedEnvNamesTheKeysButNeverTheValues) {
  TestWebServer server;
  server.route("/", hardened_page());
  server.route("/.env", {200, {{"Content-Type", "text/plain"}},
                         "# production\nDB_HOST=db.internal\nDB_PASSWORD=hunter2\nexport API_TOKEN=\"s3cr3t-t0ken\"\n"});
  const CheckResult r = web_exposure("shop", server.url(), local_options());
  const WebFinding* f = find(r, "Environment file exposed");
  ASSERT_NE(f, nullptr) << dump(r);
  EXPECT_EQ(f->severity, "critical");
  EXPECT_NE(f->evidence.find("DB_PASSWORD"), std::string::npos) << f->evidence;
  EXPECT_NE(f->evidence.find("API_TOKEN"), std::string::npos) << f->evidence;
  for (const std::string secret : {"hunter2", "s3cr3t-t0ken", "db.internal"}) {
    for (const auto& x : r.findings) {
      EXPECT_EQ(x.evidence.find(secret), std::string::npos) << x.evidence;
      EXPECT_EQ(x.title.find(secret), std::string::npos);
    }
    for (const auto& line : r.log) EXPECT_EQ(line.find(secret), std::string::npos) << line;
  }
}

TEST(WebExposure, CatchAllSpaGivesNoExposureFindings) {
  TestWebServer server;
  const std::string index =
      "<!DOCTYPE html>\n<html><head><title>Shop</title></head>\n<body><div id=\"root\"></div>\n"
      "<script>window.CONFIG=\"API_URL=/api\"; // ref: refs/heads/main\n</script></body></html>\n";
  Response spa = hardened_page();
  spa.body = index;
  server.route("/", spa);
  server.fallback(spa);  // every path answers 200 with the same index.html
  const CheckResult r = web_exposure("spa", server.url(), local_options());
  ASSERT_TRUE(r.error.empty()) << dump(r);
  EXPECT_EQ(count_category(r, "exposure"), 0u) << dump(r);
  EXPECT_TRUE(r.findings.empty()) << dump(r);
  // The sensitive paths were asked for, not skipped.
  const auto paths = server.paths();
  EXPECT_NE(std::find(paths.begin(), paths.end(), "/.git/HEAD"), paths.end());
  EXPECT_NE(std::find(paths.begin(), paths.end(), "/.env"), paths.end());
}

TEST(WebExposure, CatchAllThatLooksLikeAFileIsNotReported) {
  TestWebServer server;
  server.route("/", hardened_page());
  // A server that answers every path with the same KEY=VALUE text: the absent-path baseline
  // matches too, so /.env proves nothing.
  server.fallback({200, {{"Content-Type", "text/plain"}}, "STATUS=ok\nMODE=catch-all\n"});
  const CheckResult r = web_exposure("odd", server.url(), local_options());
  EXPECT_EQ(find(r, "Environment file exposed"), nullptr) << dump(r);
  EXPECT_TRUE(log_contains(r, "catch-all")) << dump(r);
}

TEST(WebExposure, DirectoryListingsOnRootAndCommonDirectories) {
  TestWebServer server;
  Response listing = hardened_page();
  listing.body = "<html><head><title>Index of /</title></head><body><h1>Index of /</h1><a href=\"a.txt\">a.txt</a>";
  server.route("/", listing);
  Response uploads = listing;
  uploads.body = "<html><head><title>Index of /uploads/</title></head><body></body></html>";
  server.route("/uploads/", uploads);
  const CheckResult r = web_exposure("files", server.url(), local_options());
  std::vector<const WebFinding*> listings;
  for (const auto& f : r.findings)
    if (f.title == "Directory listing enabled") listings.push_back(&f);
  ASSERT_EQ(listings.size(), 2u) << dump(r);
  EXPECT_EQ(listings[0]->severity, "medium");
  EXPECT_NE(listings[0]->finding_key, listings[1]->finding_key);
  EXPECT_NE(find(r, "Directory listing enabled", "/uploads/"), nullptr) << dump(r);
}

TEST(WebExposure, OtherExposedFilesAreRecognisedByContent) {
  TestWebServer server;
  server.route("/", hardened_page());
  server.route("/.DS_Store", {200, {}, std::string("\0\0\0\1Bud1\0\0\x10\0", 12)});
  server.route("/server-status", {200, {{"Content-Type", "text/html"}},
                                  "<html><head><title>Apache Status</title></head><body><h1>Apache Server Status for "
                                  "example.com (via 10.0.0.1)</h1></body></html>"});
  server.route("/.svn/entries", {200, {}, "10\n\ndir\n1234\nhttps://svn.example.com/repo/trunk\n"});
  server.route("/backup.zip", {200, {{"Content-Type", "application/zip"}}, std::string("PK\3\4\x14\0\0\0\x08\0", 10)});
  server.route("/dump.sql", {200, {}, "-- MySQL dump 10.13  Distrib 8.0.36\n--\nCREATE TABLE `users` (id int);\n"});
  const CheckResult r = web_exposure("leaky", server.url(), local_options());
  ASSERT_TRUE(r.error.empty()) << dump(r);
  const auto expect = [&](const std::string& title, const std::string& severity, const std::string& path) {
    const WebFinding* f = find(r, title, path);
    ASSERT_NE(f, nullptr) << title << "\n" << dump(r);
    EXPECT_EQ(f->severity, severity) << title;
  };
  expect("macOS .DS_Store file exposed", "low", "/.DS_Store");
  expect("Apache server-status exposed", "medium", "/server-status");
  expect("Subversion metadata exposed", "high", "/.svn/entries");
  expect("Backup archive exposed", "high", "/backup.zip");
  expect("Database dump exposed", "critical", "/dump.sql");
  EXPECT_EQ(find(r, "Database dump exposed", "/backup.sql"), nullptr);  // 404 there
  EXPECT_EQ(find(r, "Git repository exposed"), nullptr);
}

TEST(WebExposure, FindingKeysAreStableAcrossRunsAndDifferPerAsset) {
  TestWebServer server;
  server.route("/", kPlainPage);
  server.route("/.git/HEAD", {200, {}, "ref: refs/heads/main\n"});
  const CheckResult a1 = web_exposure("asset-a", server.url(), local_options());
  const CheckResult a2 = web_exposure("asset-a", server.url(), local_options());
  const CheckResult b = web_exposure("asset-b", server.url(), local_options());
  ASSERT_FALSE(a1.findings.empty());
  ASSERT_EQ(a1.findings.size(), a2.findings.size());
  ASSERT_EQ(a1.findings.size(), b.findings.size());
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < a1.findings.size(); ++i) {
    EXPECT_EQ(a1.findings[i].title, a2.findings[i].title);
    EXPECT_EQ(a1.findings[i].finding_key, a2.findings[i].finding_key) << a1.findings[i].title;
    EXPECT_NE(a1.findings[i].finding_key, b.findings[i].finding_key) << a1.findings[i].title;
    keys.push_back(a1.findings[i].finding_key);
  }
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(std::adjacent_find(keys.begin(), keys.end()), keys.end()) << "duplicate keys in one run";

  // The documented recipe: sha256("<asset_key>:<category>:<title>:<detail>"), first 32 hex chars.
  const WebFinding* git = find(a1, "Git repository exposed");
  ASSERT_NE(git, nullptr) << dump(a1);
  EXPECT_EQ(git->finding_key, sha256_prefix("asset-a:exposure:Git repository exposed:/.git/HEAD"));
  const WebFinding* csp = find(a1, "Missing Content-Security-Policy header");
  ASSERT_NE(csp, nullptr);
  EXPECT_EQ(csp->finding_key,
            sha256_prefix("asset-a:security_headers:Missing Content-Security-Policy header:content-security-policy"));
}

TEST(WebExposure, RedirectIsReportedNotFollowed) {
  TestWebServer elsewhere;
  TestWebServer server;
  server.route("/", {301, {{"Location", elsewhere.url() + "/landing"}}, ""});
  const CheckResult r = web_exposure("moved", server.url(), local_options());
  ASSERT_TRUE(r.error.empty()) << dump(r);
  const WebFinding* f = find(r, "Root path redirects");
  ASSERT_NE(f, nullptr) << dump(r);
  EXPECT_EQ(f->severity, "info");
  EXPECT_NE(f->evidence.find(elsewhere.url() + "/landing"), std::string::npos);
  EXPECT_EQ(elsewhere.connections(), 0);
  // Document headers were not judged on a redirect: no findings, and their keys are inconclusive.
  EXPECT_EQ(count_category(r, "security_headers"), 0u) << dump(r);
  const std::string csp_key =
      finding_key("moved", "security_headers", "Missing Content-Security-Policy header", "content-security-policy");
  EXPECT_NE(std::find(r.inconclusive_keys.begin(), r.inconclusive_keys.end(), csp_key), r.inconclusive_keys.end());
}

TEST(WebExposure, RequestBudgetIsAHardCap) {
  TestWebServer server;
  server.route("/", kPlainPage);
  CheckOptions o = local_options();
  o.max_requests = 3;
  const CheckResult r = web_exposure("shop", server.url(), o);
  ASSERT_TRUE(r.error.empty()) << dump(r);
  EXPECT_EQ(server.paths().size(), 3u);
  EXPECT_TRUE(log_contains(r, "request budget of 3 used up")) << dump(r);
  // What was not checked must not be taken as fixed.
  const std::string env_key = finding_key("shop", "exposure", "Environment file exposed", "/.env");
  EXPECT_NE(std::find(r.inconclusive_keys.begin(), r.inconclusive_keys.end(), env_key), r.inconclusive_keys.end());
}

TEST(WebExposure, UnreachableTargetIsARetryableError) {
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port());
  const CheckResult r = web_exposure("down", url, local_options());
  EXPECT_NE(r.error.find("refused"), std::string::npos) << dump(r);
  EXPECT_TRUE(r.retryable);
  EXPECT_TRUE(r.findings.empty());
}

TEST(WebExposure, InvalidUrlsAreRefusedWithoutARequest) {
  for (const std::string url : {"ftp://example.com", "https://user:pw@example.com", "https://example.com/admin",
                                "example.com", "https://", "http://exa mple.com", "https://example.com?x=1"}) {
    const CheckResult r = web_exposure("x", url, local_options());
    EXPECT_NE(r.error.find("invalid URL"), std::string::npos) << url << ": " << r.error;
    EXPECT_FALSE(r.retryable) << url;
    EXPECT_TRUE(r.findings.empty());
  }
}

TEST(WebSsrfGuard, LoopbackIsRefusedWithoutPrivateAccessAndNothingConnects) {
  TestWebServer server;
  server.route("/", kPlainPage);
  CheckOptions o = local_options();
  o.net.allow_private = false;
  for (const auto& r : {web_exposure("a", server.url(), o), tls_headers("a", server.url(), o),
                        health_http("a", server.url() + "/health", o)}) {
    EXPECT_NE(r.error.find("not allowed"), std::string::npos) << dump(r);
    EXPECT_FALSE(r.retryable);
    EXPECT_TRUE(r.findings.empty()) << dump(r);
  }
  EXPECT_EQ(server.connections(), 0);
}

TEST(WebSsrfGuard, NamesAreCheckedAfterResolutionAtConnectTime) {
  TestWebServer server;
  server.route("/", kPlainPage);
  CheckOptions o = local_options();
  o.net.allow_private = false;
  // "localhost" is not an address literal: only the connect-time check can refuse it.
  const std::string url = "http://localhost:" + std::to_string(server.port());
  for (const auto& r : {web_exposure("a", url, o), health_http("a", url + "/", o)}) {
    EXPECT_NE(r.error.find("not allowed"), std::string::npos) << dump(r);
    EXPECT_FALSE(r.retryable);
    EXPECT_TRUE(r.findings.empty()) << dump(r);
  }
  EXPECT_EQ(server.connections(), 0);
}

TEST(WebSsrfGuard, MetadataAndUnspecifiedAddressesAreRefusedEvenWithPrivateAccess) {
  const CheckOptions o = local_options();  // allow_private = true
  for (const std::string url : {"http://169.254.169.254", "http://[fd00:ec2::254]", "http://0.0.0.0:80"}) {
    const CheckResult r = web_exposure("meta", url, o);
    EXPECT_NE(r.error.find("not allowed"), std::string::npos) << url << "\n" << dump(r);
    EXPECT_FALSE(r.retryable);
    EXPECT_FALSE(log_contains(r, "GET ")) << "a request was attempted\n" << dump(r);
  }
  const CheckResult h = health_http("meta", "http://169.254.169.254/latest/meta-data/", o);
  EXPECT_NE(h.error.find("not allowed"), std::string::npos) << dump(h);
  EXPECT_TRUE(h.findings.empty());
}

TEST(WebHealthHttp, ClosedPortGivesAnAvailabilityFindingWithRefused) {
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/health";
  const CheckResult r = health_http("api", url, local_options());
  EXPECT_TRUE(r.error.empty()) << dump(r);
  ASSERT_EQ(r.findings.size(), 1u) << dump(r);
  const WebFinding& f = r.findings[0];
  EXPECT_EQ(f.title, "Endpoint unavailable");
  EXPECT_EQ(f.category, "availability");
  EXPECT_EQ(f.severity, "high");
  EXPECT_EQ(f.source, "health_http");
  EXPECT_EQ(f.evidence.rfind("refused", 0), 0u) << f.evidence;
  EXPECT_EQ(f.finding_key, finding_key("api", "availability", "Endpoint unavailable", ""));
}

TEST(WebHealthHttp, HealthyEndpointGivesNoFindingAndLogsStatusAndLatency) {
  TestWebServer server;
  server.route("/health", {200, {}, "ok"});
  const CheckResult r = health_http("api", server.url() + "/health?deep=1", local_options());
  EXPECT_TRUE(r.error.empty()) << dump(r);
  EXPECT_TRUE(r.findings.empty()) << dump(r);
  // Query values are kept out of the log (they may be tokens).
  EXPECT_TRUE(log_contains(r, "GET " + server.url() + "/health?deep=*** -> 200 in ")) << dump(r);
  EXPECT_EQ(server.paths(), std::vector<std::string>{"/health"});
}

TEST(WebHealthHttp, QueryValuesNeverReachLogOrEvidence) {
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/health?token=tok-12345&x";
  const CheckResult r = health_http("api", url, local_options());
  ASSERT_EQ(r.findings.size(), 1u) << dump(r);
  EXPECT_NE(r.findings[0].evidence.find("/health?token=***&x"), std::string::npos) << r.findings[0].evidence;
  EXPECT_EQ(r.findings[0].evidence.find("tok-12345"), std::string::npos);
  EXPECT_FALSE(log_contains(r, "tok-12345")) << dump(r);
}

TEST(WebHealthHttp, ServerErrorIsAnHttpError) {
  TestWebServer server;
  server.route("/health", {503, {}, "down for maintenance"});
  const CheckResult r = health_http("api", server.url() + "/health", local_options());
  ASSERT_EQ(r.findings.size(), 1u) << dump(r);
  EXPECT_EQ(r.findings[0].evidence.rfind("http_error", 0), 0u) << r.findings[0].evidence;
  EXPECT_NE(r.findings[0].evidence.find("503"), std::string::npos);
  EXPECT_EQ(r.findings[0].evidence.find("maintenance"), std::string::npos);  // no body in evidence
}

TEST(WebHealthHttp, RedirectIsNotFollowedAndCountsAsAvailable) {
  TestWebServer elsewhere;
  TestWebServer server;
  server.route("/health", {302, {{"Location", elsewhere.url() + "/"}}, ""});
  const CheckResult r = health_http("api", server.url() + "/health", local_options());
  EXPECT_TRUE(r.findings.empty()) << dump(r);
  EXPECT_EQ(elsewhere.connections(), 0);
}

TEST(WebTlsHeadersPlainHttp, HttpTargetIsNoHttpsWithRedirectNoted) {
  TestWebServer plain;
  plain.route("/", kPlainPage);
  const CheckResult r = tls_headers("site", plain.url(), local_options());
  const WebFinding* f = find(r, "No HTTPS");
  ASSERT_NE(f, nullptr) << dump(r);
  EXPECT_EQ(f->severity, "high");
  EXPECT_EQ(f->source, "tls_headers");
  EXPECT_NE(f->evidence.find("no redirect to HTTPS"), std::string::npos) << f->evidence;

  TestWebServer redirecting;
  redirecting.route("/", {301, {{"Location", "https://127.0.0.1:1/"}}, ""});
  const CheckResult r2 = tls_headers("site", redirecting.url(), local_options());
  const WebFinding* f2 = find(r2, "No HTTPS");
  ASSERT_NE(f2, nullptr) << dump(r2);
  EXPECT_NE(f2->evidence.find("redirecting to https://127.0.0.1:1/"), std::string::npos) << f2->evidence;
  EXPECT_EQ(f->finding_key, f2->finding_key);
  EXPECT_TRUE(log_contains(r2, "HTTP redirects to HTTPS")) << dump(r2);
}

}  // namespace
}  // namespace secplat::scanners::web
