#include "scanners/sample_scanner.h"

#include <filesystem>

#include "core/clock.h"
#include "core/encoding.h"
#include "scanners/sarif_writer.h"

namespace secplat::scanners {
namespace {

struct CannedFinding {
  const char* rule_id;
  const char* description;
  const char* severity;
  const char* security_severity;
  const char* path;
  int line;
};

constexpr CannedFinding kFindings[] = {
    {"sample.sql-injection", "SQL statement built from request input", "critical", "9.5", "app/db.py", 41},
    {"sample.hardcoded-password", "Hard-coded password in configuration", "high", "8.0", "app/config.py", 12},
    {"sample.weak-hash", "MD5 used to hash passwords", "medium", "5.5", "app/auth.py", 7},
    {"sample.debug-enabled", "Debug mode enabled in production settings", "low", "3.0", "app/settings.py", 3},
    {"sample.missing-security-header", "Content-Security-Policy header not set", "info", "0.0", "deploy/nginx.conf", 18},
};

class SampleScanner final : public Scanner {
 public:
  std::string id() const override { return kSampleToolId; }

  Result<ScanOutcome> run(const ScanContext& ctx) override {
    int64_t started = steady_ms();
    ScanOutcome out;
    out.tool = kSampleToolId;
    out.version = "1.0.0";
    SarifRun run;
    run.tool_name = "secplat-sample";
    run.tool_version = out.version;
    for (const auto& f : kFindings) {
      SarifRule rule;
      rule.id = f.rule_id;
      rule.short_description = f.description;
      rule.level = sarif_level_for_severity(f.severity);
      rule.severity = f.severity;
      rule.tags = {"sample"};
      run.rules.push_back(std::move(rule));
      SarifResult r;
      r.rule_id = f.rule_id;
      r.level = rule.level;
      r.message = std::string("[sample] ") + f.description;
      r.uri = f.path;
      r.region.start_line = f.line;
      r.partial_fingerprints["secplat/v1"] =
          sha256_hex(std::string("sample\n") + f.rule_id + "\n" + f.path + "\n" + std::to_string(f.line)).substr(0, 32);
      r.properties = {{"severity", f.severity}, {"security-severity", f.security_severity}, {"sample", "true"}};
      run.results.push_back(std::move(r));
      ++out.by_severity[f.severity];
      if (ctx.log) ctx.log(std::string("sample: ") + f.severity + " " + f.rule_id + " at " + f.path + ":" + std::to_string(f.line));
    }
    SECPLAT_TRY(write_sarif_file(run, (std::filesystem::path(ctx.output_dir) / kSampleSarifPath).string()));
    out.outputs.push_back(kSampleSarifPath);
    out.findings = static_cast<int64_t>(run.results.size());
    out.status = "succeeded";
    out.message = std::to_string(out.findings) + " canned sample findings (the source was not analysed)";
    out.duration_ms = steady_ms() - started;
    if (ctx.log) ctx.log("sample: " + out.message);
    return out;
  }
};

}  // namespace

std::unique_ptr<Scanner> make_sample_scanner() { return std::make_unique<SampleScanner>(); }

}  // namespace secplat::scanners
