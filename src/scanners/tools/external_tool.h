// ExternalTool: the shared half of every external tool adapter behind the Scanner port.
//
// run(): find the binary (missing → "skipped", "<tool> not installed"), read its version, ask the
// adapter for a plan (argv lists; paths passed as "./relative" so no file name can pass for an
// option), run each invocation with run_child() in the source root (own process group, minimal
// environment, output capped, ctx.cancelled / ctx.deadline_ms kill the group), then collect():
// by default every report is read with read_report() and normalised into
// reports/sast/<id>.sarif.json (see finding_normalizer.h).
//
// Every run (the version probe too) is sandboxed (child_process.h): no new privileges, no core
// dumps, the address-space and file-size limits of `ToolSandbox`, and its own network namespace
// unless the tool's id is in `network_allow`.
//
// Outcome statuses: "succeeded"; "skipped" (not installed); "cancelled"; "timeout"; "failed" for
// a crash (signal), an exit code the tool does not use for success, output beyond the cap, or a
// report that cannot be read. The tool's raw output stays in a private temp directory that is
// removed afterwards: it can hold source snippets (and so secrets) and never enters the bundle.
//
// Threading: run() keeps per-run state on the stack; the version cache is behind a mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "scanners/tools/child_process.h"
#include "scanners/tools/tool_locator.h"
#include "scanners/tools/tool_reports.h"
#include "scanners/scanner.h"

namespace secplat::scanners {

struct ToolSandbox {
  std::vector<std::string> network_allow;      // tool ids that keep the host's network
  uint64_t max_memory_bytes = 8ull << 30;      // address space per tool process; 0 = unlimited
  uint64_t max_file_bytes = 2ull << 30;        // largest file a tool may write; 0 = unlimited
  // Directories no tool sees (ChildSandbox::hidden): the server's data directory and
  // assurance.tool_hidden_paths; the process's scratch directory is added to every run, the run's
  // source and work directories stay visible.
  std::vector<std::string> hidden_paths;
};

class ExternalTool : public Scanner {
 public:
  explicit ExternalTool(ToolLocator locator, ToolSandbox sandbox = {})
      : locator_(std::move(locator)), sandbox_(std::move(sandbox)) {}

  Result<ScanOutcome> run(const ScanContext& ctx) final;
  bool available() const override { return locator_.find(binary()).has_value(); }

  // Cap on each captured stream and on each report read back.
  static constexpr uint64_t kMaxOutputBytes = 256ull << 20;

 protected:
  struct Invocation {
    std::vector<std::string> args;  // after the program path
    std::string report_file;        // where the tool writes its report; "" = its stdout is the report
  };
  struct Plan {
    std::vector<Invocation> runs;
    std::string nothing_to_do;  // why there are no runs ("no Python files"): succeeded, empty report
    std::string note;           // logged and appended to the outcome message (e.g. a file cap was hit)
  };

  virtual std::string binary() const = 0;
  virtual std::string display_name() const { return binary(); }
  virtual std::string information_uri() const { return ""; }
  virtual std::vector<std::string> version_args() const { return {"--version"}; }
  virtual std::vector<std::string> extra_env() const { return {}; }
  virtual bool exit_ok(int code) const { return code == 0; }
  virtual Result<Plan> plan(const ScanContext& ctx, const std::string& work_dir) const = 0;
  virtual Result<std::vector<ToolFinding>> read_report(std::string_view text) const;
  // Turns the reports into bundle files, filling outputs/findings/by_severity/message.
  virtual Status collect(const ScanContext& ctx, const std::vector<std::string>& report_files,
                         ScanOutcome& out) const;

  const ToolLocator& locator() const { return locator_; }

 private:
  std::string version_of(const std::string& binary_path, const ScanContext& ctx, const std::string& work_dir);
  std::vector<std::string> child_env(const std::string& work_dir) const;
  ChildSandbox child_sandbox(const std::string& source_root, const std::string& work_dir) const;

  ToolLocator locator_;
  ToolSandbox sandbox_;
  std::mutex mu_;
  std::map<std::string, std::pair<int64_t, std::string>> versions_;  // path → (mtime, version)
};

// Regular files under `root` (relative, '/'-separated, sorted) accepted by `want`, skipping
// VCS/dependency/cache directories (.git, node_modules, .venv, __pycache__, ...) and symlinks.
// At most `max_files`; `truncated` says whether more were there.
std::vector<std::string> list_source_files(const std::string& root,
                                           const std::function<bool(const std::string& rel_path)>& want,
                                           std::size_t max_files, bool* truncated = nullptr);

// Splits files into argument lists of at most `per_run` paths, each prefixed with "./".
std::vector<std::vector<std::string>> batch_paths(const std::vector<std::string>& files, std::size_t per_run);

// Reads a whole file of at most max_bytes (Errc::too_large beyond).
Result<std::string> read_report_file(const std::string& path, uint64_t max_bytes);

// The first dotted version number in `text` ("bandit 1.6.2" → "1.6.2"); "" if none.
std::string extract_version(std::string_view text);

}  // namespace secplat::scanners
