#include "scanners/web/target_url.h"

#include <gtest/gtest.h>

namespace secplat::scanners::web {
namespace {

TEST(WebTargetUrl, BaseUrls) {
  auto t = parse_target_url("https://Example.COM", false);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->scheme, "https");
  EXPECT_EQ(t->host, "example.com");
  EXPECT_EQ(t->port, 443);
  EXPECT_EQ(t->origin(), "https://example.com");
  EXPECT_EQ(t->with_path("/.env"), "https://example.com/.env");
  EXPECT_FALSE(t->host_is_ip_literal());

  t = parse_target_url("http://127.0.0.1:8081/", false);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->origin(), "http://127.0.0.1:8081");
  EXPECT_EQ(t->port, 8081);
  EXPECT_TRUE(t->host_is_ip_literal());

  t = parse_target_url("https://[::1]:8443", false);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->host, "[::1]");
  EXPECT_EQ(t->bare_host(), "::1");
  EXPECT_TRUE(t->host_is_ip_literal());
  EXPECT_EQ(t->origin(), "https://[::1]:8443");
}

TEST(WebTargetUrl, FullUrlsKeepPathAndQueryAndDropFragment) {
  auto t = parse_target_url("http://svc.internal:9000/health?deep=1#x", true);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->url(), "http://svc.internal:9000/health?deep=1");
  t = parse_target_url("https://h/login?next=a@b", true);  // '@' after the authority is fine
  ASSERT_TRUE(t.ok()) << t.error().message;
}

TEST(WebTargetUrl, RedactQuery) {
  EXPECT_EQ(redact_query("https://h/health"), "https://h/health");
  EXPECT_EQ(redact_query("https://h/p?token=abc&flag&x=1#frag"), "https://h/p?token=***&flag&x=***");
}

TEST(WebTargetUrl, Refused) {
  for (const char* bad : {"", "example.com", "ftp://example.com", "file:///etc/passwd", "https://u:p@example.com",
                          "https://u@example.com", "http://exa mple.com", "https://example.com:0", "https://example.com:99999",
                          "gopher://x", "https://\x7f", "https://example.com/path"})
    EXPECT_FALSE(parse_target_url(bad, false).ok()) << bad;
  EXPECT_FALSE(parse_target_url("https://u:p@example.com/x", true).ok());
}

}  // namespace
}  // namespace secplat::scanners::web
