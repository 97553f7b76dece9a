// Throughput and recall benchmark for the built-in secrets engine (driven by secrets_bench.sh).
//
//   secrets_bench plant <dir> <count> <planted.tsv>   append <count> synthetic secrets to files
//                                                      under <dir>; write path/line/rule lines
//   secrets_bench scan <dir> <planted.tsv> [threads]  scan with 1 thread and with [threads]
//                                                      (default: all cores); print GB/s + recall
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include <hs/hs.h>
#include <re2/re2.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scanners/secrets/secret_samples.h"
#include "scanners/secrets/secrets_engine.h"

namespace fs = std::filesystem;
using namespace secplat::scanners::secrets;

namespace {

struct Planted {
  std::string path;
  int first_line = 0, last_line = 0;
  std::string rule;
};

std::vector<Planted> read_planted(const std::string& tsv) {
  std::vector<Planted> out;
  std::ifstream in(tsv);
  Planted p;
  while (in >> p.path >> p.first_line >> p.last_line >> p.rule) out.push_back(p);
  return out;
}

int plant(const std::string& dir, int count, const std::string& tsv) {
  std::vector<std::string> files;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && !is_skipped_path(fs::relative(e.path(), dir).generic_string()))
      files.push_back(fs::relative(e.path(), dir).generic_string());
  std::sort(files.begin(), files.end());
  if (files.empty()) return 1;
  std::ofstream out(tsv);
  std::set<size_t> used;
  uint64_t x = 12345;
  for (int i = 0; i < count; ++i) {
    auto samples = testing::secret_samples(1000 + i);
    const auto& s = samples[i % samples.size()];
    size_t idx;
    do {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      idx = (x >> 33) % files.size();
    } while (used.count(idx) && used.size() < files.size());
    used.insert(idx);
    fs::path p = fs::path(dir) / files[idx];
    std::string content;
    {
      std::ifstream in(p, std::ios::binary);
      std::ostringstream ss;
      ss << in.rdbuf();
      content = ss.str();
    }
    if (!content.empty() && content.back() != '\n') content += '\n';
    int first = 1 + static_cast<int>(std::count(content.begin(), content.end(), '\n'));
    int last = first + static_cast<int>(std::count(s.text.begin(), s.text.end(), '\n'));
    std::ofstream(p, std::ios::binary | std::ios::trunc) << content << s.text << "\n";
    out << files[idx] << '\t' << first << '\t' << last << '\t' << s.rule_id << '\n';
  }
  return 0;
}

struct Run {
  double seconds;      // wall clock
  double cpu_seconds;  // user + system CPU of the process (less sensitive to a busy machine)
  ScanTreeResult result;
};

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

Run timed_scan(const SecretsEngine& e, const std::string& dir, unsigned threads) {
  ScanTreeOptions o;
  o.threads = threads;
  double c0 = process_cpu_seconds();
  auto t0 = std::chrono::steady_clock::now();
  auto r = e.scan_tree(dir, o, nullptr);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {s, process_cpu_seconds() - c0, std::move(r)};
}

double recall(const std::vector<Planted>& planted, const std::vector<SecretFinding>& found,
              std::map<std::string, int>* missed) {
  std::map<std::string, std::vector<int>> lines;
  for (const auto& f : found) lines[f.path].push_back(f.line);
  int hit = 0;
  for (const auto& p : planted) {
    bool ok = false;
    for (int l : lines[p.path]) ok |= l >= p.first_line && l <= p.last_line;
    if (ok) ++hit;
    else if (missed) ++(*missed)[p.rule];
  }
  return planted.empty() ? 1.0 : static_cast<double>(hit) / planted.size();
}

double read_only_seconds(const std::string& root);

int64_t read_all_bytes(const std::string& root) {
  int64_t n = 0;
  for (auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file() && !e.is_symlink()) n += static_cast<int64_t>(e.file_size());
  return n;
}

int scan(const std::string& dir, const std::string& tsv, unsigned threads) {
  auto compiled = SecretsEngine::compile_builtin();
  if (!compiled) {
    std::cerr << compiled.error().message << "\n";
    return 1;
  }
  const auto& e = **compiled;
  auto planted = read_planted(tsv);
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  timed_scan(e, dir, threads);  // warm the page cache
  Run one = timed_scan(e, dir, 1);
  Run all = timed_scan(e, dir, threads);
  std::map<std::string, int> missed;
  double rec = recall(planted, one.result.findings, &missed);
  double gb = one.result.bytes_scanned / 1e9;
  std::printf("secplat bytes=%lld files=%lld skipped=%lld findings=%zu planted=%zu\n",
              static_cast<long long>(one.result.bytes_scanned),
              static_cast<long long>(one.result.files_scanned),
              static_cast<long long>(one.result.files_skipped), one.result.findings.size(),
              planted.size());
  std::printf("secplat_1thread_gbps=%.3f\n", gb / one.seconds);
  std::printf("secplat_1thread_gb_per_cpu_s=%.3f\n", gb / one.cpu_seconds);
  std::printf("secplat_%uthreads_gbps=%.3f\n", threads, gb / all.seconds);
  double io = read_only_seconds(dir);
  std::printf("read_only_gbps=%.3f (walk, open and read every file, no scanning)\n",
              read_all_bytes(dir) / 1e9 / io);
  std::printf("secplat_recall=%.4f\n", rec);
  for (auto& [rule, n] : missed) std::printf("secplat_missed %s %d\n", rule.c_str(), n);
  if (one.result.findings.size() != all.result.findings.size()) {
    std::printf("MISMATCH between 1 and %u threads\n", threads);
    return 1;
  }
  return 0;
}

// The file system's share: the same readdir walk, openat (relative to each directory) and read
// of every file as the engine does, without scanning. On a tree of small files the kernel's
// per-file cost bounds any scanner's throughput.
double read_only_seconds(const std::string& root) {
  auto t0 = std::chrono::steady_clock::now();
  std::vector<char> buf(256 * 1024);
  std::vector<std::string> pending{root};
  while (!pending.empty()) {
    std::string dir = std::move(pending.back());
    pending.pop_back();
    DIR* d = ::opendir(dir.c_str());
    if (!d) continue;
    int dfd = ::dirfd(d);
    while (const dirent* de = ::readdir(d)) {
      std::string_view name = de->d_name;
      if (name == "." || name == "..") continue;
      if (de->d_type == DT_DIR) {
        pending.push_back(dir + "/" + std::string(name));
      } else if (de->d_type == DT_REG) {
        int fd = ::openat(dfd, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) continue;
        struct stat st {};
        if (::fstat(fd, &st) == 0)
          while (::read(fd, buf.data(), buf.size()) > 0) {
          }
        ::close(fd);
      }
    }
    ::closedir(d);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string read_all(const std::string& dir) {
  std::string all;
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    all += ss.str();
  }
  return all;
}

// Engine-only throughput: all files concatenated into one buffer (no file system in the loop),
// best of REPS (default 3) scans.
int buffer(const std::string& dir) {
  auto compiled = SecretsEngine::compile_builtin();
  if (!compiled) return 1;
  std::string all = read_all(dir);
  int reps = getenv("REPS") ? std::atoi(getenv("REPS")) : 3;
  std::vector<SecretFinding> found;
  double s = 1e9;
  for (int k = 0; k < reps; ++k) {
    auto t0 = std::chrono::steady_clock::now();
    found = (*compiled)->scan_buffer("all", all);
    s = std::min(s, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf("secplat_buffer_gbps=%.3f bytes=%zu findings=%zu\n", all.size() / 1e9 / s, all.size(),
              found.size());
  return 0;
}

std::string prefilter_of(const SecretRule& r) {
  return !r.start_marker.empty() ? r.start_marker : !r.prefilter.empty() ? r.prefilter : r.regex;
}

hs_database_t* compile_db(const std::vector<std::string>& exprs) {
  std::vector<const char*> ptrs;
  std::vector<unsigned> flags, ids;
  for (size_t k = 0; k < exprs.size(); ++k) {
    ptrs.push_back(exprs[k].c_str());
    flags.push_back(HS_FLAG_PREFILTER | HS_FLAG_MULTILINE | HS_FLAG_ALLOWEMPTY);  // as the engine
    ids.push_back(static_cast<unsigned>(k));
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(ptrs.data(), flags.data(), ids.data(), static_cast<unsigned>(ptrs.size()),
                       HS_MODE_BLOCK, nullptr, &db, &err) != HS_SUCCESS) {
    std::fprintf(stderr, "does not compile: %s\n", err->message);
    hs_free_compile_error(err);
    return nullptr;
  }
  return db;
}

// One scan of `all`; returns seconds, counts hits into *hits when given.
double scan_once(hs_database_t* db, const std::string& all, long* hits = nullptr) {
  hs_scratch_t* scratch = nullptr;
  hs_alloc_scratch(db, &scratch);
  long n = 0;
  auto t0 = std::chrono::steady_clock::now();
  hs_scan(db, all.data(), static_cast<unsigned>(all.size()), 0, scratch,
          [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
            ++*static_cast<long*>(ctx);
            return 0;
          },
          &n);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  hs_free_scratch(scratch);
  if (hits) *hits = n;
  return s;
}

// Where the prefilter time goes: the whole prefilter database, then each rule's pattern alone
// (extra seconds over a database of one pattern that never matches), most expensive first.
// Single-pattern costs do not add up (Hyperscan shares work), but they point at the outliers.
int rules(const std::string& dir) {
  std::string all = read_all(dir);
  std::vector<std::string> exprs;
  for (const auto& r : builtin_secret_rules()) exprs.push_back(prefilter_of(r));
  if (hs_database_t* db = compile_db(exprs)) {
    long hits = 0;
    double s = 1e9;
    for (int k = 0; k < 3; ++k) s = std::min(s, scan_once(db, all, &hits));
    std::printf("all %zu prefilters: %.4f s (%.2f GB/s), %ld hits\n", exprs.size(), s,
                all.size() / 1e9 / s, hits);
    hs_free_database(db);
  }
  auto single = [&](const std::string& e, long* hits) {
    hs_database_t* db = compile_db({e});
    if (!db) return -1.0;
    double s = 1e9;
    for (int k = 0; k < 3; ++k) s = std::min(s, scan_once(db, all, hits));
    hs_free_database(db);
    return s;
  };
  double base = single("zqxjzqxjzqxj", nullptr);
  std::vector<std::tuple<double, std::string, long>> rows;
  for (const auto& r : builtin_secret_rules()) {
    long hits = 0;
    rows.emplace_back(single(prefilter_of(r), &hits) - base, r.id, hits);
  }
  std::sort(rows.rbegin(), rows.rend());
  for (const auto& [s, id, hits] : rows) std::printf("%-40s %+.4f s %10ld hits\n", id.c_str(), s, hits);
  return 0;
}

// Tries prefilter changes: the built-in prefilter database against an edited one, scanned
// alternately (best of HSREPS, default 7) so the machine's noise hits both. Arguments: "-id"
// drops a rule, "id=PATTERN" replaces its prefilter, "+PATTERN" adds a pattern.
int edit(const std::string& dir, int argc, char** argv) {
  std::string all = read_all(dir);
  std::map<std::string, std::string> exprs;
  std::vector<std::string> extra;
  for (const auto& r : builtin_secret_rules()) exprs[r.id] = prefilter_of(r);
  auto patterns = [&] {
    std::vector<std::string> out;
    for (auto& [id, e] : exprs) out.push_back(e);
    for (auto& e : extra) out.push_back(e);
    return out;
  };
  auto before = patterns();
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    if (a.empty()) continue;
    if (a[0] == '-') exprs.erase(a.substr(1));
    else if (a[0] == '+') extra.push_back(a.substr(1));
    else if (a.find('=') != std::string::npos) exprs[a.substr(0, a.find('='))] = a.substr(a.find('=') + 1);
  }
  auto after = patterns();
  hs_database_t* a = compile_db(before);
  hs_database_t* b = compile_db(after);
  if (!a || !b) return 1;
  double ta = 1e9, tb = 1e9;
  int reps = getenv("HSREPS") ? std::atoi(getenv("HSREPS")) : 7;
  for (int k = 0; k < reps; ++k) {
    ta = std::min(ta, scan_once(a, all));
    tb = std::min(tb, scan_once(b, all));
  }
  std::printf("built-in: %.4f s (%.2f GB/s, %zu patterns)\nedited:   %.4f s (%.2f GB/s, %zu patterns)\n",
              ta, all.size() / 1e9 / ta, before.size(), tb, all.size() / 1e9 / tb, after.size());
  hs_free_database(a);
  hs_free_database(b);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[1]) == "buffer") return buffer(argv[2]);
  if (argc >= 3 && std::string(argv[1]) == "rules") return rules(argv[2]);
  if (argc >= 3 && std::string(argv[1]) == "edit") return edit(argv[2], argc, argv);
  if (argc >= 5 && std::string(argv[1]) == "plant") return plant(argv[2], std::atoi(argv[3]), argv[4]);
  if (argc >= 4 && std::string(argv[1]) == "scan")
    return scan(argv[2], argv[3], argc >= 5 ? static_cast<unsigned>(std::atoi(argv[4])) : 0);
  std::cerr << "usage: secrets_bench plant <dir> <count> <planted.tsv>\n"
               "       secrets_bench scan <dir> <planted.tsv> [threads]\n"
               "       secrets_bench buffer <dir>     engine alone on the files in one buffer\n"
               "       secrets_bench rules <dir>      prefilter cost per rule\n"
               "       secrets_bench edit <dir> [-id|id=PATTERN|+PATTERN]...  try prefilter changes\n";
  return 2;
}
