#include "scanners/sbom/osv.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/json.h"
#include "scanners/sbom/version_compare.h"

namespace secplat::scanners::sbom {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string str(const Json& o, const char* k) {
  if (!o.is_object()) return "";
  auto it = o.find(k);
  return it != o.end() && it->is_string() ? it->get<std::string>() : "";
}

// Names compare per ecosystem rules (PyPI normalised, Packagist case-insensitive).
std::string match_key(std::string_view ecosystem, std::string_view name) {
  if (ecosystem == kPyPI) return std::string(ecosystem) + "\n" + normalize_pypi_name(name);
  if (ecosystem == kPackagist) return std::string(ecosystem) + "\n" + lower(std::string(name));
  return std::string(ecosystem) + "\n" + std::string(name);
}

std::string severity_word(double score) {
  if (score >= 9.0) return "critical";
  if (score >= 7.0) return "high";
  if (score >= 4.0) return "medium";
  if (score > 0.0) return "low";
  return "";
}

}  // namespace

double cvss3_base_score(std::string_view vector) {
  if (vector.substr(0, 7) != "CVSS:3.") return -1;
  std::map<std::string, std::string> m;
  std::stringstream ss{std::string(vector)};
  std::string part;
  while (std::getline(ss, part, '/')) {
    auto colon = part.find(':');
    if (colon != std::string::npos) m[part.substr(0, colon)] = part.substr(colon + 1);
  }
  auto pick = [&](const char* key, std::initializer_list<std::pair<const char*, double>> table) -> double {
    auto it = m.find(key);
    if (it == m.end()) return -1;
    for (const auto& [k, v] : table) {
      if (it->second == k) return v;
    }
    return -1;
  };
  bool changed = m.count("S") && m["S"] == "C";
  if (!m.count("S") || (m["S"] != "C" && m["S"] != "U")) return -1;
  double av = pick("AV", {{"N", 0.85}, {"A", 0.62}, {"L", 0.55}, {"P", 0.2}});
  double ac = pick("AC", {{"L", 0.77}, {"H", 0.44}});
  double pr = pick("PR", {{"N", 0.85}, {"L", changed ? 0.68 : 0.62}, {"H", changed ? 0.5 : 0.27}});
  double ui = pick("UI", {{"N", 0.85}, {"R", 0.62}});
  double c = pick("C", {{"H", 0.56}, {"L", 0.22}, {"N", 0}});
  double i = pick("I", {{"H", 0.56}, {"L", 0.22}, {"N", 0}});
  double a = pick("A", {{"H", 0.56}, {"L", 0.22}, {"N", 0}});
  for (double v : {av, ac, pr, ui, c, i, a}) {
    if (v < 0) return -1;
  }
  double iss = 1 - (1 - c) * (1 - i) * (1 - a);
  double impact = changed ? 7.52 * (iss - 0.029) - 3.25 * std::pow(iss - 0.02, 15) : 6.42 * iss;
  double expl = 8.22 * av * ac * pr * ui;
  if (impact <= 0) return 0;
  double raw = changed ? std::min(1.08 * (impact + expl), 10.0) : std::min(impact + expl, 10.0);
  // CVSS v3.1 Roundup: smallest one-decimal number >= raw, robust to float noise.
  long long scaled = std::llround(raw * 100000);
  if (scaled % 10000 == 0) return static_cast<double>(scaled) / 100000.0;
  return (std::floor(static_cast<double>(scaled) / 10000.0) + 1) / 10.0;
}

Result<OsvRecord> parse_osv_record(std::string_view json_text) {
  Json j = Json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error::bad_request("OSV record is not a JSON object");
  try {
    OsvRecord r;
    r.id = str(j, "id");
    if (r.id.empty()) return Error::bad_request("OSV record without id");
    r.summary = str(j, "summary");
    if (r.summary.empty()) r.summary = str(j, "details").substr(0, 200);
    if (auto al = j.find("aliases"); al != j.end() && al->is_array()) {
      for (const auto& a : *al) {
        if (a.is_string()) r.aliases.push_back(a.get<std::string>());
      }
    }
    if (auto sev = j.find("severity"); sev != j.end() && sev->is_array()) {
      for (const auto& s : *sev) {
        std::string type = str(s, "type");
        if (type != "CVSS_V3") continue;
        double score = cvss3_base_score(str(s, "score"));
        if (score >= 0) {
          r.score = score;
          r.cvss_vector = str(s, "score");
          r.severity = severity_word(score);
          break;
        }
      }
    }
    if (r.severity.empty()) {
      std::string ds = lower(str(j.value("database_specific", Json::object()), "severity"));
      if (ds == "moderate") ds = "medium";
      if (ds == "critical" || ds == "high" || ds == "medium" || ds == "low") r.severity = ds;
    }
    if (auto aff = j.find("affected"); aff != j.end() && aff->is_array()) {
      for (const auto& a : *aff) {
        OsvAffected out;
        const Json pkg = a.value("package", Json::object());
        out.ecosystem = str(pkg, "ecosystem");
        out.name = str(pkg, "name");
        if (out.ecosystem.empty() || out.name.empty()) continue;
        if (auto vs = a.find("versions"); vs != a.end() && vs->is_array()) {
          for (const auto& v : *vs) {
            if (v.is_string()) out.versions.push_back(v.get<std::string>());
          }
        }
        if (auto rs = a.find("ranges"); rs != a.end() && rs->is_array()) {
          for (const auto& rj : *rs) {
            OsvRange range;
            range.type = str(rj, "type");
            if (range.type != "ECOSYSTEM" && range.type != "SEMVER") continue;
            if (auto ev = rj.find("events"); ev != rj.end() && ev->is_array()) {
              for (const auto& e : *ev) {
                if (e.contains("introduced")) range.events.push_back({OsvEvent::Kind::introduced, str(e, "introduced")});
                else if (e.contains("fixed")) range.events.push_back({OsvEvent::Kind::fixed, str(e, "fixed")});
                else if (e.contains("last_affected")) range.events.push_back({OsvEvent::Kind::last_affected, str(e, "last_affected")});
              }
            }
            out.ranges.push_back(std::move(range));
          }
        }
        r.affected.push_back(std::move(out));
      }
    }
    return r;
  } catch (const std::exception& e) {
    return Error::bad_request(std::string("malformed OSV record: ") + e.what());
  }
}

bool is_affected(const OsvAffected& a, std::string_view version) {
  if (version.empty()) return false;
  for (const auto& v : a.versions) {
    if (v == version || compare_versions(a.ecosystem, v, version) == 0) return true;
  }
  for (const auto& range : a.ranges) {
    // SEMVER ranges always compare as SemVer; ECOSYSTEM ranges use the ecosystem's order.
    auto cmp = [&](std::string_view x, std::string_view y) {
      return range.type == "SEMVER" ? compare_semver(x, y) : compare_versions(a.ecosystem, x, y);
    };
    std::vector<OsvEvent> events = range.events;
    auto key_less = [&](const OsvEvent& x, const OsvEvent& y) {
      bool x0 = x.kind == OsvEvent::Kind::introduced && x.version == "0";
      bool y0 = y.kind == OsvEvent::Kind::introduced && y.version == "0";
      if (x0 || y0) return x0 && !y0;
      return cmp(x.version, y.version) < 0;
    };
    std::stable_sort(events.begin(), events.end(), key_less);
    bool affected = false;
    for (const auto& e : events) {
      switch (e.kind) {
        case OsvEvent::Kind::introduced:
          if (e.version == "0" || cmp(e.version, version) <= 0) affected = true;
          break;
        case OsvEvent::Kind::fixed:
          if (cmp(e.version, version) <= 0) affected = false;
          break;
        case OsvEvent::Kind::last_affected:
          if (cmp(e.version, version) < 0) affected = false;
          break;
      }
    }
    if (affected) return true;
  }
  return false;
}

Result<OsvDatabase> OsvDatabase::load(const std::string& dir,
                                      const std::function<void(std::string_view)>& warn) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Error::not_found("OSV database directory not found: " + dir);
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) && it->path().extension() == ".json") files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  OsvDatabase db;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      if (warn) warn("osv: cannot read " + f.string());
      continue;
    }
    Json j = Json::parse(text, nullptr, false);
    if (j.is_array()) {
      for (const auto& rec : j) {
        auto r = parse_osv_record(rec.dump());
        if (r.ok()) db.add(std::move(*r));
        else if (warn) warn("osv: " + f.string() + ": " + r.error().message);
      }
      continue;
    }
    auto r = parse_osv_record(text);
    if (r.ok()) db.add(std::move(*r));
    else if (warn) warn("osv: skipped " + f.string() + ": " + r.error().message);
  }
  return db;
}

void OsvDatabase::add(OsvRecord r) { records_.push_back(std::move(r)); }

std::vector<VulnMatch> OsvDatabase::match(const std::vector<Component>& components) const {
  std::multimap<std::string, std::pair<const OsvRecord*, const OsvAffected*>> index;
  for (const auto& r : records_) {
    for (const auto& a : r.affected) index.emplace(match_key(a.ecosystem, a.name), std::make_pair(&r, &a));
  }
  std::vector<VulnMatch> out;
  for (const auto& c : components) {
    if (c.version.empty()) continue;
    std::vector<const OsvRecord*> hits;
    auto [lo, hi] = index.equal_range(match_key(c.ecosystem, c.name));
    for (auto it = lo; it != hi; ++it) {
      if (is_affected(*it->second.second, c.version)) hits.push_back(it->second.first);
    }
    std::sort(hits.begin(), hits.end(), [](auto* x, auto* y) { return x->id < y->id; });
    hits.erase(std::unique(hits.begin(), hits.end(), [](auto* x, auto* y) { return x->id == y->id; }), hits.end());
    for (const auto* r : hits) out.push_back({r, c.purl});
  }
  std::sort(out.begin(), out.end(), [](const VulnMatch& x, const VulnMatch& y) {
    return x.purl != y.purl ? x.purl < y.purl : x.record->id < y.record->id;
  });
  return out;
}

}  // namespace secplat::scanners::sbom
