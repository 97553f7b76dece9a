#include "scanners/secrets/secrets_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <tuple>
#include <set>

#include "core/clock.h"
#include "scanners/secrets/secret_samples.h"

namespace secplat::scanners::secrets {
namespace {

namespace fs = std::filesystem;
using testing::secret_samples;

const SecretsEngine& engine() {
  static const auto e = [] {
    auto r = SecretsEngine::compile_builtin();
    if (!r) throw std::runtime_error(r.error().message);
    return std::move(*r);
  }();
  return *e;
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("secrets-test-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  void write(const std::string& rel, const std::string& content) const {
    fs::create_directories((path_ / rel).parent_path());
    std::ofstream(path_ / rel, std::ios::binary) << content;
  }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

TEST(SecretsEngine, BuiltinRuleSetCoversAtLeastEightyFormats) {
  EXPECT_GE(builtin_secret_rules().size(), 80u);
  std::set<std::string> ids;
  for (const auto& r : builtin_secret_rules()) EXPECT_TRUE(ids.insert(r.id).second) << r.id;
}

TEST(SecretsEngine, EveryBuiltinRuleDetectsItsPlantedSample) {
  std::set<std::string> sampled;
  for (uint64_t seed : {1, 2, 3}) {
    for (const auto& s : secret_samples(seed)) {
      sampled.insert(s.rule_id);
      std::string content = "# config\n" + s.text + "\n";
      auto found = engine().scan_buffer("config/app.env", content);
      bool hit = false;
      for (const auto& f : found) {
        if (f.rule_id != s.rule_id) continue;
        hit = true;
        if (!s.secret.empty()) {
          size_t at = s.text.find(s.secret);
          int line = 2 + static_cast<int>(std::count(s.text.begin(), s.text.begin() + at, '\n'));
          EXPECT_EQ(f.line, line) << s.rule_id;
          EXPECT_EQ(f.redacted, redact_value(s.secret)) << s.rule_id;
        }
      }
      EXPECT_TRUE(hit) << "rule " << s.rule_id << " (seed " << seed << ") missed; found: "
                       << (found.empty() ? std::string("nothing") : found[0].rule_id);
      EXPECT_EQ(found.size(), 1u) << s.rule_id << " reported " << found.size() << " findings";
    }
  }
  for (const auto& r : builtin_secret_rules()) EXPECT_TRUE(sampled.count(r.id)) << "no sample for " << r.id;
}

TEST(SecretsEngine, DocumentationExamplesAndPlaceholdersAreIgnored) {
  const std::string lines[] = {
      "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
      "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
      "GITHUB_TOKEN=ghp_" + std::string(36, 'a'),
      "password = \"changeme\"",
      "password = \"${DB_PASSWORD}\"",
      "db_password: \"{{ vault_db_password }}\"",
      "api_key = \"your_api_key_here_please\"",
      "token: \"<token>\"",
      "secret = os.environ[\"APP_SECRET_VALUE\"]",
      "SECRET_KEY = process.env.SECRET_KEY_FROM_ENV",
      "api_key = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
      "DATABASE_URL=postgres://user:password@localhost:5432/db",
      "DATABASE_URL=postgres://user:${PGPASSWORD}@localhost:5432/db",
      "DATABASE_URL=postgres://user:<password>@localhost:5432/db",
      "stripe = \"sk_live_" + std::string("dummydummydummydummy1234") + "\"",
      "password: \"example-password-123\"",
      "token = \"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9l"
      "IiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c\"",
      "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
      "slack: xoxb-XXXXXXXXXXXX-XXXXXXXXXXXXX-XXXXXXXXXXXXXXXXXXXXXXXX",
      "const tokenizer = new TokenizerFactoryWithLongName();",
      "int password_length = compute_password_length(user_input_buffer);",
      "other_token = next_token_from_scanner_state_machine;",
      "api_key: load_api_key_from_environment_variables",
      "password = \"/home/build/.config/app/secret.txt\"",
      "see https://user:pass@proxy.local for the proxy",
  };
  for (const auto& l : lines) {
    auto found = engine().scan_buffer("README.md", l + "\n");
    EXPECT_TRUE(found.empty()) << l << " -> " << (found.empty() ? "" : found[0].rule_id);
  }
}

TEST(SecretsEngine, LineAndColumnAreOneBasedCodePoints) {
  auto s = secret_samples(7);
  auto gh = std::find_if(s.begin(), s.end(), [](auto& x) { return x.rule_id == "github-pat"; });
  ASSERT_NE(gh, s.end());
  // "é" is two bytes but one column.
  std::string content = "first\n\nlet é = \"" + gh->secret + "\"; // x\n";
  auto found = engine().scan_buffer("a.rs", content);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].line, 3);
  EXPECT_EQ(found[0].column, 10);
  EXPECT_EQ(found[0].end_line, 3);
  EXPECT_EQ(found[0].end_column, 10 + static_cast<int>(gh->secret.size()));
  EXPECT_EQ(found[0].severity, "critical");
  EXPECT_GT(found[0].entropy, 4.0);
}

TEST(SecretsEngine, MultiLinePemKeySpansItsLines) {
  auto s = secret_samples(3);
  auto pem = std::find_if(s.begin(), s.end(), [](auto& x) { return x.rule_id == "private-key-openssh"; });
  ASSERT_NE(pem, s.end());
  std::string content = "a\nb\nc\n" + pem->text + "\n";
  auto found = engine().scan_buffer("id_ed25519", content);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].rule_id, "private-key-openssh");
  EXPECT_EQ(found[0].line, 5);      // "key:" is line 4, BEGIN is line 5
  EXPECT_EQ(found[0].column, 1);
  EXPECT_EQ(found[0].end_line, 11);  // 4 body lines + short line + END
  EXPECT_EQ(found[0].redacted, "----****----");
}

TEST(SecretsEngine, FingerprintIsStableAndIndependentOfLine) {
  auto s = secret_samples(11);
  const auto& sample = s[10];
  auto a = engine().scan_buffer("x/y.txt", sample.text + "\n");
  auto b = engine().scan_buffer("x/y.txt", "\n\n\n" + sample.text + "\n");
  auto c = engine().scan_buffer("x/z.txt", sample.text + "\n");
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(a[0].fingerprint, b[0].fingerprint);
  EXPECT_NE(a[0].fingerprint, c[0].fingerprint);
  EXPECT_EQ(a[0].fingerprint.size(), 64u);
  EXPECT_EQ(a[0].fingerprint.find(sample.secret), std::string::npos);
}

TEST(SecretsEngine, RedactMasksLogLinesAndLeavesCleanLinesAlone) {
  auto s = secret_samples(5);
  std::string gh, aws;
  for (auto& x : s) {
    if (x.rule_id == "github-pat") gh = x.secret;
    if (x.rule_id == "aws-access-key-id") aws = x.secret;
  }
  std::string line = "clone with " + gh + " then use " + aws + " done";
  std::string out = redact_secrets(line);
  EXPECT_EQ(out.find(gh), std::string::npos);
  EXPECT_EQ(out.find(aws), std::string::npos);
  EXPECT_NE(out.find(redact_value(gh)), std::string::npos);
  EXPECT_NE(out.find(" then use "), std::string::npos);
  std::string clean = "[INFO] step 3/7: compiling src/main.cpp (42 files)";
  EXPECT_EQ(redact_secrets(clean), clean);
}

TEST(SecretsEngine, ScanTreeSkipsBinaryVendoredGeneratedAndLargeFiles) {
  auto s = secret_samples(9);
  std::string secret_line;
  for (auto& x : s)
    if (x.rule_id == "stripe-secret-key") secret_line = x.text + "\n";
  TempDir dir;
  dir.write("src/app.py", "import os\n" + secret_line);
  dir.write("node_modules/pkg/index.js", secret_line);
  dir.write("vendor/lib/conf.go", secret_line);
  dir.write("third_party/x/y.h", secret_line);
  dir.write("web/dist/bundle.js", secret_line);
  dir.write("web/app.min.js", secret_line);
  dir.write("package-lock.json", secret_line);
  dir.write("api/service.pb.go", secret_line);
  dir.write("assets/blob.bin", std::string("\x7f" "ELF\0\0\0", 7) + secret_line);
  dir.write("big.txt", std::string(4096, 'a') + "\n" + secret_line);
  ScanTreeOptions opt;
  opt.max_file_bytes = 2048;
  auto r = engine().scan_tree(dir.path().string(), opt, nullptr);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].path, "src/app.py");
  EXPECT_EQ(r.findings[0].line, 2);
  EXPECT_EQ(r.files_scanned, 1);
  EXPECT_GE(r.files_skipped, 5);  // skipped dirs are pruned without counting their files
  EXPECT_FALSE(r.cancelled);
  EXPECT_TRUE(is_skipped_path("a/node_modules/b.js"));
  EXPECT_TRUE(is_skipped_path("yarn.lock"));
  EXPECT_FALSE(is_skipped_path("src/vendored_notes.md"));
}

TEST(SecretsEngine, ResultsAreIdenticalForOneAndManyThreads) {
  TempDir dir;
  int planted = 0;
  for (int i = 0; i < 40; ++i) {
    auto s = secret_samples(100 + i);
    std::string content;
    for (size_t k = i % 5; k < s.size(); k += 7) {
      content += "line " + std::to_string(k) + "\n" + s[k].text + "\n";
      ++planted;
    }
    dir.write("d" + std::to_string(i % 4) + "/f" + std::to_string(i) + ".txt", content);
  }
  ScanTreeOptions one, many;
  one.threads = 1;
  many.threads = 8;
  auto a = engine().scan_tree(dir.path().string(), one, nullptr);
  auto b = engine().scan_tree(dir.path().string(), many, nullptr);
  EXPECT_EQ(static_cast<int>(a.findings.size()), planted);
  ASSERT_EQ(a.findings.size(), b.findings.size());
  for (size_t i = 0; i < a.findings.size(); ++i) {
    EXPECT_EQ(a.findings[i].path, b.findings[i].path);
    EXPECT_EQ(a.findings[i].line, b.findings[i].line);
    EXPECT_EQ(a.findings[i].column, b.findings[i].column);
    EXPECT_EQ(a.findings[i].rule_id, b.findings[i].rule_id);
    EXPECT_EQ(a.findings[i].fingerprint, b.findings[i].fingerprint);
  }
  EXPECT_EQ(a.files_scanned, 40);
  EXPECT_EQ(b.files_scanned, 40);
}

// scan_tree reads small files into shared packs and scans each pack at once; a file's findings
// must be exactly what scanning that file alone gives (lines, columns, fingerprints), for files
// with and without a final newline, empty files, and a file large enough to be memory-mapped.
TEST(SecretsEngine, PackedFilesGiveTheSameFindingsAsEachFileAlone) {
  TempDir dir;
  std::map<std::string, std::string> contents;
  uint64_t x = 99;
  auto next = [&x](uint64_t n) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    return (x >> 33) % n;
  };
  for (int i = 0; i < 300; ++i) {
    auto s = secret_samples(500 + i);
    std::string content;
    int lines = static_cast<int>(next(40));
    for (int l = 0; l < lines; ++l)
      content += std::string(next(90), static_cast<char>('a' + l % 26)) + (l % 7 ? "" : " é ü") + "\n";
    if (i % 3) content += s[next(s.size())].text;
    if (i % 2) content += "\n";  // every other file ends without a newline
    if (i % 50 == 0) content.clear();
    std::string rel = "d" + std::to_string(i % 3) + "/f" + std::to_string(i) + ".txt";
    dir.write(rel, content);
    contents[rel] = content;
  }
  auto big_sample = secret_samples(7)[3];
  std::string big(300 * 1024, 'x');
  for (size_t k = 80; k < big.size(); k += 81) big[k] = '\n';
  big += "\n" + big_sample.text + "\n";
  dir.write("d1/big.txt", big);
  contents["d1/big.txt"] = big;

  std::vector<SecretFinding> expected;
  for (const auto& [rel, content] : contents)  // std::map: path order, as scan_tree sorts
    for (auto& f : engine().scan_buffer(rel, content)) expected.push_back(std::move(f));
  ASSERT_GT(expected.size(), 150u);
  for (unsigned threads : {1u, 2u}) {
    ScanTreeOptions opt;
    opt.threads = threads;
    auto r = engine().scan_tree(dir.path().string(), opt, nullptr);
    EXPECT_EQ(r.files_scanned, 301);
    ASSERT_EQ(r.findings.size(), expected.size()) << threads << " threads";
    for (size_t i = 0; i < expected.size(); ++i) {
      const auto& a = r.findings[i];
      const auto& e = expected[i];
      EXPECT_EQ(a.path, e.path);
      EXPECT_EQ(a.rule_id, e.rule_id) << e.path;
      EXPECT_EQ(std::tie(a.line, a.column, a.end_line, a.end_column),
                std::tie(e.line, e.column, e.end_line, e.end_column))
          << e.path << " " << e.rule_id;
      EXPECT_EQ(a.fingerprint, e.fingerprint) << e.path;
    }
  }
}

// A private key's BEGIN line in one file and an END line in the next file of the same pack
// are not one key.
TEST(SecretsEngine, APemBlockNeverSpansTwoFiles) {
  auto s = secret_samples(3);
  auto pem = std::find_if(s.begin(), s.end(), [](auto& x) { return x.rule_id == "private-key-rsa"; });
  ASSERT_NE(pem, s.end());
  size_t mid = pem->text.find('\n', pem->text.size() / 2);
  ASSERT_NE(mid, std::string::npos);
  TempDir dir;
  for (int i = 0; i < 10; ++i) {  // readdir order is the file system's: halves interleave
    dir.write("keys/begin" + std::to_string(i) + ".pem", pem->text.substr(0, mid + 1));
    dir.write("keys/end" + std::to_string(i) + ".pem", pem->text.substr(mid + 1) + "\n");
  }
  ScanTreeOptions opt;
  opt.threads = 1;
  auto halves = engine().scan_tree(dir.path().string(), opt, nullptr);
  EXPECT_EQ(halves.files_scanned, 20);
  EXPECT_TRUE(halves.findings.empty()) << halves.findings[0].path;
  dir.write("keys/whole.pem", pem->text + "\n");
  auto whole = engine().scan_tree(dir.path().string(), opt, nullptr);
  ASSERT_EQ(whole.findings.size(), 1u);
  EXPECT_EQ(whole.findings[0].path, "keys/whole.pem");
  EXPECT_EQ(whole.findings[0].line,
            1 + std::count(pem->text.begin(), pem->text.begin() + pem->text.find("-----BEGIN"), '\n'));
}

TEST(SecretsEngine, LineNumbersAreExactDeepIntoALargeBuffer) {
  auto s = secret_samples(12);
  auto gh = std::find_if(s.begin(), s.end(), [](auto& x) { return x.rule_id == "github-pat"; });
  ASSERT_NE(gh, s.end());
  std::string content;
  for (int l = 0; l < 50000; ++l) content += std::string(static_cast<size_t>(l % 37), 'z') + "\n";
  content += "ab\xc3\xa9 = " + gh->secret + "\n";  // line 50001; "é" is one column
  auto found = engine().scan_buffer("deep.txt", content);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].line, 50001);
  EXPECT_EQ(found[0].column, 7);
}

TEST(SecretsEngine, CancellationAndDeadlineStopEarly) {
  TempDir dir;
  auto s = secret_samples(4);
  for (int i = 0; i < 50; ++i) dir.write("f" + std::to_string(i) + ".txt", s[i % s.size()].text + "\n");
  std::atomic<bool> cancelled{true};
  auto r = engine().scan_tree(dir.path().string(), {}, &cancelled);
  EXPECT_TRUE(r.cancelled);
  EXPECT_LT(r.files_scanned, 50);
  ScanTreeOptions late;
  late.deadline_ms = steady_ms() - 1;
  auto t = engine().scan_tree(dir.path().string(), late, nullptr);
  EXPECT_TRUE(t.timed_out);
  EXPECT_LT(t.files_scanned, 50);
  std::atomic<bool> running{false};
  EXPECT_EQ(engine().scan_tree(dir.path().string(), {}, &running).files_scanned, 50);
}

TEST(SecretsEngine, InvalidRegexIsReportedWithRuleId) {
  SecretRule bad;
  bad.id = "broken-rule";
  bad.regex = "(unclosed";
  auto r = SecretsEngine::compile({bad}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("broken-rule"), std::string::npos);
}

}  // namespace
}  // namespace secplat::scanners::secrets
