// SARIF 2.1.0 import: create/update/unchanged counts, auto-remediation per source, fingerprint
// fallback, severity mapping, and rejection of malformed logs without any write.
#include <gtest/gtest.h>

#include <map>

#include "findings/sarif.h"
#include "findings_fixture.h"

namespace secplat::findings::testing {
namespace {

Json result(const std::string& rule, const std::string& fp, const std::string& msg, const std::string& uri = "app.py",
            int line = 10) {
  Json r = {{"ruleId", rule},
            {"level", "error"},
            {"message", {{"text", msg}}},
            {"locations",
             Json::array({{{"physicalLocation",
                            {{"artifactLocation", {{"uri", uri}}}, {"region", {{"startLine", line}}}}}}})}};
  if (!fp.empty()) r["partialFingerprints"] = {{"primaryLocationLineHash", fp}};
  return r;
}

Json sarif(const Json& results, const std::string& tool = "Semgrep") {
  const Json sqli = {{"id", "py.sqli"},
                     {"shortDescription", {{"text", "SQL injection"}}},
                     {"help", {{"text", "Use parameters"}}},
                     {"properties", {{"security-severity", "9.8"}}}};
  const Json note = {{"id", "py.note"}, {"defaultConfiguration", {{"level", "note"}}}};
  Json run = {{"tool", {{"driver", {{"name", tool}, {"rules", Json::array({sqli, note})}}}}}, {"results", results}};
  return {{"version", "2.1.0"}, {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"}, {"runs", Json::array({run})}};
}

class SarifImportTest : public FindingsFixture {
 protected:
  void SetUp() override {
    FindingsFixture::SetUp();
    make_asset("repo-1", "repository");
  }
  SarifImportResult import(const Json& log, const std::string& source = "") {
    auto r = findings->import_sarif("repo-1", log, source, actor);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : SarifImportResult{};
  }
  std::string status_of_title(const std::string& title) {
    FindingFilter f;
    f.q = title;
    auto page = findings->list(f);
    return page.ok() && page->items.size() == 1 ? page->items[0].status : "?";
  }
};

TEST_F(SarifImportTest, SecondImportUpdatesChangedKeepsSameAndRemediatesMissing) {
  Json a = result("py.sqli", "fp-a", "query built from input");
  Json b = result("py.note", "fp-b", "Note b");
  Json c = result("py.other", "fp-c", "Other c");
  auto first = import(sarif({a, b, c}));
  EXPECT_EQ(first.created, 3);
  EXPECT_EQ(first.total, 3);
  EXPECT_EQ(first.remediated, 0);

  clock.advance_ms(1000);
  Json b2 = b;
  b2["message"]["text"] = "Note b, now with more detail";
  auto second = import(sarif({a, b2}));
  EXPECT_EQ(second.created, 0);
  EXPECT_EQ(second.unchanged, 1);
  EXPECT_EQ(second.updated, 1);
  EXPECT_EQ(second.remediated, 1);
  EXPECT_EQ(second.total, 2);
  EXPECT_EQ(status_of_title("Other c"), "remediated");
  EXPECT_EQ(status_of_title("SQL injection"), "open");

  auto third = import(sarif({a, b2, c}));  // c is back: reopened
  EXPECT_EQ(third.created, 0);
  EXPECT_EQ(third.updated, 1);
  EXPECT_EQ(third.unchanged, 2);
  EXPECT_EQ(status_of_title("Other c"), "open");
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM findings"), 3);
  EXPECT_EQ(audit_count("finding.import"), 3);
}

TEST_F(SarifImportTest, SeverityComesFromSecuritySeverityThenLevelThenRuleDefault) {
  Json sqli = result("py.sqli", "1", "x");  // rule security-severity 9.8 beats level error
  Json err = result("py.other", "2", "y");  // level error → high
  Json note = result("py.note", "3", "z");  // no level, rule default note → low
  note.erase("level");
  Json cvss = result("py.other", "4", "w");
  cvss["properties"] = {{"security-severity", 4.0}};
  Json none = result("py.other", "5", "v");
  none["level"] = "none";
  import(sarif({sqli, err, note, cvss, none}));
  auto page = findings->list({});
  ASSERT_TRUE(page.ok());
  std::map<std::string, std::string> by_evidence;
  for (const auto& f : page->items) by_evidence[f.evidence.substr(0, 1)] = f.severity;
  EXPECT_EQ(by_evidence["x"], "critical");
  EXPECT_EQ(by_evidence["y"], "high");
  EXPECT_EQ(by_evidence["z"], "low");
  EXPECT_EQ(by_evidence["w"], "medium");
  EXPECT_EQ(by_evidence["v"], "info");
  EXPECT_EQ(severity_from_cvss(7.0), "high");
  EXPECT_EQ(severity_from_cvss(0.1), "low");
  EXPECT_EQ(severity_from_cvss(0.0), "info");
}

TEST_F(SarifImportTest, WithoutFingerprintsTheKeyIsRuleAndLocation) {
  Json l10 = result("py.other", "", "same rule", "a.py", 10);
  Json l20 = result("py.other", "", "same rule", "a.py", 20);
  auto first = import(sarif({l10, l20}));
  EXPECT_EQ(first.created, 2);  // different lines are different findings
  Json reworded = l10;
  reworded["message"]["text"] = "reworded message";
  auto second = import(sarif({reworded, l20}));
  EXPECT_EQ(second.created, 0);  // same rule + location: the same finding, updated
  EXPECT_EQ(second.updated, 1);
  EXPECT_EQ(second.unchanged, 1);
  auto page = findings->list({});
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].finding_key.rfind("sarif:", 0), 0u);
}

TEST_F(SarifImportTest, AutoRemediationOnlyTouchesTheImportedSource) {
  import(sarif(Json::array({result("py.sqli", "fp-a", "from semgrep")})), "semgrep");
  auto other = import(sarif(Json::array(), "Bandit"), "bandit");
  EXPECT_EQ(other.remediated, 0);
  EXPECT_EQ(status_of_title("SQL injection"), "open");
  auto empty_same = import(sarif(Json::array()), "semgrep");
  EXPECT_EQ(empty_same.remediated, 1);
}

TEST_F(SarifImportTest, RuleIndexSelectsTheRuleAndAnOutOfRangeIndexIsRejected) {
  Json by_index = {{"ruleIndex", 0}, {"message", {{"text", "m"}}}, {"partialFingerprints", {{"h", "1"}}}};
  import(sarif(Json::array({by_index})));
  auto page = findings->list({});
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].title, "SQL injection");
  EXPECT_EQ(page->items[0].severity, "critical");
  EXPECT_EQ(page->items[0].remediation, "Use parameters");

  by_index["ruleIndex"] = 7;
  auto r = findings->import_sarif("repo-1", sarif(Json::array({by_index})), "", actor);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("runs[0].results[0].ruleIndex"), std::string::npos);
}

TEST_F(SarifImportTest, DefaultSourceIsTheToolName) {
  import(sarif(Json::array({result("py.sqli", "fp-a", "x")}), "Semgrep OSS"));
  auto page = findings->list({});
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].source, "semgrep oss");
}

TEST_F(SarifImportTest, MalformedLogsAreRejectedAndNothingIsWritten) {
  Json good = result("py.sqli", "fp-a", "x");
  Json bad_level = result("py.sqli", "fp-b", "y");
  bad_level["level"] = "fatal";
  std::vector<std::pair<Json, std::string>> cases = {
      {Json::array(), "$"},
      {{{"runs", Json::array()}}, "version"},
      {{{"version", "2.0.0"}, {"runs", Json::array()}}, "version"},
      {{{"version", "2.1.0"}}, "runs"},
      {{{"version", "2.1.0"}, {"runs", Json::object()}}, "runs"},
      {{{"version", "2.1.0"}, {"runs", Json::array({{{"results", Json::array()}}})}}, "runs[0].tool.driver"},
      {sarif({good, bad_level}), "runs[0].results[1].level"},
      {sarif({good, {{"ruleId", "x"}}}), "runs[0].results[1].message"},
      {sarif(Json::object()), "runs[0].results"},
  };
  Json fp_not_string = result("py.sqli", "fp", "z");
  fp_not_string["partialFingerprints"]["h"] = 5;
  cases.emplace_back(sarif({good, fp_not_string}), "runs[0].results[1].partialFingerprints.h");
  for (const auto& [log, path] : cases) {
    auto r = findings->import_sarif("repo-1", log, "", actor);
    ASSERT_FALSE(r.ok()) << log.dump();
    EXPECT_EQ(r.error().code, Errc::validation);
    EXPECT_NE(r.error().message.find(path), std::string::npos) << r.error().message;
  }
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM findings"), 0);
  EXPECT_EQ(audit_count("finding.import"), 0);
}

TEST_F(SarifImportTest, UnknownAssetIsNotFound) {
  auto r = findings->import_sarif("nope", sarif(Json::array()), "", actor);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::not_found);
}

}  // namespace
}  // namespace secplat::findings::testing
