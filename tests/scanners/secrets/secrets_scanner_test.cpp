#include "scanners/secrets/secrets_scanner.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "core/json.h"
#include "scanners/secrets/secret_samples.h"

namespace secplat::scanners {
namespace {

namespace fs = std::filesystem;

struct Workspace {
  fs::path root;
  fs::path src, out;
  Workspace() {
    static int n = 0;
    root = fs::temp_directory_path() / ("secrets-scanner-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(root);
    src = root / "src";
    out = root / "bundle";
    fs::create_directories(src);
    fs::create_directories(out);
  }
  ~Workspace() { fs::remove_all(root); }
  void write(const std::string& rel, const std::string& content) const {
    fs::create_directories((src / rel).parent_path());
    std::ofstream(src / rel, std::ios::binary) << content;
  }
  std::string read_out(const std::string& rel) const {
    std::ifstream in(out / rel, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
};

Scanner& shared_scanner() {
  static auto s = make_secrets_scanner();
  return *s;
}

TEST(SecretsScanner, WritesSarifWithFingerprintsAndNoRawSecrets) {
  Workspace ws;
  auto samples = secrets::testing::secret_samples(42);
  std::vector<std::string> planted;
  int i = 0;
  for (const auto& s : samples) {
    if (s.secret.empty()) continue;
    ws.write("dir" + std::to_string(i % 3) + "/file " + std::to_string(i) + ".cfg", "x = 1\n" + s.text + "\n");
    planted.push_back(s.secret);
    ++i;
  }
  ws.write("node_modules/dep/index.js", samples[60].text + "\n");  // vendored: skipped

  std::vector<std::string> logs;
  std::mutex mu;
  ScanContext ctx;
  ctx.source_root = ws.src.string();
  ctx.output_dir = ws.out.string();
  ctx.log = [&](std::string_view l) {
    std::lock_guard lock(mu);
    logs.emplace_back(l);
  };
  auto outcome = shared_scanner().run(ctx);
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(shared_scanner().id(), "secrets");
  EXPECT_EQ(outcome->status, "succeeded") << outcome->message;
  EXPECT_EQ(outcome->tool, "secrets");
  EXPECT_EQ(outcome->findings, static_cast<int64_t>(planted.size()));
  ASSERT_EQ(outcome->outputs, std::vector<std::string>{"reports/secrets/secrets.sarif.json"});
  int64_t sum = 0;
  for (auto& [sev, n] : outcome->by_severity) sum += n;
  EXPECT_EQ(sum, outcome->findings);
  EXPECT_GT(outcome->by_severity["critical"], 0);

  std::string text = ws.read_out(kSecretsSarifPath);
  for (const auto& secret : planted) EXPECT_EQ(text.find(secret), std::string::npos) << "raw secret in SARIF";
  for (const auto& l : logs)
    for (const auto& secret : planted) EXPECT_EQ(l.find(secret), std::string::npos) << "raw secret in log";

  Json doc = Json::parse(text);
  EXPECT_EQ(doc["version"], "2.1.0");
  const Json& run = doc["runs"][0];
  EXPECT_EQ(run["tool"]["driver"]["name"], "secplat-secrets");
  EXPECT_GE(run["tool"]["driver"]["rules"].size(), 80u);
  for (const auto& rule : run["tool"]["driver"]["rules"]) {
    EXPECT_TRUE(rule.contains("shortDescription"));
    EXPECT_TRUE(rule["defaultConfiguration"]["level"].is_string());
  }
  ASSERT_EQ(run["results"].size(), planted.size());
  bool saw_space_uri = false;
  for (const auto& r : run["results"]) {
    ASSERT_TRUE(r.contains("partialFingerprints")) << r.dump();
    EXPECT_EQ(r["partialFingerprints"]["secplat/v1"].get<std::string>().size(), 64u);
    EXPECT_TRUE(r["ruleId"].is_string());
    const Json& loc = r["locations"][0]["physicalLocation"];
    std::string uri = loc["artifactLocation"]["uri"];
    EXPECT_EQ(uri.rfind("dir", 0), 0u) << uri;  // relative to the source root
    saw_space_uri |= uri.find("%20") != std::string::npos;
    EXPECT_GE(loc["region"]["startLine"].get<int>(), 2);
    EXPECT_GE(loc["region"]["startColumn"].get<int>(), 1);
    EXPECT_GT(loc["region"]["endColumn"].get<int>(), 0);
  }
  EXPECT_TRUE(saw_space_uri);
}

TEST(SecretsScanner, EmptyTreeSucceedsWithEmptyReport) {
  Workspace ws;
  ws.write("README.md", "# nothing to see\n");
  ScanContext ctx;
  ctx.source_root = ws.src.string();
  ctx.output_dir = ws.out.string();
  auto outcome = shared_scanner().run(ctx);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->status, "succeeded");
  EXPECT_EQ(outcome->findings, 0);
  Json doc = Json::parse(ws.read_out(kSecretsSarifPath));
  EXPECT_TRUE(doc["runs"][0]["results"].empty());
}

TEST(SecretsScanner, CancelledScanReportsCancelled) {
  Workspace ws;
  for (int i = 0; i < 20; ++i) ws.write("f" + std::to_string(i), "text\n");
  std::atomic<bool> cancelled{true};
  ScanContext ctx;
  ctx.source_root = ws.src.string();
  ctx.output_dir = ws.out.string();
  ctx.cancelled = &cancelled;
  auto outcome = shared_scanner().run(ctx);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->status, "cancelled");
}

TEST(SecretsScanner, RulesFileOptionAddsRulesAndBadFileFailsClearly) {
  Workspace ws;
  ws.write(".secplat/rules.toml",
           "[[rules]]\nid = \"acme-key\"\ndescription = \"ACME key\"\nregex = '''acme_([a-z0-9]{24})'''\n"
           "secretGroup = 1\n");
  ws.write("app.cfg", "k = acme_" + std::string("q1w2e3r4t5y6u7i8o9p0a1s2") + "\n");
  ScanContext ctx;
  ctx.source_root = ws.src.string();
  ctx.output_dir = ws.out.string();
  ctx.options["rules_file"] = ".secplat/rules.toml";
  auto outcome = shared_scanner().run(ctx);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->status, "succeeded") << outcome->message;
  EXPECT_EQ(outcome->findings, 1);
  EXPECT_NE(ws.read_out(kSecretsSarifPath).find("\"acme-key\""), std::string::npos);

  ws.write(".secplat/bad.toml", "[[rules]]\nid = \"x\"\nregex = '''unterminated\n");
  ctx.options["rules_file"] = ".secplat/bad.toml";
  auto bad = shared_scanner().run(ctx);
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, "failed");
  EXPECT_NE(bad->message.find("bad.toml:3"), std::string::npos) << bad->message;
}

}  // namespace
}  // namespace secplat::scanners
