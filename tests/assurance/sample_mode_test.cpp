// Pipeline behaviour around tool availability and sample mode: default profiles run only the
// tools installed here, a named missing tool is reported skipped, and `sample_mode: true` gives a
// clearly marked bundle of canned findings that names nothing from the host.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "assurance/pipeline.h"
#include "assurance/scan_store.h"
#include "assurance/sources.h"
#include "core/clock.h"
#include "crypto/ecdsa.h"
#include "scanners/tools/external_scanners.h"
#include "store/sqlite_db.h"

namespace fs = std::filesystem;

namespace secplat::assurance {
namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A scanner that is always there and finds nothing.
class QuietScanner final : public scanners::Scanner {
 public:
  std::string id() const override { return "secrets"; }
  Result<scanners::ScanOutcome> run(const scanners::ScanContext&) override {
    scanners::ScanOutcome o;
    o.tool = "secrets";
    o.status = "succeeded";
    return o;
  }
};

class SampleModeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root = fs::temp_directory_path() / ("secplat-sample-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root);
    fs::create_directories(root / "data");
    fs::create_directories(root / "src");
    std::ofstream(root / "src/app.py") << "print('hello')\n";
    auto d = store::open_sqlite({(root / "data/db.sqlite").string(), 2, 5000});
    ASSERT_TRUE(d.ok());
    db = std::move(*d);
    ASSERT_TRUE(store::migrate(*db, scan_migrations()).ok());
    scans = std::make_unique<ScanStore>(*db, clock);
    events = std::make_unique<ScanEventLog>(*scans, clock);
    auto key = crypto::ec_p256_generate();
    ASSERT_TRUE(key.ok());
    AssuranceConfig limits;
    PipelineOptions po{(root / "data").string(), {root.string()}, limits, key->private_pem, key->public_pem, ""};
    std::vector<std::shared_ptr<scanners::Scanner>> tools = {std::make_shared<QuietScanner>()};
    for (auto& s : scanners::make_external_scanners(scanners::ToolLocator({}))) tools.push_back(std::move(s));
    pipeline = std::make_unique<ScanPipeline>(*scans, *events, clock, po, std::move(tools),
                                              [this](const std::string&, const Json&, const std::string&,
                                                     const std::string&) {
                                                ++imports;
                                                return ok_status();
                                              });
  }
  void TearDown() override {
    pipeline.reset();
    db.reset();
    fs::remove_all(root);
  }

  std::string submit(const Json& manifest, const std::string& profile = "light") {
    ScanRecord rec;
    rec.test_id = new_test_id();
    rec.created_ms = clock.now_ms();
    rec.request.workspace_id = "w";
    rec.request.component_id = "c";
    rec.request.assessment_id = "a";
    rec.request.source_type = "directory";
    rec.request.directory_path = (root / "src").string();
    rec.request.profile = profile;
    rec.request.manifest = manifest;
    EXPECT_TRUE(scans->insert(rec).ok());
    EXPECT_TRUE(pipeline->run(rec.test_id).ok());
    return rec.test_id;
  }
  ScanRecord record(const std::string& id) { return **scans->get(id); }
  std::vector<std::string> tool_ids(const ScanRecord& r) {
    std::vector<std::string> ids;
    for (const auto& t : r.tools) ids.push_back(t["tool"]);
    return ids;
  }

  fs::path root;
  SystemClock clock;
  std::unique_ptr<store::Db> db;
  std::unique_ptr<ScanStore> scans;
  std::unique_ptr<ScanEventLog> events;
  std::unique_ptr<ScanPipeline> pipeline;
  int imports = 0;
};

TEST_F(SampleModeTest, DefaultProfileRunsOnlyInstalledAdapters) {
  std::string id = submit({{"profiles", Json::array({{{"name", "light"}, {"tools", Json::array()}}})}});
  ScanRecord r = record(id);
  ASSERT_EQ(r.status, kSucceeded) << r.errors.dump();
  auto ids = tool_ids(r);
  for (const auto& ext : {"bandit", "shellcheck", "cppcheck", "flawfinder", "semgrep", "opengrep", "trivy"})
    EXPECT_EQ(std::count(ids.begin(), ids.end(), ext), 0) << ext << " is not installed and was not named";
  EXPECT_EQ(ids.front(), "secrets");
  bool announced = false;
  auto stored = scans->events_after(id, 0);
  ASSERT_TRUE(stored.ok());
  for (const auto& e : stored.value()) {
    Json j = Json::parse(e.json);
    if (j.value("message", "") == "Manifest resolved") {
      announced = true;
      EXPECT_EQ(j["not_installed"], Json({"bandit", "shellcheck", "cppcheck", "flawfinder", "semgrep", "opengrep", "trivy"}));
    }
  }
  EXPECT_TRUE(announced);
}

TEST_F(SampleModeTest, NamedMissingAdapterIsSkippedWithItsReason) {
  std::string id = submit({{"profiles", Json::array({{{"name", "ci"}, {"tools", {"secrets", "bandit"}}}})}}, "ci");
  ScanRecord r = record(id);
  ASSERT_EQ(r.status, kSucceeded);
  ASSERT_EQ(r.tools.size(), 2u);
  EXPECT_EQ(r.tools[1]["tool"], "bandit");
  EXPECT_EQ(r.tools[1]["status"], "skipped");
  EXPECT_EQ(r.tools[1]["message"], "bandit not installed");
  Json summary = Json::parse(slurp(pipeline->bundle_dir(id) + "/summary.json"));
  EXPECT_EQ(summary["skipped"], Json({"bandit"}));
  EXPECT_EQ(summary["sample_mode"], false);
}

TEST_F(SampleModeTest, SampleModeIsMarkedCannedAndCarriesNoProvenance) {
  Json manifest = {{"sample_mode", true},
                   {"profiles", Json::array({{{"name", "light"}, {"tools", {"secrets", "bandit"}},
                                              {"thresholds", {{"critical", 0}}}}})}};
  std::string id = submit(manifest);
  ScanRecord r = record(id);
  ASSERT_EQ(r.status, kSucceeded) << r.errors.dump();
  EXPECT_EQ(tool_ids(r), std::vector<std::string>{"sample"});
  EXPECT_EQ(r.source, Json({{"type", "directory"}, {"sample_mode", true}, {"provenance_id", nullptr}}));
  EXPECT_FALSE(r.policy["policy_passed"].get<bool>());  // the canned critical finding trips the threshold
  EXPECT_EQ(imports, 0);  // canned findings never become findings

  fs::path bundle = pipeline->bundle_dir(id);
  Json scan = Json::parse(slurp(bundle / "scan.json"));
  EXPECT_EQ(scan["sample_mode"], true);
  EXPECT_TRUE(scan["provenance_id"].is_null());
  EXPECT_TRUE(scan["directory_path"].is_null());
  EXPECT_TRUE(scan["content_hash"].is_null());
  EXPECT_EQ(Json::parse(slurp(bundle / "summary.json"))["sample_mode"], true);
  Json sarif = Json::parse(slurp(bundle / "reports/sast/sample.sarif.json"));
  ASSERT_EQ(sarif["runs"][0]["results"].size(), 5u);
  for (const auto& res : sarif["runs"][0]["results"]) {
    EXPECT_EQ(res["properties"]["sample"], "true");
    EXPECT_TRUE(res["message"]["text"].get<std::string>().starts_with("[sample]"));
  }

  // Nothing from the host: no path of the scanned tree or data dir, no content hash.
  auto hash = directory_content_hash((root / "src").string());
  ASSERT_TRUE(hash.ok());
  for (const auto& e : fs::recursive_directory_iterator(bundle)) {
    if (!e.is_regular_file()) continue;
    std::string text = slurp(e.path());
    EXPECT_EQ(text.find(root.string()), std::string::npos) << e.path() << " names a host path";
    EXPECT_EQ(text.find(*hash), std::string::npos) << e.path() << " carries the content hash";
  }

  // Deterministic: a second sample scan writes the same report.
  std::string id2 = submit(manifest);
  EXPECT_EQ(slurp(fs::path(pipeline->bundle_dir(id2)) / "reports/sast/sample.sarif.json"),
            slurp(bundle / "reports/sast/sample.sarif.json"));
}

TEST_F(SampleModeTest, SampleToolOutsideSampleModeDoesNotRun) {
  std::string id = submit({{"profiles", Json::array({{{"name", "ci"}, {"tools", {"secrets", "sample"}}}})}}, "ci");
  ScanRecord r = record(id);
  ASSERT_EQ(r.status, kSucceeded);
  EXPECT_EQ(tool_ids(r), std::vector<std::string>{"secrets"});
  EXPECT_NE(r.warnings.dump().find("runs only in sample mode"), std::string::npos) << r.warnings.dump();
}

}  // namespace
}  // namespace secplat::assurance
