#include "scanners/secrets/secrets_engine.h"

#include <dirent.h>
#include <fcntl.h>
#include <hs/hs.h>
#include <re2/re2.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cerrno>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>

#include "core/clock.h"
#include "core/encoding.h"

namespace secplat::scanners::secrets {
namespace {

constexpr size_t kMultilineWindow = 256 * 1024;  // how far a PEM block may extend
constexpr size_t kSpanLookback = 1024;           // how far back a line-spanning match may start
constexpr size_t kBinaryProbe = 8192;

RE2::Options re2_options() {
  RE2::Options o;
  o.set_encoding(RE2::Options::EncodingLatin1);  // binary-safe; rules are ASCII
  o.set_log_errors(false);
  o.set_max_mem(64 << 20);
  return o;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct CompiledAllowlist {
  std::vector<std::unique_ptr<RE2>> regexes;
  std::vector<std::unique_ptr<RE2>> paths;
  std::vector<std::string> stopwords;  // lower-case
  bool empty() const { return regexes.empty() && paths.empty() && stopwords.empty(); }
};

Result<CompiledAllowlist> compile_allowlist(const SecretAllowlist& a, const std::string& owner) {
  CompiledAllowlist c;
  for (const auto& r : a.regexes) {
    auto re = std::make_unique<RE2>(r, re2_options());
    if (!re->ok()) return Error::bad_request(owner + ": invalid allowlist regex: " + re->error());
    c.regexes.push_back(std::move(re));
  }
  for (const auto& r : a.paths) {
    auto re = std::make_unique<RE2>(r, re2_options());
    if (!re->ok()) return Error::bad_request(owner + ": invalid allowlist path regex: " + re->error());
    c.paths.push_back(std::move(re));
  }
  for (const auto& s : a.stopwords) c.stopwords.push_back(lower(s));
  return c;
}

bool allowlisted(const CompiledAllowlist& a, std::string_view secret, const std::string& lowered,
                 std::string_view path) {
  re2::StringPiece sp(secret.data(), secret.size());
  for (const auto& re : a.regexes)
    if (RE2::PartialMatch(sp, *re)) return true;
  for (const auto& w : a.stopwords)
    if (lowered.find(w) != std::string::npos) return true;
  re2::StringPiece pp(path.data(), path.size());
  for (const auto& re : a.paths)
    if (RE2::PartialMatch(pp, *re)) return true;
  return false;
}

// Hyperscan escapes for a literal keyword.
std::string hs_literal(std::string_view kw) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : kw) {
    if (std::isalnum(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

enum class Prefilter { regex, keywords, whole_buffer };

struct CompiledRule {
  std::unique_ptr<RE2> re;
  int groups = 1;  // submatches to extract (secret_group + 1, at least 1)
  Prefilter prefilter = Prefilter::regex;
  CompiledAllowlist allowlist;
};

struct Candidate {
  uint32_t rule;
  uint32_t segment;   // which file of a packed buffer
  size_t begin, end;  // secret span in the buffer
  double entropy;
};

// The bytes of one file inside a scanned buffer.
struct Segment {
  size_t begin, end;
  std::string_view path;
};

}  // namespace

struct SecretsEngine::Impl {
  std::vector<SecretRule> rules;
  std::vector<CompiledRule> compiled;
  CompiledAllowlist global;
  hs_database_t* db = nullptr;
  hs_scratch_t* proto = nullptr;
  std::vector<uint32_t> pattern_rule;       // Hyperscan pattern id -> rule index
  std::vector<uint32_t> whole_buffer_rules;  // rules with no usable prefilter
  mutable std::mutex scratch_mu;
  mutable std::vector<hs_scratch_t*> scratch_free;

  ~Impl() {
    for (auto* s : scratch_free) hs_free_scratch(s);
    if (proto) hs_free_scratch(proto);
    if (db) hs_free_database(db);
  }

  hs_scratch_t* acquire() const {
    {
      std::lock_guard lock(scratch_mu);
      if (!scratch_free.empty()) {
        auto* s = scratch_free.back();
        scratch_free.pop_back();
        return s;
      }
    }
    hs_scratch_t* s = nullptr;
    if (hs_clone_scratch(proto, &s) != HS_SUCCESS) std::abort();  // out of memory
    return s;
  }
  void release(hs_scratch_t* s) const {
    std::lock_guard lock(scratch_mu);
    scratch_free.push_back(s);
  }

  // One buffer's matching state; lives for a single scan (of one file, a pack of files, or a
  // log line). A pack holds several files back to back (each followed by a '\n'); every
  // confirmation window is clipped to the file of its hit, so no match spans two files.
  struct Pass {
    const Impl* impl;
    std::string_view buf;
    const std::vector<Segment>* segments;
    bool apply_filters;
    std::vector<size_t> covered;  // per rule: buffer offset up to which RE2 already ran
    std::vector<Candidate> out;
    uint32_t seg = 0;             // segment of the last hit (hits arrive in offset order)
  };

  static size_t line_start(std::string_view b, size_t pos) {
    const void* p = pos ? memrchr(b.data(), '\n', pos) : nullptr;
    return p ? static_cast<const char*>(p) - b.data() + 1 : 0;
  }
  static size_t line_end(std::string_view b, size_t pos) {
    const void* p = std::memchr(b.data() + pos, '\n', b.size() - pos);
    return p ? static_cast<const char*>(p) - b.data() : b.size();
  }

  // The segment holding buffer offset `pos` (which may be its trailing separator).
  static uint32_t segment_of(Pass& pass, size_t pos) {
    const auto& segs = *pass.segments;
    if (pass.seg < segs.size() && segs[pass.seg].begin <= pos &&
        (pass.seg + 1 == segs.size() || pos < segs[pass.seg + 1].begin))
      return pass.seg;
    auto it = std::upper_bound(segs.begin(), segs.end(), pos,
                               [](size_t p, const Segment& s) { return p < s.begin; });
    pass.seg = static_cast<uint32_t>(it == segs.begin() ? 0 : it - segs.begin() - 1);
    return pass.seg;
  }

  // A prefilter hit for `rule` ending at `to`: confirm with RE2 around it.
  void on_hit(Pass& pass, uint32_t rule, size_t to) const {
    if (to == 0 || to - 1 < pass.covered[rule]) return;
    const SecretRule& r = rules[rule];
    std::string_view b = pass.buf;
    size_t last = to - 1;
    uint32_t seg = segment_of(pass, last);
    const Segment& sg = (*pass.segments)[seg];
    if (last >= sg.end) return;  // the separator after the file
    size_t ws = line_start(b, last);
    size_t we = line_end(b, last);
    bool multiline = !r.start_marker.empty();
    if (multiline) {
      we = std::min(b.size(), ws + kMultilineWindow);
    } else if (r.spans_lines || compiled[rule].prefilter == Prefilter::keywords) {
      ws = line_start(b, last > kSpanLookback ? last - kSpanLookback : 0);
    }
    ws = std::max(ws, sg.begin);
    we = std::min(we, sg.end);
    size_t matched_to = confirm(pass, rule, seg, ws, we);
    pass.covered[rule] = multiline ? std::max(std::min(line_end(b, last), sg.end), matched_to) : we;
  }

  // Runs the rule's RE2 over [ws, we) (within segment `seg`) and records candidates; returns
  // the end of the last match.
  size_t confirm(Pass& pass, uint32_t rule, uint32_t seg, size_t ws, size_t we) const {
    const SecretRule& r = rules[rule];
    const CompiledRule& c = compiled[rule];
    std::string_view b = pass.buf;
    re2::StringPiece text(b.data() + ws, we - ws);
    std::array<re2::StringPiece, 16> groups;
    int ngroups = std::min<int>(c.groups, groups.size());
    size_t pos = 0, last_end = ws;
    while (pos <= text.size() &&
           c.re->Match(text, pos, text.size(), RE2::UNANCHORED, groups.data(), ngroups)) {
      const auto& whole = groups[0];
      size_t whole_end = static_cast<size_t>(whole.data() - text.data()) + whole.size();
      pos = whole.empty() ? whole_end + 1 : whole_end;
      last_end = ws + whole_end;
      const auto& sec = groups[ngroups - 1 < r.secret_group ? 0 : r.secret_group];
      if (sec.data() == nullptr || sec.empty()) continue;
      size_t begin = static_cast<size_t>(sec.data() - b.data());
      std::string_view secret(sec.data(), sec.size());
      double h = shannon_entropy(secret);
      if (pass.apply_filters && !accept(r, c, secret, h, (*pass.segments)[seg].path)) continue;
      pass.out.push_back({rule, seg, begin, begin + secret.size(), h});
    }
    return last_end;
  }

  bool accept(const SecretRule& r, const CompiledRule& c, std::string_view secret, double h,
              std::string_view path) const {
    if (r.entropy > 0 && h < r.entropy) return false;
    if (std::all_of(secret.begin(), secret.end(), [&](char ch) { return ch == secret[0]; }))
      return false;
    std::string lowered = lower(secret);
    if (allowlisted(global, secret, lowered, path)) return false;
    if (!c.allowlist.empty() && allowlisted(c.allowlist, secret, lowered, path)) return false;
    return true;
  }

  static int on_match(unsigned int id, unsigned long long /*from*/, unsigned long long to,
                      unsigned int /*flags*/, void* ctx) {
    auto* pass = static_cast<Pass*>(ctx);
    pass->impl->on_hit(*pass, pass->impl->pattern_rule[id], static_cast<size_t>(to));
    return 0;
  }

  // All accepted, non-overlapping candidates in buffer order. `segments` (ascending, disjoint,
  // non-empty list) says which bytes belong to which file.
  std::vector<Candidate> run(std::string_view buf, const std::vector<Segment>& segments,
                             bool filters) const {
    Pass pass{this, buf, &segments, filters, std::vector<size_t>(rules.size(), 0), {}};
    bool prefiltered = false;
    if (db && !buf.empty() && buf.size() <= std::numeric_limits<unsigned>::max()) {
      hs_scratch_t* s = acquire();
      prefiltered = hs_scan(db, buf.data(), static_cast<unsigned>(buf.size()), 0, s,
                            &Impl::on_match, &pass) == HS_SUCCESS;
      release(s);
    }
    auto confirm_everywhere = [&](uint32_t rule) {
      for (uint32_t k = 0; k < segments.size(); ++k)
        confirm(pass, rule, k, segments[k].begin, segments[k].end);
    };
    if (prefiltered || !db) {
      for (uint32_t rule : whole_buffer_rules) confirm_everywhere(rule);
    } else if (!buf.empty()) {
      // Hyperscan could not scan (buffer over 4 GiB, or an internal error): RE2 over everything
      // is slow but never misses what the prefilter would have found.
      pass.out.clear();
      for (uint32_t rule = 0; rule < rules.size(); ++rule) confirm_everywhere(rule);
    }
    auto& c = pass.out;
    if (c.empty()) return {};
    // Dedupe (windows of line-spanning rules may overlap), then let earlier rules win overlaps.
    std::sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) {
      return std::tie(a.rule, a.begin, a.end) < std::tie(b.rule, b.begin, b.end);
    });
    std::map<size_t, size_t> kept;  // begin -> end, disjoint
    std::vector<Candidate> out;
    for (const auto& cand : c) {
      auto next = kept.lower_bound(cand.begin);
      if (next != kept.end() && next->first < cand.end) continue;
      if (next != kept.begin() && std::prev(next)->second > cand.begin) continue;
      kept.emplace(cand.begin, cand.end);
      out.push_back(cand);
    }
    std::sort(out.begin(), out.end(), [](const Candidate& a, const Candidate& b) {
      return std::tie(a.begin, a.rule) < std::tie(b.begin, b.rule);
    });
    return out;
  }
};

namespace {

Status compile_hyperscan(SecretsEngine::Impl& impl) {
  // Rules Hyperscan rejects fall back to keywords; retry until the database compiles.
  for (;;) {
    std::vector<std::string> exprs;
    std::vector<unsigned> flags, ids;
    impl.pattern_rule.clear();
    impl.whole_buffer_rules.clear();
    for (uint32_t i = 0; i < impl.rules.size(); ++i) {
      const auto& r = impl.rules[i];
      auto& c = impl.compiled[i];
      if (c.prefilter == Prefilter::regex) {
        exprs.push_back(!r.start_marker.empty() ? r.start_marker
                        : !r.prefilter.empty()  ? r.prefilter
                                                : r.regex);
        flags.push_back(HS_FLAG_PREFILTER | HS_FLAG_MULTILINE | HS_FLAG_ALLOWEMPTY);
        impl.pattern_rule.push_back(i);
      } else if (c.prefilter == Prefilter::keywords) {
        for (const auto& kw : r.keywords) {
          exprs.push_back(hs_literal(kw));
          flags.push_back(HS_FLAG_CASELESS);
          impl.pattern_rule.push_back(i);
        }
      } else {
        impl.whole_buffer_rules.push_back(i);
      }
    }
    if (exprs.empty()) return ok_status();
    std::vector<const char*> ptrs;
    for (size_t k = 0; k < exprs.size(); ++k) {
      ptrs.push_back(exprs[k].c_str());
      ids.push_back(static_cast<unsigned>(k));
    }
    hs_compile_error_t* err = nullptr;
    hs_database_t* db = nullptr;
    hs_error_t rc = hs_compile_multi(ptrs.data(), flags.data(), ids.data(),
                                     static_cast<unsigned>(ptrs.size()), HS_MODE_BLOCK, nullptr,
                                     &db, &err);
    if (rc == HS_SUCCESS) {
      impl.db = db;
      if (hs_alloc_scratch(db, &impl.proto) != HS_SUCCESS)
        return Error::internal("secrets: cannot allocate Hyperscan scratch");
      return ok_status();
    }
    int bad = err ? err->expression : -1;
    std::string msg = err && err->message ? err->message : "unknown error";
    hs_free_compile_error(err);
    if (bad < 0 || static_cast<size_t>(bad) >= impl.pattern_rule.size())
      return Error::internal("secrets: Hyperscan compile failed: " + msg);
    auto& c = impl.compiled[impl.pattern_rule[bad]];
    if (c.prefilter == Prefilter::regex) {
      c.prefilter = impl.rules[impl.pattern_rule[bad]].keywords.empty() ? Prefilter::whole_buffer
                                                                         : Prefilter::keywords;
    } else {
      c.prefilter = Prefilter::whole_buffer;
    }
  }
}

// Newlines in [p, end): 16 bytes per step (SSE2 is part of x86-64), bytes one by one elsewhere.
size_t count_newlines(const char* p, const char* end) {
  size_t n = 0;
#if defined(__SSE2__)
  const __m128i nl = _mm_set1_epi8('\n');
  while (end - p >= 16) {
    // Per-byte counters (a match is -1, so subtract), summed before any of them can overflow.
    __m128i acc = _mm_setzero_si128();
    for (int k = 0; k < 255 && end - p >= 16; ++k, p += 16)
      acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), nl));
    __m128i sums = _mm_sad_epu8(acc, _mm_setzero_si128());
    n += static_cast<size_t>(_mm_cvtsi128_si32(sums)) +
         static_cast<size_t>(_mm_cvtsi128_si32(_mm_srli_si128(sums, 8)));
  }
#endif
  for (; p < end; ++p) n += *p == '\n';
  return n;
}

// Incrementally converts ascending buffer offsets into (line, column).
class LineCursor {
 public:
  explicit LineCursor(std::string_view b) : b_(b) {}
  std::pair<int, int> at(size_t pos) {
    if (pos < pos_) {  // offsets go backwards only for an end before a later begin; restart
      pos_ = 0;
      line_ = 1;
      line_start_ = 0;
    }
    if (pos > pos_) {  // newlines in [pos_, pos): a vectorised count, then one memrchr
      const char* from = b_.data() + pos_;
      size_t n = count_newlines(from, b_.data() + pos);
      if (n > 0) {
        line_ += static_cast<int>(n);
        line_start_ = static_cast<size_t>(static_cast<const char*>(memrchr(from, '\n', pos - pos_)) -
                                          b_.data()) + 1;
      }
      pos_ = pos;
    }
    int col = 1;
    for (size_t i = line_start_; i < pos; ++i)
      if ((static_cast<unsigned char>(b_[i]) & 0xC0) != 0x80) ++col;
    return {line_, col};
  }

 private:
  std::string_view b_;
  size_t pos_ = 0;
  int line_ = 1;
  size_t line_start_ = 0;
};

bool is_cancelled(const std::atomic<bool>* c) { return c && c->load(std::memory_order_relaxed); }

// Files of kMmapThreshold bytes or more are memory-mapped and scanned on their own; smaller
// ones (the typical source file) are read straight into a per-thread pack of about kPackBytes
// and scanned together: one Hyperscan call per pack instead of per file, and no mmap/munmap.
constexpr size_t kMmapThreshold = 256 * 1024;
constexpr size_t kPackBytes = 1024 * 1024;
constexpr size_t kFilesPerClaim = 16;  // files a thread takes at a time (mostly one directory)

class MappedFile {
 public:
  MappedFile(int fd, size_t size) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) return;
    map_ = p;
    ::madvise(p, size, MADV_SEQUENTIAL);
    view_ = {static_cast<const char*>(p), size};
  }
  ~MappedFile() {
    if (map_) ::munmap(map_, view_.size());
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  bool ok() const { return map_ != nullptr; }
  std::string_view view() const { return view_; }

 private:
  void* map_ = nullptr;
  std::string_view view_;
};

// Reads up to `size` bytes of `fd` into `out`; returns how many it got (a file that shrank
// while reading is scanned as read).
size_t read_fully(int fd, char* out, size_t size) {
  size_t got = 0;
  while (got < size) {
    ssize_t n = ::read(fd, out + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  return got;
}

bool is_binary(std::string_view v) {
  return std::memchr(v.data(), 0, std::min(v.size(), kBinaryProbe)) != nullptr;
}

constexpr std::string_view kSkippedDirs[] = {
    "node_modules", "vendor", "third_party", "third-party", "thirdparty", "bower_components",
    ".git", ".hg", ".svn", "dist", ".venv", "venv", "__pycache__", ".tox", ".mypy_cache",
    "site-packages", "Pods", ".terraform", ".gradle", ".idea", "jspm_packages"};
constexpr std::string_view kSkippedNames[] = {
    "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "Cargo.lock",
    "go.sum", "poetry.lock", "Pipfile.lock", "Gemfile.lock", "composer.lock", "packages.lock.json",
    "mix.lock", "pubspec.lock", "Podfile.lock", "flake.lock", "uv.lock", "bun.lockb"};
constexpr std::string_view kSkippedSuffixes[] = {  // lower-case
    ".min.js", ".min.css", ".js.map", ".css.map", ".pb.go", "_pb2.py", "_pb2_grpc.py", ".pb.cc",
    ".pb.h", ".g.dart", ".designer.cs", ".generated.cs", ".generated.go", ".lock",
    // Binary formats (the NUL probe catches most, this avoids opening them).
    ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".webp", ".pdf", ".zip", ".gz", ".tgz",
    ".bz2", ".xz", ".zst", ".7z", ".rar", ".jar", ".war", ".class", ".so", ".dll", ".dylib",
    ".exe", ".o", ".a", ".lib", ".pyc", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".mp3", ".mp4",
    ".mov", ".avi", ".wasm", ".iso", ".dmg", ".deb", ".rpm"};

bool is_skipped_dir_name(std::string_view name) {
  for (std::string_view d : kSkippedDirs)
    if (name == d) return true;
  return false;
}

// `s` ends with the lower-case `suffix`, ignoring ASCII case.
bool ends_with_nocase(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  const char* p = s.data() + s.size() - suffix.size();
  for (size_t i = 0; i < suffix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(p[i])) != suffix[i]) return false;
  return true;
}

bool is_skipped_file_name(std::string_view name) {
  for (std::string_view n : kSkippedNames)
    if (name == n) return true;
  if (name.find(".generated.") != std::string_view::npos) return true;
  for (std::string_view s : kSkippedSuffixes)
    if (ends_with_nocase(name, s)) return true;
  return false;
}

}  // namespace

bool is_skipped_path(std::string_view rel) {
  size_t start = 0;
  for (;;) {
    size_t slash = rel.find('/', start);
    if (slash == std::string_view::npos) return is_skipped_file_name(rel.substr(start));
    if (is_skipped_dir_name(rel.substr(start, slash - start))) return true;
    start = slash + 1;
  }
}

double shannon_entropy(std::string_view s) {
  if (s.empty()) return 0;
  std::array<uint32_t, 256> counts{};
  for (unsigned char c : s) ++counts[c];
  double h = 0, n = static_cast<double>(s.size());
  for (uint32_t k : counts) {
    if (!k) continue;
    double p = k / n;
    h -= p * std::log2(p);
  }
  return h;
}

std::string redact_value(std::string_view secret) {
  if (secret.size() >= 16)
    return std::string(secret.substr(0, 4)) + "****" + std::string(secret.substr(secret.size() - 4));
  if (secret.size() >= 8) return std::string(secret.substr(0, 2)) + "****";
  return "****";
}

SecretsEngine::SecretsEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SecretsEngine::~SecretsEngine() = default;

const std::vector<SecretRule>& SecretsEngine::rules() const { return impl_->rules; }

Result<std::unique_ptr<SecretsEngine>> SecretsEngine::compile(std::vector<SecretRule> rules,
                                                              SecretAllowlist global_allowlist) {
  auto impl = std::make_unique<Impl>();
  for (const auto& r : rules) {
    CompiledRule c;
    if (r.id.empty()) return Error::bad_request("secrets: a rule has no id");
    c.re = std::make_unique<RE2>(r.regex, re2_options());
    if (!c.re->ok())
      return Error::bad_request("secrets: rule '" + r.id + "': invalid regex: " + c.re->error());
    if (r.secret_group < 0 || r.secret_group > c.re->NumberOfCapturingGroups() ||
        r.secret_group >= 16)
      return Error::bad_request("secrets: rule '" + r.id + "': secretGroup " +
                                std::to_string(r.secret_group) + " does not exist in the regex");
    c.groups = r.secret_group + 1;
    auto al = compile_allowlist(r.allowlist, "secrets: rule '" + r.id + "'");
    if (!al) return std::move(al).take_error();
    c.allowlist = std::move(*al);
    impl->compiled.push_back(std::move(c));
  }
  impl->rules = std::move(rules);
  auto g = compile_allowlist(global_allowlist, "secrets: global allowlist");
  if (!g) return std::move(g).take_error();
  impl->global = std::move(*g);
  SECPLAT_TRY(compile_hyperscan(*impl));
  return std::unique_ptr<SecretsEngine>(new SecretsEngine(std::move(impl)));
}

Result<std::unique_ptr<SecretsEngine>> SecretsEngine::compile_builtin() {
  return compile(builtin_secret_rules(), builtin_secret_allowlist());
}

namespace {

// Findings of a scanned buffer, one list per segment.
std::vector<std::vector<SecretFinding>> to_findings(const std::vector<SecretRule>& rules,
                                                   std::string_view buf,
                                                   const std::vector<Segment>& segments,
                                                   const std::vector<Candidate>& cands) {
  std::vector<std::vector<SecretFinding>> out(segments.size());
  std::optional<LineCursor> cursor;
  uint32_t cursor_seg = 0;
  for (const auto& c : cands) {  // in buffer order, so grouped by segment
    const Segment& sg = segments[c.segment];
    if (!cursor || cursor_seg != c.segment) {
      cursor.emplace(buf.substr(sg.begin, sg.end - sg.begin));
      cursor_seg = c.segment;
    }
    const SecretRule& r = rules[c.rule];
    std::string_view secret = buf.substr(c.begin, c.end - c.begin);
    SecretFinding f;
    f.rule_id = r.id;
    f.description = r.description;
    f.severity = r.severity;
    f.path = std::string(sg.path);
    std::tie(f.line, f.column) = cursor->at(c.begin - sg.begin);
    std::tie(f.end_line, f.end_column) = cursor->at(c.end - sg.begin);
    f.redacted = redact_value(secret);
    f.fingerprint = sha256_hex(r.id + ":" + f.path + ":" + sha256_hex(secret));
    f.entropy = c.entropy;
    out[c.segment].push_back(std::move(f));
  }
  return out;
}

}  // namespace

std::vector<SecretFinding> SecretsEngine::scan_buffer(std::string_view path,
                                                      std::string_view bytes) const {
  std::vector<Segment> segments{{0, bytes.size(), path}};
  auto cands = impl_->run(bytes, segments, /*filters=*/true);
  if (cands.empty()) return {};
  return std::move(to_findings(impl_->rules, bytes, segments, cands)[0]);
}

std::string SecretsEngine::redact(std::string_view line) const {
  std::vector<Segment> segments{{0, line.size(), ""}};
  auto cands = impl_->run(line, segments, /*filters=*/false);
  if (cands.empty()) return std::string(line);
  std::string out;
  size_t at = 0;
  for (const auto& c : cands) {
    out.append(line.substr(at, c.begin - at));
    out += redact_value(line.substr(c.begin, c.end - c.begin));
    at = c.end;
  }
  out.append(line.substr(at));
  return out;
}

ScanTreeResult SecretsEngine::scan_tree(const std::string& root, const ScanTreeOptions& options,
                                        const std::atomic<bool>* cancelled) const {
  ScanTreeResult result;
  struct File {
    uint32_t dir;      // index into dirs
    uint32_t name_at;  // rel.substr(name_at) is the file name
    std::string rel;
  };
  std::vector<std::string> dirs;  // relative ("" = the root)
  std::vector<File> files;        // walk order: the files of one directory are adjacent
  // readdir-based walk: d_type avoids a stat per entry; symlinks are never followed.
  std::string base = root;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  std::vector<std::string> pending{""};
  while (!pending.empty()) {
    std::string rel_dir = std::move(pending.back());
    pending.pop_back();
    std::string abs_dir = rel_dir.empty() ? base : base + "/" + rel_dir;
    DIR* d = ::opendir(abs_dir.c_str());
    if (!d) continue;
    auto dir_index = static_cast<uint32_t>(dirs.size());
    dirs.push_back(rel_dir);
    while (const dirent* de = ::readdir(d)) {
      std::string_view name = de->d_name;
      if (name == "." || name == "..") continue;
      std::string rel = rel_dir.empty() ? std::string(name) : rel_dir + "/" + std::string(name);
      unsigned char type = de->d_type;
      if (type == DT_UNKNOWN) {
        struct stat st {};
        if (::lstat((base + "/" + rel).c_str(), &st) != 0) continue;
        type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_LNK;
      }
      if (type == DT_DIR) {
        if (name == ".git" || (options.skip_vendored && is_skipped_dir_name(name))) continue;
        pending.push_back(std::move(rel));
      } else if (type == DT_REG) {
        if (options.skip_vendored && is_skipped_file_name(name)) {  // its dirs were checked
          ++result.files_skipped;
          continue;
        }
        auto name_at = static_cast<uint32_t>(rel.size() - name.size());
        files.push_back({dir_index, name_at, std::move(rel)});
      }
    }
    ::closedir(d);
  }

  std::vector<std::vector<SecretFinding>> per_file(files.size());
  std::atomic<size_t> next{0};
  std::atomic<int64_t> scanned{0}, skipped{0}, bytes{0};
  std::atomic<bool> stop_cancel{false}, stop_deadline{false};
  auto worker = [&] {
    auto pack = std::make_unique<char[]>(kPackBytes + kMmapThreshold);
    size_t used = 0;
    std::vector<Segment> segments;
    std::vector<size_t> segment_file;
    auto flush = [&] {
      if (segments.empty()) return;
      std::string_view buf(pack.get(), used);
      auto cands = impl_->run(buf, segments, /*filters=*/true);
      if (!cands.empty()) {
        auto found = to_findings(impl_->rules, buf, segments, cands);
        for (size_t k = 0; k < found.size(); ++k)
          if (!found[k].empty()) per_file[segment_file[k]] = std::move(found[k]);
      }
      segments.clear();
      segment_file.clear();
      used = 0;
    };
    int dir_fd = -1;
    uint32_t open_dir = std::numeric_limits<uint32_t>::max();
    auto scan_one = [&](size_t i) {
      const File& f = files[i];
      if (f.dir != open_dir) {
        if (dir_fd >= 0) ::close(dir_fd);
        const std::string& rd = dirs[f.dir];
        dir_fd = ::open(rd.empty() ? base.c_str() : (base + "/" + rd).c_str(),
                        O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        open_dir = f.dir;
      }
      int fd = dir_fd < 0 ? -1
                          : ::openat(dir_fd, f.rel.c_str() + f.name_at,
                                     O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
      if (fd < 0) {
        ++skipped;
        return;
      }
      struct stat st {};
      if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
          static_cast<uint64_t>(st.st_size) > options.max_file_bytes) {
        ::close(fd);
        ++skipped;
        return;
      }
      auto size = static_cast<size_t>(st.st_size);
      if (size >= kMmapThreshold) {
        MappedFile m(fd, size);
        ::close(fd);
        if (!m.ok() || is_binary(m.view())) {
          ++skipped;
          return;
        }
        per_file[i] = scan_buffer(f.rel, m.view());
        ++scanned;
        bytes += static_cast<int64_t>(size);
        return;
      }
      size_t got = read_fully(fd, pack.get() + used, size);
      ::close(fd);
      std::string_view v(pack.get() + used, got);
      if (is_binary(v)) {
        ++skipped;
        return;
      }
      segments.push_back({used, used + got, f.rel});
      segment_file.push_back(i);
      used += got;
      pack[used++] = '\n';  // ends the file's last line; never part of a match
      ++scanned;
      bytes += static_cast<int64_t>(got);
      if (used >= kPackBytes) flush();
    };
    for (bool stop = false; !stop;) {
      size_t first = next.fetch_add(kFilesPerClaim);
      if (first >= files.size()) break;
      for (size_t i = first; i < std::min(files.size(), first + kFilesPerClaim); ++i) {
        if (is_cancelled(cancelled)) {
          stop_cancel = true;
          stop = true;
          break;
        }
        if (options.deadline_ms > 0 && steady_ms() >= options.deadline_ms) {
          stop_deadline = true;
          stop = true;
          break;
        }
        scan_one(i);
      }
    }
    flush();
    if (dir_fd >= 0) ::close(dir_fd);
  };
  unsigned n = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  n = static_cast<unsigned>(std::min<size_t>(n, std::max<size_t>(files.size() / kFilesPerClaim, 1)));
  if (n <= 1) {
    worker();
  } else {
    std::vector<std::jthread> pool;
    for (unsigned t = 0; t < n; ++t) pool.emplace_back(worker);
  }
  // Findings in path order, whatever the walk and thread order were.
  std::vector<size_t> with_findings;
  for (size_t i = 0; i < per_file.size(); ++i)
    if (!per_file[i].empty()) with_findings.push_back(i);
  std::sort(with_findings.begin(), with_findings.end(),
            [&](size_t a, size_t b) { return files[a].rel < files[b].rel; });
  for (size_t i : with_findings)
    for (auto& f : per_file[i]) result.findings.push_back(std::move(f));
  result.files_scanned = scanned;
  result.files_skipped += skipped;
  result.bytes_scanned = bytes;
  result.cancelled = stop_cancel;
  result.timed_out = stop_deadline && !stop_cancel;
  return result;
}

std::string redact_secrets(std::string_view line) {
  static const std::unique_ptr<SecretsEngine> engine = [] {
    auto e = SecretsEngine::compile_builtin();
    if (!e) std::abort();  // the built-in rules are tested to compile
    return std::move(*e);
  }();
  return engine->redact(line);
}

}  // namespace secplat::scanners::secrets
