#include "scanners/tools/external_scanners.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "core/clock.h"
#include "core/json.h"
#include "scanners/tools/external_tool.h"

namespace fs = std::filesystem;

namespace secplat::scanners {
namespace {

constexpr std::size_t kMaxFiles = 20000;
constexpr std::size_t kFilesPerRun = 400;

std::string extension(const std::string& rel) {
  auto slash = rel.rfind('/');
  auto dot = rel.rfind('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  return rel.substr(dot);
}

bool is_python(const std::string& rel) { return extension(rel) == ".py"; }

bool is_c_family(const std::string& rel) {
  static const std::set<std::string> kExt = {".c", ".h", ".cc", ".cpp", ".cxx", ".c++", ".hh", ".hpp", ".hxx", ".h++", ".C", ".H"};
  return kExt.count(extension(rel)) > 0;
}

// Shell scripts shellcheck understands: by extension, or an extension-less file whose shebang
// names sh, bash, dash or ksh (directly or through env).
bool is_shell_script(const std::string& root, const std::string& rel) {
  static const std::set<std::string> kShells = {"sh", "bash", "dash", "ksh"};
  std::string ext = extension(rel);
  if (ext == ".sh" || ext == ".bash" || ext == ".dash" || ext == ".ksh") return true;
  if (!ext.empty()) return false;
  std::ifstream in(fs::path(root) / rel, std::ios::binary);
  char buf[128] = {};
  in.read(buf, sizeof buf - 1);
  std::string head(buf, static_cast<std::size_t>(in.gcount()));
  if (!head.starts_with("#!")) return false;
  head = head.substr(2, head.find('\n') == std::string::npos ? std::string::npos : head.find('\n') - 2);
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < head.size()) {
    while (i < head.size() && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r')) ++i;
    std::size_t j = i;
    while (j < head.size() && head[j] != ' ' && head[j] != '\t' && head[j] != '\r') ++j;
    if (j > i) words.push_back(head.substr(i, j - i));
    i = j;
  }
  if (words.empty()) return false;
  auto base = [](const std::string& w) { return w.substr(w.rfind('/') == std::string::npos ? 0 : w.rfind('/') + 1); };
  std::string interp = base(words[0]);
  if (interp == "env") {
    interp.clear();
    for (std::size_t k = 1; k < words.size(); ++k)
      if (!words[k].starts_with("-")) {
        interp = base(words[k]);
        break;
      }
  }
  return kShells.count(interp) > 0;
}

std::string cap_note(bool truncated, const char* what) {
  return truncated ? "only the first " + std::to_string(kMaxFiles) + " " + what + " were scanned" : "";
}

// ---- Debian tools ---------------------------------------------------------------------------

class Bandit final : public ExternalTool {
 public:
  using ExternalTool::ExternalTool;
  std::string id() const override { return "bandit"; }

 protected:
  std::string binary() const override { return "bandit"; }
  std::string display_name() const override { return "Bandit"; }
  std::string information_uri() const override { return "https://bandit.readthedocs.io/"; }
  bool exit_ok(int code) const override { return code == 0 || code == 1; }  // 1: issues found
  Result<Plan> plan(const ScanContext& ctx, const std::string&) const override {
    bool truncated = false;
    auto files = list_source_files(ctx.source_root, is_python, kMaxFiles, &truncated);
    Plan p;
    p.note = cap_note(truncated, "Python files");
    if (files.empty()) p.nothing_to_do = "no Python files";
    for (auto& batch : batch_paths(files, kFilesPerRun)) {
      Invocation inv{{"-f", "json", "-q"}, ""};
      inv.args.insert(inv.args.end(), batch.begin(), batch.end());
      p.runs.push_back(std::move(inv));
    }
    return p;
  }
  Result<std::vector<ToolFinding>> read_report(std::string_view text) const override { return read_bandit_json(text); }
};

class ShellCheck final : public ExternalTool {
 public:
  using ExternalTool::ExternalTool;
  std::string id() const override { return "shellcheck"; }

 protected:
  std::string binary() const override { return "shellcheck"; }
  std::string display_name() const override { return "ShellCheck"; }
  std::string information_uri() const override { return "https://www.shellcheck.net/"; }
  bool exit_ok(int code) const override { return code == 0 || code == 1; }  // 1: issues found
  Result<Plan> plan(const ScanContext& ctx, const std::string&) const override {
    bool truncated = false;
    const std::string root = ctx.source_root;
    auto files = list_source_files(root, [&](const std::string& rel) { return is_shell_script(root, rel); }, kMaxFiles,
                                   &truncated);
    Plan p;
    p.note = cap_note(truncated, "shell scripts");
    if (files.empty()) p.nothing_to_do = "no shell scripts";
    for (auto& batch : batch_paths(files, kFilesPerRun)) {
      // --norc: a repository's .shellcheckrc must not switch checks off.
      Invocation inv{{"-f", "json1", "--norc"}, ""};
      inv.args.insert(inv.args.end(), batch.begin(), batch.end());
      p.runs.push_back(std::move(inv));
    }
    return p;
  }
  Result<std::vector<ToolFinding>> read_report(std::string_view text) const override {
    return read_shellcheck_json1(text);
  }
};

class Cppcheck final : public ExternalTool {
 public:
  using ExternalTool::ExternalTool;
  std::string id() const override { return "cppcheck"; }

 protected:
  std::string binary() const override { return "cppcheck"; }
  std::string display_name() const override { return "Cppcheck"; }
  std::string information_uri() const override { return "https://cppcheck.sourceforge.io/"; }
  Result<Plan> plan(const ScanContext& ctx, const std::string& work_dir) const override {
    bool truncated = false;
    auto files = list_source_files(ctx.source_root, is_c_family, kMaxFiles, &truncated);
    Plan p;
    p.note = cap_note(truncated, "C/C++ files");
    if (files.empty()) {
      p.nothing_to_do = "no C/C++ files";
      return p;
    }
    std::string list = work_dir + "/files.txt";
    {
      std::ofstream out(list, std::ios::binary | std::ios::trunc);
      for (const auto& f : files) out << "./" << f << '\n';
      if (!out) return Error::internal("cannot write the cppcheck file list");
    }
    unsigned jobs = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
    std::string report = work_dir + "/cppcheck.xml";
    p.runs.push_back({{"--xml", "--xml-version=2", "--enable=warning,style,performance,portability", "--inline-suppr",
                       "--quiet", "-j", std::to_string(jobs), "--file-list=" + list, "--output-file=" + report},
                      report});
    return p;
  }
  Result<std::vector<ToolFinding>> read_report(std::string_view text) const override { return read_cppcheck_xml(text); }
};

class Flawfinder final : public ExternalTool {
 public:
  using ExternalTool::ExternalTool;
  std::string id() const override { return "flawfinder"; }

 protected:
  std::string binary() const override { return "flawfinder"; }
  std::string display_name() const override { return "Flawfinder"; }
  std::string information_uri() const override { return "https://dwheeler.com/flawfinder/"; }
  Result<Plan> plan(const ScanContext& ctx, const std::string&) const override {
    bool truncated = false;
    auto files = list_source_files(ctx.source_root, is_c_family, kMaxFiles, &truncated);
    Plan p;
    p.note = cap_note(truncated, "C/C++ files");
    if (files.empty()) p.nothing_to_do = "no C/C++ files";
    for (auto& batch : batch_paths(files, kFilesPerRun)) {
      Invocation inv{{"--sarif", "--quiet", "--dataonly"}, ""};
      inv.args.insert(inv.args.end(), batch.begin(), batch.end());
      p.runs.push_back(std::move(inv));
    }
    return p;
  }
  Result<std::vector<ToolFinding>> read_report(std::string_view text) const override { return read_sarif_log(text); }
};

// ---- tools found on PATH --------------------------------------------------------------------

// A small offline baseline for semgrep/opengrep when the profile names no `config`.
constexpr const char* kBaselineRules = R"(rules:
  - id: secplat.python.subprocess-shell-true
    languages: [python]
    severity: ERROR
    message: subprocess call with shell=True runs its argument through a shell (command injection)
    pattern: subprocess.$FUNC(..., shell=True, ...)
    metadata: {cwe: "CWE-78"}
  - id: secplat.python.eval
    languages: [python]
    severity: WARNING
    message: eval() of a non-literal value executes arbitrary code
    patterns:
      - pattern: eval($X)
      - pattern-not: eval("...")
    metadata: {cwe: "CWE-95"}
  - id: secplat.python.yaml-unsafe-load
    languages: [python]
    severity: WARNING
    message: yaml.load without SafeLoader can construct arbitrary objects
    patterns:
      - pattern: yaml.load(...)
      - pattern-not: yaml.load(..., Loader=yaml.SafeLoader, ...)
    metadata: {cwe: "CWE-502"}
  - id: secplat.python.pickle-load
    languages: [python]
    severity: WARNING
    message: unpickling untrusted data executes arbitrary code
    pattern-either:
      - pattern: pickle.load(...)
      - pattern: pickle.loads(...)
    metadata: {cwe: "CWE-502"}
  - id: secplat.c.unbounded-copy
    languages: [c, cpp]
    severity: ERROR
    message: unbounded copy into a fixed buffer (use a bounded alternative)
    pattern-either:
      - pattern: strcpy(...)
      - pattern: strcat(...)
      - pattern: gets(...)
      - pattern: sprintf(...)
    metadata: {cwe: "CWE-120"}
  - id: secplat.js.eval
    languages: [javascript, typescript]
    severity: WARNING
    message: eval() of a non-literal value executes arbitrary code
    patterns:
      - pattern: eval($X)
      - pattern-not: eval("...")
    metadata: {cwe: "CWE-95"}
  - id: secplat.js.child-process-exec
    languages: [javascript, typescript]
    severity: WARNING
    message: child_process.exec runs its argument through a shell (command injection)
    pattern-either:
      - pattern: require("child_process").exec(...)
      - pattern: child_process.exec(...)
    metadata: {cwe: "CWE-78"}
)";

// The rules argument: the baseline, a registry id ("p/...", "r/...", "auto"; needs the network)
// or a rules file inside the source tree.
Result<std::string> grep_config(const ScanContext& ctx, const std::string& work_dir, const std::string& tool) {
  auto it = ctx.options.find("config");
  if (it == ctx.options.end() || it->second.empty()) {
    std::string path = work_dir + "/secplat-baseline.yml";
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << kBaselineRules;
    if (!out.flush()) return Error::internal("cannot write the " + tool + " baseline rules");
    return path;
  }
  const std::string& v = it->second;
  if (v == "auto" || v.starts_with("p/") || v.starts_with("r/")) return v;
  fs::path p(v);
  bool escapes = p.is_absolute();
  for (const auto& part : p.lexically_normal())
    if (part == "..") escapes = true;
  if (escapes) return Error::bad_request(tool + " option config must be a registry id (p/...) or a path inside the source");
  std::error_code ec;
  if (!fs::exists(fs::path(ctx.source_root) / p, ec))
    return Error::bad_request(tool + " config " + v + " not found in the source");
  return "./" + p.lexically_normal().generic_string();
}

// Semgrep and its fork Opengrep: same rules, same exit codes, same SARIF; they differ in name and
// in how the SARIF output file is given.
class SemgrepFamily final : public ExternalTool {
 public:
  struct Flavor {
    std::string id, display_name, information_uri;
    std::vector<std::string> output_args;  // "{report}" stands for the report path
  };
  SemgrepFamily(Flavor flavor, ToolLocator locator, ToolSandbox sandbox)
      : ExternalTool(std::move(locator), std::move(sandbox)), f_(std::move(flavor)) {}
  std::string id() const override { return f_.id; }

 protected:
  std::string binary() const override { return f_.id; }
  std::string display_name() const override { return f_.display_name; }
  std::string information_uri() const override { return f_.information_uri; }
  std::vector<std::string> extra_env() const override {
    return {"SEMGREP_SEND_METRICS=off", "SEMGREP_ENABLE_VERSION_CHECK=0"};
  }
  bool exit_ok(int code) const override { return code == 0 || code == 1; }
  Result<Plan> plan(const ScanContext& ctx, const std::string& work_dir) const override {
    auto config = grep_config(ctx, work_dir, id());
    if (!config) return std::move(config).take_error();
    std::string report = work_dir + "/" + f_.id + ".sarif";
    std::vector<std::string> args = {"scan", "--config", *config};
    for (std::string a : f_.output_args) {
      if (auto at = a.find("{report}"); at != std::string::npos) a.replace(at, 8, report);
      args.push_back(std::move(a));
    }
    args.insert(args.end(), {"--quiet", "."});
    Plan p;
    p.runs.push_back({std::move(args), report});
    return p;
  }
  Result<std::vector<ToolFinding>> read_report(std::string_view text) const override { return read_sarif_log(text); }

 private:
  Flavor f_;
};

class Trivy final : public ExternalTool {
 public:
  using ExternalTool::ExternalTool;
  std::string id() const override { return "trivy"; }

 protected:
  std::string binary() const override { return "trivy"; }
  std::string display_name() const override { return "Trivy"; }
  std::string information_uri() const override { return "https://trivy.dev/"; }
  std::vector<std::string> extra_env() const override { return {"TRIVY_NO_PROGRESS=true"}; }
  Result<Plan> plan(const ScanContext& ctx, const std::string& work_dir) const override {
    std::string report = work_dir + "/trivy.sarif";
    int64_t timeout_s = 900;
    if (ctx.deadline_ms > 0) timeout_s = std::max<int64_t>(1, (ctx.deadline_ms - steady_ms()) / 1000);
    Invocation inv{{"fs", "--scanners", "vuln,secret,misconfig", "--format", "sarif", "--output", report, "--skip-dirs",
                    "node_modules", "--skip-dirs", ".git", "--timeout", std::to_string(timeout_s) + "s", "--quiet"},
                   report};
    if (auto it = ctx.options.find("offline"); it != ctx.options.end() && it->second == "true")
      for (const char* a : {"--skip-db-update", "--skip-java-db-update", "--offline-scan"}) inv.args.push_back(a);
    inv.args.push_back(".");
    Plan p;
    p.runs.push_back(std::move(inv));
    return p;
  }
  Result<std::vector<ToolFinding>> read_report(std::string_view text) const override { return read_sarif_log(text); }
};

// syft is an SBOM generator, not a SAST tool: its two documents go to reports/sbom/ as they are.
class Syft final : public ExternalTool {
 public:
  using ExternalTool::ExternalTool;
  std::string id() const override { return "syft"; }

 protected:
  std::string binary() const override { return "syft"; }
  std::string information_uri() const override { return "https://github.com/anchore/syft"; }
  std::vector<std::string> version_args() const override { return {"version"}; }
  std::vector<std::string> extra_env() const override { return {"SYFT_CHECK_FOR_APP_UPDATE=false"}; }
  Result<Plan> plan(const ScanContext&, const std::string& work_dir) const override {
    Plan p;
    std::string cdx = work_dir + "/syft.cyclonedx.json", spdx = work_dir + "/syft.spdx.json";
    // One run writes both documents; collect() finds the SPDX one next to the CycloneDX one.
    p.runs.push_back({{"dir:.", "-o", "cyclonedx-json=" + cdx, "-o", "spdx-json=" + spdx, "-q"}, cdx});
    return p;
  }
  Status collect(const ScanContext& ctx, const std::vector<std::string>& reports, ScanOutcome& out) const override {
    if (reports.empty()) return Error::bad_request("syft produced no SBOM");
    const std::string cdx = reports[0];
    const std::string spdx = (fs::path(cdx).parent_path() / "syft.spdx.json").string();
    int64_t components = 0;
    for (const auto& [src, rel] : {std::pair{cdx, std::string("reports/sbom/syft.cyclonedx.json")},
                                   std::pair{spdx, std::string("reports/sbom/syft.spdx.json")}}) {
      auto text = read_report_file(src, kMaxOutputBytes);
      if (!text) return Error::bad_request("cannot read the syft SBOM: " + text.error().message);
      Json doc = Json::parse(*text, nullptr, false);
      if (!doc.is_object()) return Error::bad_request("the syft SBOM " + fs::path(src).filename().string() + " is not a JSON object");
      if (src == cdx && doc.contains("components") && doc["components"].is_array())
        components = static_cast<int64_t>(doc["components"].size());
      fs::path dest = fs::path(ctx.output_dir) / rel;
      std::error_code ec;
      fs::create_directories(dest.parent_path(), ec);
      std::ofstream o(dest, std::ios::binary | std::ios::trunc);
      o << *text;
      if (!o.flush()) return Error::internal("cannot write " + dest.string());
      out.outputs.push_back(rel);
    }
    out.findings = components;
    out.message = std::to_string(components) + " components";
    return ok_status();
  }
};

}  // namespace

const std::vector<std::string>& external_tool_ids() {
  static const std::vector<std::string> ids = {"bandit", "shellcheck", "cppcheck", "flawfinder",
                                               "semgrep", "opengrep", "trivy", "syft"};
  return ids;
}

std::shared_ptr<Scanner> make_external_scanner(const std::string& tool_id, const ToolLocator& locator,
                                               const ToolSandbox& sandbox) {
  if (tool_id == "bandit") return std::make_shared<Bandit>(locator, sandbox);
  if (tool_id == "shellcheck") return std::make_shared<ShellCheck>(locator, sandbox);
  if (tool_id == "cppcheck") return std::make_shared<Cppcheck>(locator, sandbox);
  if (tool_id == "flawfinder") return std::make_shared<Flawfinder>(locator, sandbox);
  if (tool_id == "semgrep")
    return std::make_shared<SemgrepFamily>(
        SemgrepFamily::Flavor{"semgrep", "Semgrep", "https://semgrep.dev/",
                              {"--sarif", "--output", "{report}", "--metrics=off", "--disable-version-check"}},
        locator, sandbox);
  if (tool_id == "opengrep")
    return std::make_shared<SemgrepFamily>(
        SemgrepFamily::Flavor{"opengrep", "Opengrep", "https://github.com/opengrep/opengrep",
                              {"--sarif-output={report}"}},
        locator, sandbox);
  if (tool_id == "trivy") return std::make_shared<Trivy>(locator, sandbox);
  if (tool_id == "syft") return std::make_shared<Syft>(locator, sandbox);
  return nullptr;
}

ToolSandbox tool_sandbox_from(const AssuranceConfig& config) {
  ToolSandbox box;
  box.network_allow = config.tool_network_allow;
  box.max_memory_bytes = static_cast<uint64_t>(config.tool_memory_mb) << 20;
  box.max_file_bytes = static_cast<uint64_t>(config.tool_file_mb) << 20;
  box.hidden_paths = config.tool_hidden_paths;
  return box;
}

std::vector<std::shared_ptr<Scanner>> make_external_scanners(const ToolLocator& locator, const ToolSandbox& sandbox) {
  std::vector<std::shared_ptr<Scanner>> out;
  for (const auto& id : external_tool_ids()) out.push_back(make_external_scanner(id, locator, sandbox));
  return out;
}

}  // namespace secplat::scanners
