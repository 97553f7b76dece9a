// Reference validation messages and the Python-compatible manifest canonicalisation.
#include <gtest/gtest.h>

#include "assurance/scan_request.h"
#include "core/encoding.h"

namespace secplat::assurance {
namespace {

std::string first_msg(const Json& body) {
  auto r = parse_scan_request(body);
  if (r.ok()) return "ok";
  return r.error().fields.empty() ? r.error().message : r.error().fields.front().msg;
}

Json base() {
  return {{"workspace_id", "w"}, {"component_id", "c"}, {"assessment_id", "a"}, {"manifest", {{"profiles", Json::array()}}}};
}

TEST(ScanRequest, ReferenceValidationMessagesInOrder) {
  EXPECT_EQ(first_msg(Json::object()), "Field required");
  auto missing = parse_scan_request(Json::object());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().fields.size(), 3u);
  EXPECT_EQ(missing.error().fields[0].loc, (std::vector<std::string>{"body", "workspace_id"}));
  Json b = base();
  b["workspace_id"] = 5;
  EXPECT_EQ(first_msg(b), "Input should be a valid string");
  b = base();
  b["manifest"] = Json::array();
  EXPECT_EQ(first_msg(b), "Input should be a valid dictionary");
  b = base();
  EXPECT_EQ(first_msg(b), "Value error, git_url is required when source_type='git'");
  b["source_type"] = "directory";
  EXPECT_EQ(first_msg(b), "Value error, directory_path is required when source_type='directory'");
  b["source_type"] = "archive";
  b["archive_path"] = "";
  EXPECT_EQ(first_msg(b), "Value error, archive_path is required when source_type='archive'");
  b["source_type"] = "Git";
  EXPECT_EQ(first_msg(b), "Value error, Invalid source_type: 'Git'. Must be 'git', 'directory', or 'archive'");
  b = base();
  b["git_url"] = "https://x/y.git";
  b["manifest"] = Json::object();
  EXPECT_EQ(first_msg(b), "Value error, Provide one of 'manifest', 'manifest_path', or 'manifest_uri'");
  b["manifest_uri"] = "file:///m.json";
  EXPECT_EQ(first_msg(b), "Value error, 'manifest_signature_uri' is required when 'manifest_uri' is set");
  b["manifest_signature_uri"] = "file:///m.sig";
  EXPECT_EQ(first_msg(b), "ok");
  auto loc = parse_scan_request(Json{{"workspace_id", "w"}, {"component_id", "c"}, {"assessment_id", "a"}});
  ASSERT_FALSE(loc.ok());
  EXPECT_EQ(loc.error().fields.front().loc, (std::vector<std::string>{"body"}));
}

TEST(ScanRequest, RequestedByFromBodyIsIgnored) {
  Json b = base();
  b["git_url"] = "https://x/y.git";
  b["requested_by"] = "mallory";
  auto r = parse_scan_request(b);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->requested_by.has_value());
}

TEST(CanonicalManifest, MatchesPythonJsonDumpsSortKeys) {
  // Expected strings produced by CPython 3: json.dumps(v, sort_keys=True).
  Json v = Json::parse(R"({"b": 1, "a": [true, null, 1.0, 0.1, 1e16, 1e-05, 0.0001, 123456789.5], "é": "ü\n\"/\u0001😀"})");
  EXPECT_EQ(canonical_manifest_text(v),
            "{\"a\": [true, null, 1.0, 0.1, 1e+16, 1e-05, 0.0001, 123456789.5], \"b\": 1, "
            "\"\\u00e9\": \"\\u00fc\\n\\\"/\\u0001\\ud83d\\ude00\"}");
  EXPECT_EQ(canonical_manifest_text(Json::parse(R"({"x": {}, "y": []})")), "{\"x\": {}, \"y\": []}");
  // sha256 of '{"profiles": [{"name": "light", "tools": []}]}' (python3 -c 'import json,hashlib;...').
  Json m = Json::parse(R"({"profiles":[{"tools":[],"name":"light"}]})");
  EXPECT_EQ(canonical_manifest_text(m), "{\"profiles\": [{\"name\": \"light\", \"tools\": []}]}");
  EXPECT_EQ(sha256_hex(canonical_manifest_text(m)), sha256_hex("{\"profiles\": [{\"name\": \"light\", \"tools\": []}]}"));
  EXPECT_EQ(python_float_repr(2.5e-7), "2.5e-07");
  EXPECT_EQ(python_float_repr(-3.0), "-3.0");
  EXPECT_EQ(python_float_repr(1e15), "1000000000000000.0");
}

TEST(ScanRequest, RefNamesAreValidated) {
  EXPECT_TRUE(is_safe_branch_name("feature/x-1"));
  EXPECT_FALSE(is_safe_branch_name("-upload-pack=evil"));
  EXPECT_FALSE(is_safe_branch_name("a..b"));
  EXPECT_FALSE(is_safe_branch_name("a b"));
  EXPECT_TRUE(is_safe_commit_ref("deadbeef"));
  EXPECT_FALSE(is_safe_commit_ref("--all"));
}

}  // namespace
}  // namespace secplat::assurance
