// The one-pass reader of a POST /findings/ body against the rules on a parsed tree: the same
// bodies, the same FindingInput or the same 422, field for field.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/finding_input.h"
#include "http/json_body.h"

namespace secplat::api {
namespace {

http::Request request(std::string body, std::string content_type = "application/json") {
  http::Request r;
  r.method = "POST";
  r.target = "/findings/";
  if (!content_type.empty()) r.headers.emplace_back("content-type", std::move(content_type));
  r.body = std::move(body);
  return r;
}

Result<findings::FindingInput> by_tree(const http::Request& req) {
  auto body = http::parse_json_object(req);
  if (!body.ok()) return std::move(body).take_error();
  return finding_input_from_json(*body);
}

std::string describe(const Result<findings::FindingInput>& r) {
  if (!r.ok()) {
    std::string s = "error " + std::to_string(static_cast<int>(r.error().code)) + " " + r.error().message;
    for (const auto& f : r.error().fields) {
      s += " [";
      for (const auto& l : f.loc) s += l + "/";
      s += "] " + f.msg;
    }
    return s;
  }
  const auto& in = *r;
  auto o = [](const std::optional<std::string>& v) { return v ? "'" + *v + "'" : std::string("-"); };
  return "key=" + in.finding_key + " title=" + in.title + " asset_key=" + in.asset_key +
         " asset_id=" + (in.asset_id ? std::to_string(*in.asset_id) : "-") + " category=" + o(in.category) +
         " severity=" + o(in.severity) + " confidence=" + o(in.confidence) + " evidence=" + o(in.evidence) +
         " remediation=" + o(in.remediation) + " source=" + o(in.source) + " vuln=" + o(in.vulnerability_id) +
         " eco=" + o(in.package_ecosystem) + " pkg=" + o(in.package_name) + " ver=" + o(in.package_version) +
         " fixed=" + o(in.fixed_version) + " meta=" + o(in.scanner_metadata_json);
}

TEST(FindingInput, TheOnePassReaderAndTheTreeAgreeOnEveryBody) {
  const std::string long_title(1001, 't');
  const std::vector<std::string> bodies = {
      // the plain case, as scanners and the bench send it
      R"({"finding_key":"k-1","title":"Missing CSP header","asset_key":"asset-00001","severity":"medium"})",
      R"({"finding_key":"k","title":"t","asset_key":"a","category":"c","severity":"high","confidence":"low",
          "evidence":"e","remediation":"r","source":"zap","vulnerability_id":"CVE-1","package_ecosystem":"npm",
          "package_name":"p","package_version":"1","fixed_version":"2"})",
      R"({"finding_key":"k","title":"t","asset_id":7})",
      R"({"finding_key":"k","title":"t","asset_key":"","asset_id":7})",
      R"({"finding_key":"k","title":"t","asset_key":"a","asset_id":-3})",
      R"({"finding_key":"k","title":"t","asset_key":"a","asset_id":null,"severity":null,"scanner_metadata_json":null})",
      R"({"finding_key":"k\u00e9\n\"q\"","title":"caf\u00e9 \ud83d\ude00","asset_key":"a"})",
      R"(  {"title":"first","finding_key":"k","asset_key":"a","title":"second"}  )",
      R"({"finding_key":"k","title":"t","asset_key":"a","severity":"high","severity":null})",
      R"({"finding_key":"k","title":")" + std::string(1000, 't') + R"(","asset_key":"a"})",
      // what only the tree can hold, and every refusal
      R"({"finding_key":"k","title":"t","asset_key":"a","scanner_metadata_json":{"rule":"x","n":[1,2]}})",
      R"({"finding_key":"k","title":"t","asset_key":"a","scanner_metadata_json":"{}"})",
      R"({"finding_key":"k","title":"t","asset_key":"a","scanner_metadata_json":{"a":1},"scanner_metadata_json":null})",
      R"({"finding_key":"k","title":")" + long_title + R"(","asset_key":"a"})",
      R"({"finding_key":"k","asset_key":"a"})",
      R"({"title":"t","asset_key":"a"})",
      R"({"finding_key":"k","title":"t"})",
      R"({"finding_key":"k","title":"t","asset_key":""})",
      R"({"finding_key":"k","title":"t","asset_key":"a","title":null})",
      R"({"finding_key":1,"title":"t","asset_key":"a"})",
      R"({"finding_key":"k","title":true,"asset_key":"a"})",
      R"({"finding_key":"k","title":"t","asset_key":"a","severity":["high"]})",
      R"({"finding_key":"k","title":"t","asset_key":"a","evidence":{"x":1}})",
      R"({"finding_key":"k","title":"t","asset_id":"7"})",
      R"({"finding_key":"k","title":"t","asset_id":7.5})",
      R"({"finding_key":"k","title":"t","asset_id":18446744073709551615})",
      R"({"finding_key":"k","title":"t","asset_id":1e400})",
      R"({"finding_key":"k","title":"t","asset_key":"a","owner":"me","status":"open"})",
      R"([{"finding_key":"k","title":"t","asset_key":"a"}])",
      R"("just text")",
      "null",
      "",
      R"({"finding_key":"k","title":"t","asset_key":"a"} trailing)",
      R"({"finding_key":"k","title":"t","asset_key":"a")",
      R"({"finding_key":"k","title":"t","asset_key":"a",})",
      "{\"finding_key\":\"k\",\"title\":\"\xff\xfe\",\"asset_key\":\"a\"}",
      R"({"finding_key":"k","title":"t","asset_key":"a"} {"finding_key":"k2"})",
  };
  for (const auto& body : bodies) {
    for (const std::string ct : {"application/json", "", "application/vnd.api+json; charset=utf-8", "text/plain"}) {
      const http::Request req = request(body, ct);
      EXPECT_EQ(describe(parse_finding_body(req)), describe(by_tree(req))) << body << " as " << ct;
    }
  }
}

// The plain case is read in full (not only "as the tree says" when both could be wrong).
TEST(FindingInput, APlainUploadIsReadInFull) {
  auto in = parse_finding_body(request(
      R"({"finding_key":"k-1","title":"caf\u00e9","asset_key":"asset-1","severity":"high","source":"zap",)"
      R"("evidence":null,"package_name":"left-pad"})"));
  ASSERT_TRUE(in.ok()) << in.error().message;
  EXPECT_EQ(in->finding_key, "k-1");
  EXPECT_EQ(in->title, "caf\xc3\xa9");
  EXPECT_EQ(in->asset_key, "asset-1");
  EXPECT_FALSE(in->asset_id);
  EXPECT_EQ(in->severity, "high");
  EXPECT_EQ(in->source, "zap");
  EXPECT_FALSE(in->evidence);
  EXPECT_EQ(in->package_name, "left-pad");
  EXPECT_FALSE(in->category);
  EXPECT_FALSE(in->scanner_metadata_json);

  auto refused = parse_finding_body(request(R"({"finding_key":"k","title":"t","asset_key":"a","owner":"me"})"));
  ASSERT_FALSE(refused.ok());
  ASSERT_EQ(refused.error().fields.size(), 1u);
  EXPECT_EQ(refused.error().fields[0].msg, "Unknown field 'owner'");
}

}  // namespace
}  // namespace secplat::api
