#include "scanners/web/content_signatures.h"

#include <gtest/gtest.h>

namespace secplat::scanners::web {
namespace {

const std::string kSpa = "<!DOCTYPE html>\n<html><head><title>App</title></head><body><div id=app></div></body></html>";

TEST(WebSignatures, GitHead) {
  EXPECT_EQ(git_head_ref("ref: refs/heads/main\n"), "refs/heads/main");
  EXPECT_EQ(git_head_ref("0123456789abcdef0123456789abcdef01234567\n"), "0123456789abcdef0123456789abcdef01234567");
  EXPECT_FALSE(git_head_ref(kSpa));
  EXPECT_FALSE(git_head_ref("ref: not-a-ref\n"));
  EXPECT_FALSE(git_head_ref(""));
}

TEST(WebSignatures, DotenvKeysWithoutValues) {
  const auto keys = dotenv_keys("# comment\n\nDB_PASSWORD=hunter2\r\nexport API_KEY = 'x'\nDB_PASSWORD=again\n");
  EXPECT_EQ(keys, (std::vector<std::string>{"DB_PASSWORD", "API_KEY"}));
  EXPECT_TRUE(dotenv_keys(kSpa).empty());
  EXPECT_TRUE(dotenv_keys("<html>\nA=B\n</html>").empty());
  EXPECT_TRUE(dotenv_keys("Just some prose.\nWith a line that has a = sign.\nAnd more prose here.\n").empty());
  EXPECT_TRUE(dotenv_keys("var a = 1;\nfunction f() {}\nconst b=2;\n").empty());
  EXPECT_TRUE(dotenv_keys("").empty());
}

TEST(WebSignatures, BinaryAndTextFormats) {
  EXPECT_TRUE(is_ds_store(std::string("\0\0\0\1Bud1\0", 9)));
  EXPECT_FALSE(is_ds_store(kSpa));
  EXPECT_TRUE(is_zip(std::string("PK\3\4rest", 8)));
  EXPECT_FALSE(is_zip("PKZIP is a program"));
  EXPECT_TRUE(is_gzip(std::string("\x1f\x8b\x08\0", 4)));
  EXPECT_TRUE(is_sql_dump("-- PostgreSQL database dump\n\nSET statement_timeout = 0;\n"));
  EXPECT_TRUE(is_sql_dump("CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n"));
  EXPECT_FALSE(is_sql_dump("<!doctype html><html><body>CREATE TABLE docs (id int);</body></html>"));
  EXPECT_FALSE(is_sql_dump(kSpa));
  EXPECT_TRUE(is_svn_entries("10\n\ndir\n42\nhttps://svn/x\n"));
  EXPECT_TRUE(is_svn_entries("<?xml version=\"1.0\"?>\n<wc-entries xmlns=\"svn:\">"));
  EXPECT_FALSE(is_svn_entries("404\nnot found\n"));
  EXPECT_TRUE(is_apache_server_status("<h1>Apache Server Status for host</h1>"));
  EXPECT_FALSE(is_apache_server_status(kSpa));
}

TEST(WebSignatures, DirectoryListings) {
  EXPECT_TRUE(is_directory_listing("<html><head><title>Index of /files</title>"));
  EXPECT_TRUE(is_directory_listing("<TITLE>Index of /</TITLE>"));
  EXPECT_TRUE(is_directory_listing("<title>Directory listing for /</title>"));
  EXPECT_TRUE(is_directory_listing("<pre><A HREF=\"/\">[To Parent Directory]</A>"));
  EXPECT_FALSE(is_directory_listing(kSpa));
  EXPECT_FALSE(is_directory_listing("<title>Index of products</title>"));
}

TEST(WebSignatures, VersionBanners) {
  for (const char* yes : {"nginx/1.18.0", "Apache/2.4.41 (Ubuntu)", "Microsoft-IIS/10.0", "Jetty(9.4.44)",
                          "lighttpd 1.4.55", "Python/3.11 aiohttp/3.8.5"})
    EXPECT_TRUE(discloses_version(yes)) << yes;
  for (const char* no : {"nginx", "Apache", "cloudflare", "AmazonS3", "gws", ""}) EXPECT_FALSE(discloses_version(no)) << no;
}

TEST(WebSignatures, HstsAndCsp) {
  EXPECT_EQ(hsts_max_age("max-age=31536000; includeSubDomains"), 31536000);
  EXPECT_EQ(hsts_max_age("includeSubDomains; MAX-AGE=\"600\""), 600);
  EXPECT_EQ(hsts_max_age("includeSubDomains"), std::nullopt);
  EXPECT_EQ(hsts_max_age("max-age=abc"), std::nullopt);
  EXPECT_TRUE(csp_has_frame_ancestors("default-src 'self'; frame-ancestors 'none'"));
  EXPECT_FALSE(csp_has_frame_ancestors("default-src 'self' frame-ancestors"));
  EXPECT_FALSE(csp_has_frame_ancestors(""));
}

TEST(WebSignatures, EvidenceTextIsPrintableAndShort) {
  EXPECT_EQ(evidence_text("a\r\nb\x01", 10), "a??b?");
  EXPECT_EQ(evidence_text(std::string(20, 'x'), 5), "xxxxx...");
}

}  // namespace
}  // namespace secplat::scanners::web
