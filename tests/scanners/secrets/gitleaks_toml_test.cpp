#include "scanners/secrets/gitleaks_toml.h"

#include <gtest/gtest.h>

#include "scanners/secrets/secrets_engine.h"

namespace secplat::scanners::secrets {
namespace {

const char* kCustomRules = R"toml(
title = "acme custom rules"
[extend]
useDefault = true   # ignored: the caller decides whether built-ins apply

[[rules]]
id = "acme-api-key"
description = "ACME API key"
regex = '''acme_(?:live|prod)_([a-z0-9]{32})'''
secretGroup = 1
entropy = 3.0
keywords = ["ACME_"]
tags = ["acme", "internal"]

  [[rules.allowlist]]
  description = "known revoked keys"
  regexes = ['''^1111''']
  stopwords = ["deadbeef"]

[[rules]]
id = "internal-session"
description = """Internal session cookie"""
# \s may span lines: gitleaks rules are matched across line breaks.
regex = '''(?i)session_id\s*=\s*"([A-Z0-9]{24})"'''
secretGroup = 1
keywords = [
  "session_id",  # trailing comma and comments inside arrays are fine
]

[allowlist]
description = "global allowlist"
paths = ['''(^|/)fixtures/''']
stopwords = ["notreal"]
)toml";

std::unique_ptr<SecretsEngine> compile_file(const SecretRuleFile& f, bool with_builtin) {
  auto rules = f.rules;
  auto allow = f.allowlist;
  if (with_builtin) {
    auto b = builtin_secret_rules();
    rules.insert(rules.end(), b.begin(), b.end());
  }
  auto e = SecretsEngine::compile(rules, allow);
  if (!e) throw std::runtime_error(e.error().message);
  return std::move(*e);
}

TEST(GitleaksToml, ParsesRulesAndAllowlists) {
  auto f = parse_gitleaks_toml(kCustomRules, "acme.toml");
  ASSERT_TRUE(f.ok()) << f.error().message;
  ASSERT_EQ(f->rules.size(), 2u);
  const auto& acme = f->rules[0];
  EXPECT_EQ(acme.id, "acme-api-key");
  EXPECT_EQ(acme.regex, "acme_(?:live|prod)_([a-z0-9]{32})");
  EXPECT_EQ(acme.secret_group, 1);
  EXPECT_DOUBLE_EQ(acme.entropy, 3.0);
  EXPECT_EQ(acme.keywords, std::vector<std::string>{"acme_"});  // lower-cased
  EXPECT_EQ(acme.tags.size(), 2u);
  EXPECT_EQ(acme.allowlist.stopwords, std::vector<std::string>{"deadbeef"});
  EXPECT_EQ(acme.allowlist.regexes, std::vector<std::string>{"^1111"});
  EXPECT_EQ(f->rules[1].description, "Internal session cookie");
  EXPECT_EQ(f->rules[1].keywords, std::vector<std::string>{"session_id"});
  EXPECT_EQ(f->allowlist.stopwords, std::vector<std::string>{"notreal"});
  EXPECT_EQ(f->allowlist.paths.size(), 1u);
}

TEST(GitleaksToml, CustomRulesDetectAndHonourAllowlists) {
  auto f = parse_gitleaks_toml(kCustomRules, "acme.toml");
  ASSERT_TRUE(f.ok()) << f.error().message;
  auto engine = compile_file(*f, /*with_builtin=*/true);
  std::string key = "q7w" + std::string("e9r8t7y6u5i4o3p2a1s0d9f8g7h6j");
  ASSERT_EQ(key.size(), 32u);
  auto hits = engine->scan_buffer("src/client.py", "KEY = \"acme_" + std::string("live_") + key + "\"\n");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].rule_id, "acme-api-key");
  EXPECT_EQ(hits[0].redacted, redact_value(key));
  EXPECT_EQ(hits[0].column, 18);

  // Rule stopword, rule regex allowlist, global path and global stopword.
  EXPECT_TRUE(engine->scan_buffer("a.py", "acme_live_" + key.substr(0, 24) + "deadbeef\n").empty());
  EXPECT_TRUE(engine->scan_buffer("a.py", "acme_live_1111" + key.substr(4) + "\n").empty());
  EXPECT_TRUE(engine->scan_buffer("tests/fixtures/keys.py", "acme_live_" + key + "\n").empty());
  EXPECT_TRUE(engine->scan_buffer("a.py", "acme_live_notreal" + key.substr(7) + "\n").empty());

  // A match spanning a line break.
  auto span = engine->scan_buffer("cfg.ini", "[web]\nSESSION_ID =\n  \"AB12CD34EF56GH78IJ90KL12\"\n");
  ASSERT_EQ(span.size(), 1u);
  EXPECT_EQ(span[0].rule_id, "internal-session");
  EXPECT_EQ(span[0].line, 3);
  EXPECT_EQ(span[0].column, 4);
}

TEST(GitleaksToml, RulesHyperscanCannotCompileStillWork) {
  // (?U) is RE2-only: the rule falls back to its keyword prefilter, or to a whole-buffer scan.
  auto f = parse_gitleaks_toml(R"(
[[rules]]
id = "ungreedy-with-keyword"
regex = '''(?U)widget_key=([a-z0-9]{20,40})'''
secretGroup = 1
keywords = ["widget_key"]
[[rules]]
id = "ungreedy-no-keyword"
regex = '''(?U)gadget:([a-z0-9]{20,40})'''
secretGroup = 1
)", "r.toml");
  ASSERT_TRUE(f.ok()) << f.error().message;
  auto engine = compile_file(*f, false);
  auto a = engine->scan_buffer("x", "a\nwidget_key=k3j4h5g6f7d8s9a0q1w2e3r4\n");
  auto b = engine->scan_buffer("x", "gadget:k3j4h5g6f7d8s9a0q1w2e3r4\n");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].rule_id, "ungreedy-with-keyword");
  EXPECT_EQ(a[0].line, 2);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].rule_id, "ungreedy-no-keyword");
}

void expect_error(const std::string& text, const std::string& expected) {
  auto f = parse_gitleaks_toml(text, "rules.toml");
  ASSERT_FALSE(f.ok()) << "accepted: " << text;
  EXPECT_NE(f.error().message.find(expected), std::string::npos)
      << "message: " << f.error().message << "\nexpected to contain: " << expected;
}

TEST(GitleaksToml, MalformedFilesNameTheLine) {
  expect_error("[[rules]]\nid = \"x\"\nregex \"abc\"\n", "rules.toml:3: expected '=' after key 'regex'");
  expect_error("title = \"t\"\n\n[[rules]]\nid = \"x\"\nregex = '''abc\n", "rules.toml:5: unterminated ''' string");
  expect_error("[[rules]]\nid = \"x\"\nregex = 'a'\nkeywords = [\"a\" \"b\"]\n", "rules.toml:4: expected ',' or ']'");
  expect_error("[[rules]]\nid = \"x\"\nregex = \"\\d+\"\n", "rules.toml:3: invalid escape '\\d'");
  expect_error("\n[[rules]]\nid = \"only-path\"\npath = '''\\.pem$'''\n", "rules.toml:2: rule 'only-path' has no regex");
  expect_error("[[rules]]\nid = \"x\"\nregex = 'a'\nsecretGroup = \"one\"\n", "rules.toml:4: secretGroup");
  expect_error("[rules.allowlist]\nregexes = []\n", "rules.toml:1: [rules.allowlist] before any [[rules]]");
  expect_error("[[rules]]\nid = \"x\"\nregex = 'a' junk\n", "rules.toml:3: unexpected 'j'");
}

TEST(GitleaksToml, InvalidRegexIsReportedAtCompile) {
  auto f = parse_gitleaks_toml("[[rules]]\nid = \"bad-re\"\nregex = '''([a-z'''\n", "r.toml");
  ASSERT_TRUE(f.ok());
  auto e = SecretsEngine::compile(f->rules, f->allowlist);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("bad-re"), std::string::npos);
}

}  // namespace
}  // namespace secplat::scanners::secrets
