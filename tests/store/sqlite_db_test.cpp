// SQLite adapter: the Db conformance suite on a temp file, plus behaviour specific to SQLite
// (WAL, reader pool, statement cache, busy handling, file handling).
#include "store/sqlite_db.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <random>
#include <thread>

#include "store/db_conformance.h"

namespace secplat::store {
namespace {

namespace fs = std::filesystem;

#define ASSERT_OK(expr)                               \
  do {                                                \
    const auto& ok_r_ = (expr);                       \
    ASSERT_TRUE(ok_r_.ok()) << ok_r_.error().message; \
  } while (0)

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("secplat-store-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A Db that owns the temp directory its file lives in (for the conformance factory).
class TempSqliteDb final : public Db {
 public:
  TempSqliteDb(std::unique_ptr<TempDir> dir, std::unique_ptr<Db> inner) : dir_(std::move(dir)), inner_(std::move(inner)) {}
  Dialect dialect() const override { return inner_->dialect(); }
  Result<Rows> query(std::string_view sql, const Params& params) override { return inner_->query(sql, params); }
  Result<int64_t> exec(std::string_view sql, const Params& params) override { return inner_->exec(sql, params); }
  Status transact(const std::function<Status(Tx&)>& fn) override { return inner_->transact(fn); }
  void transact_async(std::function<Status(Tx&)> fn, std::function<void(Status)> done) override {
    inner_->transact_async(std::move(fn), std::move(done));
  }
  Status check_writable() override { return inner_->check_writable(); }

 private:
  std::unique_ptr<TempDir> dir_;  // destroyed after inner_ closes the file
  std::unique_ptr<Db> inner_;
};

std::unique_ptr<Db> make_temp_sqlite() {
  auto dir = std::make_unique<TempDir>();
  auto db = open_sqlite({(dir->path() / "secplat.db").string(), 4, 5000});
  if (!db.ok()) {
    ADD_FAILURE() << db.error().message;
    return nullptr;
  }
  return std::make_unique<TempSqliteDb>(std::move(dir), std::move(*db));
}

using testing::DbConformance;
INSTANTIATE_TEST_SUITE_P(Sqlite, DbConformance,
                         ::testing::Values(testing::DbFactory{"sqlite", make_temp_sqlite}),
                         [](const ::testing::TestParamInfo<testing::DbFactory>& info) { return info.param.name; });

class SqliteDbTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(reopen()); }
  void reopen(int readers = 4, int busy_timeout_ms = 5000, int checkpoint_pages = SqliteOptions{}.checkpoint_pages) {
    db_.reset();
    auto r = open_sqlite({path(), readers, busy_timeout_ms, checkpoint_pages});
    ASSERT_TRUE(r.ok()) << r.error().message;
    db_ = std::move(*r);
  }
  std::string path() const { return (dir_.path() / "test.db").string(); }
  Db& db() { return *db_; }

  TempDir dir_;
  std::unique_ptr<Db> db_;
};

// A second, raw connection to the same file, as another process would have.
class RawConnection {
 public:
  explicit RawConnection(const std::string& path) { sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr); }
  ~RawConnection() { sqlite3_close_v2(db_); }
  int exec(const char* sql) { return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr); }
  sqlite3* handle() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

TEST_F(SqliteDbTest, UsesWalJournalAndForeignKeys) {
  auto mode = db().query("PRAGMA journal_mode");
  ASSERT_OK(mode);
  EXPECT_EQ((*mode)[0].str("journal_mode"), "wal");
  EXPECT_TRUE(fs::exists(path() + "-wal"));

  ASSERT_OK(db().exec("CREATE TABLE parent (id INTEGER PRIMARY KEY)"));
  ASSERT_OK(db().exec("CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent (id))"));
  auto orphan = db().exec("INSERT INTO child (parent_id) VALUES (42)");
  ASSERT_FALSE(orphan.ok());
  EXPECT_EQ(orphan.error().code, Errc::bad_request) << orphan.error().message;
  EXPECT_NE(orphan.error().message.find("foreign key"), std::string::npos) << orphan.error().message;
}

TEST_F(SqliteDbTest, UniqueViolationMessageNamesTheColumn) {
  ASSERT_OK(db().exec("CREATE TABLE users (username TEXT NOT NULL UNIQUE)"));
  ASSERT_OK(db().exec("INSERT INTO users (username) VALUES ('bob')"));
  auto dup = db().exec("INSERT INTO users (username) VALUES ('bob')");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().message, "unique constraint failed: users.username");
}

TEST_F(SqliteDbTest, TextWithEmbeddedNulRoundTrips) {
  // PostgreSQL TEXT cannot hold NUL, so this is SQLite-only.
  ASSERT_OK(db().exec("CREATE TABLE blobs (v TEXT)"));
  const std::string value("a\0b\0\xFF\xFE", 6);
  ASSERT_OK(db().exec("INSERT INTO blobs (v) VALUES ($1)", {value}));
  auto r = db().query("SELECT v FROM blobs");
  ASSERT_OK(r);
  EXPECT_EQ((*r)[0].str("v"), value);
  EXPECT_EQ((*r)[0].str("v").size(), 6u);
}

TEST_F(SqliteDbTest, BlobColumnsReadAsStrings) {
  auto r = db().query("SELECT x'00ff10' AS b");
  ASSERT_OK(r);
  EXPECT_EQ((*r)[0].str("b"), std::string("\x00\xff\x10", 3));
}

TEST_F(SqliteDbTest, ReadsDoNotWaitForAnOpenWriteTransaction) {
  ASSERT_OK(db().exec("CREATE TABLE t (x INTEGER)"));
  std::promise<void> inserted;
  std::promise<void> may_commit;
  auto writer = std::async(std::launch::async, [&] {
    return db().transact([&](Tx& tx) -> Status {
      SECPLAT_TRY(tx.exec("INSERT INTO t (x) VALUES (1)"));
      inserted.set_value();
      may_commit.get_future().wait();
      return ok_status();
    });
  });
  inserted.get_future().wait();
  // The writer connection is held by the transaction; this read is served by a reader connection
  // (it would block forever on the writer) and must not see the uncommitted row.
  auto during = db().query("SELECT count(*) AS c FROM t");
  may_commit.set_value();
  ASSERT_OK(during);
  EXPECT_EQ((*during)[0].i64("c"), 0);
  ASSERT_OK(writer.get());
  auto after = db().query("SELECT count(*) AS c FROM t");
  ASSERT_OK(after);
  EXPECT_EQ((*after)[0].i64("c"), 1);
}

TEST_F(SqliteDbTest, ReaderPoolSeesEachCommittedWriteImmediately) {
  ASSERT_OK(db().exec("CREATE TABLE t (x INTEGER)"));
  for (int64_t i = 1; i <= 20; ++i) {
    ASSERT_OK(db().exec("INSERT INTO t (x) VALUES ($1)", {i}));
    auto r = db().query("SELECT max(x) AS m FROM t");
    ASSERT_OK(r);
    EXPECT_EQ((*r)[0].i64("m"), i);
  }
}

TEST_F(SqliteDbTest, WorksWithoutReaderConnections) {
  ASSERT_NO_FATAL_FAILURE(reopen(0));
  ASSERT_OK(db().exec("CREATE TABLE t (x INTEGER)"));
  ASSERT_OK(db().exec("INSERT INTO t (x) VALUES (7)"));
  auto r = db().query("SELECT x FROM t");
  ASSERT_OK(r);
  EXPECT_EQ((*r)[0].i64("x"), 7);
}

TEST_F(SqliteDbTest, StatementCacheReusesCompiledStatements) {
  ASSERT_OK(db().exec("CREATE TABLE t (x INTEGER)"));
  auto before = sqlite_stats(db());
  ASSERT_TRUE(before.has_value());
  for (int64_t i = 0; i < 10; ++i) ASSERT_OK(db().exec("INSERT INTO t (x) VALUES ($1)", {i}));
  auto after = sqlite_stats(db());
  EXPECT_EQ(after->statements_prepared - before->statements_prepared, 1);
  EXPECT_GE(after->statement_cache_hits - before->statement_cache_hits, 9);
}

TEST_F(SqliteDbTest, CachedStatementsDoNotLeakBindingsOrStaleSchema) {
  ASSERT_OK(db().exec("CREATE TABLE t (x INTEGER)"));
  ASSERT_OK(db().exec("INSERT INTO t (x) VALUES ($1)", {int64_t{1}}));
  ASSERT_OK(db().exec("INSERT INTO t (x) VALUES ($1)", {null()}));
  ASSERT_OK(db().exec("INSERT INTO t (x) VALUES ($1)", {std::string("three")}));
  // Several times, so every reader connection has the statement (and its column names) cached.
  for (int i = 0; i < 6; ++i) {
    auto rows = db().query("SELECT * FROM t ORDER BY rowid");
    ASSERT_OK(rows);
    ASSERT_EQ(rows->size(), 3u);
    EXPECT_EQ((*rows)[0].at("x"), Value(int64_t{1}));
    EXPECT_TRUE((*rows)[1].is_null("x"));
    EXPECT_EQ((*rows)[2].str("x"), "three");
    EXPECT_THROW((void)(*rows)[0].at("y"), std::out_of_range);
  }

  // The same cached `SELECT *` sees a column added later, on every connection.
  ASSERT_OK(db().exec("ALTER TABLE t ADD COLUMN y INTEGER NOT NULL DEFAULT 5"));
  for (int i = 0; i < 6; ++i) {
    auto rows = db().query("SELECT * FROM t ORDER BY rowid");
    ASSERT_OK(rows);
    ASSERT_EQ((*rows)[0].size(), 2u);
    EXPECT_EQ((*rows)[0].i64("y"), 5);
  }
}

TEST_F(SqliteDbTest, ARepeatedPlaceholderBindsOneValue) {
  for (int i = 0; i < 3; ++i) {  // prepared once, then from the cache
    auto r = db().query("SELECT $1 + $1 AS twice, $2 AS other, $1 AS once", {int64_t{20 + i}, std::string("x")});
    ASSERT_OK(r);
    EXPECT_EQ((*r)[0].i64("twice"), 2 * (20 + i));
    EXPECT_EQ((*r)[0].str("other"), "x");
    EXPECT_EQ((*r)[0].i64("once"), 20 + i);
  }
  auto gap = db().query("SELECT $1 AS a, $3 AS c", {int64_t{1}, int64_t{2}, int64_t{3}});
  ASSERT_FALSE(gap.ok());  // $2 is given but not used
  EXPECT_NE(gap.error().message.find("$2"), std::string::npos) << gap.error().message;
}

TEST_F(SqliteDbTest, ManyDistinctStatementsEvictWithoutBreaking) {
  for (int i = 0; i < 300; ++i) {
    auto r = db().query("SELECT " + std::to_string(i) + " AS v");
    ASSERT_OK(r);
    EXPECT_EQ((*r)[0].i64("v"), i);
  }
  auto again = db().query("SELECT 0 AS v");
  ASSERT_OK(again);
  EXPECT_EQ((*again)[0].i64("v"), 0);
}

TEST_F(SqliteDbTest, ParameterMismatchIsAnErrorNotASilentNull) {
  ASSERT_OK(db().exec("CREATE TABLE t (a INTEGER, b INTEGER)"));
  auto too_few = db().exec("INSERT INTO t (a, b) VALUES ($1, $2)", {int64_t{1}});
  ASSERT_FALSE(too_few.ok());
  EXPECT_EQ(too_few.error().code, Errc::internal);
  auto unused = db().exec("INSERT INTO t (a, b) VALUES ($1, 2)", {int64_t{1}, int64_t{2}});
  ASSERT_FALSE(unused.ok());
  auto question_mark = db().exec("INSERT INTO t (a, b) VALUES (?, ?)", {int64_t{1}, int64_t{2}});
  ASSERT_FALSE(question_mark.ok());
  auto count = db().query("SELECT count(*) AS c FROM t");
  ASSERT_OK(count);
  EXPECT_EQ((*count)[0].i64("c"), 0);
}

TEST_F(SqliteDbTest, SeveralStatementsInOneCallAreRefused) {
  auto r = db().exec("CREATE TABLE a (x INTEGER); CREATE TABLE b (x INTEGER)");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::internal);
  EXPECT_FALSE(db().query("SELECT * FROM a").ok());
  // A trailing ';' or comment is still one statement.
  ASSERT_OK(db().exec("CREATE TABLE c (x INTEGER); -- done"));
}

TEST_F(SqliteDbTest, WriteFromInsideTransactIsAnErrorNotADeadlock) {
  ASSERT_OK(db().exec("CREATE TABLE t (x INTEGER)"));
  Status inner_exec = ok_status();
  Status inner_transact = ok_status();
  Status outer = db().transact([&](Tx& tx) -> Status {
    inner_exec = db().exec("INSERT INTO t (x) VALUES (1)").ok() ? ok_status() : Error::internal("refused");
    inner_transact = db().transact([](Tx&) { return ok_status(); });
    SECPLAT_TRY(tx.exec("INSERT INTO t (x) VALUES (2)"));
    return ok_status();
  });
  ASSERT_OK(outer);
  EXPECT_FALSE(inner_exec.ok());
  ASSERT_FALSE(inner_transact.ok());
  EXPECT_EQ(inner_transact.error().code, Errc::internal);
  auto r = db().query("SELECT x FROM t");
  ASSERT_OK(r);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].i64("x"), 2);
}

TEST_F(SqliteDbTest, LockHeldByAnotherProcessIsUnavailableAfterTimeout) {
  ASSERT_NO_FATAL_FAILURE(reopen(2, 100));
  ASSERT_OK(db().exec("CREATE TABLE t (x INTEGER)"));
  ASSERT_OK(db().check_writable());
  RawConnection other(path());
  ASSERT_EQ(other.exec("BEGIN IMMEDIATE"), SQLITE_OK);

  const auto start = std::chrono::steady_clock::now();
  auto w = db().exec("INSERT INTO t (x) VALUES (1)");
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, Errc::unavailable) << w.error().message;
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(90));
  Status ready = db().check_writable();
  ASSERT_FALSE(ready.ok());
  EXPECT_EQ(ready.error().code, Errc::unavailable);
  Status tx = db().transact([](Tx&) { return ok_status(); });
  ASSERT_FALSE(tx.ok());
  EXPECT_EQ(tx.error().code, Errc::unavailable);
  // Readers are not blocked by the other writer.
  ASSERT_OK(db().query("SELECT count(*) FROM t"));

  ASSERT_EQ(other.exec("ROLLBACK"), SQLITE_OK);
  ASSERT_OK(db().check_writable());
  ASSERT_OK(db().exec("INSERT INTO t (x) VALUES (1)"));
}

TEST_F(SqliteDbTest, DataSurvivesReopen) {
  ASSERT_OK(db().exec("CREATE TABLE t (x TEXT)"));
  ASSERT_OK(db().exec("INSERT INTO t (x) VALUES ('kept')"));
  ASSERT_NO_FATAL_FAILURE(reopen());
  auto r = db().query("SELECT x FROM t");
  ASSERT_OK(r);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].str("x"), "kept");
}

// Commits are written through a VFS that collects each commit's WAL frames into a few large writes
// (store/sqlite_wal_vfs.h). A connection that does not use it — as another process would not — must
// see every commit, whole, the moment the writer acknowledges it: small ones, ones larger than the
// write buffer, and ones after the WAL has started over.
TEST_F(SqliteDbTest, AnotherConnectionSeesEveryCommitTheMomentItIsAcknowledged) {
  ASSERT_NO_FATAL_FAILURE(reopen(4, 5000, 1000));  // the WAL starts over within this test's ~27 MB
  ASSERT_OK(db().exec("CREATE TABLE t (id INTEGER PRIMARY KEY, tx INTEGER NOT NULL, pad TEXT NOT NULL)"));
  RawConnection other(path());
  sqlite3_stmt* count = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(other.handle(), "SELECT count(*), COALESCE(MAX(tx), -1) FROM t", -1, &count, nullptr),
            SQLITE_OK);
  int64_t rows = 0;
  const std::string pad(300, 'p');
  for (int64_t tx = 0; tx < 900; ++tx) {
    const int64_t n = (tx % 9 == 8) ? 800 : 1 + tx % 5;  // every ninth one dirties ~70 pages (> 64 KiB)
    ASSERT_OK(db().transact([&](Tx& t) -> Status {
      for (int64_t i = 0; i < n; ++i) SECPLAT_TRY(t.exec("INSERT INTO t (tx, pad) VALUES ($1, $2)", {tx, pad}));
      return ok_status();
    }));
    rows += n;
    ASSERT_EQ(sqlite3_step(count), SQLITE_ROW);
    ASSERT_EQ(sqlite3_column_int64(count, 0), rows) << "after commit " << tx;
    ASSERT_EQ(sqlite3_column_int64(count, 1), tx);
    sqlite3_reset(count);
  }
  sqlite3_finalize(count);
  auto stats = sqlite_stats(db());
  ASSERT_TRUE(stats.has_value());
  EXPECT_GE(stats->checkpoints + stats->inline_checkpoints, 1);
  EXPECT_LT(fs::file_size(path() + "-wal"), static_cast<uintmax_t>(rows * 300)) << "the WAL never started over";
  auto check = db().query("PRAGMA integrity_check");
  ASSERT_OK(check);
  EXPECT_EQ((*check)[0].str("integrity_check"), "ok");
}

// A commit by another connection (another process) moves the change stamp of every table, and a
// member of a group rolled back to its savepoint moves it too: no cache may keep what it read.
TEST_F(SqliteDbTest, ChangeStampsMoveWithAnotherConnectionsCommitAndASavepointRollback) {
  ASSERT_OK(db().exec("CREATE TABLE kv (k TEXT PRIMARY KEY, n INTEGER NOT NULL)"));
  ASSERT_OK(db().exec("CREATE TABLE unrelated (k TEXT PRIMARY KEY)"));
  auto stamp = [&]() -> uint64_t {
    uint64_t seen = 0;
    EXPECT_TRUE(db().transact([&](Tx& tx) -> Status {
                      auto s = tx.change_stamp("kv");
                      if (!s.ok()) return std::move(s).take_error();
                      EXPECT_TRUE(s->has_value());
                      seen = s->value_or(0);
                      return ok_status();
                    }).ok());
    return seen;
  };
  const uint64_t first = stamp();
  ASSERT_EQ(stamp(), first);
  RawConnection other(path());
  ASSERT_EQ(other.exec("INSERT INTO unrelated (k) VALUES ('elsewhere')"), SQLITE_OK);
  const uint64_t after_other = stamp();
  EXPECT_NE(after_other, first) << "another connection's commit: what it changed is not known";
  EXPECT_EQ(stamp(), after_other);

  const int64_t commits_before = sqlite_stats(db())->commits;
  // A group of a waiting and an asynchronous write (savepoints each); the asynchronous one fails
  // after writing kv and is rolled back to its savepoint, the other commits a table that is not kv.
  std::promise<void> entered_p;
  auto entered = entered_p.get_future();
  std::promise<void> release_p;
  std::shared_future<void> release = release_p.get_future().share();
  std::promise<void> held_done;
  db().transact_async(
      [&](Tx&) -> Status {
        entered_p.set_value();
        release.wait();  // the writer is held here while the group queues behind it
        return ok_status();
      },
      [&](Status) { held_done.set_value(); });
  ASSERT_EQ(entered.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  std::promise<Status> failed_p;
  auto failed = failed_p.get_future();
  std::optional<uint64_t> inside;  // as a reader after the write, inside the member, saw it
  db().transact_async(
      [&](Tx& tx) -> Status {
        SECPLAT_TRY(tx.exec("INSERT INTO kv (k, n) VALUES ('gone', 1)"));
        auto s = tx.change_stamp("kv");
        if (!s.ok()) return std::move(s).take_error();
        inside = *s;
        return Error::bad_request("refused after writing");
      },
      [&](Status st) { failed_p.set_value(std::move(st)); });
  std::thread waiting([&] {
    EXPECT_TRUE(db().transact([](Tx& tx) -> Status {
                      SECPLAT_TRY(tx.exec("INSERT INTO unrelated (k) VALUES ('mine')"));
                      return ok_status();
                    }).ok());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // both queued behind the held write
  release_p.set_value();
  waiting.join();
  ASSERT_EQ(failed.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  EXPECT_FALSE(failed.get().ok());
  ASSERT_EQ(held_done.get_future().wait_for(std::chrono::seconds(20)), std::future_status::ready);
  EXPECT_EQ(sqlite_stats(db())->commits - commits_before, 2) << "the held write, then the two in one group";
  const uint64_t after_group = stamp();
  EXPECT_NE(after_group, after_other);
  ASSERT_TRUE(inside.has_value());
  EXPECT_NE(after_group, inside.value_or(0)) << "rows read inside a member rolled back to its savepoint";
  auto rows = db().query("SELECT COUNT(*) AS n FROM kv");
  ASSERT_OK(rows);
  EXPECT_EQ((*rows)[0].i64("n"), 0);
}

// A write that fails (here: the file-size limit, as a full disk would) fails the commit that made
// it; nothing of that commit is visible, every acknowledged one is, and the file stays whole.
TEST_F(SqliteDbTest, AFailedWalWriteFailsItsCommitAndLeavesTheFileWhole) {
  ASSERT_OK(db().exec("CREATE TABLE t (id INTEGER PRIMARY KEY, tx INTEGER NOT NULL, pad TEXT NOT NULL)"));
  db_.reset();
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  constexpr int64_t kRowsPerTx = 40;  // ~14 KiB of rows: a commit spans several pages
  if (child == 0) {
    ::close(pipe_fds[0]);
    ::signal(SIGXFSZ, SIG_IGN);  // a write past the limit fails with EFBIG instead of killing us
    struct rlimit limit{};
    limit.rlim_cur = limit.rlim_max = 2 * 1024 * 1024;
    ::setrlimit(RLIMIT_FSIZE, &limit);
    auto db = open_sqlite({path(), 1, 1000});
    int64_t acknowledged = -1;
    if (db.ok()) {
      const std::string pad(350, 'x');
      for (int64_t tx = 0; tx < 100000; ++tx) {
        Status st = (*db)->transact([&](Tx& t) -> Status {
          for (int64_t i = 0; i < kRowsPerTx; ++i)
            SECPLAT_TRY(t.exec("INSERT INTO t (tx, pad) VALUES ($1, $2)", {tx, pad}));
          return ok_status();
        });
        if (!st.ok()) {
          acknowledged = tx;
          break;
        }
      }
    }
    (void)!::write(pipe_fds[1], &acknowledged, sizeof acknowledged);
    ::_exit(0);  // no destructors: the process ends as after a crash, right after the failure
  }
  ::close(pipe_fds[1]);
  int64_t acknowledged = -2;
  ASSERT_EQ(::read(pipe_fds[0], &acknowledged, sizeof acknowledged), static_cast<ssize_t>(sizeof acknowledged));
  ::close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_GT(acknowledged, 0) << "the limit was never reached, or the store could not open";

  ASSERT_NO_FATAL_FAILURE(reopen());
  auto check = db().query("PRAGMA integrity_check");
  ASSERT_OK(check);
  EXPECT_EQ((*check)[0].str("integrity_check"), "ok");
  auto r = db().query("SELECT count(*) AS n, COALESCE(MAX(tx), -1) AS last FROM t");
  ASSERT_OK(r);
  EXPECT_EQ((*r)[0].i64("n"), acknowledged * kRowsPerTx);
  EXPECT_EQ((*r)[0].i64("last"), acknowledged - 1);
  ASSERT_OK(db().exec("INSERT INTO t (tx, pad) VALUES (-1, 'after')"));  // and it takes writes again
}

TEST(SqliteOpenTest, CreatesTheFileButNotItsDirectory) {
  TempDir dir;
  const std::string file = (dir.path() / "new.db").string();
  auto created = open_sqlite({file, 1, 1000});
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_TRUE(fs::exists(file));

  auto missing = open_sqlite({(dir.path() / "no" / "such" / "x.db").string(), 1, 1000});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::bad_request);
  EXPECT_NE(missing.error().message.find("does not exist"), std::string::npos);
}

TEST(SqliteOpenTest, RefusesInMemoryAndEmptyPaths) {
  for (const char* p : {":memory:", "", "file::memory:?cache=shared"}) {
    auto r = open_sqlite({p, 1, 1000});
    ASSERT_FALSE(r.ok()) << p;
    EXPECT_EQ(r.error().code, Errc::bad_request) << p;
  }
}

// The asynchronous write queue is bounded: with the writer busy, writes beyond 8,192 outstanding
// are refused at once with a retryable error (the HTTP layer's 503 + Retry-After), counted, and
// everything accepted still commits and is answered once the writer is free.
TEST_F(SqliteDbTest, AFullAsynchronousWriteQueueRefusesAndCounts) {
  ASSERT_TRUE(db().exec("CREATE TABLE kv (k INTEGER PRIMARY KEY)").ok());
  std::promise<void> entered_p;
  auto entered = entered_p.get_future();
  std::promise<void> release_p;
  std::shared_future<void> release = release_p.get_future().share();
  std::atomic<int> committed{0};
  std::atomic<int> refused{0};
  std::atomic<int> other{0};
  auto count = [&](Status st) {
    if (st.ok()) {
      ++committed;
    } else if (st.error().code == Errc::unavailable && st.error().retry_after_s == 1) {
      ++refused;
    } else {
      ++other;
    }
  };
  db().transact_async(
      [&](Tx&) -> Status {
        entered_p.set_value();
        release.wait();  // holds the writer thread inside this write
        return ok_status();
      },
      count);
  ASSERT_EQ(entered.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  constexpr int kMore = 8192 + 10;
  for (int i = 0; i < kMore; ++i) {
    db().transact_async(
        [i](Tx& tx) -> Status {
          SECPLAT_TRY(tx.exec("INSERT INTO kv (k) VALUES ($1)", {int64_t{i}}));
          return ok_status();
        },
        count);
  }
  EXPECT_EQ(refused.load(), 11) << "8,192 outstanding, the held one included";
  auto busy = sqlite_stats(db());
  ASSERT_TRUE(busy.has_value());
  EXPECT_EQ(busy->async_queued, 8192);
  EXPECT_EQ(busy->async_refused, 11);

  release_p.set_value();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (committed.load() < 8192 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(committed.load(), 8192);
  EXPECT_EQ(other.load(), 0);
  auto rows = db().query("SELECT COUNT(*) AS n FROM kv");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[0].i64("n"), 8191);
  EXPECT_EQ(sqlite_stats(db())->async_queued, 0);
}

// A group of asynchronous writes runs without a savepoint each; when one of them fails after
// writing, the group is rolled back and run again with savepoints: the failed write leaves nothing,
// every other write is stored once, each gets its own outcome, and the re-run is counted.
TEST_F(SqliteDbTest, AGroupWithAFailedWriteIsRunAgainAndKeepsOnlyTheOthers) {
  ASSERT_TRUE(db().exec("CREATE TABLE kv (k INTEGER PRIMARY KEY, runs INTEGER NOT NULL DEFAULT 0)").ok());
  ASSERT_TRUE(db().exec("CREATE TABLE tally (n INTEGER NOT NULL)").ok());
  ASSERT_TRUE(db().exec("INSERT INTO tally (n) VALUES (0)").ok());
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "all succeed" : "one fails after writing");
    std::promise<void> entered_p;
    auto entered = entered_p.get_future();
    std::promise<void> release_p;
    std::shared_future<void> release = release_p.get_future().share();
    db().transact_async(
        [&](Tx&) -> Status {
          entered_p.set_value();
          release.wait();  // the writer is held here while the group queues behind it
          return ok_status();
        },
        [](Status) {});
    ASSERT_EQ(entered.wait_for(std::chrono::seconds(20)), std::future_status::ready);
    const int64_t reruns_before = sqlite_stats(db())->group_reruns;
    const int64_t commits_before = sqlite_stats(db())->commits;
    constexpr int kGroup = 20;
    constexpr int kFails = 7;
    std::atomic<int> answered{0};
    std::atomic<int> wrong{0};
    std::vector<std::atomic<int>> runs(kGroup);
    for (int i = 0; i < kGroup; ++i) {
      const int64_t key = round * 100 + i;
      const bool fails = round == 1 && i == kFails;
      db().transact_async(
          [&, i, key, fails](Tx& tx) -> Status {
            runs[i].fetch_add(1);
            SECPLAT_TRY(tx.exec("INSERT INTO kv (k) VALUES ($1)", {key}));
            SECPLAT_TRY(tx.exec("UPDATE tally SET n = n + 1"));
            if (fails) return Error::bad_request("refused after writing");
            return ok_status();
          },
          [&, fails](Status st) {
            if (st.ok() == fails) wrong.fetch_add(1);
            if (fails && st.error().message != "refused after writing") wrong.fetch_add(1);
            answered.fetch_add(1);
          });
    }
    release_p.set_value();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (answered.load() < kGroup && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    ASSERT_EQ(answered.load(), kGroup);
    EXPECT_EQ(wrong.load(), 0);
    auto st = sqlite_stats(db());
    EXPECT_EQ(st->commits - commits_before, 1) << "the 20 writes in one commit";
    EXPECT_EQ(st->group_reruns - reruns_before, round == 0 ? 0 : 1);
    for (int i = 0; i < kGroup; ++i) {
      // Without a failure each write runs once; with one, those up to it ran twice, the rest once.
      const int expected = round == 0 || i > kFails ? 1 : 2;
      EXPECT_EQ(runs[i].load(), expected) << i;
    }
  }
  auto rows = db().query("SELECT COUNT(*) AS n FROM kv");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[0].i64("n"), 20 + 19);
  auto failed = db().query("SELECT COUNT(*) AS n FROM kv WHERE k = 107");
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ((*failed)[0].i64("n"), 0) << "the failed write left its row";
  auto tally = db().query("SELECT n FROM tally");
  ASSERT_TRUE(tally.ok());
  EXPECT_EQ((*tally)[0].i64("n"), 20 + 19) << "each stored write counted once, the failed one not at all";
}

// WAL checkpoints run on the store's own thread, not inside a commit (SQLite's auto-checkpoint
// would make every thousandth commit copy the WAL back and fsync), and they still keep the WAL
// from growing with the data written through it.
TEST_F(SqliteDbTest, CheckpointsRunBesideTheWritersAndKeepTheWalSmall) {
  ASSERT_NO_FATAL_FAILURE(reopen(4, 5000, 1000));  // a quarter of the default stretch: more passes
  ASSERT_OK(db().exec("CREATE TABLE blobs (id INTEGER PRIMARY KEY, b BLOB NOT NULL)"));
  // About 96 MB through the WAL in 4,000 commits of 5-6 pages; a checkpoint is due every 1,000 pages.
  for (int i = 0; i < 4000; ++i) ASSERT_OK(db().exec("INSERT INTO blobs (b) VALUES (randomblob(20000))"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (sqlite_stats(db())->checkpoints < 5 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto st = sqlite_stats(db());
  EXPECT_GE(st->checkpoints, 5);
  // Commits only finish a checkpoint off, so that the WAL can start over (about once per 2,000 pages;
  // the WAL never passes 4,000 before one does).
  EXPECT_GE(st->inline_checkpoints, 1);
  EXPECT_LT(st->inline_checkpoints, 100) << "of 4,000 commits";
  std::error_code ec;
  const auto wal = fs::file_size(path() + "-wal", ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_LT(wal, 20u << 20) << "the WAL was not reused: " << wal << " bytes";
  auto rows = db().query("SELECT COUNT(*) AS n, SUM(length(b)) AS bytes FROM blobs");
  ASSERT_OK(rows);
  EXPECT_EQ((*rows)[0].i64("n"), 4000);
  EXPECT_EQ((*rows)[0].i64("bytes"), 4000 * 20000);
  // And all of it is in the database file itself once the store is closed.
  db_.reset();
  EXPECT_FALSE(fs::exists(path() + "-wal"));
  EXPECT_GT(fs::file_size(path()), 4000u * 20000u);
}

// One transaction larger than the WAL may grow (16,000 pages): its commit copies it back itself, as
// SQLite's own auto-checkpoint would, and the next commits start the WAL over.
TEST_F(SqliteDbTest, AfterABigTransactionTheWalStartsOver) {
  ASSERT_OK(db().exec("CREATE TABLE blobs (id INTEGER PRIMARY KEY, b BLOB NOT NULL)"));
  ASSERT_OK(db().transact([](Tx& tx) -> Status {
    for (int i = 0; i < 3000; ++i) SECPLAT_TRY(tx.exec("INSERT INTO blobs (b) VALUES (randomblob(24000))"));
    return ok_status();
  }));
  EXPECT_EQ(sqlite_stats(db())->inline_checkpoints, 1);
  EXPECT_GT(fs::file_size(path()), 3000u * 24000u) << "the pages are in the database file";
  for (int i = 0; i < 3; ++i) ASSERT_OK(db().exec("INSERT INTO blobs (b) VALUES (x'00')"));
  // How many frames the WAL holds now, as another process would see it.
  RawConnection raw(path());
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw.handle(), "PRAGMA wal_checkpoint(PASSIVE)", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  const int frames = sqlite3_column_int(stmt, 1);
  sqlite3_finalize(stmt);
  EXPECT_LT(frames, 100) << "the WAL did not start over";
}

TEST(SqliteOpenTest, StatsAreOnlyForSqlite) {
  class OtherDb final : public Db {
   public:
    Dialect dialect() const override { return Dialect::postgres; }
    Result<Rows> query(std::string_view, const Params&) override { return Rows{}; }
    Result<int64_t> exec(std::string_view, const Params&) override { return int64_t{0}; }
    Status transact(const std::function<Status(Tx&)>&) override { return ok_status(); }
    void transact_async(std::function<Status(Tx&)>, std::function<void(Status)> done) override { done(ok_status()); }
    Status check_writable() override { return ok_status(); }
  } other;
  EXPECT_FALSE(sqlite_stats(other).has_value());
}

TEST_F(SqliteDbTest, MigrationWithTriggerBodyAppliesWhole) {
  const std::string sqlite_sql = R"sql(
    CREATE TABLE audit (msg TEXT NOT NULL);
    CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    -- a trigger body holds ';' that must not split the statement
    CREATE TRIGGER items_audit AFTER INSERT ON items BEGIN
      INSERT INTO audit (msg) VALUES ('added; ' || NEW.name);
      INSERT INTO audit (msg) VALUES ('second');
    END;
  )sql";
  ASSERT_OK(migrate(db(), {{1, "items_with_audit", sqlite_sql, "-- postgres: not exercised here"}}));
  ASSERT_OK(db().exec("INSERT INTO items (name) VALUES ('box')"));
  auto r = db().query("SELECT msg FROM audit ORDER BY rowid");
  ASSERT_OK(r);
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].str("msg"), "added; box");
}

TEST_F(SqliteDbTest, MigrationMissingThisDialectsSqlIsRefused) {
  Status st = migrate(db(), {{1, "pg_only", "", "CREATE TABLE x (id BIGSERIAL PRIMARY KEY)"}});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("pg_only"), std::string::npos);
  auto applied = applied_migrations(db());
  ASSERT_OK(applied);
  EXPECT_TRUE(applied->empty());
}

TEST_F(SqliteDbTest, ConcurrentMigratorsApplyEachVersionOnce) {
  // Two handles on one file, as two processes starting at once.
  auto second = open_sqlite({path(), 1, 5000});
  ASSERT_TRUE(second.ok()) << second.error().message;
  const std::vector<Migration> ms = {
      {1, "t", "CREATE TABLE t (x INTEGER)", ""},
      {2, "seed", "INSERT INTO t (x) VALUES (1)", ""},
  };
  auto a = std::async(std::launch::async, [&] { return migrate(db(), ms); });
  auto b = std::async(std::launch::async, [&] { return migrate(**second, ms); });
  ASSERT_OK(a.get());
  ASSERT_OK(b.get());
  auto r = db().query("SELECT count(*) AS c FROM t");
  ASSERT_OK(r);
  EXPECT_EQ((*r)[0].i64("c"), 1);
}

}  // namespace
}  // namespace secplat::store
