#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/ids.h"
#include "core/json.h"
#include "scanners/sbom/sbom_scanner.h"

namespace fs = std::filesystem;
using secplat::Json;
using namespace secplat::scanners;

namespace {

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("sbom-test-" + secplat::random_hex(8))) { fs::create_directories(path_); }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  void write(const std::string& rel, std::string_view text) const {
    fs::create_directories((path_ / rel).parent_path());
    std::ofstream(path_ / rel, std::ios::binary) << text;
  }

 private:
  fs::path path_;
};

Json read_json(const fs::path& p) {
  std::ifstream in(p);
  return Json::parse(in);
}

struct Run {
  ScanOutcome outcome;
  std::vector<std::string> log;
};

Run run_scan(const fs::path& src, const fs::path& out, std::map<std::string, std::string> options = {}) {
  Run r;
  ScanContext ctx;
  ctx.source_root = src.string();
  ctx.output_dir = out.string();
  ctx.options = std::move(options);
  ctx.log = [&](std::string_view l) { r.log.emplace_back(l); };
  auto res = make_sbom_scanner()->run(ctx);
  EXPECT_TRUE(res.ok());
  if (res.ok()) r.outcome = *res;
  return r;
}

const char* kLock = R"({"lockfileVersion": 3, "packages": {
  "": {"dependencies": {"lodash": "^4"}},
  "node_modules/lodash": {"version": "4.17.20"}}})";

}  // namespace

TEST(SbomScanner, DedupesAcrossLockfilesSkipsVendoredDirsAndSurvivesMalformedFiles) {
  TempDir src, out;
  src.write("a/package-lock.json", kLock);
  src.write("b/yarn.lock", "lodash@^4.17.0:\n  version \"4.17.20\"\n\nms@^2:\n  version \"2.1.3\"\n");
  src.write("node_modules/x/package-lock.json", R"({"packages": {"node_modules/hidden": {"version": "1.0.0"}}})");
  src.write("vendor/requirements.txt", "hiddenpy==1.0\n");
  src.write(".git/requirements.txt", "hiddengit==1.0\n");
  src.write("c/package-lock.json", "{\"packages\": {");  // truncated
  src.write("d/pnpm-lock.yaml", "lockfileVersion: [ {{ garbage");
  auto run = run_scan(src.path(), out.path());
  EXPECT_EQ(run.outcome.status, "succeeded");
  EXPECT_EQ(run.outcome.tool, "sbom");
  EXPECT_EQ(run.outcome.findings, 2);
  EXPECT_EQ(run.outcome.outputs, (std::vector<std::string>{"reports/sbom/sbom.cyclonedx.json", "reports/sbom/sbom.spdx.json"}));
  int warnings = 0;
  for (const auto& l : run.log) warnings += l.rfind("warning: skipped", 0) == 0;
  EXPECT_EQ(warnings, 2);

  Json cdx = read_json(out.path() / "reports/sbom/sbom.cyclonedx.json");
  ASSERT_EQ(cdx["components"].size(), 2u);
  Json lodash = cdx["components"][0];
  EXPECT_EQ(lodash["bom-ref"], "pkg:npm/lodash@4.17.20");
  std::vector<std::string> lockfiles;
  for (const auto& p : lodash["properties"]) {
    if (p["name"] == "secplat:lockfile") lockfiles.push_back(p["value"]);
  }
  EXPECT_EQ(lockfiles, (std::vector<std::string>{"a/package-lock.json", "b/yarn.lock"}));
  EXPECT_EQ(cdx["dependencies"][0]["ref"], cdx["metadata"]["component"]["bom-ref"]);
  EXPECT_EQ(cdx["dependencies"][0]["dependsOn"], Json::array({"pkg:npm/lodash@4.17.20"}));

  Json spdx = read_json(out.path() / "reports/sbom/sbom.spdx.json");
  EXPECT_EQ(spdx["packages"].size(), 3u);
  EXPECT_EQ(spdx["packages"][1]["SPDXID"], "SPDXRef-Package-npm-lodash-4.17.20");
  EXPECT_EQ(spdx["packages"][1]["externalRefs"][0]["referenceLocator"], "pkg:npm/lodash@4.17.20");
  EXPECT_EQ(spdx["relationships"][0]["relationshipType"], "DESCRIBES");
}

TEST(SbomScanner, SameTreeGivesSameDocumentsApartFromIdentity) {
  TempDir src, out1, out2;
  src.write("z/package-lock.json", kLock);
  src.write("a/requirements.txt", "zeta==1.0\nalpha==2.0\n");
  src.write("m/go.mod", "module m\nrequire github.com/b/c v1.2.3\n");
  run_scan(src.path(), out1.path());
  run_scan(src.path(), out2.path());
  Json a = read_json(out1.path() / "reports/sbom/sbom.cyclonedx.json");
  Json b = read_json(out2.path() / "reports/sbom/sbom.cyclonedx.json");
  EXPECT_NE(a["serialNumber"], b["serialNumber"]);
  EXPECT_EQ(a["components"], b["components"]);
  EXPECT_EQ(a["dependencies"], b["dependencies"]);
  std::vector<std::string> refs;
  for (const auto& c : a["components"]) refs.push_back(c["purl"]);
  EXPECT_TRUE(std::is_sorted(refs.begin(), refs.end()));
  EXPECT_EQ(refs.size(), 4u);
  Json sa = read_json(out1.path() / "reports/sbom/sbom.spdx.json");
  Json sb = read_json(out2.path() / "reports/sbom/sbom.spdx.json");
  EXPECT_NE(sa["documentNamespace"], sb["documentNamespace"]);
  EXPECT_EQ(sa["packages"], sb["packages"]);
  EXPECT_EQ(sa["relationships"], sb["relationships"]);
}

TEST(SbomScanner, ReportsOsvMatchesInCycloneDxAndSarif) {
  TempDir src, out, osv;
  src.write("package-lock.json", kLock);
  src.write("pom.xml", "<project><dependencies><dependency><groupId>org.apache.logging.log4j</groupId>"
                       "<artifactId>log4j-core</artifactId><version>2.15.0</version></dependency></dependencies></project>");
  osv.write("lodash.json", R"({"id": "GHSA-35jh-r3h4-6jhm", "summary": "Command Injection in lodash",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H"}],
    "affected": [{"package": {"ecosystem": "npm", "name": "lodash"},
                  "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "4.17.21"}]}]}]})");
  osv.write("log4j.json", R"({"id": "GHSA-jfh8-c2jp-5v3q",
    "affected": [{"package": {"ecosystem": "Maven", "name": "org.apache.logging.log4j:log4j-core"},
                  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.0-beta9"}, {"fixed": "2.15.0"}]}]}]})");
  osv.write("broken.json", "{\"id\": ");
  auto run = run_scan(src.path(), out.path(), {{"osv_db_dir", osv.path().string()}});
  EXPECT_EQ(run.outcome.status, "succeeded");
  EXPECT_EQ(run.outcome.findings, 2);
  EXPECT_EQ(run.outcome.by_severity, (std::map<std::string, int64_t>{{"high", 1}}));  // 7.2; log4j 2.15.0 is fixed
  Json cdx = read_json(out.path() / "reports/sbom/sbom.cyclonedx.json");
  ASSERT_EQ(cdx["vulnerabilities"].size(), 1u);
  EXPECT_EQ(cdx["vulnerabilities"][0]["id"], "GHSA-35jh-r3h4-6jhm");
  EXPECT_EQ(cdx["vulnerabilities"][0]["affects"][0]["ref"], "pkg:npm/lodash@4.17.20");
  EXPECT_EQ(cdx["vulnerabilities"][0]["ratings"][0]["score"], 7.2);
  Json sarif = read_json(out.path() / "reports/sbom/vulnerabilities.sarif.json");
  EXPECT_EQ(sarif["version"], "2.1.0");
  ASSERT_EQ(sarif["runs"][0]["results"].size(), 1u);
  Json res = sarif["runs"][0]["results"][0];
  EXPECT_EQ(res["ruleId"], "GHSA-35jh-r3h4-6jhm");
  EXPECT_EQ(res["level"], "error");
  EXPECT_EQ(res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "package-lock.json");
  EXPECT_EQ(res["partialFingerprints"]["secplatSbom/v1"].get<std::string>().size(), 64u);
}

TEST(SbomScanner, CancelledScanStopsAndMissingRootFails) {
  TempDir src, out;
  src.write("package-lock.json", kLock);
  std::atomic<bool> cancelled{true};
  ScanContext ctx;
  ctx.source_root = src.path().string();
  ctx.output_dir = out.path().string();
  ctx.cancelled = &cancelled;
  auto r = make_sbom_scanner()->run(ctx);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, "cancelled");
  EXPECT_FALSE(fs::exists(out.path() / "reports/sbom/sbom.cyclonedx.json"));
  ctx.cancelled = nullptr;
  ctx.source_root = (src.path() / "missing").string();
  auto r2 = make_sbom_scanner()->run(ctx);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->status, "failed");
}
