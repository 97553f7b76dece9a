#include "scanners/tools/finding_normalizer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <tuple>

#include "core/encoding.h"

namespace fs = std::filesystem;

namespace secplat::scanners {
namespace {

constexpr std::size_t kMaxFileBytes = 16u << 20;  // lines of larger files are not read back

std::optional<std::string> relative_to(const fs::path& p, const std::string& base) {
  if (base.empty()) return std::nullopt;
  fs::path rel = p.lexically_relative(fs::path(base).lexically_normal());
  if (rel.empty() || rel == "." || *rel.begin() == "..") return std::nullopt;
  return rel.generic_string();
}

// The reported path relative to the source root, or nullopt when it lies outside.
std::optional<std::string> relative_path(const std::string& reported, const std::string& root,
                                         const std::string& root_real) {
  if (reported.empty()) return std::nullopt;
  fs::path p(reported);
  if (p.is_relative()) p = fs::path(root) / p;
  p = p.lexically_normal();
  if (auto r = relative_to(p, root)) return r;
  return relative_to(p, root_real);
}

std::string trim(std::string s) {
  auto sp = [](unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; };
  while (!s.empty() && sp(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && sp(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// Lines of the files findings point at, read once each.
class LineCache {
 public:
  explicit LineCache(std::string root) : root_(std::move(root)) {}
  std::string line(const std::string& rel, int number) {
    if (number <= 0) return "";
    auto it = files_.find(rel);
    if (it == files_.end()) it = files_.emplace(rel, load(rel)).first;
    const auto& lines = it->second;
    return static_cast<std::size_t>(number) <= lines.size() ? lines[static_cast<std::size_t>(number) - 1] : "";
  }

 private:
  std::vector<std::string> load(const std::string& rel) const {
    std::vector<std::string> lines;
    std::error_code ec;
    fs::path p = fs::path(root_) / rel;
    if (!fs::is_regular_file(p, ec) || fs::file_size(p, ec) > kMaxFileBytes) return lines;
    std::ifstream in(p, std::ios::binary);
    std::string l;
    while (std::getline(in, l)) lines.push_back(trim(l));
    return lines;
  }
  std::string root_;
  std::map<std::string, std::vector<std::string>> files_;
};

}  // namespace

std::string security_severity_score(const std::string& severity) {
  if (severity == "critical") return "9.5";
  if (severity == "high") return "8.0";
  if (severity == "medium") return "5.5";
  if (severity == "low") return "3.0";
  return "0.0";
}

SarifRun normalize_findings(const NormalizeInput& in, std::vector<ToolFinding> findings, NormalizeStats* stats) {
  NormalizeStats local;
  NormalizeStats& st = stats ? *stats : local;
  std::error_code ec;
  std::string root = fs::path(in.source_root).lexically_normal().string();
  std::string root_real = fs::weakly_canonical(in.source_root, ec).string();
  if (ec) root_real.clear();

  // Relative paths first, so sorting and fingerprints see the final form.
  std::vector<ToolFinding> kept;
  kept.reserve(findings.size());
  for (auto& f : findings) {
    if (f.path.empty()) {
      ++st.no_location;
      continue;
    }
    auto rel = relative_path(f.path, root, root_real);
    if (!rel) {
      ++st.outside_root;
      continue;
    }
    f.path = *rel;
    if (f.severity.empty()) f.severity = "medium";
    kept.push_back(std::move(f));
  }
  std::stable_sort(kept.begin(), kept.end(), [](const ToolFinding& a, const ToolFinding& b) {
    return std::tie(a.path, a.region.start_line, a.region.start_column, a.rule_id, a.message) <
           std::tie(b.path, b.region.start_line, b.region.start_column, b.rule_id, b.message);
  });
  if (kept.size() > in.max_results) {
    st.over_limit = static_cast<int64_t>(kept.size() - in.max_results);
    kept.resize(in.max_results);
  }

  SarifRun run;
  run.tool_name = in.tool_name.empty() ? in.tool_id : in.tool_name;
  run.tool_version = in.tool_version;
  run.information_uri = in.information_uri;
  std::map<std::string, std::size_t> rule_index;
  std::map<std::string, int> occurrences;
  LineCache lines(in.source_root);
  for (auto& f : kept) {
    if (!rule_index.count(f.rule_id)) {
      SarifRule r;
      r.id = f.rule_id;
      r.name = f.rule_name;
      r.short_description = f.rule_description.empty() ? f.message : f.rule_description;
      r.help_uri = f.help_uri;
      r.level = sarif_level_for_severity(f.severity);
      r.severity = f.severity;
      r.tags = f.tags;
      if (std::find(r.tags.begin(), r.tags.end(), "security") == r.tags.end()) r.tags.push_back("security");
      rule_index[f.rule_id] = run.rules.size();
      run.rules.push_back(std::move(r));
    }
    SarifResult r;
    r.rule_id = f.rule_id;
    r.level = sarif_level_for_severity(f.severity);
    r.message = f.message.empty() ? f.rule_id : f.message;
    r.uri = f.path;
    r.region = f.region;
    r.partial_fingerprints = f.fingerprints;
    std::string basis = in.tool_id + "\n" + f.rule_id + "\n" + f.path + "\n" +
                        (f.region.start_line > 0 ? lines.line(f.path, f.region.start_line) : std::string());
    int n = occurrences[basis]++;
    r.partial_fingerprints["secplat/v1"] = sha256_hex(basis + "\n" + std::to_string(n)).substr(0, 32);
    r.properties["severity"] = f.severity;
    r.properties["security-severity"] = security_severity_score(f.severity);
    run.results.push_back(std::move(r));
  }
  return run;
}

}  // namespace secplat::scanners
