#include "scanners/tools/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

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

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_write.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, err_write.get(), 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, spec.cwd.c_str());

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, defaults;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  // The parent may ignore SIGPIPE or block SIGTERM (servers do); the tool must not inherit that.
  sigemptyset(&defaults);
  for (int s = 1; s < SIGRTMIN; ++s)
    if (s != SIGKILL && s != SIGSTOP) sigaddset(&defaults, s);
  posix_spawnattr_setsigdefault(&attr, &defaults);

  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  int64_t started = steady_ms();
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, spec.argv[0].c_str(), &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  out_write.reset();
  err_write.reset();
  if (rc != 0) return Error::internal("cannot start " + spec.argv[0] + ": " + ::strerror(rc));
  for (auto& c : caps) ::fcntl(c.pipe_read.get(), F_SETFL, ::fcntl(c.pipe_read.get(), F_GETFL) | O_NONBLOCK);

  ChildResult res;
  res.pid = pid;
  int64_t term_at = 0;
  bool killed = false;
  for (;;) {
    int64_t now = steady_ms();
    if (res.end == ChildResult::End::exited) {
      if (spec.cancelled && spec.cancelled->load()) res.end = ChildResult::End::cancelled;
      else if (spec.deadline_ms > 0 && now >= spec.deadline_ms) res.end = ChildResult::End::timeout;
      if (res.end != ChildResult::End::exited) {
        ::kill(-pid, SIGTERM);
        term_at = now;
      }
    }
    if (res.end != ChildResult::End::exited && !killed && now - term_at >= spec.kill_grace_ms) {
      ::kill(-pid, SIGKILL);
      killed = true;
    }
    // Has the leader exited? WNOWAIT leaves it a zombie, which keeps its group id reserved.
    siginfo_t si{};
    int w = ::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOHANG | WNOWAIT);
    if ((w == 0 && si.si_pid == pid) || (w < 0 && errno != EINTR)) break;
    pump_for(caps, 2, spec.max_output_bytes, 50);
  }
  // Nothing of the tool outlives it: grandchildren still in its group go now.
  ::kill(-pid, SIGKILL);
  int64_t drain_until = steady_ms() + 1000;
  while ((caps[0].open || caps[1].open) && steady_ms() < drain_until) pump_for(caps, 2, spec.max_output_bytes, 50);

  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &status, 0);
  } while (r < 0 && errno == EINTR);
  res.duration_ms = steady_ms() - started;
  res.stdout_truncated = caps[0].truncated;
  res.stderr_truncated = caps[1].truncated;
  if (r == pid && WIFEXITED(status)) {
    res.exit_code = WEXITSTATUS(status);
  } else if (r == pid && WIFSIGNALED(status)) {
    res.signal = WTERMSIG(status);
    if (res.end == ChildResult::End::exited) res.end = ChildResult::End::signaled;
  }
  return res;
}

}  // namespace secplat::scanners
