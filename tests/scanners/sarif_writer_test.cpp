#include "scanners/sarif_writer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/json.h"

namespace secplat::scanners {
namespace {

SarifRun sample_run() {
  SarifRun run;
  run.tool_name = "demo-tool";
  run.tool_version = "2.0";
  run.rules.push_back({"R1", "", "first rule", "", "", "error", "high", {"security"}});
  SarifResult r;
  r.rule_id = "R1";
  r.level = "error";
  r.message = "something found";
  r.uri = "src/my file#1.py";
  r.region = {3, 5, 0, 9};
  r.partial_fingerprints["demo/v1"] = "abc";
  run.results.push_back(r);
  return run;
}

TEST(SarifWriter, BuildsSarif210Document) {
  Json doc = sarif_to_json(sample_run());
  EXPECT_EQ(doc["version"], "2.1.0");
  const Json& run = doc["runs"][0];
  EXPECT_EQ(run["tool"]["driver"]["name"], "demo-tool");
  EXPECT_EQ(run["tool"]["driver"]["version"], "2.0");
  EXPECT_EQ(run["tool"]["driver"]["rules"][0]["defaultConfiguration"]["level"], "error");
  EXPECT_EQ(run["tool"]["driver"]["rules"][0]["shortDescription"]["text"], "first rule");
  const Json& res = run["results"][0];
  EXPECT_EQ(res["ruleId"], "R1");
  EXPECT_EQ(res["message"]["text"], "something found");
  const Json& loc = res["locations"][0]["physicalLocation"];
  EXPECT_EQ(loc["artifactLocation"]["uri"], "src/my%20file%231.py");
  EXPECT_EQ(loc["region"]["startLine"], 3);
  EXPECT_EQ(loc["region"]["startColumn"], 5);
  EXPECT_FALSE(loc["region"].contains("endLine"));
  EXPECT_EQ(loc["region"]["endColumn"], 9);
  EXPECT_EQ(res["partialFingerprints"]["demo/v1"], "abc");
}

TEST(SarifWriter, WritesFileCreatingDirectories) {
  auto dir = std::filesystem::temp_directory_path() / ("sarif-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::string path = (dir / "reports/x/out.sarif.json").string();
  ASSERT_TRUE(write_sarif_file(sample_run(), path).ok());
  std::ifstream in(path);
  Json doc = Json::parse(in);
  EXPECT_EQ(doc["runs"][0]["results"].size(), 1u);
  std::filesystem::remove_all(dir);
}

TEST(SarifWriter, LevelsFollowSeverity) {
  EXPECT_EQ(sarif_level_for_severity("critical"), "error");
  EXPECT_EQ(sarif_level_for_severity("high"), "error");
  EXPECT_EQ(sarif_level_for_severity("medium"), "warning");
  EXPECT_EQ(sarif_level_for_severity("low"), "note");
}

}  // namespace
}  // namespace secplat::scanners
