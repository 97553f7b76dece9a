// Scratch directories: a process's own is locked while it lives; what dead processes left is
// removed by the next start, and nothing else is.
#include "core/scratch.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

namespace secplat::scratch {
namespace {

namespace fs = std::filesystem;

class ScratchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    parent_ = fs::temp_directory_path() / ("secplat-scratch-test-" + std::to_string(rd()));
    fs::create_directories(parent_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(parent_, ec);
  }
  // A directory as a process makes it; with `.owner` unless told otherwise.
  fs::path make(const std::string& name, bool with_owner = true) {
    fs::path dir = parent_ / name;
    fs::create_directories(dir / "secplat-scan-x-123456" / "src");
    std::ofstream(dir / "secplat-scan-x-123456" / "src" / "main.c") << "int main() {}\n";
    if (with_owner) std::ofstream(dir / ".owner") << "1\n";
    return dir;
  }
  void age(const fs::path& dir, int seconds) {
    fs::last_write_time(dir, fs::last_write_time(dir) - std::chrono::seconds(seconds));
  }
  fs::path parent_;
};

TEST_F(ScratchTest, RemovesWhatDeadProcessesLeftAndKeepsWhatTheLivingHold) {
  const fs::path dead = make("secplat-work-dead01");
  const fs::path alive = make("secplat-work-alive1");
  const fs::path starting = make("secplat-work-start1", /*with_owner=*/false);  // between mkdtemp and lock
  const fs::path interrupted = make("secplat-work-intr01", /*with_owner=*/false);
  age(interrupted, 3600);
  const fs::path other = make("secplat-scan-not-ours");  // not a scratch directory at all
  // A living process holds its lock through an open file of its own (here: a child's).
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const int fd = ::open((alive / ".owner").c_str(), O_RDWR);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) ::_exit(1);
    char ok = 1;
    if (::write(ready[1], &ok, 1) != 1) ::_exit(1);
    ::pause();
    ::_exit(0);
  }
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ::close(ready[0]);
  ::close(ready[1]);

  EXPECT_EQ(sweep(parent_.string()), 2);
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_FALSE(fs::exists(interrupted));
  EXPECT_TRUE(fs::exists(alive / "secplat-scan-x-123456" / "src" / "main.c"));
  EXPECT_TRUE(fs::exists(starting / "secplat-scan-x-123456"));
  EXPECT_TRUE(fs::exists(other));

  // Once that process is killed, its directory goes too.
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_EQ(sweep(parent_.string()), 1);
  EXPECT_FALSE(fs::exists(alive));
  EXPECT_TRUE(fs::exists(starting));
}

TEST_F(ScratchTest, NeverFollowsALinkOutOfTheTempDirectory) {
  const fs::path victim = parent_ / "victim";
  fs::create_directories(victim);
  std::ofstream(victim / ".owner") << "1\n";
  std::ofstream(victim / "precious") << "keep\n";
  fs::create_directory_symlink(victim, parent_ / "secplat-work-link01");
  EXPECT_EQ(sweep(parent_.string()), 0);
  EXPECT_TRUE(fs::exists(victim / "precious"));
  // Nor through a `.owner` that is a link: such a directory is not one we made.
  const fs::path odd = parent_ / "secplat-work-odd001";
  fs::create_directories(odd);
  fs::create_symlink(victim / ".owner", odd / ".owner");
  age(odd, 30);
  EXPECT_EQ(sweep(parent_.string()), 0);
  EXPECT_TRUE(fs::exists(odd));
}

TEST_F(ScratchTest, TheOwnDirectoryIsLockedUsedAndRemovedAtTheEnd) {
  const char* old = std::getenv("TMPDIR");
  const std::string saved = old ? old : "";
  ::setenv("TMPDIR", parent_.c_str(), 1);
  const fs::path dead = make("secplat-work-dead02");
  auto removed = init();
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(*removed, 1);
  EXPECT_FALSE(fs::exists(dead));
  const fs::path own = root();
  EXPECT_EQ(own.parent_path(), parent_);
  EXPECT_EQ(own.filename().string().rfind("secplat-work-", 0), 0u);
  fs::create_directories(own / "secplat-trivy-abc");
  // Another process starting now leaves it alone: it is locked.
  EXPECT_EQ(sweep(parent_.string()), 0);
  EXPECT_TRUE(fs::exists(own / "secplat-trivy-abc"));
  release();
  EXPECT_FALSE(fs::exists(own));
  EXPECT_EQ(root(), fs::temp_directory_path().string());
  if (old) ::setenv("TMPDIR", saved.c_str(), 1); else ::unsetenv("TMPDIR");
}

}  // namespace
}  // namespace secplat::scratch
