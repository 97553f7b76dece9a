// Report readers and the SARIF normaliser on hand-written reports in each tool's format.
#include "scanners/tools/tool_reports.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/json.h"
#include "scanners/tools/external_tool.h"
#include "scanners/tools/finding_normalizer.h"

namespace fs = std::filesystem;

namespace secplat::scanners {
namespace {

TEST(ToolReports, Bandit) {
  const char* report = R"({"errors":[],"results":[
    {"code":"5 subprocess.call(cmd, shell=True)\n","filename":"./app.py","issue_confidence":"HIGH",
     "issue_severity":"HIGH","issue_text":"subprocess call with shell=True identified, security issue.",
     "line_number":5,"col_offset":4,"more_info":"https://bandit.readthedocs.io/b602.html",
     "test_id":"B602","test_name":"subprocess_popen_with_shell_equals_true","issue_cwe":{"id":78,"link":"x"}},
    {"filename":"./app.py","issue_severity":"MEDIUM","issue_text":"eval","line_number":9,"test_id":"B307","test_name":"blacklist"}]})";
  auto f = read_bandit_json(report);
  ASSERT_TRUE(f.ok()) << f.error().message;
  ASSERT_EQ(f->size(), 2u);
  EXPECT_EQ((*f)[0].rule_id, "B602");
  EXPECT_EQ((*f)[0].severity, "high");
  EXPECT_EQ((*f)[0].path, "./app.py");
  EXPECT_EQ((*f)[0].region.start_line, 5);
  EXPECT_EQ((*f)[0].region.start_column, 5);
  EXPECT_EQ((*f)[0].tags[0], "external/cwe/cwe-78");
  EXPECT_EQ((*f)[1].severity, "medium");
  EXPECT_FALSE(read_bandit_json("not json").ok());
  EXPECT_FALSE(read_bandit_json(R"({"errors":[]})").ok());
}

TEST(ToolReports, ShellCheckJson1) {
  auto f = read_shellcheck_json1(
      R"({"comments":[{"file":"sub/run.sh","line":3,"endLine":3,"column":8,"endColumn":15,"level":"info","code":2086,
          "message":"Double quote to prevent globbing and word splitting.","fix":null}]})");
  ASSERT_TRUE(f.ok());
  ASSERT_EQ(f->size(), 1u);
  EXPECT_EQ((*f)[0].rule_id, "SC2086");
  EXPECT_EQ((*f)[0].severity, "low");
  EXPECT_EQ((*f)[0].help_uri, "https://www.shellcheck.net/wiki/SC2086");
  EXPECT_EQ((*f)[0].region.start_column, 8);
  EXPECT_EQ((*f)[0].region.end_line, 3);
  EXPECT_EQ((*f)[0].region.end_column, 15);
}

TEST(ToolReports, CppcheckXml) {
  const char* xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<results version="2">
    <cppcheck version="2.10"/>
    <errors>
        <error id="getsCalled" severity="warning" msg="Obsolete function &apos;gets&apos; called &lt;x&gt; &#233;" verbose="v" cwe="477" file0="vuln.c">
            <location file="vuln.c" line="10" column="3"/>
            <location file="other.c" line="1" column="1"/>
        </error>
        <!-- status messages and errors without a location name no place in the code -->
        <error id="missingIncludeSystem" severity="information" msg="Include file not found">
            <location file="vuln.c" line="1" column="0"/>
        </error>
        <error id="toomanyconfigs" severity="information" msg="Too many #ifdef configurations"/>
        <error id="nullPointer" severity="error" msg="Null pointer dereference: p" cwe="476">
            <location file="/abs/src/x.c" line="4" column="0"/>
        </error>
    </errors>
</results>)";
  auto f = read_cppcheck_xml(xml);
  ASSERT_TRUE(f.ok()) << f.error().message;
  ASSERT_EQ(f->size(), 2u);
  EXPECT_EQ((*f)[0].rule_id, "getsCalled");
  EXPECT_EQ((*f)[0].message, "Obsolete function 'gets' called <x> \xC3\xA9");
  EXPECT_EQ((*f)[0].path, "vuln.c");
  EXPECT_EQ((*f)[0].region.start_line, 10);
  EXPECT_EQ((*f)[0].region.start_column, 3);
  EXPECT_EQ((*f)[0].severity, "medium");
  EXPECT_EQ((*f)[0].tags[0], "external/cwe/cwe-477");
  EXPECT_EQ((*f)[1].rule_id, "nullPointer");
  EXPECT_EQ((*f)[1].severity, "high");
  EXPECT_EQ((*f)[1].region.start_column, 0);
  EXPECT_FALSE(read_cppcheck_xml("<html>").ok());
  EXPECT_FALSE(read_cppcheck_xml("<results><error id=\"x").ok());
}

TEST(ToolReports, SarifSeverityUrisMessagesAndFingerprints) {
  const char* sarif = R"({"version":"2.1.0","runs":[{
    "tool":{"driver":{"name":"Trivy","rules":[
      {"id":"CVE-1","shortDescription":{"text":"lodash: prototype pollution"},"properties":{"security-severity":"9.8","tags":["vulnerability"]}},
      {"id":"R2","defaultConfiguration":{"level":"note"},"messageStrings":{"m":{"text":"use {0} here"}}},
      {"id":"R3","properties":{"problem.severity":"warning"}}]}},
    "originalUriBaseIds":{"ROOTPATH":{"uri":"file:///work/src/"}},
    "results":[
      {"ruleId":"CVE-1","ruleIndex":0,"level":"error","message":{"text":"Package: lodash"},
       "locations":[{"physicalLocation":{"artifactLocation":{"uri":"package-lock.json","uriBaseId":"ROOTPATH"},
                                          "region":{"startLine":1,"startColumn":1,"endLine":1,"endColumn":1}}}]},
      {"ruleId":"R2","message":{"id":"m","arguments":["x"]},"partialFingerprints":{"tool/v1":"abc"},
       "locations":[{"physicalLocation":{"artifactLocation":{"uri":"file:///work/src/a%20b.py"},"region":{"startLine":3}}}]},
      {"ruleId":"R3","message":{"text":"three"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"./c.js"}}}]},
      {"ruleId":"R2","level":"error","message":{"text":"no location"}}]}]})";
  auto f = read_sarif_log(sarif);
  ASSERT_TRUE(f.ok()) << f.error().message;
  ASSERT_EQ(f->size(), 4u);
  EXPECT_EQ((*f)[0].severity, "critical");  // security-severity of the rule beats the level
  EXPECT_EQ((*f)[0].path, "/work/src/package-lock.json");
  EXPECT_EQ((*f)[0].region.start_line, 1);
  EXPECT_EQ((*f)[0].region.end_line, 0);    // an empty range is dropped
  EXPECT_EQ((*f)[0].rule_description, "lodash: prototype pollution");
  EXPECT_EQ((*f)[1].severity, "low");       // rule default level "note"
  EXPECT_EQ((*f)[1].message, "use x here");
  EXPECT_EQ((*f)[1].path, "/work/src/a b.py");
  EXPECT_EQ((*f)[1].fingerprints.at("tool/v1"), "abc");
  EXPECT_EQ((*f)[2].severity, "medium");    // problem.severity
  EXPECT_EQ((*f)[2].path, "./c.js");
  EXPECT_EQ((*f)[3].path, "");
  EXPECT_EQ((*f)[3].severity, "high");
  EXPECT_FALSE(read_sarif_log(R"({"version":"2.1.0"})").ok());
}

TEST(ToolReports, VersionExtraction) {
  EXPECT_EQ(extract_version("bandit 1.6.2\n  python version = 3.11.2"), "1.6.2");
  EXPECT_EQ(extract_version("ShellCheck - shell script analysis tool\nversion: 0.9.0\n"), "0.9.0");
  EXPECT_EQ(extract_version("Cppcheck 2.10\n"), "2.10");
  EXPECT_EQ(extract_version("Version: 0.50.1"), "0.50.1");
  EXPECT_EQ(extract_version("no version here 7"), "");
}

class NormalizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root = fs::temp_directory_path() / ("secplat-norm-" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root / "src");
    write("x = 1\ny = eval(s)\nz = eval(s)\n");
  }
  void TearDown() override { fs::remove_all(root); }
  void write(const std::string& text) { std::ofstream(root / "src/a.py", std::ios::trunc) << text; }
  ToolFinding finding(std::string path, int line) {
    ToolFinding f;
    f.rule_id = "B307";
    f.severity = "medium";
    f.message = "eval";
    f.path = std::move(path);
    f.region.start_line = line;
    return f;
  }
  SarifRun normalize(std::vector<ToolFinding> f, NormalizeStats* stats = nullptr) {
    return normalize_findings({"bandit", "Bandit", "1.0", "", root.string()}, std::move(f), stats);
  }
  fs::path root;
};

TEST_F(NormalizerTest, PathsRelativeAndOutsideDropped) {
  NormalizeStats stats;
  auto run = normalize({finding("./src/a.py", 2), finding((root / "src/a.py").string(), 3),
                        finding("/usr/include/stdio.h", 1), finding("../elsewhere.py", 1), finding("", 1)},
                       &stats);
  ASSERT_EQ(run.results.size(), 2u);
  EXPECT_EQ(run.results[0].uri, "src/a.py");
  EXPECT_EQ(run.results[1].uri, "src/a.py");
  EXPECT_EQ(run.results[0].level, "warning");
  EXPECT_EQ(run.results[0].properties.at("severity"), "medium");
  EXPECT_EQ(run.results[0].properties.at("security-severity"), "5.5");
  EXPECT_EQ(stats.outside_root, 2);
  EXPECT_EQ(stats.no_location, 1);
  ASSERT_EQ(run.rules.size(), 1u);
  EXPECT_EQ(run.rules[0].severity, "medium");
}

TEST_F(NormalizerTest, FingerprintsFollowTheLineNotItsNumber) {
  auto before = normalize({finding("src/a.py", 2), finding("src/a.py", 3)});
  ASSERT_EQ(before.results.size(), 2u);
  std::string fp1 = before.results[0].partial_fingerprints.at("secplat/v1");
  std::string fp2 = before.results[1].partial_fingerprints.at("secplat/v1");
  EXPECT_NE(fp1, fp2);  // identical lines are told apart by occurrence
  write("import os\n\nx = 1\ny = eval(s)\nz = eval(s)\n");  // two lines inserted above
  auto after = normalize({finding("src/a.py", 4), finding("src/a.py", 5)});
  EXPECT_EQ(after.results[0].partial_fingerprints.at("secplat/v1"), fp1);
  EXPECT_EQ(after.results[1].partial_fingerprints.at("secplat/v1"), fp2);
}

}  // namespace
}  // namespace secplat::scanners
