// Git sources: a shallow fetch (git CLI in the tool sandbox) of exactly what was asked for, and the
// full libgit2 clone when a shallow fetch cannot name it or git is not there.
#include "assurance/sources.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "scanners/tools/tool_locator.h"

namespace fs = std::filesystem;

namespace secplat::assurance {
namespace {

std::string sh_out(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  ::pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

class GitSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root = fs::temp_directory_path() / ("secplat-git-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root);
    fs::create_directories(root / "tmp");
    root = fs::canonical(root);
    // main: three commits (a.txt changes each time); dev: one more with b.txt.
    std::string r = root.string();
    std::string script = "set -e; cd " + r + "; git init -q -b main work; cd work; git config user.email t@t; "
                         "git config user.name t; for i in 1 2 3; do echo v$i > a.txt; git add a.txt; "
                         "git commit -qm c$i; git rev-parse HEAD > ../c$i; done; git checkout -qb dev; "
                         "echo dev > b.txt; git add b.txt; git commit -qm dev; cd ..; git clone -q --bare work repo.git";
    ASSERT_EQ(std::system(("bash -c '" + script + "' >/dev/null 2>&1").c_str()), 0);
    git = scanners::ToolLocator::from_environment().find("git").value_or("");
    ASSERT_FALSE(git.empty()) << "git is installed by make (scripts/install-deps.sh)";
    policy = {{r}, {"file"}, "", AssuranceConfig{}, git};
  }
  void TearDown() override {
    for (const auto& w : work_dirs) fs::remove_all(w);
    fs::remove_all(root);
  }

  std::string commit(int i) {
    std::string c;
    std::ifstream(root / ("c" + std::to_string(i))) >> c;
    return c;
  }

  Result<PreparedSource> prepare(std::optional<std::string> branch, std::optional<std::string> commit_id) {
    ScanRequest req;
    req.source_type = "git";
    req.git_url = "file://" + (root / "repo.git").string();
    req.branch = std::move(branch);
    req.commit = std::move(commit_id);
    SourceRun run{nullptr, 0, (root / "tmp").string(), "test_git"};
    phases.clear();
    auto r = prepare_source(req, policy, run, [this](const std::string& m, const Json&) { phases.push_back(m); });
    if (r.ok()) work_dirs.push_back(r->work_dir);
    return r;
  }

  // Commits present in the prepared repository's history from HEAD.
  static std::string history_length(const PreparedSource& s) {
    return sh_out("git -C '" + s.root + "' rev-list --count HEAD 2>/dev/null");
  }
  static std::string file(const PreparedSource& s, const std::string& name) {
    std::string v;
    std::ifstream(fs::path(s.root) / name) >> v;
    return v;
  }

  fs::path root;
  std::string git;
  SourcePolicy policy;
  std::vector<std::string> phases, work_dirs;
};

TEST_F(GitSourceTest, ShallowFetchOfTheRemoteHeadOfABranchAndOfACommit) {
  auto head = prepare(std::nullopt, std::nullopt);
  ASSERT_TRUE(head.ok()) << head.error().message;
  EXPECT_EQ(head->info["shallow"], true);
  EXPECT_EQ(head->info["branch"], "dev");  // what the bare repo's HEAD names (cloned from work on dev)
  EXPECT_EQ(history_length(*head), "1");
  EXPECT_EQ(file(*head, "b.txt"), "dev");

  auto main = prepare("main", std::nullopt);
  ASSERT_TRUE(main.ok()) << main.error().message;
  EXPECT_EQ(main->info["shallow"], true);
  EXPECT_EQ(main->info["branch"], "main");
  EXPECT_EQ(main->provenance_id, commit(3));
  EXPECT_EQ(history_length(*main), "1");
  EXPECT_EQ(file(*main, "a.txt"), "v3");
  EXPECT_FALSE(fs::exists(fs::path(main->root) / "b.txt"));

  auto old = prepare("main", commit(1));  // not a branch tip: fetched by its id
  ASSERT_TRUE(old.ok()) << old.error().message;
  EXPECT_EQ(old->info["shallow"], true);
  EXPECT_EQ(old->info["resolved_commit"], commit(1));
  EXPECT_EQ(history_length(*old), "1");
  EXPECT_EQ(file(*old, "a.txt"), "v1");
  EXPECT_EQ(phases.front(), "Fetching repository (shallow)");
}

TEST_F(GitSourceTest, WhatAShallowFetchCannotNameIsClonedInFull) {
  auto abbreviated = prepare(std::nullopt, commit(2).substr(0, 10));
  ASSERT_TRUE(abbreviated.ok()) << abbreviated.error().message;
  EXPECT_EQ(abbreviated->info["shallow"], false);
  EXPECT_EQ(abbreviated->info["resolved_commit"], commit(2));
  EXPECT_EQ(history_length(*abbreviated), "2");
  EXPECT_EQ(file(*abbreviated, "a.txt"), "v2");

  policy.git_cli = "";  // no git CLI: libgit2 clones everything
  auto full = prepare("main", std::nullopt);
  ASSERT_TRUE(full.ok()) << full.error().message;
  EXPECT_EQ(full->info["shallow"], false);
  EXPECT_EQ(history_length(*full), "3");
  EXPECT_EQ(file(*full, "a.txt"), "v3");
}

// git talks to a server the scan's requester chose: should that server exploit it, the server's
// data directory (signing key, database) is not there to read, while the repository of a file://
// URL and git's own work directory are.
TEST_F(GitSourceTest, GitDoesNotSeeTheServersDataDirectory) {
  fs::create_directories(root / "data/keys");
  std::ofstream(root / "data/keys/signing.key") << "PRIVATE KEY\n";
  const fs::path seen = root / "seen", fake = root / "git-probe";
  std::ofstream(fake) << "#!/bin/sh\n"
                         "{ cat '" << (root / "data/keys/signing.key").string() << "' 2>/dev/null || echo no-key\n"
                         "  test -f '" << (root / "repo.git/HEAD").string() << "' && echo repo-visible; } >> '"
                      << seen.string() << "'\n"
                         "exec '" << git << "' \"$@\"\n";
  fs::permissions(fake, fs::perms::owner_all);
  policy.git_cli = fake.string();
  policy.hidden_paths = {(root / "data").string()};
  auto hidden = prepare("main", std::nullopt);
  ASSERT_TRUE(hidden.ok()) << hidden.error().message;
  EXPECT_EQ(hidden->info["shallow"], true);
  EXPECT_EQ(file(*hidden, "a.txt"), "v3");
  auto read_all = [](const fs::path& f) {
    std::ifstream in(f);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  EXPECT_EQ(read_all(seen), "no-key\nrepo-visible\nno-key\nrepo-visible\n") << "git init, then fetch";

  fs::remove(seen);
  policy.hidden_paths.clear();  // the probe can tell: without the list git reads the key
  ASSERT_TRUE(prepare("main", std::nullopt).ok());
  EXPECT_EQ(read_all(seen).rfind("PRIVATE KEY\n", 0), 0u) << read_all(seen);
}

TEST_F(GitSourceTest, AMissingBranchOrCommitFailsNamingIt) {
  auto branch = prepare("nosuch", std::nullopt);
  ASSERT_FALSE(branch.ok());
  EXPECT_NE(branch.error().message.find("branch 'nosuch'"), std::string::npos) << branch.error().message;
  EXPECT_EQ(phases[1], "Shallow fetch not possible; cloning in full");

  auto missing = prepare(std::nullopt, std::string(40, 'a'));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find(std::string(40, 'a')), std::string::npos) << missing.error().message;
  // Nothing of the failed attempts (a full clone was made for each) is left behind.
  EXPECT_TRUE(fs::is_empty(root / "tmp"));
}

// git 2.39 and libgit2 1.5 leave userinfo out of these messages themselves; the source step redacts
// what they print as well, and this guards the property whichever of them changes.
TEST_F(GitSourceTest, CredentialsInTheUrlStayOutOfErrorsAndPhases) {
  const std::string password = "Zq8vLr2mXw9tK4pNc7";
  policy.git_schemes = {"https", "file"};
  ScanRequest req;
  req.source_type = "git";
  req.git_url = "https://scanner:" + password + "@127.0.0.1:1/org/repo.git";  // nothing listens on port 1
  SourceRun run{nullptr, 0, (root / "tmp").string(), "test_git"};
  std::string seen;
  auto r = prepare_source(req, policy, run, [&](const std::string& m, const Json& f) { seen += m + f.dump() + "\n"; });
  ASSERT_FALSE(r.ok());
  EXPECT_NE(seen.find("Shallow fetch not possible"), std::string::npos) << seen;
  EXPECT_EQ(seen.find(password), std::string::npos) << seen;
  EXPECT_EQ(r.error().message.find(password), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace secplat::assurance
