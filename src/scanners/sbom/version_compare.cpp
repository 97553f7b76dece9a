#include "scanners/sbom/version_compare.h"

#include <cctype>
#include <string>
#include <vector>

#include "scanners/sbom/component.h"

namespace secplat::scanners::sbom {
namespace {

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Numeric strings of any length: strip leading zeros, longer is bigger.
int cmp_numeric(std::string_view a, std::string_view b) {
  while (a.size() > 1 && a.front() == '0') a.remove_prefix(1);
  while (b.size() > 1 && b.front() == '0') b.remove_prefix(1);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  int c = a.compare(b);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

int cmp_str(std::string_view a, std::string_view b) {
  int c = a.compare(b);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

int compare_semver(std::string_view a, std::string_view b) {
  auto prep = [](std::string_view v, std::string_view& core, std::string_view& pre) {
    if (!v.empty() && (v.front() == 'v' || v.front() == 'V')) v.remove_prefix(1);
    if (auto plus = v.find('+'); plus != std::string_view::npos) v = v.substr(0, plus);
    auto dash = v.find('-');
    core = v.substr(0, dash);
    pre = dash == std::string_view::npos ? std::string_view{} : v.substr(dash + 1);
  };
  std::string_view ca, pa, cb, pb;
  prep(a, ca, pa);
  prep(b, cb, pb);
  auto xa = split(ca, '.');
  auto xb = split(cb, '.');
  for (size_t i = 0; i < std::max(xa.size(), xb.size()); ++i) {
    std::string_view sa = i < xa.size() ? xa[i] : "0";
    std::string_view sb = i < xb.size() ? xb[i] : "0";
    int c = all_digits(sa) && all_digits(sb) ? cmp_numeric(sa, sb) : cmp_str(sa, sb);
    if (c) return c;
  }
  if (pa.empty() != pb.empty()) return pa.empty() ? 1 : -1;  // a prerelease sorts first
  auto ia = split(pa, '.');
  auto ib = split(pb, '.');
  for (size_t i = 0; i < std::min(ia.size(), ib.size()); ++i) {
    bool na = all_digits(ia[i]), nb = all_digits(ib[i]);
    int c = na && nb ? cmp_numeric(ia[i], ib[i]) : na ? -1 : nb ? 1 : cmp_str(ia[i], ib[i]);
    if (c) return c;
  }
  return ia.size() == ib.size() ? 0 : ia.size() < ib.size() ? -1 : 1;
}

namespace {

struct Pep440 {
  long long epoch = 0;
  std::vector<long long> release;
  int pre_kind = 3;  // 0 a, 1 b, 2 rc, 3 none
  long long pre_num = 0;
  long long post = -1;
  long long dev = -1;  // -1 = no dev segment
};

long long read_num(const std::string& s, size_t& i) {
  long long n = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && n < 1'000'000'000'000LL) {
    n = n * 10 + (s[i++] - '0');
  }
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  return n;
}

Pep440 parse_pep440(std::string_view v) {
  std::string s = lower(v);
  if (auto plus = s.find('+'); plus != std::string::npos) s.resize(plus);  // local version
  Pep440 p;
  size_t i = 0;
  if (i < s.size() && s[i] == 'v') ++i;
  if (auto bang = s.find('!'); bang != std::string::npos) {
    p.epoch = read_num(s, i);
    i = bang + 1;
  }
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    p.release.push_back(read_num(s, i));
    if (i + 1 < s.size() && s[i] == '.' && std::isdigit(static_cast<unsigned char>(s[i + 1]))) ++i;
    else break;
  }
  while (p.release.size() > 1 && p.release.back() == 0) p.release.pop_back();
  auto skip_sep = [&] {
    while (i < s.size() && (s[i] == '.' || s[i] == '-' || s[i] == '_')) ++i;
  };
  auto take = [&](std::string_view word) {
    if (s.compare(i, word.size(), word) == 0) { i += word.size(); return true; }
    return false;
  };
  while (i < s.size()) {
    skip_sep();
    if (take("alpha") || take("a")) { p.pre_kind = 0; skip_sep(); p.pre_num = read_num(s, i); }
    else if (take("beta") || take("b")) { p.pre_kind = 1; skip_sep(); p.pre_num = read_num(s, i); }
    else if (take("rc") || take("c") || take("pre") || take("preview")) { p.pre_kind = 2; skip_sep(); p.pre_num = read_num(s, i); }
    else if (take("post") || take("rev") || take("r")) { skip_sep(); p.post = read_num(s, i); }
    else if (take("dev")) { skip_sep(); p.dev = read_num(s, i); }
    else if (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) { p.post = read_num(s, i); }  // "1.0-1"
    else ++i;  // unknown text: ignore
  }
  return p;
}

}  // namespace

int compare_pep440(std::string_view a, std::string_view b) {
  Pep440 x = parse_pep440(a), y = parse_pep440(b);
  if (x.epoch != y.epoch) return x.epoch < y.epoch ? -1 : 1;
  for (size_t i = 0; i < std::max(x.release.size(), y.release.size()); ++i) {
    long long u = i < x.release.size() ? x.release[i] : 0;
    long long w = i < y.release.size() ? y.release[i] : 0;
    if (u != w) return u < w ? -1 : 1;
  }
  // A dev release without pre/post sorts before the pre-releases of the same release.
  auto pre_key = [](const Pep440& p) {
    if (p.pre_kind == 3 && p.post < 0 && p.dev >= 0) return -1;
    return p.pre_kind;
  };
  int ka = pre_key(x), kb = pre_key(y);
  if (ka != kb) return ka < kb ? -1 : 1;
  if (x.pre_num != y.pre_num) return x.pre_num < y.pre_num ? -1 : 1;
  if (x.post != y.post) return x.post < y.post ? -1 : 1;
  // No dev segment sorts after any dev segment.
  long long dx = x.dev < 0 ? (1LL << 62) : x.dev, dy = y.dev < 0 ? (1LL << 62) : y.dev;
  if (dx != dy) return dx < dy ? -1 : 1;
  return 0;
}

int compare_generic(std::string_view a, std::string_view b) {
  // Tokens: runs of digits or runs of letters; separators ignored.
  auto tokens = [](std::string_view v) {
    std::vector<std::string> out;
    std::string cur;
    int kind = 0;  // 1 digit, 2 alpha
    for (char ch : v) {
      int k = std::isdigit(static_cast<unsigned char>(ch)) ? 1 : std::isalpha(static_cast<unsigned char>(ch)) ? 2 : 0;
      if (k != kind && !cur.empty()) { out.push_back(cur); cur.clear(); }
      kind = k;
      if (k) cur += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
  };
  auto ta = tokens(a), tb = tokens(b);
  for (size_t i = 0; i < std::max(ta.size(), tb.size()); ++i) {
    if (i >= ta.size() || i >= tb.size()) {
      // The longer one continues: more numbers = later; a qualifier ("beta") = earlier, except
      // the service-pack / post markers that Maven and others put after a release.
      const std::string& extra = i < ta.size() ? ta[i] : tb[i];
      int sign = i < ta.size() ? 1 : -1;
      bool later = all_digits(extra) || extra == "sp" || extra == "post" || extra == "final" ||
                   extra == "ga" || extra == "release" || extra == "p" || extra == "patch";
      return later ? sign : -sign;
    }
    bool na = all_digits(ta[i]), nb = all_digits(tb[i]);
    int c = na && nb ? cmp_numeric(ta[i], tb[i]) : na ? 1 : nb ? -1 : cmp_str(ta[i], tb[i]);
    if (c) return c;
  }
  return 0;
}

int compare_versions(std::string_view ecosystem, std::string_view a, std::string_view b) {
  if (ecosystem == kNpm || ecosystem == kCargo || ecosystem == kGo) return compare_semver(a, b);
  if (ecosystem == kPyPI) return compare_pep440(a, b);
  return compare_generic(a, b);
}

}  // namespace secplat::scanners::sbom
