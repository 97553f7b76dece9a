// append_finding_json() must write exactly what finding_json().dump() writes: the findings list
// and a single finding are served from the direct writer, and clients (and the reference's
// tests) see the same bytes either way.
#include "api/finding_json.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace secplat::api {
namespace {

using findings::Finding;

std::string reference(const Finding& f, bool viewer) {
  return finding_json(f, viewer).dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string direct(const Finding& f, bool viewer) {
  std::string out;
  append_finding_json(out, f, viewer);
  return out;
}

Finding plain() {
  Finding f;
  f.finding_id = 42;
  f.finding_key = "csp-missing";
  f.asset_id = 7;
  f.asset_key = "web-01";
  f.asset_name = "Web 01";
  f.category = "headers";
  f.title = "Missing CSP header";
  f.evidence = "GET / → no Content-Security-Policy";
  f.remediation = "Send a CSP";
  f.source = "manual";
  f.time_ms = 1'700'000'000'123;
  f.first_seen_ms = 1'700'000'000'123;
  f.last_seen_ms = 1'700'000'900'000;
  f.risk_score = 55;
  f.risk_level = "medium";
  return f;
}

TEST(FindingJson, TheDirectWriterMatchesTheJsonValueByteForByte) {
  std::vector<Finding> cases;
  cases.push_back(plain());

  Finding all = plain();  // every optional set, objects in the JSON columns
  all.vulnerability_id = "CVE-2024-0001";
  all.package_ecosystem = "npm";
  all.package_name = "left-pad";
  all.package_version = "1.0.0";
  all.fixed_version = "1.0.1";
  all.scanner_metadata_json = R"({"tool":"trivy","nested":{"b":1,"a":[1,2.5,"x"]}})";
  all.risk_factors_json = R"({ "exposure" : "internet", "criticality": "high" })";  // re-serialised compactly
  all.accepted_risk_at_ms = 1'700'000'000'000;
  all.accepted_risk_expires_at_ms = 1'800'000'000'000;
  all.accepted_risk_reason = "vendor fix pending";
  all.accepted_risk_by = "alice";
  all.status = "accepted_risk";
  cases.push_back(all);

  Finding hostile = plain();  // every escape, control characters, 0x7f, non-ASCII
  hostile.title = std::string("quote \" backslash \\ slash / \b\f\n\r\t nul ") + std::string(1, '\0') +
                  " \x01\x1f\x7f é 中文 🚀";
  hostile.evidence = "line1\nline2\ttab \"q\" </script>";
  hostile.finding_key = "";
  hostile.scanner_metadata_json = "not json";  // stored junk reads as {}
  hostile.risk_factors_json = "[1,2]";         // not an object: {}
  cases.push_back(hostile);

  Finding broken = plain();  // invalid UTF-8 is replaced with U+FFFD as nlohmann does
  broken.title = "bad \xff\xfe bytes \xc3";
  broken.remediation = "overlong \xc0\xaf and lone continuation \x80 end";
  broken.accepted_risk_reason = std::string("\xed\xa0\x80 surrogate");
  cases.push_back(broken);

  for (std::size_t i = 0; i < cases.size(); ++i) {
    for (bool viewer : {false, true}) {
      EXPECT_EQ(direct(cases[i], viewer), reference(cases[i], viewer)) << "case " << i << " viewer " << viewer;
    }
  }
  // And the bytes are JSON a client can read, with what a viewer must not see left out.
  Json back = Json::parse(direct(all, true));
  EXPECT_TRUE(back["evidence"].is_null());
  EXPECT_TRUE(back["accepted_risk_reason"].is_null());
  EXPECT_EQ(back["accepted_risk_by"], "alice");
  EXPECT_EQ(back["scanner_metadata_json"]["nested"]["a"][1], 2.5);
  EXPECT_EQ(Json::parse(direct(hostile, false))["title"], hostile.title);
}

}  // namespace
}  // namespace secplat::api
