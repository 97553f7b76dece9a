// One probe at a time (probe_once): outcomes, error classes and the SSRF guard, against real
// sockets on 127.0.0.1.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "core/clock.h"
#include "posture/probe/probe_servers.h"
#include "posture/probe/prober.h"

using namespace secplat;
using namespace secplat::posture;
using secplat::posture::testing::closed_port;
using secplat::posture::testing::http_response;
using secplat::posture::testing::TestHttpServer;
using secplat::posture::testing::TestTlsServer;

namespace {

const NetPolicy kPrivateOk{true};
const NetPolicy kStrict{};

ProbeTarget target(const std::string& url) {
  ProbeTarget t;
  t.asset_key = "shop";
  t.url = url;
  t.timeout_ms = 3000;
  return t;
}

TestHttpServer::Handler answer(int status, std::string body = "hello", std::string headers = "") {
  return [=](const std::string&) { return http_response(status, body, headers); };
}

}  // namespace

TEST(prober_once, AnAcceptedStatusIsUp) {
  TestHttpServer server(answer(200));
  const int64_t before = SystemClock().now_ms();
  ProbeResult r = probe_once(target(server.url("/health")), kPrivateOk);
  EXPECT_TRUE(r.up) << r.error_class << ": " << r.error;
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.asset_key, "shop");
  EXPECT_EQ(r.url, server.url("/health"));
  EXPECT_EQ(r.error_class, "");
  EXPECT_EQ(r.error, "");
  EXPECT_GE(r.started_ms, before);
  EXPECT_LE(r.started_ms, SystemClock().now_ms());
  EXPECT_GE(r.latency_ms, 0);
  EXPECT_LT(r.latency_ms, 3000);
  EXPECT_EQ(r.remote_ip.value_or(""), "127.0.0.1");
  EXPECT_FALSE(r.tls_version.has_value());
  EXPECT_FALSE(r.cert_not_after_ms.has_value());
  ASSERT_EQ(server.heads().size(), 1u);
  EXPECT_EQ(server.heads()[0].rfind("GET /health HTTP/1.1\r\n", 0), 0u) << server.heads()[0];
  EXPECT_NE(server.heads()[0].find("User-Agent: secplat-prober/1\r\n"), std::string::npos);
}

TEST(prober_once, AStatusOutsideTheExpectedRangesIsAnHttpErrorWithItsCode) {
  TestHttpServer server(answer(503));
  ProbeResult r = probe_once(target(server.url()), kPrivateOk);
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.code, 503);
  EXPECT_EQ(r.error_class, "http_error");
  EXPECT_EQ(r.error, "HTTP status 503 is not expected (200-399)");

  TestHttpServer teapot(answer(418));
  ProbeTarget t = target(teapot.url());
  t.expected_status = {{200, 204}, {418, 418}};
  EXPECT_TRUE(probe_once(t, kPrivateOk).up);
  t.expected_status = {{200, 200}};
  r = probe_once(t, kPrivateOk);
  EXPECT_EQ(r.error_class, "http_error");
  EXPECT_EQ(r.code, 418);
}

TEST(prober_once, RedirectsAreNotFollowed) {
  TestHttpServer server([](const std::string& head) {
    if (head.rfind("GET /old", 0) == 0) return http_response(302, "", "Location: /new\r\n");
    return http_response(500, "followed");
  });
  ProbeTarget t = target(server.url("/old"));
  ProbeResult r = probe_once(t, kPrivateOk);
  EXPECT_TRUE(r.up) << r.error;  // 3xx is within the default 200-399
  EXPECT_EQ(r.code, 302);
  EXPECT_EQ(server.requests(), 1);
  t.expected_status = {{200, 299}};
  r = probe_once(t, kPrivateOk);
  EXPECT_EQ(r.error_class, "http_error");
  EXPECT_EQ(r.code, 302);
  EXPECT_EQ(server.requests(), 2);
}

TEST(prober_once, TheKeywordMustBeInTheBody) {
  TestHttpServer server(answer(200, "status: all systems operational"));
  ProbeTarget t = target(server.url());
  t.keyword = "operational";
  EXPECT_TRUE(probe_once(t, kPrivateOk).up);
  t.keyword = "degraded";
  ProbeResult r = probe_once(t, kPrivateOk);
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.error_class, "keyword_missing");
  EXPECT_EQ(r.error, "keyword not found in the response body");
}

TEST(prober_once, AKeywordSplitAcrossReadsIsFound) {
  // The server sends "...NEEDLE-IN", pauses, then "-A-HAYSTACK...": two reads for the client.
  const std::string body = std::string(5000, 'x') + "NEEDLE-IN\x01-A-HAYSTACK" + std::string(100, 'y');
  TestHttpServer server([&](const std::string&) {
    return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size() - 1) + "\r\n\r\n" + body;
  });
  ProbeTarget t = target(server.url());
  t.keyword = "NEEDLE-IN-A-HAYSTACK";
  ProbeResult r = probe_once(t, kPrivateOk);
  EXPECT_TRUE(r.up) << r.error_class << ": " << r.error;
  t.keyword = "IN-A-HAY";
  EXPECT_TRUE(probe_once(t, kPrivateOk).up);
  t.keyword = "NEEDLE-IN-A-HAYSTACKS";
  EXPECT_EQ(probe_once(t, kPrivateOk).error_class, "keyword_missing");
}

TEST(prober_once, TheKeywordIsFoundDeepInTheBodyButOnlyInTheFirstMebibyte) {
  std::string big(900 * 1024, 'x');
  big += "NEEDLE-IN-A-HAYSTACK";
  big += std::string(50 * 1024, 'y');
  TestHttpServer server(answer(200, big));
  ProbeTarget t = target(server.url());
  t.keyword = "NEEDLE-IN-A-HAYSTACK";
  ProbeResult r = probe_once(t, kPrivateOk);
  EXPECT_TRUE(r.up) << r.error_class << ": " << r.error;

  std::string too_far(1100 * 1024, 'x');
  too_far += "NEEDLE-IN-A-HAYSTACK";
  TestHttpServer far_server(answer(200, too_far));
  t.url = far_server.url();
  r = probe_once(t, kPrivateOk);
  EXPECT_EQ(r.error_class, "keyword_missing");
  EXPECT_EQ(r.error, "keyword not found in the first 1 MiB of the response body");
  EXPECT_EQ(r.code, 200);

  // Without a keyword a long body is cut off, not an error.
  t.keyword.reset();
  r = probe_once(t, kPrivateOk);
  EXPECT_TRUE(r.up) << r.error_class << ": " << r.error;
}

TEST(prober_once, HeadSendsAHeadRequest) {
  TestHttpServer server([](const std::string& head) {
    return head.rfind("HEAD / ", 0) == 0 ? std::string("HTTP/1.1 204 No Content\r\n\r\n") : http_response(405, "");
  });
  ProbeTarget t = target(server.url());
  t.method = "HEAD";
  ProbeResult r = probe_once(t, kPrivateOk);
  EXPECT_TRUE(r.up) << r.error;
  EXPECT_EQ(r.code, 204);
}

TEST(prober_once, AClosedPortIsRefused) {
  ProbeResult r = probe_once(target("http://127.0.0.1:" + std::to_string(closed_port()) + "/"), kPrivateOk);
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.error_class, "refused");
  EXPECT_EQ(r.code, 0);
  EXPECT_FALSE(r.error.empty());
}

TEST(prober_once, ASilentServerTimesOut) {
  TestHttpServer server([](const std::string&) { return std::string(); });
  ProbeTarget t = target(server.url());
  t.timeout_ms = 300;
  const int64_t t0 = steady_ms();
  ProbeResult r = probe_once(t, kPrivateOk);
  const int64_t took = steady_ms() - t0;
  EXPECT_EQ(r.error_class, "timeout");
  EXPECT_EQ(r.code, 0);
  EXPECT_FALSE(r.up);
  EXPECT_GE(r.latency_ms, 250);
  EXPECT_LT(took, 2000);
  EXPECT_EQ(server.connections(), 1);
}

TEST(prober_once, AnUnknownHostIsADnsError) {
  ProbeResult r = probe_once(target("http://no-such-host.invalid/"), kPrivateOk);
  EXPECT_EQ(r.error_class, "dns");
  EXPECT_EQ(r.code, 0);
  EXPECT_FALSE(r.up);
}

TEST(prober_once, LoopbackIsForbiddenWithoutAllowPrivateAndNothingConnects) {
  TestHttpServer server(answer(200));
  ProbeResult r = probe_once(target(server.url()), kStrict);
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.error_class, "forbidden");
  EXPECT_EQ(r.error, "loopback address 127.0.0.1 is not allowed");
  EXPECT_EQ(r.remote_ip.value_or(""), "127.0.0.1");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(server.connections(), 0);
}

TEST(prober_once, AHostNameThatResolvesToLoopbackIsForbidden) {
  TestHttpServer server(answer(200));
  ProbeResult r = probe_once(target("http://localhost:" + std::to_string(server.port()) + "/"), kStrict);
  EXPECT_EQ(r.error_class, "forbidden");
  EXPECT_NE(r.error.find("loopback address"), std::string::npos) << r.error;
  EXPECT_EQ(server.connections(), 0);
  // The same name is fine once private addresses are allowed.
  r = probe_once(target("http://localhost:" + std::to_string(server.port()) + "/"), kPrivateOk);
  EXPECT_TRUE(r.up) << r.error_class << ": " << r.error;
  EXPECT_EQ(server.connections(), 1);
}

TEST(prober_once, MetadataAndLinkLocalAddressesAreForbiddenEvenWithAllowPrivate) {
  for (const char* url : {"http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/latest/meta-data/",
                          "http://[::ffff:169.254.169.254]/", "http://[fe80::1]/", "http://0.0.0.0:1/",
                          "http://2852039166/"}) {
    ProbeResult r = probe_once(target(url), kPrivateOk);
    EXPECT_EQ(r.error_class, "forbidden") << url << ": " << r.error;
    EXPECT_NE(r.error.find("is not allowed"), std::string::npos) << url << ": " << r.error;
  }
}

TEST(prober_once, OnlyHttpAndHttpsAreProbed) {
  TestHttpServer server(answer(200));
  for (const std::string& url : {"ftp://127.0.0.1:" + std::to_string(server.port()) + "/",
                                std::string("file:///etc/passwd"),
                                "gopher://127.0.0.1:" + std::to_string(server.port()) + "/"}) {
    ProbeResult r = probe_once(target(url), kPrivateOk);
    EXPECT_EQ(r.error_class, "error") << url;
    EXPECT_FALSE(r.up);
  }
  EXPECT_EQ(server.connections(), 0);
  ProbeTarget t = target(server.url());
  t.method = "POST";
  ProbeResult r = probe_once(t, kPrivateOk);
  EXPECT_EQ(r.error_class, "error");
  EXPECT_EQ(r.error, "unsupported probe method 'POST'");
  EXPECT_EQ(server.connections(), 0);
}

TEST(prober_once, ProxyEnvironmentVariablesAreIgnored) {
  TestHttpServer proxy(answer(200, "via proxy"));
  TestHttpServer server(answer(200));
  const std::string proxy_url = proxy.url();
  setenv("http_proxy", proxy_url.c_str(), 1);
  setenv("HTTP_PROXY", proxy_url.c_str(), 1);
  setenv("ALL_PROXY", proxy_url.c_str(), 1);
  ProbeResult r = probe_once(target(server.url()), kPrivateOk);
  unsetenv("http_proxy");
  unsetenv("HTTP_PROXY");
  unsetenv("ALL_PROXY");
  EXPECT_TRUE(r.up) << r.error;
  EXPECT_EQ(server.requests(), 1);
  EXPECT_EQ(proxy.connections(), 0);
}

TEST(prober_once, CredentialsInTheUrlNeverReachResults) {
  const std::string port = std::to_string(closed_port());
  for (const auto& [url, policy] :
       {std::pair{"http://alice:s3cret-pw@127.0.0.1:" + port + "/", kPrivateOk},
        std::pair{"http://alice:s3cret-pw@127.0.0.1:" + port + "/", kStrict},
        std::pair{std::string("http://alice:s3cret-pw@no-such-host.invalid/"), kPrivateOk},
        std::pair{std::string("http://tok3n-abcdef@no-such-host.invalid/"), kPrivateOk}}) {
    ProbeResult r = probe_once(target(url), policy);
    EXPECT_FALSE(r.up);
    EXPECT_FALSE(r.error.empty());
    for (const char* secret : {"s3cret-pw", "tok3n-abcdef"}) {
      EXPECT_EQ(r.error.find(secret), std::string::npos) << r.error;
      EXPECT_EQ(r.url.find(secret), std::string::npos) << r.url;
    }
    EXPECT_NE(r.url.find("://***@"), std::string::npos) << r.url;
  }
}

TEST(prober_once, BasicAuthCredentialsAreSentToTheTarget) {
  TestHttpServer server([](const std::string& head) {
    // base64("alice:pw") = YWxpY2U6cHc=
    return head.find("Authorization: Basic YWxpY2U6cHc=\r\n") != std::string::npos ? http_response(200, "ok")
                                                                                    : http_response(401, "");
  });
  ProbeResult r = probe_once(target("http://alice:pw@127.0.0.1:" + std::to_string(server.port()) + "/"), kPrivateOk);
  EXPECT_TRUE(r.up) << r.error;
  EXPECT_EQ(r.url, "http://***@127.0.0.1:" + std::to_string(server.port()) + "/");
}

TEST(prober_tls, AnUntrustedCertificateIsATlsError) {
  TestTlsServer server;
  ProbeResult r = probe_once(target("https://localhost:" + std::to_string(server.port()) + "/"), kPrivateOk);
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.error_class, "tls") << r.error;
  EXPECT_NE(r.error.find("certificate"), std::string::npos) << r.error;
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(server.handshakes(), 0);
}
