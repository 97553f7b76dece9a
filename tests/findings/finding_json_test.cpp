// append_finding_json() must write exactly what finding_json().dump() writes: the findings list
// and a single finding are served from the direct writer, and clients (and the reference's
// tests) see the same bytes either way.
#include "api/finding_json.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/route_helpers.h"
#include "core/clock.h"

namespace secplat::api {
namespace {

using findings::Finding;

// The reference: the finding as the routes built it before the direct writer.
Json finding_json(const Finding& f, bool viewer) {
  return Json{{"finding_id", f.finding_id},
              {"finding_key", f.finding_key},
              {"asset_id", f.asset_id},
              {"asset_key", f.asset_key},
              {"asset_name", f.asset_name},
              {"time", format_rfc3339(f.time_ms)},
              {"first_seen", format_rfc3339(f.first_seen_ms)},
              {"last_seen", format_rfc3339(f.last_seen_ms)},
              {"status", f.status},
              {"source", f.source},
              {"category", f.category},
              {"title", f.title},
              {"severity", f.severity},
              {"confidence", f.confidence},
              {"evidence", viewer ? Json(nullptr) : Json(f.evidence)},
              {"remediation", f.remediation},
              {"vulnerability_id", opt_text(f.vulnerability_id)},
              {"package_ecosystem", opt_text(f.package_ecosystem)},
              {"package_name", opt_text(f.package_name)},
              {"package_version", opt_text(f.package_version)},
              {"fixed_version", opt_text(f.fixed_version)},
              {"scanner_metadata_json", object_or_empty(f.scanner_metadata_json)},
              {"risk_score", f.risk_score},
              {"risk_level", f.risk_level},
              {"risk_factors_json", object_or_empty(f.risk_factors_json)},
              {"risk_label", nullptr},
              {"risk_label_source", nullptr},
              {"risk_label_created_at", nullptr},
              {"risk_label_created_by", nullptr},
              {"accepted_risk_at", opt_time(f.accepted_risk_at_ms)},
              {"accepted_risk_expires_at", opt_time(f.accepted_risk_expires_at_ms)},
              {"accepted_risk_reason", viewer ? Json(nullptr) : opt_text(f.accepted_risk_reason)},
              {"accepted_risk_by", opt_text(f.accepted_risk_by)}};
}

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
