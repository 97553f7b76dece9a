#include "scanners/sbom/component.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "core/encoding.h"

namespace secplat::scanners::sbom {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// purl-spec percent-encoding: everything but unreserved characters.
std::string pct(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// "a/b/c" → "a/b/c" with each segment encoded (empty segments dropped).
std::string pct_path(std::string_view s) {
  std::string out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t slash = s.find('/', start);
    if (slash == std::string_view::npos) slash = s.size();
    auto seg = s.substr(start, slash - start);
    if (!seg.empty()) {
      if (!out.empty()) out += '/';
      out += pct(seg);
    }
    start = slash + 1;
  }
  return out;
}

}  // namespace

std::string normalize_pypi_name(std::string_view name) {
  std::string out;
  bool in_sep = false;
  for (char c : name) {
    if (c == '-' || c == '_' || c == '.') {
      if (!in_sep) out += '-';
      in_sep = true;
    } else {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      in_sep = false;
    }
  }
  return out;
}

std::string make_purl(std::string_view ecosystem, std::string_view name, std::string_view version) {
  std::string path;
  if (ecosystem == kNpm) {
    // "@scope/name": the scope is the namespace, its '@' percent-encoded.
    path = "npm/" + pct_path(name);
  } else if (ecosystem == kPyPI) {
    std::string n = lower(name);
    std::replace(n.begin(), n.end(), '_', '-');
    path = "pypi/" + pct(n);
  } else if (ecosystem == kGo) {
    path = "golang/" + pct_path(name);
  } else if (ecosystem == kCargo) {
    path = "cargo/" + pct(name);
  } else if (ecosystem == kRubyGems) {
    path = "gem/" + pct(name);
  } else if (ecosystem == kPackagist) {
    path = "composer/" + pct_path(lower(name));
  } else if (ecosystem == kMaven) {
    auto colon = name.find(':');
    if (colon == std::string_view::npos) return "";
    path = "maven/" + pct(name.substr(0, colon)) + "/" + pct(name.substr(colon + 1));
  } else {
    return "";
  }
  std::string purl = "pkg:" + path;
  if (!version.empty()) purl += "@" + pct(version);
  return purl;
}

std::vector<Hash> hashes_from_integrity(std::string_view integrity) {
  std::vector<Hash> out;
  size_t pos = 0;
  while (pos < integrity.size()) {
    while (pos < integrity.size() && integrity[pos] == ' ') ++pos;
    size_t end = integrity.find(' ', pos);
    if (end == std::string_view::npos) end = integrity.size();
    auto part = integrity.substr(pos, end - pos);
    pos = end;
    auto dash = part.find('-');
    if (dash == std::string_view::npos) continue;
    auto alg = part.substr(0, dash);
    auto b64 = part.substr(dash + 1);
    if (auto q = b64.find('?'); q != std::string_view::npos) b64 = b64.substr(0, q);  // SRI options
    auto raw = base64_decode(b64);
    if (!raw) continue;
    std::string name;
    size_t want = 0;
    if (alg == "sha512") name = "SHA-512", want = 64;
    else if (alg == "sha384") name = "SHA-384", want = 48;
    else if (alg == "sha256") name = "SHA-256", want = 32;
    else if (alg == "sha1") name = "SHA-1", want = 20;
    if (name.empty() || raw->size() != want) continue;
    out.push_back({name, hex_encode(*raw)});
  }
  return out;
}

std::vector<Component> merge_components(std::vector<Component> all) {
  std::map<std::string, Component> by_purl;
  for (auto& c : all) {
    if (c.purl.empty()) continue;
    auto [it, fresh] = by_purl.try_emplace(c.purl, c);
    Component& m = it->second;
    if (!fresh) {
      m.sources.insert(m.sources.end(), c.sources.begin(), c.sources.end());
      m.depends_on.insert(m.depends_on.end(), c.depends_on.begin(), c.depends_on.end());
      for (const auto& h : c.hashes) {
        bool have = std::any_of(m.hashes.begin(), m.hashes.end(),
                                [&](const Hash& x) { return x.alg == h.alg; });
        if (!have) m.hashes.push_back(h);
      }
      if (c.scope == Scope::direct || (c.scope == Scope::transitive && m.scope == Scope::unknown)) {
        m.scope = c.scope;
      }
    }
  }
  std::vector<Component> out;
  out.reserve(by_purl.size());
  for (auto& [purl, c] : by_purl) {
    std::sort(c.sources.begin(), c.sources.end());
    c.sources.erase(std::unique(c.sources.begin(), c.sources.end()), c.sources.end());
    std::sort(c.depends_on.begin(), c.depends_on.end());
    c.depends_on.erase(std::unique(c.depends_on.begin(), c.depends_on.end()), c.depends_on.end());
    c.depends_on.erase(std::remove(c.depends_on.begin(), c.depends_on.end(), c.purl), c.depends_on.end());
    std::sort(c.hashes.begin(), c.hashes.end(),
              [](const Hash& a, const Hash& b) { return a.alg < b.alg; });
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace secplat::scanners::sbom
