#include "app/scan_command.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <regex>
#include <thread>

#include "assurance/manifest.h"
#include "assurance/pipeline.h"
#include "assurance/scan_events.h"
#include "assurance/scan_store.h"
#include "assurance/signing_key.h"
#include "assurance/sources.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/encoding.h"
#include "core/log.h"
#include "crypto/ecdsa.h"
#include "scanners/tools/external_scanners.h"
#include "scanners/sbom/sbom_scanner.h"
#include "scanners/secrets/secrets_scanner.h"
#include "core/scratch.h"
#include "store/sqlite_db.h"

namespace fs = std::filesystem;

namespace secplat::app {
namespace {

using assurance::ScanRequest;

// Thresholds of the reference's `light` preset; used when no --manifest is given.
const Json kDefaultThresholds = {{"critical", 0}, {"high", 5}, {"medium", 50}};

std::atomic<int> g_interrupts{0};

extern "C" void on_interrupt(int sig) {
  if (g_interrupts.fetch_add(1) > 0) {  // a second Ctrl-C: stop at once
    ::signal(sig, SIG_DFL);
    ::raise(sig);
  }
}

int usage(const std::string& message) {
  std::cerr << "scan: " << message << "\n";
  return 2;
}

std::string error_text(const Error& e) {
  if (!e.fields.empty()) return e.fields.front().msg;
  return e.message;
}

// A temporary directory removed with this object.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::path(scratch::root()) / "secplat-scan-XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data())) path_ = buf.data();
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

bool is_git_url(const std::string& target) {
  if (target.find("://") != std::string::npos) return true;
  static const std::regex scp_like(R"(^[A-Za-z0-9._-]+@[A-Za-z0-9._-]+:.+)");
  return std::regex_search(target, scp_like);
}

std::string repo_name(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  auto cut = url.find_last_of("/:");
  std::string name = cut == std::string::npos ? url : url.substr(cut + 1);
  if (name.ends_with(".git")) name.resize(name.size() - 4);
  return name.empty() ? "repository" : name;
}

std::string seconds(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fs", static_cast<double>(ms) / 1000.0);
  return buf;
}

// Progress on stderr: on a terminal one line rewritten in place, otherwise one line per event.
class ProgressDisplay {
 public:
  ProgressDisplay() {
    const char* term = std::getenv("TERM");
    tty_ = ::isatty(STDERR_FILENO) == 1 && !(term && std::string(term) == "dumb");
  }

  void event(const std::string& event_json) {
    Json e = Json::parse(event_json, nullptr, false);
    if (!e.is_object()) return;
    std::string type = e.value("type", "");
    std::string line;
    if (type == "phase") {
      line = "[scan] " + e.value("message", "");
      auto list = [&](const char* key) {
        std::string items;
        for (const auto& t : e[key])
          if (t.is_string()) items += (items.empty() ? "" : ", ") + t.get<std::string>();
        return items;
      };
      if (e.contains("tools") && e["tools"].is_array()) {
        line += " (tools: " + list("tools");
        if (e.contains("not_installed") && e["not_installed"].is_array()) line += "; not installed: " + list("not_installed");
        line += ")";
      }
      if (e.value("sample_mode", false)) line += " [sample mode: canned findings]";
    } else if (type == "tool_start") {
      line = "[" + e.value("tool", "") + "] started";
    } else if (type == "tool_complete") {
      line = "[" + e.value("tool", "") + "] " + e.value("status", "") + " in " +
             seconds(e.value("duration_ms", int64_t{0})) + " (exit " + std::to_string(e.value("exit_code", 0)) + ")";
    } else if (type == "error") {
      line = "[scan] error: " + e.value("message", "");
    } else if (type == "log" && tty_) {
      line = "[" + e.value("tool", "") + "] " + e.value("line", "");
    } else {
      return;
    }
    std::lock_guard lk(mu_);
    if (tty_) {
      std::string shown = line.size() > width() ? line.substr(0, width() - 1) : line;
      std::cerr << "\r\033[2K" << shown << std::flush;
      dirty_ = true;
    } else {
      std::cerr << line << "\n" << std::flush;
    }
  }

  void message(const std::string& line) {
    std::lock_guard lk(mu_);
    clear_locked();
    std::cerr << line << "\n" << std::flush;
  }

  void finish() {
    std::lock_guard lk(mu_);
    clear_locked();
  }

 private:
  void clear_locked() {
    if (tty_ && dirty_) std::cerr << "\r\033[2K" << std::flush;
    dirty_ = false;
  }
  std::size_t width() const {
    winsize ws{};
    if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10) return ws.ws_col;
    return 80;
  }

  bool tty_ = false;
  bool dirty_ = false;
  std::mutex mu_;
};

void print_summary(const assurance::ScanRecord& rec, const std::string& bundle) {
  if (rec.tools.empty() && bundle.empty()) return;
  std::size_t w = 4;
  for (const auto& t : rec.tools) w = std::max(w, t.value("tool", std::string()).size());
  auto pad = [](std::string s, std::size_t n) {
    if (s.size() < n) s.append(n - s.size(), ' ');
    return s;
  };
  auto rpad = [](std::string s, std::size_t n) {
    if (s.size() < n) s.insert(0, n - s.size(), ' ');
    return s;
  };
  std::cout << pad("TOOL", w + 2) << pad("STATUS", 11) << rpad("FINDINGS", 8) << rpad("DURATION", 10) << "  NOTE\n";
  for (const auto& t : rec.tools) {
    std::string note = t.value("message", std::string());
    if (note.size() > 70) note = note.substr(0, 67) + "...";
    std::cout << pad(t.value("tool", std::string()), w + 2) << pad(t.value("status", std::string()), 11)
              << rpad(std::to_string(t.value("findings", int64_t{0})), 8)
              << rpad(seconds(t.value("duration_ms", int64_t{0})), 10) << "  " << note << "\n";
  }
  for (const auto& w2 : rec.warnings)
    if (w2.is_string()) std::cout << "warning: " << w2.get<std::string>() << "\n";
  if (rec.policy.is_object()) {
    bool passed = rec.policy.value("policy_passed", false);
    std::cout << "policy: " << (passed ? "PASSED" : "FAILED");
    if (!passed && rec.policy.contains("violations")) {
      std::string v;
      for (const auto& x : rec.policy["violations"]) v += (v.empty() ? "" : "; ") + x.get<std::string>();
      std::cout << " (" << v << ")";
    }
    std::cout << "\n";
  }
  if (!bundle.empty()) std::cout << "bundle: " << bundle << "\n";
}

Status move_dir(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (!ec) return ok_status();
  if (ec != std::errc::cross_device_link) return Error::internal("cannot move the bundle to " + to + ": " + ec.message());
  fs::copy(from, to, fs::copy_options::recursive, ec);
  if (ec) return Error::internal("cannot copy the bundle to " + to + ": " + ec.message());
  fs::remove_all(from, ec);
  return ok_status();
}

}  // namespace

int run_scan(const ScanCommandOptions& o) {
  // The pipeline's JSON log lines would drown the progress display; warnings still show.
  log::set_level(log::Level::warn);

  // 1. What to scan.
  ScanRequest req;
  req.workspace_id = "local";
  req.assessment_id = "cli";
  req.profile = o.profile;
  std::vector<std::string> roots;
  if (o.target.empty()) return usage("PATH or GIT_URL is required");
  if (is_git_url(o.target)) {
    req.source_type = "git";
    req.git_url = o.target;
    req.component_id = repo_name(o.target);
    if (o.target.starts_with("file://")) {
      std::string path = o.target.substr(7);
      std::error_code ec;
      if (!fs::is_directory(path, ec)) return usage(o.target + ": no such repository");
      roots.push_back(fs::canonical(path, ec).string());
    }
  } else {
    std::error_code ec;
    if (!fs::exists(o.target, ec)) return usage(o.target + ": no such file or directory");
    if (!fs::is_directory(o.target, ec)) return usage(o.target + ": not a directory");
    std::string abs = fs::canonical(o.target, ec).string();
    if (ec) return usage(o.target + ": " + ec.message());
    req.source_type = "directory";
    req.directory_path = abs;
    req.component_id = fs::path(abs).filename().string();
    if (req.component_id.empty()) req.component_id = "root";
    roots.push_back(abs);
  }
  AssuranceConfig limits;
  assurance::SourcePolicy sp{roots, limits.git_schemes, "", limits, ""};
  if (Status st = assurance::check_source(req, sp); !st) return usage(o.target + ": " + error_text(st.error()));

  // 2. The manifest, and the profile it must hold.
  std::vector<std::string> known = assurance::known_tool_ids();
  known.push_back("sample");
  if (!o.manifest_file.empty()) {
    auto text = assurance::read_small_file(o.manifest_file, 1 << 20);
    if (!text) return usage("cannot read manifest " + o.manifest_file + ": " + text.error().message);
    auto parsed = assurance::parse_manifest_text(*text);
    if (!parsed) return usage("manifest " + o.manifest_file + ": " + parsed.error().message);
    auto sel = assurance::select_tools(*parsed, o.profile, known);
    if (!sel) return usage("manifest " + o.manifest_file + ": " + sel.error().message);
    req.manifest = std::move(*parsed);
  } else {
    auto names = assurance::builtin_profile_names();
    if (std::find(names.begin(), names.end(), o.profile) == names.end()) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      return usage("unknown profile '" + o.profile + "' (built-in profiles: " + list + "; or pass --manifest)");
    }
    req.manifest = Json{{"profiles", Json::array({{{"name", o.profile}, {"tools", Json::array()},
                                                   {"thresholds", kDefaultThresholds}}})}};
  }

  // 3. Where the bundle goes, and the key that signs it.
  const std::string test_id = assurance::new_test_id();
  std::string out = o.out_dir.empty() ? "./secplat-scan-" + test_id : o.out_dir;
  {
    std::error_code ec;
    if (fs::exists(out, ec) && !(fs::is_directory(out, ec) && fs::is_empty(out, ec)))
      return usage("--out " + out + " already exists");
    out = fs::absolute(out, ec).lexically_normal().string();
    while (out.size() > 1 && out.back() == '/') out.pop_back();
    fs::create_directories(fs::path(out).parent_path(), ec);
    if (ec) return usage("--out " + out + ": " + ec.message());
  }
  crypto::EcKeyPair key;
  std::string pub_file;
  if (!o.key_file.empty()) {
    auto pem = assurance::read_small_file(o.key_file, 64 * 1024);
    if (!pem) return usage("cannot read key " + o.key_file + ": " + pem.error().message);
    auto pub = crypto::ec_public_from_private(*pem);
    if (!pub) return usage("key " + o.key_file + " is not an unencrypted P-256 private key (PKCS#8 PEM)");
    key = {*pem, *pub};
  } else {
    auto generated = crypto::ec_p256_generate();
    if (!generated) {
      std::cerr << "scan: cannot generate a signing key: " << generated.error().message << "\n";
      return 1;
    }
    key = std::move(*generated);
    pub_file = out + ".pub.pem";
    std::error_code ec;
    if (fs::exists(pub_file, ec)) return usage(pub_file + " already exists");
  }

  // 4. A private store, the pipeline and its scanners, in this run's scratch directory.
  if (auto scratch_dir = scratch::init(); !scratch_dir) {
    std::cerr << "scan: " << scratch_dir.error().message << "\n";
    return 1;
  }
  scratch::ReleaseAtExit scratch_release;
  TempDir data;
  if (data.path().empty()) {
    std::cerr << "scan: cannot create a temporary directory\n";
    return 1;
  }
  auto db = store::open_sqlite({data.path() + "/scan.db", 1, 5000});
  if (!db) {
    std::cerr << "scan: " << db.error().message << "\n";
    return 1;
  }
  if (Status st = store::migrate(**db, assurance::scan_migrations()); !st) {
    std::cerr << "scan: " << st.error().message << "\n";
    return 1;
  }
  SystemClock clock;
  assurance::ScanStore store(**db, clock);
  assurance::ScanEventLog events(store, clock);
  std::vector<std::shared_ptr<scanners::Scanner>> tools;
  tools.push_back(scanners::make_secrets_scanner());
  tools.push_back(scanners::make_sbom_scanner());
  for (auto& s : scanners::make_external_scanners(scanners::ToolLocator::from_environment(),
                                                  scanners::tool_sandbox_from(limits)))
    tools.push_back(std::move(s));
  assurance::PipelineOptions po{data.path(), roots, limits, key.private_pem, key.public_pem, data.path() + "/work"};
  assurance::ScanPipeline pipeline(store, events, clock, std::move(po), std::move(tools));

  assurance::ScanRecord rec;
  rec.test_id = test_id;
  rec.created_ms = clock.now_ms();
  rec.manifest_digest = sha256_hex(assurance::canonical_manifest_text(*req.manifest));
  if (const char* user = std::getenv("USER"); user && *user) req.requested_by = user;
  rec.request = std::move(req);
  if (Status st = store.insert(rec); !st) {
    std::cerr << "scan: " << st.error().message << "\n";
    return 1;
  }

  ProgressDisplay display;
  auto sub = events.subscribe(test_id, 0, [&display](const std::string& ev, bool) {
    display.event(ev);
    return true;
  });
  if (!sub) {
    std::cerr << "scan: " << sub.error().message << "\n";
    return 1;
  }

  // Ctrl-C / SIGTERM cancel the scan; a watcher thread turns the flag into a cancel request.
  g_interrupts = 0;
  struct sigaction sa {}, old_int {}, old_term {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, &old_int);
  ::sigaction(SIGTERM, &sa, &old_term);
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    bool requested = false;
    while (!done.load()) {
      if (g_interrupts.load() > 0 && !requested) {
        display.message("[scan] interrupted: cancelling (press Ctrl-C again to quit at once)");
        (void)store.cancel(test_id);  // as ScanService::cancel: the row first, then the running scan
        pipeline.request_cancel(test_id);
        requested = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  std::cerr << "scanning " << o.target << " (" << test_id << ", profile " << o.profile << ")\n";
  Status ran = pipeline.run(test_id);
  done = true;
  watcher.join();
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  (*sub)->cancel();
  display.finish();
  if (!ran) {
    std::cerr << "scan: " << ran.error().message << "\n";
    return 1;
  }
  auto final_rec = store.get(test_id);
  if (!final_rec || !*final_rec) {
    std::cerr << "scan: the scan record is gone\n";
    return 1;
  }
  const assurance::ScanRecord& done_rec = **final_rec;

  if (done_rec.status != assurance::kSucceeded) {
    print_summary(done_rec, "");
    if (done_rec.status == assurance::kCancelled || g_interrupts.load() > 0) {
      std::cout << "scan cancelled; no bundle written\n";
    } else {
      std::cout << "scan FAILED; no bundle written\n";
      for (const auto& e : done_rec.errors)
        if (e.is_string()) std::cout << "error: " << e.get<std::string>() << "\n";
    }
    return 1;
  }

  std::error_code ec;
  if (fs::exists(out, ec)) fs::remove(out, ec);  // the empty directory checked above
  if (Status st = move_dir(pipeline.bundle_dir(test_id), out); !st) {
    std::cerr << "scan: " << st.error().message << "\n";
    return 1;
  }
  print_summary(done_rec, out);
  if (!pub_file.empty()) {
    if (Status st = assurance::write_file_atomically(pub_file, key.public_pem, 0644); !st) {
      std::cerr << "scan: cannot write " << pub_file << ": " << st.error().message << "\n";
      return 1;
    }
    std::cout << "signed with an ephemeral key (not kept); public key: " << pub_file << "\n";
    std::cout << "verify: secplat verify " << out << " --key " << pub_file << "\n";
  } else {
    std::cout << "signed with " << o.key_file << " (key id " << crypto::ec_key_id(key.public_pem).substr(0, 16) << ")\n";
  }
  bool passed = done_rec.policy.is_object() && done_rec.policy.value("policy_passed", false);
  return passed ? 0 : 1;
}

}  // namespace secplat::app
