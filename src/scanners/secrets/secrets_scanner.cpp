#include "scanners/secrets/secrets_scanner.h"

#include <charconv>
#include <filesystem>
#include <mutex>

#include "core/clock.h"
#include "scanners/sarif_writer.h"
#include "scanners/secrets/gitleaks_toml.h"

namespace secplat::scanners {
namespace {

using secrets::SecretsEngine;

// Built-in rules + allowlist, plus every rule file given.
Result<std::unique_ptr<SecretsEngine>> build_engine(bool builtin,
                                                    const std::vector<std::string>& files) {
  std::vector<secrets::SecretRule> rules;
  secrets::SecretAllowlist allow;
  if (builtin) {
    rules = secrets::builtin_secret_rules();
    allow = secrets::builtin_secret_allowlist();
  }
  for (const auto& f : files) {
    auto loaded = secrets::load_gitleaks_toml(f);
    if (!loaded) return std::move(loaded).take_error();
    for (auto& r : loaded->rules) rules.push_back(std::move(r));
    auto& a = loaded->allowlist;
    allow.regexes.insert(allow.regexes.end(), a.regexes.begin(), a.regexes.end());
    allow.paths.insert(allow.paths.end(), a.paths.begin(), a.paths.end());
    allow.stopwords.insert(allow.stopwords.end(), a.stopwords.begin(), a.stopwords.end());
  }
  return SecretsEngine::compile(std::move(rules), std::move(allow));
}

bool parse_u64(const std::string& s, uint64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

class SecretsScanner final : public Scanner {
 public:
  // The rule set compiles (Hyperscan, ~0.7 s) on first use, not at construction, so a process
  // that never scans does not pay for it at start-up.
  explicit SecretsScanner(SecretsOptions o) : options_(std::move(o)) {}

  std::string id() const override { return "secrets"; }

  Result<ScanOutcome> run(const ScanContext& ctx) override {
    int64_t started = steady_ms();
    ScanOutcome out;
    out.tool = "secrets";
    out.version = kSecretsToolVersion;
    auto log = [&](const std::string& line) {
      if (ctx.log) ctx.log(line);
    };
    auto fail = [&](std::string msg) {
      out.status = "failed";
      out.exit_code = 1;
      out.message = std::move(msg);
      out.duration_ms = steady_ms() - started;
      log("secrets: " + out.message);
      return out;
    };

    secrets::ScanTreeOptions tree = options_.tree;
    tree.deadline_ms = ctx.deadline_ms;
    if (auto it = ctx.options.find("max_file_bytes"); it != ctx.options.end()) {
      if (!parse_u64(it->second, tree.max_file_bytes)) return fail("invalid max_file_bytes option");
    }
    if (auto it = ctx.options.find("threads"); it != ctx.options.end()) {
      uint64_t t = 0;
      if (!parse_u64(it->second, t) || t > 1024) return fail("invalid threads option");
      tree.threads = static_cast<unsigned>(t);
    }

    const SecretsEngine* engine = nullptr;
    Result<std::unique_ptr<SecretsEngine>> per_run = Error::internal("unused");
    if (auto it = ctx.options.find("rules_file"); it != ctx.options.end() && !it->second.empty()) {
      std::filesystem::path p(it->second);
      if (p.is_relative()) p = std::filesystem::path(ctx.source_root) / p;
      auto files = options_.extra_rule_files;
      files.push_back(p.string());
      per_run = build_engine(options_.builtin_rules, files);
      if (!per_run) return fail(per_run.error().message);
      engine = per_run->get();
    } else {
      std::call_once(engine_once_, [&] { engine_ = build_engine(options_.builtin_rules, options_.extra_rule_files); });
      if (!engine_) return fail(engine_.error().message);
      engine = engine_->get();
    }
    if (!std::filesystem::is_directory(ctx.source_root))
      return fail("source root " + ctx.source_root + " is not a directory");

    log("secrets: scanning with " + std::to_string(engine->rules().size()) + " rules");
    auto res = engine->scan_tree(ctx.source_root, tree, ctx.cancelled);

    SarifRun sarif;
    sarif.tool_name = kSecretsToolName;
    sarif.tool_version = kSecretsToolVersion;
    for (const auto& r : engine->rules()) {
      SarifRule sr;
      sr.id = r.id;
      sr.short_description = r.description;
      sr.level = sarif_level_for_severity(r.severity);
      sr.severity = r.severity;
      sr.tags = r.tags;
      sr.tags.push_back("security");
      sr.tags.push_back("secret");
      sarif.rules.push_back(std::move(sr));
    }
    for (const auto& f : res.findings) {
      SarifResult sr;
      sr.rule_id = f.rule_id;
      sr.level = sarif_level_for_severity(f.severity);
      sr.message = f.description + " (" + f.redacted + ")";
      sr.uri = f.path;
      sr.region = {f.line, f.column, f.end_line, f.end_column};
      sr.partial_fingerprints["secplat/v1"] = f.fingerprint;
      sr.properties["severity"] = f.severity;
      sr.properties["redacted"] = f.redacted;
      sarif.results.push_back(std::move(sr));
      ++out.by_severity[f.severity];
    }
    std::string sarif_path = (std::filesystem::path(ctx.output_dir) / kSecretsSarifPath).string();
    SECPLAT_TRY(write_sarif_file(sarif, sarif_path));
    out.outputs.push_back(kSecretsSarifPath);
    out.findings = static_cast<int64_t>(res.findings.size());
    out.bytes_read = res.bytes_scanned;
    out.files_read = res.files_scanned;
    out.duration_ms = steady_ms() - started;

    std::string summary = std::to_string(res.findings.size()) + " secrets in " +
                          std::to_string(res.files_scanned) + " files (" +
                          std::to_string(res.files_skipped) + " skipped, " +
                          std::to_string(res.bytes_scanned) + " bytes)";
    if (res.cancelled) {
      out.status = "cancelled";
      out.message = "cancelled after " + summary;
    } else if (res.timed_out) {
      out.status = "timeout";
      out.message = "deadline reached after " + summary;
    } else {
      out.status = "succeeded";
      out.message = summary;
    }
    for (const auto& f : res.findings)  // locations and rule only; never the value
      log("secrets: " + f.severity + " " + f.rule_id + " at " + f.path + ":" + std::to_string(f.line));
    log("secrets: " + out.message);
    return out;
  }

 private:
  SecretsOptions options_;
  std::once_flag engine_once_;
  Result<std::unique_ptr<SecretsEngine>> engine_ = Error::internal("secrets engine not built");
};

}  // namespace

std::unique_ptr<Scanner> make_secrets_scanner(SecretsOptions options) {
  return std::make_unique<SecretsScanner>(std::move(options));
}

}  // namespace secplat::scanners
