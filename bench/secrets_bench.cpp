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

#include <sys/resource.h>

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
  std::printf("secplat_recall=%.4f\n", rec);
  for (auto& [rule, n] : missed) std::printf("secplat_missed %s %d\n", rule.c_str(), n);
  if (one.result.findings.size() != all.result.findings.size()) {
    std::printf("MISMATCH between 1 and %u threads\n", threads);
    return 1;
  }
  return 0;
}

}  // namespace

// Engine-only throughput: all files concatenated into one buffer (no file system in the loop).
int buffer(const std::string& dir) {
  auto compiled = SecretsEngine::compile_builtin();
  if (!compiled) return 1;
  std::string all;
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    all += ss.str();
  }
  auto t0 = std::chrono::steady_clock::now();
  auto found = (*compiled)->scan_buffer("all", all);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("secplat_buffer_gbps=%.3f bytes=%zu findings=%zu\n", all.size() / 1e9 / s, all.size(), found.size());
  return 0;
}

int main(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[1]) == "buffer") return buffer(argv[2]);
  if (argc >= 5 && std::string(argv[1]) == "plant") return plant(argv[2], std::atoi(argv[3]), argv[4]);
  if (argc >= 4 && std::string(argv[1]) == "scan")
    return scan(argv[2], argv[3], argc >= 5 ? static_cast<unsigned>(std::atoi(argv[4])) : 0);
  std::cerr << "usage: secrets_bench plant <dir> <count> <planted.tsv>\n"
               "       secrets_bench scan <dir> <planted.tsv> [threads]\n";
  return 2;
}
