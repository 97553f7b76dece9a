#include "scanners/secrets/secrets_engine.h"

#include <dirent.h>
#include <fcntl.h>
#include <hs/hs.h>
#include <re2/re2.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
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
  size_t begin, end;  // secret span in the buffer
  double entropy;
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

  // One buffer's matching state; lives for a single scan_buffer / redact call.
  struct Pass {
    const Impl* impl;
    std::string_view buf;
    std::string_view path;
    bool apply_filters;
    std::vector<size_t> covered;  // per rule: buffer offset up to which RE2 already ran
    std::vector<Candidate> out;
  };

  static size_t line_start(std::string_view b, size_t pos) {
    const void* p = pos ? memrchr(b.data(), '\n', pos) : nullptr;
    return p ? static_cast<const char*>(p) - b.data() + 1 : 0;
  }
  static size_t line_end(std::string_view b, size_t pos) {
    const void* p = std::memchr(b.data() + pos, '\n', b.size() - pos);
    return p ? static_cast<const char*>(p) - b.data() : b.size();
  }

  // A prefilter hit for `rule` ending at `to`: confirm with RE2 around it.
  void on_hit(Pass& pass, uint32_t rule, size_t to) const {
    if (to == 0 || to - 1 < pass.covered[rule]) return;
    const SecretRule& r = rules[rule];
    std::string_view b = pass.buf;
    size_t last = to - 1;
    size_t ws = line_start(b, last);
    size_t we = line_end(b, last);
    bool multiline = !r.start_marker.empty();
    if (multiline) {
      we = std::min(b.size(), ws + kMultilineWindow);
    } else if (r.spans_lines || compiled[rule].prefilter == Prefilter::keywords) {
      ws = line_start(b, last > kSpanLookback ? last - kSpanLookback : 0);
    }
    size_t matched_to = confirm(pass, rule, ws, we);
    pass.covered[rule] = multiline ? std::max(line_end(b, last), matched_to) : we;
  }

  // Runs the rule's RE2 over [ws, we) and records candidates; returns the end of the last match.
  size_t confirm(Pass& pass, uint32_t rule, size_t ws, size_t we) const {
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
      if (pass.apply_filters && !accept(r, c, secret, h, pass.path)) continue;
      pass.out.push_back({rule, begin, begin + secret.size(), h});
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

  // All accepted, non-overlapping candidates in buffer order.
  std::vector<Candidate> run(std::string_view buf, std::string_view path, bool filters) const {
    Pass pass{this, buf, path, filters, std::vector<size_t>(rules.size(), 0), {}};
    bool prefiltered = false;
    if (db && !buf.empty() && buf.size() <= std::numeric_limits<unsigned>::max()) {
      hs_scratch_t* s = acquire();
      prefiltered = hs_scan(db, buf.data(), static_cast<unsigned>(buf.size()), 0, s,
                            &Impl::on_match, &pass) == HS_SUCCESS;
      release(s);
    }
    if (prefiltered || !db) {
      for (uint32_t rule : whole_buffer_rules) confirm(pass, rule, 0, buf.size());
    } else if (!buf.empty()) {
      // Hyperscan could not scan (buffer over 4 GiB, or an internal error): RE2 over everything
      // is slow but never misses what the prefilter would have found.
      pass.out.clear();
      for (uint32_t rule = 0; rule < rules.size(); ++rule) confirm(pass, rule, 0, buf.size());
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
        exprs.push_back(r.start_marker.empty() ? r.regex : r.start_marker);
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
    for (const char* p = b_.data() + pos_; pos_ < pos;) {
      const void* nl = std::memchr(p, '\n', pos - pos_);
      if (!nl) break;
      size_t at = static_cast<const char*>(nl) - b_.data();
      ++line_;
      line_start_ = at + 1;
      pos_ = at + 1;
      p = b_.data() + pos_;
    }
    pos_ = std::max(pos_, line_start_);
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

// One file's bytes: small files are read into a per-thread buffer (cheaper than mmap+munmap for
// the typical source file); files of kMmapThreshold bytes or more are memory-mapped.
constexpr size_t kMmapThreshold = 256 * 1024;

class FileBytes {
 public:
  enum class State { ok, unreadable, too_large };
  FileBytes(const std::string& path, uint64_t max_bytes, std::vector<char>& buffer) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return;
    }
    size_t size = static_cast<size_t>(st.st_size);
    if (static_cast<uint64_t>(st.st_size) > max_bytes) {
      state_ = State::too_large;
    } else if (size >= kMmapThreshold) {
      void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p != MAP_FAILED) {
        map_ = p;
        ::madvise(p, size, MADV_SEQUENTIAL);
        view_ = {static_cast<const char*>(p), size};
        state_ = State::ok;
      }
    } else {
      if (buffer.size() < size + 1) buffer.resize(std::max(size + 1, size_t{64 * 1024}));
      size_t got = 0;
      while (got < size) {
        ssize_t n = ::read(fd, buffer.data() + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<size_t>(n);
      }
      view_ = {buffer.data(), got};  // a file that shrank while reading is scanned as read
      state_ = State::ok;
    }
    ::close(fd);
  }
  ~FileBytes() {
    if (map_) ::munmap(map_, view_.size());
  }
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;
  State state() const { return state_; }
  std::string_view view() const { return view_; }

 private:
  State state_ = State::unreadable;
  void* map_ = nullptr;
  std::string_view view_;
};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

const char* const kSkippedDirs[] = {
    "node_modules", "vendor", "third_party", "third-party", "thirdparty", "bower_components",
    ".git", ".hg", ".svn", "dist", ".venv", "venv", "__pycache__", ".tox", ".mypy_cache",
    "site-packages", "Pods", ".terraform", ".gradle", ".idea", "jspm_packages"};
const char* const kSkippedNames[] = {
    "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "Cargo.lock",
    "go.sum", "poetry.lock", "Pipfile.lock", "Gemfile.lock", "composer.lock", "packages.lock.json",
    "mix.lock", "pubspec.lock", "Podfile.lock", "flake.lock", "uv.lock", "bun.lockb"};
const char* const kSkippedSuffixes[] = {
    ".min.js", ".min.css", ".js.map", ".css.map", ".pb.go", "_pb2.py", "_pb2_grpc.py", ".pb.cc",
    ".pb.h", ".g.dart", ".designer.cs", ".generated.cs", ".generated.go", ".lock",
    // Binary formats (the NUL probe catches most, this avoids opening them).
    ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".webp", ".pdf", ".zip", ".gz", ".tgz",
    ".bz2", ".xz", ".zst", ".7z", ".rar", ".jar", ".war", ".class", ".so", ".dll", ".dylib",
    ".exe", ".o", ".a", ".lib", ".pyc", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".mp3", ".mp4",
    ".mov", ".avi", ".wasm", ".iso", ".dmg", ".deb", ".rpm"};

bool is_skipped_dir_name(std::string_view name) {
  for (const char* d : kSkippedDirs)
    if (name == d) return true;
  return false;
}

}  // namespace

bool is_skipped_path(std::string_view rel) {
  size_t start = 0;
  while (start <= rel.size()) {
    size_t slash = rel.find('/', start);
    std::string_view part = rel.substr(start, slash == std::string_view::npos ? rel.npos : slash - start);
    if (slash == std::string_view::npos) {
      for (const char* n : kSkippedNames)
        if (part == n) return true;
      if (part.find(".generated.") != std::string_view::npos) return true;
      std::string low = lower(part);
      for (const char* s : kSkippedSuffixes)
        if (ends_with(low, s)) return true;
      return false;
    }
    if (is_skipped_dir_name(part)) return true;
    start = slash + 1;
  }
  return false;
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

std::vector<SecretFinding> SecretsEngine::scan_buffer(std::string_view path,
                                                      std::string_view bytes) const {
  auto cands = impl_->run(bytes, path, /*filters=*/true);
  std::vector<SecretFinding> out;
  out.reserve(cands.size());
  LineCursor cursor(bytes);
  for (const auto& c : cands) {
    const SecretRule& r = impl_->rules[c.rule];
    std::string_view secret = bytes.substr(c.begin, c.end - c.begin);
    SecretFinding f;
    f.rule_id = r.id;
    f.description = r.description;
    f.severity = r.severity;
    f.path = std::string(path);
    std::tie(f.line, f.column) = cursor.at(c.begin);
    std::tie(f.end_line, f.end_column) = cursor.at(c.end);
    f.redacted = redact_value(secret);
    f.fingerprint = sha256_hex(r.id + ":" + std::string(path) + ":" + sha256_hex(secret));
    f.entropy = c.entropy;
    out.push_back(std::move(f));
  }
  return out;
}

std::string SecretsEngine::redact(std::string_view line) const {
  auto cands = impl_->run(line, "", /*filters=*/false);
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
    std::string rel;
    std::string abs;
  };
  std::vector<File> files;
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
        if (options.skip_vendored && is_skipped_path(rel)) {
          ++result.files_skipped;
          continue;
        }
        std::string abs = base + "/" + rel;
        files.push_back({std::move(rel), std::move(abs)});
      }
    }
    ::closedir(d);
  }
  std::sort(files.begin(), files.end(), [](const File& a, const File& b) { return a.rel < b.rel; });

  std::vector<std::vector<SecretFinding>> per_file(files.size());
  std::atomic<size_t> next{0};
  std::atomic<int64_t> scanned{0}, skipped{0}, bytes{0};
  std::atomic<bool> stop_cancel{false}, stop_deadline{false};
  auto worker = [&] {
    std::vector<char> buffer;  // per-thread read buffer for small files
    for (;;) {
      if (is_cancelled(cancelled)) {
        stop_cancel = true;
        return;
      }
      if (options.deadline_ms > 0 && steady_ms() >= options.deadline_ms) {
        stop_deadline = true;
        return;
      }
      size_t i = next.fetch_add(1);
      if (i >= files.size()) return;
      FileBytes file(files[i].abs, options.max_file_bytes, buffer);
      if (file.state() != FileBytes::State::ok) {
        ++skipped;
        continue;
      }
      std::string_view v = file.view();
      if (std::memchr(v.data(), 0, std::min(v.size(), kBinaryProbe)) != nullptr) {
        ++skipped;
        continue;
      }
      per_file[i] = scan_buffer(files[i].rel, v);
      ++scanned;
      bytes += static_cast<int64_t>(v.size());
    }
  };
  unsigned n = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  n = static_cast<unsigned>(std::min<size_t>(n, std::max<size_t>(files.size(), 1)));
  if (n <= 1) {
    worker();
  } else {
    std::vector<std::jthread> pool;
    for (unsigned t = 0; t < n; ++t) pool.emplace_back(worker);
  }
  for (auto& v : per_file)
    for (auto& f : v) result.findings.push_back(std::move(f));
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
