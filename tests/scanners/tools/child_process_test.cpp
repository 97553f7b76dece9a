// run_child() against real processes: exit codes, capture caps, a clean environment, and that
// cancellation, deadlines and a leader that exits early leave no process of the group behind.
#include "scanners/tools/child_process.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/clock.h"
#include "loopback_listener.h"

namespace fs = std::filesystem;

namespace secplat::scanners {
namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Gone = no /proc entry, or a zombie waiting for its (re)parent to reap it: it runs no more.
bool process_gone(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return true;
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return true;
  char state = stat[paren + 2];
  return state == 'Z' || state == 'X';
}

bool eventually(const std::function<bool()>& cond, int64_t timeout_ms = 5000) {
  int64_t until = steady_ms() + timeout_ms;
  while (steady_ms() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

int read_pid(const fs::path& file) {
  std::ifstream in(file);
  int pid = 0;
  in >> pid;
  return pid;
}

class ChildProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("secplat-child-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  ChildSpec sh(const std::string& script) {
    ChildSpec s;
    s.argv = {"/bin/sh", "-c", script};
    s.env = {"PATH=/usr/bin:/bin"};
    s.stdout_path = (dir / "out").string();
    s.stderr_path = (dir / "err").string();
    return s;
  }

  // run_child() from a process that switched to uid/gid 65534, as a server that dropped root would:
  // the exit code it ended with (the child's own, 90: could not switch, 91: run_child failed).
  static int run_as_nobody(const ChildSpec& spec) {
    pid_t pid = ::fork();
    if (pid < 0) return -1;
    if (pid == 0) {
      if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(90);
      auto r = run_child(spec);
      if (!r.ok()) std::fprintf(stderr, "%s\n", r.error().message.c_str());
      ::_exit(!r.ok() ? 91 : r->exit_code);
    }
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
  }

  fs::path dir;
};

TEST_F(ChildProcessTest, CapturesOutputAndExitCode) {
  auto r = run_child(sh("echo hello; echo oops >&2; exit 3"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->end, ChildResult::End::exited);
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(slurp(dir / "out"), "hello\n");
  EXPECT_EQ(slurp(dir / "err"), "oops\n");
}

TEST_F(ChildProcessTest, StdinIsDevNullAndEnvironmentIsOnlyWhatWasGiven) {
  ::setenv("SECPLAT_TEST_SECRET", "do-not-leak", 1);
  auto spec = sh("cat; env");
  spec.env = {"PATH=/usr/bin:/bin", "ONLY_THIS=1"};
  auto r = run_child(spec);
  ::unsetenv("SECPLAT_TEST_SECRET");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
  std::string out = slurp(dir / "out");
  EXPECT_NE(out.find("ONLY_THIS=1"), std::string::npos);
  EXPECT_EQ(out.find("SECPLAT_TEST_SECRET"), std::string::npos);
}

TEST_F(ChildProcessTest, OutputBeyondTheCapIsDroppedWithoutBlockingTheChild) {
  auto spec = sh("head -c 3000000 /dev/zero; echo done >&2");
  spec.max_output_bytes = 1000;
  auto r = run_child(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_TRUE(r->stdout_truncated);
  EXPECT_FALSE(r->stderr_truncated);
  EXPECT_EQ(fs::file_size(dir / "out"), 1000u);
  EXPECT_EQ(slurp(dir / "err"), "done\n");
}

TEST_F(ChildProcessTest, CrashIsReportedAsSignal) {
  auto r = run_child(sh("kill -SEGV $$"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->end, ChildResult::End::signaled);
  EXPECT_EQ(r->signal, SIGSEGV);
  EXPECT_EQ(describe_signal(SIGSEGV), "killed by signal 11 (SIGSEGV)");
}

TEST_F(ChildProcessTest, MissingProgramIsAnError) {
  ChildSpec s;
  s.argv = {"/nonexistent/tool"};
  auto r = run_child(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "cannot start /nonexistent/tool: No such file or directory");
}

TEST_F(ChildProcessTest, SandboxedChildHasNoNetwork) {
  test::LoopbackListener listener;
  ASSERT_GT(listener.port(), 0);
  ChildSpec spec = sh("");
  spec.argv = {"/bin/bash", "-c", test::connect_script(listener.port()) + "; id -u"};

  auto open = run_child(spec);
  ASSERT_TRUE(open.ok()) << open.error().message;
  EXPECT_EQ(slurp(dir / "out"), "reached\n" + std::to_string(::geteuid()) + "\n");

  spec.sandbox.isolate_network = true;
  auto isolated = run_child(spec);
  ASSERT_TRUE(isolated.ok()) << isolated.error().message;
  EXPECT_EQ(isolated->exit_code, 0);
  EXPECT_EQ(slurp(dir / "out"), "unreachable\n" + std::to_string(::geteuid()) + "\n");
  EXPECT_NE(slurp(dir / "err").find("Network is unreachable"), std::string::npos) << slurp(dir / "err");
}

TEST_F(ChildProcessTest, UnprivilegedUserGetsTheNetworkSandboxToo) {
  // Without CAP_SYS_ADMIN the network namespace sits in a user namespace that maps only the
  // caller's own ids: the tool still runs as that user and its files belong to it.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to an unprivileged user";
  test::LoopbackListener listener;
  ASSERT_GT(listener.port(), 0);
  fs::permissions(dir, fs::perms::all);
  ChildSpec spec = sh("");
  spec.argv = {"/bin/bash", "-c", test::connect_script(listener.port()) + "; id -u; touch made-by-tool"};
  spec.cwd = dir.string();
  spec.sandbox.isolate_network = true;
  ASSERT_EQ(run_as_nobody(spec), 0) << slurp(dir / "err");
  EXPECT_EQ(slurp(dir / "out"), "unreachable\n65534\n");
  struct stat st {};
  ASSERT_EQ(::stat((dir / "made-by-tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
}

// What a tool can see of the server's files: a data directory (keys, database) and the scratch
// directory (other scans' checkouts) are empty and read-only to it; its own source and work
// directories, inside the scratch one, are there as they are, the work directory writable.
class HiddenDirectoriesTest : public ChildProcessTest {
 protected:
  void SetUp() override {
    ChildProcessTest::SetUp();
    for (const char* d : {"data/keys", "scratch/scan-a/src/lib", "scratch/scan-a/work", "scratch/scan-b/src"})
      fs::create_directories(dir / d);
    write_file(dir / "data/keys/signing.key", "PRIVATE KEY\n");
    write_file(dir / "scratch/scan-a/src/lib/code.c", "int main() {}\n");
    write_file(dir / "scratch/scan-b/src/other.c", "tenant b\n");
    for (auto& e : fs::recursive_directory_iterator(dir)) fs::permissions(e.path(), fs::perms::all);
    fs::permissions(dir, fs::perms::all);
  }
  static void write_file(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }
  ChildSpec tool() {
    // Each probe prints one word; the tool runs in its source directory, as external tools do.
    ChildSpec spec = sh(
        "cat ../../../data/keys/signing.key 2>/dev/null || echo no-key; "
        "ls ../../../data | wc -l; "
        "cat ../../scan-b/src/other.c 2>/dev/null || echo no-other-scan; "
        "cat lib/code.c; "
        "echo report > ../work/report.json && echo wrote-work; "
        "touch ../../../data/planted 2>/dev/null && echo planted || echo data-read-only; "
        "touch ../../planted 2>/dev/null && echo planted || echo scratch-read-only; "
        "touch lib/new.c 2>/dev/null && echo source-writable || echo source-read-only");
    spec.cwd = (dir / "scratch/scan-a/src").string();
    spec.sandbox.isolate_network = true;
    spec.sandbox.hidden = {(dir / "data").string(), (dir / "scratch").string()};
    spec.sandbox.visible = {(dir / "scratch/scan-a/src").string(), (dir / "scratch/scan-a/work").string()};
    return spec;
  }
  static constexpr const char* kSeen =
      "no-key\n0\nno-other-scan\nint main() {}\nwrote-work\ndata-read-only\nscratch-read-only\n"
      "source-writable\n";
  void expect_host_unchanged() {
    EXPECT_EQ(slurp(dir / "data/keys/signing.key"), "PRIVATE KEY\n");  // the host's view is untouched
    EXPECT_EQ(slurp(dir / "scratch/scan-a/work/report.json"), "report\n");
    EXPECT_TRUE(fs::exists(dir / "scratch/scan-a/src/lib/new.c"));
    EXPECT_FALSE(fs::exists(dir / "data/planted"));
    EXPECT_FALSE(fs::exists(dir / "scratch/planted"));
  }
};

TEST_F(HiddenDirectoriesTest, TheToolSeesItsOwnDirectoriesAndNothingElseOfTheServers) {
  auto r = run_child(tool());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->exit_code, 0) << slurp(dir / "err");
  EXPECT_EQ(slurp(dir / "out"), kSeen);
  expect_host_unchanged();
  // Without the list, the same tool sees everything: the probes above can tell.
  auto open = tool();
  open.sandbox.hidden.clear();
  ASSERT_TRUE(run_child(open).ok());
  EXPECT_EQ(slurp(dir / "out").rfind("PRIVATE KEY\n", 0), 0u) << slurp(dir / "out");
}

TEST_F(HiddenDirectoriesTest, AnUnprivilegedServerHidesThemToo) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch to an unprivileged user";
  ASSERT_EQ(run_as_nobody(tool()), 0) << slurp(dir / "err");
  EXPECT_EQ(slurp(dir / "out"), kSeen);
  expect_host_unchanged();
}

TEST_F(HiddenDirectoriesTest, ADataDirectoryInsideTheSourceIsHiddenToo) {
  // e.g. a server started in the directory it is asked to scan, with the default ./.secplat
  fs::create_directories(dir / "scratch/scan-a/src/.secplat/keys");
  write_file(dir / "scratch/scan-a/src/.secplat/keys/signing.key", "PRIVATE KEY\n");
  ChildSpec spec = sh("ls -A .secplat | wc -l; cat lib/code.c; touch .secplat/x 2>/dev/null && echo planted || echo ro");
  spec.cwd = (dir / "scratch/scan-a/src").string();
  spec.sandbox.isolate_network = true;
  spec.sandbox.hidden = {(dir / "scratch/scan-a/src/.secplat").string()};
  spec.sandbox.visible = {(dir / "scratch/scan-a/src").string()};
  auto r = run_child(spec);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(slurp(dir / "out"), "0\nint main() {}\nro\n") << slurp(dir / "err");
}

// A descendant that leaves the process group (setsid) outlives a tool run without the namespaces;
// with them it dies with the tool, because the tool's PID namespace ends with it. The tool is not
// the namespace's init, so a deadline's SIGTERM still reaches it, and its exit code and the
// signal that killed it come back as they were.
TEST_F(ChildProcessTest, ThePidNamespaceEndsDescendantsThatLeftTheGroup) {
  const fs::path heart = dir / "heartbeat";
  const fs::path pidfile = dir / "escapee.pid";
  // The escapee rewrites `heart` every 50 ms for as long as it lives.
  ChildSpec spec = sh("setsid sh -c 'while :; do date +%s%N > " + heart.string() + "; sleep 0.05; done' & echo $! > " +
                      pidfile.string() + "; sleep 0.3; exit 3");
  // `>` truncates before it writes: a read can find the file empty mid-beat.
  auto read_beat = [&] {
    std::string beat;
    eventually([&] { return !(beat = slurp(heart)).empty(); }, 1000);
    return beat;
  };
  auto beating = [&] {
    const std::string before = read_beat();
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    return !before.empty() && read_beat() != before;
  };

  auto loose = run_child(spec);
  ASSERT_TRUE(loose.ok()) << loose.error().message;
  EXPECT_EQ(loose->exit_code, 3);
  const int escapee = read_pid(pidfile);
  ASSERT_GT(escapee, 0);
  const bool survived = beating();
  ::kill(escapee, SIGKILL);
  EXPECT_TRUE(survived) << "without the namespace the escapee should have outlived the tool";

  fs::remove(heart);
  spec.sandbox.isolate_network = true;
  auto contained = run_child(spec);
  ASSERT_TRUE(contained.ok()) << contained.error().message;
  EXPECT_EQ(contained->end, ChildResult::End::exited);
  EXPECT_EQ(contained->exit_code, 3);
  EXPECT_FALSE(beating()) << "the escapee outlived the tool in its PID namespace";
  EXPECT_TRUE(process_gone(contained->pid));

  // The tool sees itself as a process of the namespace, not its init (PID 2).
  spec = sh("echo $$");
  spec.sandbox.isolate_network = true;
  auto pid = run_child(spec);
  ASSERT_TRUE(pid.ok());
  EXPECT_EQ(slurp(dir / "out"), "2\n");

  spec = sh("kill -SEGV $$");
  spec.sandbox.isolate_network = true;
  auto crash = run_child(spec);
  ASSERT_TRUE(crash.ok());
  EXPECT_EQ(crash->end, ChildResult::End::signaled);
  EXPECT_EQ(crash->signal, SIGSEGV);

  spec = sh("sleep 300");
  spec.sandbox.isolate_network = true;
  spec.deadline_ms = steady_ms() + 300;
  const int64_t t0 = steady_ms();
  auto hung = run_child(spec);
  ASSERT_TRUE(hung.ok());
  EXPECT_EQ(hung->end, ChildResult::End::timeout);
  EXPECT_EQ(hung->signal, SIGTERM) << "SIGTERM did not reach the tool";
  EXPECT_LT(steady_ms() - t0, 5000);
}

// A tool allowed the network (assurance.tool_network_allow) still gets a PID namespace of its own
// where the host allows one: what it started ends with it, and it keeps the host's network.
TEST_F(ChildProcessTest, AToolWithTheNetworkStillHasItsOwnPidNamespace) {
  const fs::path heart = dir / "heartbeat";
  ChildSpec spec = sh("setsid sh -c 'while :; do date +%s%N > " + heart.string() +
                      "; sleep 0.05; done' & sleep 0.3; echo $$; cat /proc/net/dev | grep -c ':'; exit 4");
  spec.sandbox.isolate_processes = true;
  auto r = run_child(spec);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->end, ChildResult::End::exited);
  EXPECT_EQ(r->exit_code, 4);
  const std::string out = slurp(dir / "out");
  EXPECT_TRUE(out.starts_with("2\n")) << out;
  // The host's interfaces are visible (a network namespace of its own would show only lo).
  int host_interfaces = 0;
  {
    std::ifstream dev("/proc/net/dev");
    for (std::string line; std::getline(dev, line);)
      if (line.find(':') != std::string::npos) host_interfaces++;
  }
  EXPECT_EQ(out.substr(2), std::to_string(host_interfaces) + "\n");
  ASSERT_TRUE(fs::exists(heart)) << "the escapee never ran";
  std::string before = slurp(heart);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(slurp(heart), before) << "the escapee outlived the tool";
  EXPECT_TRUE(process_gone(r->pid));
}

TEST_F(ChildProcessTest, SandboxLimitsMemoryFileSizeCoreDumpsAndPrivileges) {
  ChildSpec spec = sh("ulimit -c; grep NoNewPrivs /proc/self/status");
  auto r = run_child(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(slurp(dir / "out"), "0\nNoNewPrivs:\t1\n");

  // 512 MB fits without a limit and not under 256 MB of address space.
  spec.argv = {"/usr/bin/python3", "-c", "b = bytearray(512 << 20); print(len(b))"};
  r = run_child(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0) << slurp(dir / "err");
  spec.sandbox.max_memory_bytes = 256ull << 20;
  r = run_child(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 1);
  EXPECT_NE(slurp(dir / "err").find("MemoryError"), std::string::npos) << slurp(dir / "err");

  // A file written past the limit stops at it, and the writer gets SIGXFSZ.
  spec.argv = {"/bin/dd", "if=/dev/zero", "of=" + (dir / "big").string(), "bs=1M", "count=3"};
  spec.sandbox.max_file_bytes = 1u << 20;
  r = run_child(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->end, ChildResult::End::signaled);
  EXPECT_EQ(r->signal, SIGXFSZ);
  EXPECT_EQ(fs::file_size(dir / "big"), 1u << 20);
}

TEST_F(ChildProcessTest, AFailedSandboxStepIsAnErrorNamingIt) {
  ChildSpec spec = sh("echo never");
  spec.cwd = (dir / "missing").string();
  auto r = run_child(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "cannot start /bin/sh: sandbox: working directory: No such file or directory");
  EXPECT_EQ(slurp(dir / "out"), "");
}

TEST_F(ChildProcessTest, CancelKillsTheWholeProcessGroup) {
  // The child starts a grandchild that ignores SIGTERM (as does the child): only the SIGKILL
  // after the grace period ends them, and both must be gone.
  fs::path pidfile = dir / "grandchild.pid";
  auto spec = sh("trap '' TERM; sleep 300 & echo $! > '" + pidfile.string() + "'; wait");
  std::atomic<bool> cancelled{false};
  spec.cancelled = &cancelled;
  spec.kill_grace_ms = 200;
  std::thread canceller([&] {
    eventually([&] { return read_pid(pidfile) > 0; });
    cancelled = true;
  });
  int64_t t0 = steady_ms();
  auto r = run_child(spec);
  canceller.join();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->end, ChildResult::End::cancelled);
  EXPECT_EQ(r->signal, SIGKILL);
  EXPECT_LT(steady_ms() - t0, 10000);
  int grandchild = read_pid(pidfile);
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(process_gone(r->pid));
  EXPECT_TRUE(eventually([&] { return process_gone(grandchild); })) << "grandchild " << grandchild << " survived";
}

TEST_F(ChildProcessTest, DeadlineEndsAHangingChildAndItsChildren) {
  fs::path pidfile = dir / "grandchild.pid";
  auto spec = sh("sleep 300 & echo $! > '" + pidfile.string() + "'; wait");
  spec.deadline_ms = steady_ms() + 500;
  auto r = run_child(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->end, ChildResult::End::timeout);
  EXPECT_EQ(r->signal, SIGTERM);
  int grandchild = read_pid(pidfile);
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(eventually([&] { return process_gone(grandchild); })) << "grandchild " << grandchild << " survived";
}

TEST_F(ChildProcessTest, LeftoversOfAChildThatExitedAreKilled) {
  // The leader exits at once but leaves a background process holding its stdout open: run_child
  // must neither wait for it nor let it live on.
  fs::path pidfile = dir / "grandchild.pid";
  int64_t t0 = steady_ms();
  auto r = run_child(sh("sleep 300 & echo $! > '" + pidfile.string() + "'; echo bye; exit 0"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->end, ChildResult::End::exited);
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_LT(steady_ms() - t0, 10000);
  EXPECT_EQ(slurp(dir / "out"), "bye\n");
  int grandchild = read_pid(pidfile);
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(eventually([&] { return process_gone(grandchild); })) << "grandchild " << grandchild << " survived";
}

}  // namespace
}  // namespace secplat::scanners
