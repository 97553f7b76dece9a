#include "scanners/tools/external_tool.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/clock.h"
#include "scanners/tools/child_process.h"
#include "scanners/tools/finding_normalizer.h"
#include "core/scratch.h"
#include "scanners/sarif_writer.h"

namespace fs = std::filesystem;

namespace secplat::scanners {
namespace {

constexpr int64_t kVersionTimeoutMs = 20000;
constexpr std::size_t kLoggedResults = 50;

// A private temp directory, removed with this object.
class WorkDir {
 public:
  explicit WorkDir(const std::string& tool) {
    std::string tmpl = (fs::path(scratch::root()) / ("secplat-" + tool + "-XXXXXX")).string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data())) path_ = buf.data();
  }
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  ~WorkDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The last non-empty line of a captured stream (for failure messages), at most 300 characters.
std::string last_line(const std::string& file) {
  auto text = read_report_file(file, 1 << 20);
  if (!text) return "";
  std::string s = *text;
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  auto nl = s.rfind('\n');
  std::string line = nl == std::string::npos ? s : s.substr(nl + 1);
  if (line.size() > 300) line = line.substr(0, 297) + "...";
  return line;
}

std::string join_args(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args) {
    if (out.size() > 200) return out + " ...";
    out += (out.empty() ? "" : " ") + a;
  }
  return out;
}

}  // namespace

std::string extract_version(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) continue;
    if (i > 0 && (std::isalnum(static_cast<unsigned char>(text[i - 1])) || text[i - 1] == '.')) continue;
    std::size_t j = i;
    int dots = 0;
    while (j < text.size() && (std::isdigit(static_cast<unsigned char>(text[j])) ||
                               (text[j] == '.' && j + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[j + 1]))))) {
      if (text[j] == '.') ++dots;
      ++j;
    }
    if (dots >= 1) return std::string(text.substr(i, j - i));
    i = j;
  }
  return "";
}

Result<std::string> read_report_file(const std::string& path, uint64_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::not_found("cannot read " + path);
  std::error_code ec;
  uint64_t size = fs::file_size(path, ec);
  if (ec) return Error::not_found("cannot read " + path);
  if (size > max_bytes) return Error::too_large("report larger than " + std::to_string(max_bytes >> 20) + " MiB");
  std::string text(static_cast<std::size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

std::vector<std::string> list_source_files(const std::string& root,
                                           const std::function<bool(const std::string& rel_path)>& want,
                                           std::size_t max_files, bool* truncated) {
  static const std::set<std::string> kSkipDirs = {".git", ".hg", ".svn", "node_modules", ".venv", "venv",
                                                  "__pycache__", ".tox", ".nox", ".mypy_cache", ".pytest_cache",
                                                  ".ruff_cache", ".eggs"};
  std::vector<std::string> files;
  if (truncated) *truncated = false;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const auto& e = *it;
    std::error_code sec;
    if (e.is_symlink(sec)) continue;
    if (e.is_directory(sec)) {
      if (kSkipDirs.count(e.path().filename().string())) it.disable_recursion_pending();
      continue;
    }
    if (!e.is_regular_file(sec)) continue;
    std::string rel = e.path().lexically_relative(root).generic_string();
    if (!want(rel)) continue;
    if (files.size() >= max_files) {
      if (truncated) *truncated = true;
      break;
    }
    files.push_back(std::move(rel));
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::vector<std::string>> batch_paths(const std::vector<std::string>& files, std::size_t per_run) {
  std::vector<std::vector<std::string>> out;
  for (std::size_t i = 0; i < files.size(); i += per_run) {
    std::vector<std::string> b;
    for (std::size_t k = i; k < std::min(files.size(), i + per_run); ++k) b.push_back("./" + files[k]);
    out.push_back(std::move(b));
  }
  return out;
}

Result<std::vector<ToolFinding>> ExternalTool::read_report(std::string_view) const {
  return Error::internal(id() + " has no report reader");
}

std::vector<std::string> ExternalTool::child_env(const std::string& work_dir) const {
  const char* home = std::getenv("HOME");
  std::vector<std::string> env = {"PATH=" + locator_.search_path(),
                                  std::string("HOME=") + (home && *home ? home : work_dir.c_str()),
                                  "TMPDIR=" + work_dir,
                                  "LANG=C.UTF-8",
                                  "LC_ALL=C.UTF-8",
                                  "PYTHONDONTWRITEBYTECODE=1",
                                  "NO_COLOR=1"};
  for (auto& e : extra_env()) env.push_back(std::move(e));
  return env;
}

ChildSandbox ExternalTool::child_sandbox(const std::string& source_root, const std::string& work_dir) const {
  ChildSandbox box;
  box.hidden = sandbox_.hidden_paths;
  if (std::string own = scratch::own(); !own.empty()) box.hidden.push_back(own);  // other scans' checkouts
  box.visible = {work_dir};
  if (!source_root.empty()) box.visible.push_back(source_root);
  box.isolate_network = std::find(sandbox_.network_allow.begin(), sandbox_.network_allow.end(), id()) ==
                        sandbox_.network_allow.end();
  box.isolate_processes = true;  // a tool allowed the network still leaves nothing running behind
  box.max_memory_bytes = sandbox_.max_memory_bytes;
  box.max_file_bytes = sandbox_.max_file_bytes;
  return box;
}

std::string ExternalTool::version_of(const std::string& binary_path, const ScanContext& ctx,
                                     const std::string& work_dir) {
  struct stat st {};
  int64_t mtime = ::stat(binary_path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_mtime) : 0;
  {
    std::lock_guard lk(mu_);
    auto it = versions_.find(binary_path);
    if (it != versions_.end() && it->second.first == mtime) return it->second.second;
  }
  ChildSpec spec;
  spec.argv = {binary_path};
  for (auto& a : version_args()) spec.argv.push_back(std::move(a));
  spec.env = child_env(work_dir);
  spec.cwd = work_dir;
  spec.stdout_path = work_dir + "/version.out";
  spec.stderr_path = work_dir + "/version.err";
  spec.max_output_bytes = 64 * 1024;
  spec.cancelled = ctx.cancelled;
  int64_t limit = steady_ms() + kVersionTimeoutMs;
  spec.deadline_ms = ctx.deadline_ms > 0 ? std::min(ctx.deadline_ms, limit) : limit;
  spec.kill_grace_ms = 500;
  spec.sandbox = child_sandbox("", work_dir);
  auto r = run_child(spec);
  std::string version;
  if (r && r->end == ChildResult::End::exited) {
    for (const auto& f : {spec.stdout_path, spec.stderr_path}) {
      auto text = read_report_file(f, 64 * 1024);
      if (text) version = extract_version(*text);
      if (!version.empty()) break;
    }
    std::lock_guard lk(mu_);
    versions_[binary_path] = {mtime, version};
  }
  return version;
}

Result<ScanOutcome> ExternalTool::run(const ScanContext& ctx) {
  const int64_t started = steady_ms();
  const std::string tool = id();
  ScanOutcome out;
  out.tool = tool;
  auto log = [&](const std::string& line) {
    if (ctx.log) ctx.log(tool + ": " + line);
  };
  auto finish = [&](const char* status, std::string message) {
    out.status = status;
    out.message = std::move(message);
    out.duration_ms = steady_ms() - started;
    log(out.message);
    return out;
  };

  auto bin = locator_.find(binary());
  if (!bin) return finish("skipped", binary() + " not installed");
  WorkDir work(tool);
  if (work.path().empty()) return finish("failed", "cannot create a temporary directory");
  out.version = version_of(*bin, ctx, work.path());
  if (ctx.cancelled && ctx.cancelled->load()) return finish("cancelled", tool + " cancelled");

  auto plan = this->plan(ctx, work.path());
  if (!plan) return finish("failed", plan.error().message);
  if (!plan->note.empty()) log(plan->note);
  if (plan->runs.empty()) {
    SECPLAT_TRY(collect(ctx, {}, out));
    return finish("succeeded", plan->nothing_to_do.empty() ? out.message : plan->nothing_to_do);
  }

  std::vector<std::string> reports;
  for (std::size_t i = 0; i < plan->runs.size(); ++i) {
    const Invocation& inv = plan->runs[i];
    ChildSpec spec;
    spec.argv = {*bin};
    spec.argv.insert(spec.argv.end(), inv.args.begin(), inv.args.end());
    spec.env = child_env(work.path());
    spec.cwd = ctx.source_root;
    spec.stdout_path = work.path() + "/stdout-" + std::to_string(i);
    spec.stderr_path = work.path() + "/stderr-" + std::to_string(i);
    spec.max_output_bytes = kMaxOutputBytes;
    spec.cancelled = ctx.cancelled;
    spec.deadline_ms = ctx.deadline_ms;
    spec.sandbox = child_sandbox(ctx.source_root, work.path());
    log("running " + binary() + " " + join_args(inv.args) +
        (plan->runs.size() > 1 ? " (" + std::to_string(i + 1) + "/" + std::to_string(plan->runs.size()) + ")" : ""));
    auto r = run_child(spec);
    if (!r) {
      std::string hint = spec.sandbox.isolate_network && r.error().message.find("network namespace") != std::string::npos
                             ? " (this host forbids network namespaces here; to run " + tool +
                                   " with the host's network, list it in assurance.tool_network_allow)"
                             : "";
      return finish("failed", r.error().message + hint);
    }
    out.exit_code = r->exit_code;
    switch (r->end) {
      case ChildResult::End::cancelled:
        out.exit_code = -1;
        return finish("cancelled", tool + " cancelled (process group killed)");
      case ChildResult::End::timeout:
        out.exit_code = -1;
        return finish("timeout", tool + " did not finish before the deadline (process group killed)");
      case ChildResult::End::signaled:
        out.exit_code = 128 + r->signal;
        return finish("failed", tool + " " + describe_signal(r->signal));
      case ChildResult::End::exited:
        break;
    }
    if (!exit_ok(r->exit_code)) {
      std::string why = last_line(spec.stderr_path);
      if (why.empty()) why = last_line(spec.stdout_path);
      return finish("failed", tool + " exited with status " + std::to_string(r->exit_code) + (why.empty() ? "" : ": " + why));
    }
    if (inv.report_file.empty() && r->stdout_truncated)
      return finish("failed", tool + " output exceeded " + std::to_string(kMaxOutputBytes >> 20) + " MiB");
    reports.push_back(inv.report_file.empty() ? spec.stdout_path : inv.report_file);
  }
  Status collected = collect(ctx, reports, out);
  if (!collected) return finish("failed", collected.error().message);
  return finish("succeeded", out.message + (plan->note.empty() ? "" : "; " + plan->note));
}

Status ExternalTool::collect(const ScanContext& ctx, const std::vector<std::string>& report_files,
                             ScanOutcome& out) const {
  const std::string tool = id();
  std::vector<ToolFinding> all;
  for (const auto& file : report_files) {
    auto text = read_report_file(file, kMaxOutputBytes);
    if (!text) return Error::bad_request("cannot read the " + tool + " report: " + text.error().message);
    auto found = read_report(*text);
    if (!found) return Error::bad_request("cannot read the " + tool + " report: " + found.error().message);
    for (auto& f : *found) all.push_back(std::move(f));
  }
  NormalizeInput in{tool, display_name(), out.version, information_uri(), ctx.source_root};
  NormalizeStats stats;
  SarifRun run = normalize_findings(in, std::move(all), &stats);
  const std::string rel = "reports/sast/" + tool + ".sarif.json";
  SECPLAT_TRY(write_sarif_file(run, (fs::path(ctx.output_dir) / rel).string()));
  out.outputs.push_back(rel);
  out.findings = static_cast<int64_t>(run.results.size());
  for (const auto& r : run.results) ++out.by_severity[r.properties.at("severity")];
  for (std::size_t i = 0; i < run.results.size() && i < kLoggedResults; ++i) {
    const auto& r = run.results[i];
    if (ctx.log)
      ctx.log(tool + ": " + r.properties.at("severity") + " " + r.rule_id + " at " + r.uri +
              (r.region.start_line > 0 ? ":" + std::to_string(r.region.start_line) : ""));
  }
  if (run.results.size() > kLoggedResults && ctx.log)
    ctx.log(tool + ": ... and " + std::to_string(run.results.size() - kLoggedResults) + " more");

  std::string msg = std::to_string(run.results.size()) + (run.results.size() == 1 ? " finding" : " findings");
  std::string parts;
  for (const char* sev : {"critical", "high", "medium", "low", "info"}) {
    auto it = out.by_severity.find(sev);
    if (it != out.by_severity.end() && it->second > 0)
      parts += (parts.empty() ? "" : ", ") + std::to_string(it->second) + " " + sev;
  }
  if (!parts.empty()) msg += " (" + parts + ")";
  if (stats.outside_root > 0) msg += "; " + std::to_string(stats.outside_root) + " outside the source tree ignored";
  if (stats.no_location > 0) msg += "; " + std::to_string(stats.no_location) + " without a location ignored";
  if (stats.over_limit > 0) msg += "; " + std::to_string(stats.over_limit) + " beyond the result limit dropped";
  out.message = msg;
  return ok_status();
}

}  // namespace secplat::scanners
