#include "core/scratch.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <vector>

#include "core/log.h"

namespace secplat::scratch {
namespace fs = std::filesystem;

namespace {

constexpr const char* kPrefix = "secplat-work-";

std::mutex mu;
std::string own_root;  // guarded by mu
int owner_fd = -1;     // guarded by mu: holds the flock for the life of the process

std::string system_temp() {
  std::error_code ec;
  std::string t = fs::temp_directory_path(ec).string();
  return ec || t.empty() ? std::string("/tmp") : t;
}

}  // namespace

int sweep(const std::string& parent, int64_t grace_s) {
  int removed = 0;
  std::error_code ec;
  std::vector<std::string> dead;
  for (fs::directory_iterator it(parent, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(kPrefix, 0) != 0) continue;
    const std::string dir = it->path().string();
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) continue;
    const int fd = ::open((dir + "/.owner").c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      if (errno == ENOENT && std::time(nullptr) - st.st_mtime > grace_s) dead.push_back(dir);
      continue;
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) dead.push_back(dir);  // nobody holds it: the owner is gone
    ::close(fd);
  }
  for (const auto& dir : dead) {
    std::error_code rm;
    fs::remove_all(dir, rm);
    if (rm) {
      log::warn("cannot remove a dead process's scratch directory", {log::str("path", dir), log::str("error", rm.message())});
    } else {
      ++removed;
    }
  }
  return removed;
}

Result<int> init() {
  const std::string parent = system_temp();
  const int removed = sweep(parent);
  if (removed > 0) log::info("removed scratch directories of dead processes", {log::integer("count", removed), log::str("under", parent)});
  std::string tmpl = parent + "/" + kPrefix + "XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data()))
    return Error::unavailable("cannot create a scratch directory under " + parent + ": " + std::strerror(errno));
  const std::string dir = buf.data();
  // Locked before it takes its name: a sweep finding `.owner` unlocked may take the owner for dead.
  const std::string pending = dir + "/.owner.new";
  const int fd = ::open(pending.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0 || ::flock(fd, LOCK_EX | LOCK_NB) != 0 || ::rename(pending.c_str(), (dir + "/.owner").c_str()) != 0) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    std::error_code ec;
    fs::remove_all(dir, ec);
    return Error::unavailable("cannot lock the scratch directory " + dir + ": " + why);
  }
  const std::string pid = std::to_string(::getpid()) + "\n";  // for whoever looks
  if (::write(fd, pid.data(), pid.size()) < 0) { /* the lock is what counts */ }
  std::lock_guard<std::mutex> lock(mu);
  own_root = dir;
  owner_fd = fd;
  return removed;
}

std::string own() {
  std::lock_guard<std::mutex> lock(mu);
  return own_root;
}

std::string root() {
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!own_root.empty()) return own_root;
  }
  return system_temp();
}

void release() {
  std::lock_guard<std::mutex> lock(mu);
  if (own_root.empty()) return;
  std::error_code ec;
  fs::remove_all(own_root, ec);
  ::close(owner_fd);
  owner_fd = -1;
  own_root.clear();
}

}  // namespace secplat::scratch
