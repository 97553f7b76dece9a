#include "scanners/tools/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sched.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "core/clock.h"

namespace secplat::scanners {
namespace {

// A file descriptor closed on scope exit.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// One captured stream: pipe read end → capped file.
struct Capture {
  Fd pipe_read;
  Fd file;
  uint64_t written = 0;
  bool truncated = false;
  bool open = true;  // until EOF on the pipe
};

void write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;  // a full disk loses output, never the child
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// Reads what is available; returns false at EOF.
bool pump(Capture& c, uint64_t cap) {
  char buf[65536];
  for (;;) {
    ssize_t r = ::read(c.pipe_read.get(), buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    if (r == 0) return false;
    size_t n = static_cast<size_t>(r);
    if (c.file.get() >= 0 && c.written < cap) {
      size_t keep = static_cast<size_t>(std::min<uint64_t>(n, cap - c.written));
      write_all(c.file.get(), buf, keep);
      c.written += keep;
      if (keep < n) c.truncated = true;
    } else if (c.written >= cap && c.file.get() >= 0) {
      c.truncated = true;
    }
    if (n < sizeof buf) return true;  // likely drained; poll again
  }
}

// Polls the open captures for up to `timeout_ms` and pumps what arrived.
void pump_for(Capture* caps, int n, uint64_t cap, int timeout_ms) {
  pollfd fds[2];
  int idx[2];
  int count = 0;
  for (int i = 0; i < n; ++i) {
    if (!caps[i].open) continue;
    fds[count] = {caps[i].pipe_read.get(), POLLIN, 0};
    idx[count++] = i;
  }
  if (count == 0) {
    if (timeout_ms > 0) ::poll(nullptr, 0, timeout_ms);
    return;
  }
  int r = ::poll(fds, static_cast<nfds_t>(count), timeout_ms);
  if (r <= 0) return;
  for (int k = 0; k < count; ++k) {
    if (fds[k].revents == 0) continue;
    if (!pump(caps[idx[k]], cap)) caps[idx[k]].open = false;
  }
}

Result<int> open_output(const std::string& path) {
  if (path.empty()) return -1;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error::internal("cannot open " + path + ": " + ::strerror(errno));
  return fd;
}

// Moves `fd` (closed here) to a close-on-exec descriptor above 0..2 held by `into`, so setting up
// the child's stdio can never overwrite it.
Status above_stdio(int fd, const char* what, Fd& into) {
  if (fd < 0) return Error::internal(std::string("cannot open ") + what + ": " + ::strerror(errno));
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int err = errno;
  ::close(fd);
  if (moved < 0) return Error::internal(std::string("cannot duplicate ") + what + ": " + ::strerror(err));
  into.reset(moved);
  return ok_status();
}

// Setup steps of a child; the one that fails is reported to the parent with its errno.
enum Step : int { kStdio, kGroup, kDeathSignal, kNoNewPrivs, kLimits, kNetwork, kUserMap, kPidInit, kMounts, kChdir, kExec };

const char* step_name(int step) {
  switch (step) {
    case kStdio: return "standard streams";
    case kGroup: return "process group";
    case kDeathSignal: return "parent-death signal";
    case kNoNewPrivs: return "no-new-privileges";
    case kLimits: return "resource limits";
    case kNetwork: return "network namespace";
    case kUserMap: return "user namespace id map";
    case kPidInit: return "process namespace";
    case kMounts: return "hiding directories";
    case kChdir: return "working directory";
    default: return "exec";
  }
}

struct ChildFailure {
  int step = 0;
  int err = 0;
};

// In the child (async-signal-safe calls only): reports the failed step and exits.
[[noreturn]] void child_fail(int report_fd, int step) {
  ChildFailure f{step, errno};
  ssize_t ignored = ::write(report_fd, &f, sizeof f);
  (void)ignored;
  ::_exit(127);
}

bool write_proc_file(const char* path, const std::string& text) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t w = ::write(fd, text.data(), text.size());
  int err = errno;
  ::close(fd);
  errno = err;
  return w == static_cast<ssize_t>(text.size());
}

// Lowers one limit (never above the hard limit the process already has).
bool lower_limit(int resource, uint64_t value) {
  rlimit cur{};
  if (::getrlimit(resource, &cur) != 0) return false;
  rlim_t v = static_cast<rlim_t>(value);
  if (cur.rlim_max != RLIM_INFINITY && v > cur.rlim_max) v = cur.rlim_max;
  rlimit next{v, v};
  return ::setrlimit(resource, &next) == 0;
}

// In the child, after it made a PID namespace: it stays outside (only its next child is inside),
// so it becomes a relay. It forks the namespace's init, which forks the tool (so the tool is not
// PID 1, which would ignore signals it has no handler for, SIGTERM included) and passes the
// tool's wait status up a pipe. When init exits, the kernel SIGKILLs whatever is left in the
// namespace, setsid() or not. The relay ends the way the tool did. Returns only in the tool.
void enter_pid_namespace(int rep) {
  int status_pipe[2];
  if (::pipe2(status_pipe, O_CLOEXEC) != 0) child_fail(rep, kPidInit);
  pid_t init = ::fork();
  if (init < 0) child_fail(rep, kPidInit);
  if (init > 0) {  // the relay, outside the namespace
    ::close(rep);
    ::close(status_pipe[1]);
    int status = 0;
    ssize_t got;
    do {
      got = ::read(status_pipe[0], &status, sizeof status);
    } while (got < 0 && errno == EINTR);
    int init_status = 0;
    while (::waitpid(init, &init_status, 0) < 0 && errno == EINTR) {
    }
    if (got != static_cast<ssize_t>(sizeof status)) status = init_status;  // init itself was killed
    if (WIFEXITED(status)) ::_exit(WEXITSTATUS(status));
    const int sig = WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL;
    sigset_t just;
    sigemptyset(&just);
    sigaddset(&just, sig);
    ::kill(::getpid(), sig);
    ::sigprocmask(SIG_UNBLOCK, &just, nullptr);  // delivered here (default action: terminate)
    ::_exit(128 + sig);
  }
  // init (PID 1): dies with the relay; reaps the tool and reports how it ended.
  ::close(status_pipe[0]);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) child_fail(rep, kPidInit);
  pid_t tool = ::fork();
  if (tool < 0) child_fail(rep, kPidInit);
  if (tool > 0) {
    ::close(rep);
    int status = 0;
    while (::waitpid(tool, &status, 0) < 0 && errno == EINTR) {
    }
    ssize_t ignored = ::write(status_pipe[1], &status, sizeof status);
    (void)ignored;
    ::_exit(0);
  }
  ::close(status_pipe[1]);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) child_fail(rep, kPidInit);
}

// How the child hides directories (ChildSandbox::hidden), worked out before the fork: the child
// of a threaded process may only make system calls.
struct HidePlan {
  std::vector<std::string> outer;  // covered first, then read-only once the visible ones are back
  std::vector<std::string> inner;  // hidden directories inside a visible one: covered after it is back
  std::vector<std::string> mkdirs;  // mount points made in the covering tmpfs, parents first
  // The visible directories under a covered one: the child opens each (O_PATH, once in its own
  // mount namespace: a bind mount's source must be in the caller's) as descriptor base + i, covers,
  // and binds /proc/self/fd/<base + i> back at its path.
  std::vector<std::string> keep_at;
  std::vector<std::string> keep_src;
  int base = 0;
  bool any() const { return !outer.empty() || !inner.empty(); }
};

bool is_under(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/';
}

HidePlan plan_hiding(const ChildSandbox& box, int rep) {
  namespace fs = std::filesystem;
  HidePlan plan;
  auto canonical_dir = [](const std::string& p) -> std::string {
    std::error_code ec;
    if (p.empty() || p[0] != '/') return {};
    fs::path c = fs::canonical(p, ec);
    if (ec || !fs::is_directory(c, ec)) return {};
    return c.string();
  };
  std::vector<std::string> visible;
  for (const auto& v : box.visible)
    if (auto c = canonical_dir(v); !c.empty()) visible.push_back(c);
  std::vector<std::string> hidden;
  for (const auto& h : box.hidden) {
    auto c = canonical_dir(h);
    if (c.empty() || c == "/") continue;
    // A directory the child needs is never covered whole (its contents stay, others' are hidden).
    if (std::find(visible.begin(), visible.end(), c) != visible.end()) continue;
    hidden.push_back(c);
  }
  std::sort(hidden.begin(), hidden.end());
  hidden.erase(std::unique(hidden.begin(), hidden.end()), hidden.end());
  for (const auto& h : hidden) {
    bool covered = std::any_of(hidden.begin(), hidden.end(), [&](const std::string& o) { return is_under(h, o); });
    bool in_visible = std::any_of(visible.begin(), visible.end(), [&](const std::string& v) { return is_under(h, v); });
    if (in_visible) {
      plan.inner.push_back(h);  // after the visible directory holding it is bound back
    } else if (!covered) {
      plan.outer.push_back(h);
    }
  }
  for (const auto& v : visible) {
    auto h = std::find_if(plan.outer.begin(), plan.outer.end(), [&](const std::string& o) { return is_under(v, o); });
    if (h == plan.outer.end()) continue;
    plan.keep_at.push_back(v);
    for (std::size_t at = h->size() + 1; at <= v.size(); ++at)
      if (at == v.size() || v[at] == '/') plan.mkdirs.push_back(v.substr(0, at));
  }
  plan.base = rep + 1;  // the child has closed every descriptor above rep by then
  for (std::size_t i = 0; i < plan.keep_at.size(); ++i)
    plan.keep_src.push_back("/proc/self/fd/" + std::to_string(plan.base + static_cast<int>(i)));
  return plan;
}

// In the child, inside its own mount namespace: covers, binds back, makes the covers read-only.
void hide_directories(const HidePlan& plan, int rep) {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) child_fail(rep, kMounts);
  for (std::size_t i = 0; i < plan.keep_at.size(); ++i) {
    const int fd = ::open(plan.keep_at[i].c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    const int at = plan.base + static_cast<int>(i);
    if (fd < 0 || (fd != at && ::dup2(fd, at) < 0)) child_fail(rep, kMounts);
    if (fd != at) ::close(fd);
  }
  const unsigned long cover = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  for (const auto& h : plan.outer)
    if (::mount("tmpfs", h.c_str(), "tmpfs", cover, "size=64k,mode=0755") != 0) child_fail(rep, kMounts);
  for (const auto& d : plan.mkdirs)
    if (::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) child_fail(rep, kMounts);
  for (std::size_t i = 0; i < plan.keep_at.size(); ++i)
    if (::mount(plan.keep_src[i].c_str(), plan.keep_at[i].c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      child_fail(rep, kMounts);
  for (const auto& h : plan.outer)
    if (::mount(nullptr, h.c_str(), nullptr, MS_REMOUNT | MS_RDONLY | cover, nullptr) != 0) child_fail(rep, kMounts);
  for (const auto& h : plan.inner)
    if (::mount("tmpfs", h.c_str(), "tmpfs", MS_RDONLY | cover, "size=4k,mode=0555") != 0) child_fail(rep, kMounts);
  if (!plan.keep_at.empty())
    ::close_range(static_cast<unsigned>(plan.base), static_cast<unsigned>(plan.base + plan.keep_at.size() - 1), 0);
}

// Forks and execs the child with its stdio on /dev/null and the two pipes, inside the sandbox.
// Returns once the program is running (or failed to start: then the child is reaped and the
// failed step is the error).
Result<pid_t> spawn(const ChildSpec& spec, char* const* argv, char* const* envp, int out_write, int err_write) {
  Fd devnull, out, err, report_read, report_write;
  SECPLAT_TRY(above_stdio(::open("/dev/null", O_RDONLY | O_CLOEXEC), "/dev/null", devnull));
  SECPLAT_TRY(above_stdio(::fcntl(out_write, F_DUPFD_CLOEXEC, 0), "stdout pipe", out));
  SECPLAT_TRY(above_stdio(::fcntl(err_write, F_DUPFD_CLOEXEC, 0), "stderr pipe", err));
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return Error::internal(std::string("pipe: ") + ::strerror(errno));
  report_read.reset(report[0]);
  SECPLAT_TRY(above_stdio(report[1], "report pipe", report_write));

  // Prepared here: the child of a threaded process may only make system calls.
  const pid_t parent = ::getpid();
  const std::string uid_map = std::to_string(::geteuid()) + " " + std::to_string(::geteuid()) + " 1\n";
  const std::string gid_map = std::to_string(::getegid()) + " " + std::to_string(::getegid()) + " 1\n";
  const std::string deny = "deny";
  const ChildSandbox& box = spec.sandbox;
  const char* cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
  const int devnull_fd = devnull.get(), out_fd = out.get(), err_fd = err.get(), rep = report_write.get();
  const HidePlan hide = plan_hiding(box, rep);

  // No handler of the parent may run in the child before its dispositions are reset.
  sigset_t all, saved;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &saved);
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::dup2(devnull_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0) child_fail(rep, kStdio);
    if (rep > 3) ::close_range(3, static_cast<unsigned>(rep - 1), 0);
    ::close_range(static_cast<unsigned>(rep + 1), ~0u, 0);
    if (::setpgid(0, 0) != 0) child_fail(rep, kGroup);
    // The parent may ignore SIGPIPE or handle SIGTERM (servers do); the tool must not inherit that.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int s = 1; s < SIGRTMIN; ++s)
      if (s != SIGKILL && s != SIGSTOP) ::sigaction(s, &dfl, nullptr);
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) child_fail(rep, kDeathSignal);
    if (::getppid() != parent) ::_exit(127);  // the starting thread is already gone
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(rep, kNoNewPrivs);
    if (!lower_limit(RLIMIT_CORE, 0)) child_fail(rep, kLimits);
    if (box.max_memory_bytes > 0 && !lower_limit(RLIMIT_AS, box.max_memory_bytes)) child_fail(rep, kLimits);
    if (box.max_file_bytes > 0 && !lower_limit(RLIMIT_FSIZE, box.max_file_bytes)) child_fail(rep, kLimits);
    // The network namespace is required (a host that forbids it fails the tool); a PID namespace
    // alone is taken when the host allows it, else the process group is all there is.
    if (box.isolate_network || box.isolate_processes || hide.any()) {
      const int namespaces = (box.isolate_network ? CLONE_NEWNET : 0) | CLONE_NEWPID | (hide.any() ? CLONE_NEWNS : 0);
      bool entered = ::unshare(namespaces) == 0;
      if (!entered && errno == EPERM && ::unshare(CLONE_NEWUSER | namespaces) == 0) {
        // Without CAP_SYS_ADMIN: a user namespace of our own holds the others. A server that
        // dropped root itself is not dumpable, which makes /proc/self root's: the map files must
        // be ours to write (exec sets dumpability again from the tool's credentials anyway).
        if (::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) child_fail(rep, kUserMap);
        if (!write_proc_file("/proc/self/setgroups", deny) || !write_proc_file("/proc/self/uid_map", uid_map) ||
            !write_proc_file("/proc/self/gid_map", gid_map))
          child_fail(rep, kUserMap);
        entered = true;
      }
      if (!entered && box.isolate_network) child_fail(rep, kNetwork);
      if (entered && hide.any()) hide_directories(hide, rep);
      if (entered) enter_pid_namespace(rep);
    }
    if (cwd && ::chdir(cwd) != 0) child_fail(rep, kChdir);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(argv[0], argv, envp);
    child_fail(rep, kExec);
  }
  int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (pid < 0) return Error::internal(std::string("cannot start ") + argv[0] + ": fork: " + ::strerror(fork_errno));
  report_write.reset();
  ChildFailure failure;
  ssize_t got;
  do {
    got = ::read(report_read.get(), &failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  if (got != static_cast<ssize_t>(sizeof failure)) return pid;  // EOF: the exec went through
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string why = ::strerror(failure.err);
  if (failure.step == kExec) return Error::internal(std::string("cannot start ") + argv[0] + ": " + why);
  return Error::internal(std::string("cannot start ") + argv[0] + ": sandbox: " + step_name(failure.step) + ": " + why);
}

}  // namespace

std::string describe_signal(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return "killed by signal " + std::to_string(sig) + (abbrev ? std::string(" (SIG") + abbrev + ")" : "");
}

Result<ChildResult> run_child(const ChildSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty() || spec.argv[0][0] != '/')
    return Error::internal("run_child: argv[0] must be an absolute path");
  Capture caps[2];
  for (int i = 0; i < 2; ++i) {
    auto fd = open_output(i == 0 ? spec.stdout_path : spec.stderr_path);
    if (!fd) return std::move(fd).take_error();
    caps[i].file.reset(*fd);
  }
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return Error::internal(std::string("pipe: ") + ::strerror(errno));
  caps[0].pipe_read.reset(out_pipe[0]);
  Fd out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return Error::internal(std::string("pipe: ") + ::strerror(errno));
  caps[1].pipe_read.reset(err_pipe[0]);
  Fd err_write(err_pipe[1]);

  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  int64_t started = steady_ms();
  auto pid = spawn(spec, argv.data(), envp.data(), out_write.get(), err_write.get());
  out_write.reset();
  err_write.reset();
  if (!pid) return std::move(pid).take_error();
  for (auto& c : caps) ::fcntl(c.pipe_read.get(), F_SETFL, ::fcntl(c.pipe_read.get(), F_GETFL) | O_NONBLOCK);

  ChildResult res;
  res.pid = *pid;
  const pid_t child = *pid;
  int64_t term_at = 0;
  bool killed = false;
  for (;;) {
    int64_t now = steady_ms();
    if (res.end == ChildResult::End::exited) {
      if (spec.cancelled && spec.cancelled->load()) res.end = ChildResult::End::cancelled;
      else if (spec.deadline_ms > 0 && now >= spec.deadline_ms) res.end = ChildResult::End::timeout;
      if (res.end != ChildResult::End::exited) {
        ::kill(-child, SIGTERM);
        term_at = now;
      }
    }
    if (res.end != ChildResult::End::exited && !killed && now - term_at >= spec.kill_grace_ms) {
      ::kill(-child, SIGKILL);
      killed = true;
    }
    // Has the leader exited? WNOWAIT leaves it a zombie, which keeps its group id reserved.
    siginfo_t si{};
    int w = ::waitid(P_PID, static_cast<id_t>(child), &si, WEXITED | WNOHANG | WNOWAIT);
    if ((w == 0 && si.si_pid == child) || (w < 0 && errno != EINTR)) break;
    pump_for(caps, 2, spec.max_output_bytes, 50);
  }
  // Nothing of the tool outlives it: grandchildren still in its group go now.
  ::kill(-child, SIGKILL);
  int64_t drain_until = steady_ms() + 1000;
  while ((caps[0].open || caps[1].open) && steady_ms() < drain_until) pump_for(caps, 2, spec.max_output_bytes, 50);

  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(child, &status, 0);
  } while (r < 0 && errno == EINTR);
  res.duration_ms = steady_ms() - started;
  res.stdout_truncated = caps[0].truncated;
  res.stderr_truncated = caps[1].truncated;
  if (r == child && WIFEXITED(status)) {
    res.exit_code = WEXITSTATUS(status);
  } else if (r == child && WIFSIGNALED(status)) {
    res.signal = WTERMSIG(status);
    if (res.end == ChildResult::End::exited) res.end = ChildResult::End::signaled;
  }
  return res;
}

}  // namespace secplat::scanners
