#include "scanners/sbom/sbom_scanner.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/clock.h"
#include "core/ids.h"
#include "core/json.h"
#include "scanners/sbom/bom_writer.h"
#include "scanners/sbom/lockfiles.h"
#include "scanners/sbom/osv.h"

namespace secplat::scanners {
namespace {

namespace fs = std::filesystem;
using namespace sbom;

Status write_json(const fs::path& path, const Json& j) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return Error::internal("cannot create " + path.parent_path().string() + ": " + ec.message());
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << j.dump(2) << '\n';
    out.close();
    if (!out) return Error::internal("cannot write " + tmp.string());
  }
  fs::rename(tmp, path, ec);
  if (ec) return Error::internal("cannot rename " + tmp.string() + ": " + ec.message());
  return {};
}

class SbomScanner final : public Scanner {
 public:
  explicit SbomScanner(SbomOptions o) : opts_(std::move(o)) {}
  std::string id() const override { return "sbom"; }

  Result<ScanOutcome> run(const ScanContext& ctx) override {
    const int64_t started = steady_ms();
    ScanOutcome out;
    out.tool = "sbom";
    out.version = opts_.tool_version;
    auto log = [&](std::string_view line) {
      if (ctx.log) ctx.log(line);
    };
    auto stop_reason = [&]() -> const char* {
      if (ctx.cancelled && ctx.cancelled->load()) return "cancelled";
      if (ctx.deadline_ms > 0 && steady_ms() > ctx.deadline_ms) return "timeout";
      return nullptr;
    };
    auto finish = [&](std::string status, std::string message) {
      out.status = std::move(status);
      out.message = std::move(message);
      out.exit_code = out.status == "succeeded" ? 0 : 1;
      out.duration_ms = steady_ms() - started;
      return out;
    };

    std::error_code ec;
    const fs::path root(ctx.source_root);
    if (!fs::is_directory(root, ec)) return finish("failed", "source root is not a directory: " + ctx.source_root);

    // 1. Find lockfiles (sorted, so the log and the merge order are stable).
    std::vector<fs::path> lockfiles;
    for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (it->is_directory(ec) && !it->is_symlink(ec)) {
        if (name == "node_modules" || name == "vendor" || name == ".git") it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file(ec) && !it->is_symlink(ec) && is_lockfile_name(name)) lockfiles.push_back(it->path());
      if (const char* why = stop_reason()) return finish(why, std::string("scan ") + why + " while walking the tree");
    }
    std::sort(lockfiles.begin(), lockfiles.end());

    // 2. Parse each; a bad lockfile is a warning, never a failed scan.
    std::vector<Component> all;
    size_t parsed = 0;
    for (const auto& path : lockfiles) {
      if (const char* why = stop_reason()) return finish(why, std::string("scan ") + why + " while parsing lockfiles");
      const std::string rel = fs::relative(path, root, ec).generic_string();
      auto size = fs::file_size(path, ec);
      if (ec || static_cast<int64_t>(size) > opts_.max_lockfile_bytes) {
        log("warning: skipped " + rel + ": unreadable or larger than the lockfile size limit");
        continue;
      }
      std::ifstream in(path, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      auto comps = parse_lockfile(rel, bytes);
      if (!comps.ok()) {
        log("warning: skipped " + comps.error().message);
        continue;
      }
      log("parsed " + rel + ": " + std::to_string(comps->size()) + " components");
      ++parsed;
      all.insert(all.end(), std::make_move_iterator(comps->begin()), std::make_move_iterator(comps->end()));
    }
    std::vector<Component> components = merge_components(std::move(all));

    // 3. Vulnerability matching, when an OSV database is configured.
    std::string osv_dir = opts_.osv_db_dir;
    if (auto it = ctx.options.find("osv_db_dir"); it != ctx.options.end()) osv_dir = it->second;
    std::vector<VulnMatch> vulns;
    OsvDatabase db;
    bool matched = false;
    if (!osv_dir.empty()) {
      auto loaded = OsvDatabase::load(osv_dir, [&](std::string_view w) { log(std::string("warning: ") + std::string(w)); });
      if (!loaded.ok()) {
        log("warning: vulnerability matching skipped: " + loaded.error().message);
      } else {
        db = std::move(*loaded);
        vulns = db.match(components);
        matched = true;
        log("osv: " + std::to_string(db.size()) + " records, " + std::to_string(vulns.size()) + " matches");
      }
    }

    // 4. Write the documents.
    BomInfo info;
    info.root_name = root.filename().string();
    if (info.root_name.empty()) info.root_name = root.parent_path().filename().string();
    if (info.root_name.empty()) info.root_name = "source";
    info.tool_version = opts_.tool_version;
    info.timestamp = format_rfc3339(SystemClock().now_ms());
    info.uuid = new_uuid();
    const fs::path reports = fs::path(ctx.output_dir) / "reports" / "sbom";
    SECPLAT_TRY(write_json(reports / "sbom.cyclonedx.json", to_cyclonedx(components, vulns, info)));
    out.outputs.push_back("reports/sbom/sbom.cyclonedx.json");
    SECPLAT_TRY(write_json(reports / "sbom.spdx.json", to_spdx(components, info)));
    out.outputs.push_back("reports/sbom/sbom.spdx.json");
    if (matched) {
      SECPLAT_TRY(write_json(reports / "vulnerabilities.sarif.json", to_sarif(components, vulns, info)));
      out.outputs.push_back("reports/sbom/vulnerabilities.sarif.json");
    }
    out.findings = static_cast<int64_t>(components.size());
    for (const auto& m : vulns) ++out.by_severity[m.record->severity.empty() ? "medium" : m.record->severity];
    std::string summary = std::to_string(components.size()) + " components from " + std::to_string(parsed) + " of " +
                          std::to_string(lockfiles.size()) + " lockfiles";
    if (matched) summary += ", " + std::to_string(vulns.size()) + " vulnerable";
    return finish("succeeded", summary);
  }

 private:
  SbomOptions opts_;
};

}  // namespace

std::unique_ptr<Scanner> make_sbom_scanner(SbomOptions options) {
  return std::make_unique<SbomScanner>(std::move(options));
}

}  // namespace secplat::scanners
