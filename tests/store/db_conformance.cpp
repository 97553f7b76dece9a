// The Db port's behaviour, written in portable SQL so every adapter runs the same assertions.
#include "store/db_conformance.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <latch>
#include <stdexcept>
#include <thread>
#include <vector>

namespace secplat::store::testing {
namespace {

#define ASSERT_OK(expr)                                      \
  do {                                                       \
    const auto& ok_r_ = (expr);                              \
    ASSERT_TRUE(ok_r_.ok()) << ok_r_.error().message;        \
  } while (0)

std::string autoincrement_pk(Db& db) {
  return db.dialect() == Dialect::sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY";
}

void create_kv(Db& db) {
  ASSERT_OK(db.exec("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, n BIGINT NOT NULL)"));
}

int64_t count_rows(Db& db, const std::string& table) {
  auto r = db.query("SELECT count(*) AS c FROM " + table);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  if (!r.ok() || r->size() != 1) return -1;
  return (*r)[0].i64("c", -1);
}

// One writer's work in the concurrency tests: it inserts its key, then by `kind` succeeds (0),
// fails after writing (1), throws (2) or hits the primary key of the row 'taken' (3).
std::function<Status(Tx&)> write_of_kind(std::string key, int kind) {
  return [key = std::move(key), kind](Tx& tx) -> Status {
    auto w = tx.exec("INSERT INTO kv (k, n) VALUES ($1, $2)", {key, int64_t{kind}});
    if (!w.ok()) return std::move(w).take_error();
    if (kind == 1) return Error::bad_request("refused after writing");
    if (kind == 2) throw std::runtime_error("boom");
    if (kind == 3) {
      auto dup = tx.exec("INSERT INTO kv (k, n) VALUES ('taken', 1)");
      if (!dup.ok()) return std::move(dup).take_error();
    }
    return ok_status();
  };
}

TEST_P(DbConformance, EveryValueTypeRoundTrips) {
  ASSERT_OK(db().exec("CREATE TABLE vals (id " + autoincrement_pk(db()) +
                      ", i BIGINT, d DOUBLE PRECISION, s TEXT, z TEXT)"));
  const std::string unicode = "h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9D\x84\x9E 'quoted' \"dq\" \\ \t\n\x01\x7F end";
  const std::vector<Params> inputs = {
      {int64_t{INT64_MAX}, 3.25, unicode, null()},
      {int64_t{INT64_MIN}, -0.5, std::string(), std::string("x")},
      {int64_t{0}, 1e300, std::string(10000, 'a'), null()},
  };
  for (const Params& p : inputs) {
    ASSERT_OK(db().exec("INSERT INTO vals (i, d, s, z) VALUES ($1, $2, $3, $4)", p));
  }
  auto rows = db().query("SELECT id, i, d, s, z FROM vals ORDER BY id");
  ASSERT_OK(rows);
  ASSERT_EQ(rows->size(), inputs.size());
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const Row& row = (*rows)[k];
    EXPECT_EQ(row.at("i"), inputs[k][0]) << "row " << k;
    EXPECT_EQ(row.at("d"), inputs[k][1]) << "row " << k;
    EXPECT_EQ(row.at("s"), inputs[k][2]) << "row " << k;
    EXPECT_EQ(row.at("z"), inputs[k][3]) << "row " << k;
  }
  EXPECT_TRUE((*rows)[0].is_null("z"));
  EXPECT_EQ((*rows)[0].opt_str("z"), std::nullopt);
  EXPECT_EQ((*rows)[0].str("z", "fallback"), "fallback");
  EXPECT_EQ((*rows)[1].opt_str("z"), std::optional<std::string>("x"));
  EXPECT_EQ((*rows)[0].i64("i"), INT64_MAX);
  EXPECT_EQ((*rows)[0].str("s"), unicode);
  EXPECT_EQ(rows->front().size(), 5u);
  EXPECT_THROW((void)(*rows)[0].at("no_such_column"), std::out_of_range);
}

TEST_P(DbConformance, NullParameterMatchesIsNull) {
  ASSERT_OK(db().exec("CREATE TABLE n (a BIGINT, b TEXT)"));
  ASSERT_OK(db().exec("INSERT INTO n (a, b) VALUES ($1, $2)", {null(), null()}));
  auto rows = db().query("SELECT a, b FROM n WHERE a IS NULL AND b IS NULL");
  ASSERT_OK(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].opt_i64("a"), std::nullopt);
  EXPECT_EQ((*rows)[0].i64("a", 7), 7);
}

TEST_P(DbConformance, SamePlaceholderUsedTwiceBindsOneValue) {
  ASSERT_OK(db().exec("CREATE TABLE pair (a BIGINT NOT NULL, b BIGINT NOT NULL, label TEXT NOT NULL)"));
  ASSERT_OK(db().exec("INSERT INTO pair (a, b, label) VALUES ($1, $1, $2)", {int64_t{5}, std::string("five")}));
  ASSERT_OK(db().exec("INSERT INTO pair (a, b, label) VALUES ($2, $1, $3)",
                      {int64_t{1}, int64_t{2}, std::string("mixed")}));
  auto rows = db().query("SELECT label FROM pair WHERE a = $1 AND b = $1", {int64_t{5}});
  ASSERT_OK(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].str("label"), "five");
  auto mixed = db().query("SELECT a, b FROM pair WHERE label = $1", {std::string("mixed")});
  ASSERT_OK(mixed);
  ASSERT_EQ(mixed->size(), 1u);
  EXPECT_EQ((*mixed)[0].i64("a"), 2);
  EXPECT_EQ((*mixed)[0].i64("b"), 1);
}

TEST_P(DbConformance, UniqueViolationIsConflictAndChangesNothing) {
  ASSERT_OK(db().exec("CREATE TABLE users (id " + autoincrement_pk(db()) + ", username TEXT NOT NULL UNIQUE)"));
  ASSERT_OK(db().exec("INSERT INTO users (username) VALUES ($1)", {std::string("alice")}));
  auto dup = db().exec("INSERT INTO users (username) VALUES ($1)", {std::string("alice")});
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, Errc::conflict) << dup.error().message;
  EXPECT_NE(dup.error().message.find("unique"), std::string::npos) << dup.error().message;
  EXPECT_EQ(count_rows(db(), "users"), 1);

  create_kv(db());
  ASSERT_OK(db().exec("INSERT INTO kv (k, n) VALUES ('a', 1)"));
  auto pk = db().exec("INSERT INTO kv (k, n) VALUES ('a', 2)");
  ASSERT_FALSE(pk.ok());
  EXPECT_EQ(pk.error().code, Errc::conflict) << pk.error().message;
}

TEST_P(DbConformance, NotNullViolationIsBadRequest) {
  create_kv(db());
  auto r = db().exec("INSERT INTO kv (k, n) VALUES ($1, $2)", {std::string("a"), null()});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::bad_request) << r.error().message;
  EXPECT_EQ(count_rows(db(), "kv"), 0);
}

TEST_P(DbConformance, ExecReturnsRowsChanged) {
  create_kv(db());
  for (const char* k : {"a", "b", "c"}) ASSERT_OK(db().exec("INSERT INTO kv (k, n) VALUES ($1, 0)", {std::string(k)}));
  auto updated = db().exec("UPDATE kv SET n = n + 1 WHERE k <> $1", {std::string("b")});
  ASSERT_OK(updated);
  EXPECT_EQ(*updated, 2);
  auto none = db().exec("DELETE FROM kv WHERE k = 'zzz'");
  ASSERT_OK(none);
  EXPECT_EQ(*none, 0);
  auto ddl = db().exec("CREATE TABLE IF NOT EXISTS other (x BIGINT)");
  ASSERT_OK(ddl);
  EXPECT_EQ(*ddl, 0);
}

TEST_P(DbConformance, TransactCommitsAllWrites) {
  create_kv(db());
  Status st = db().transact([](Tx& tx) -> Status {
    SECPLAT_TRY(tx.exec("INSERT INTO kv (k, n) VALUES ('a', 1)"));
    SECPLAT_TRY(tx.exec("INSERT INTO kv (k, n) VALUES ('b', 2)"));
    auto seen = tx.query("SELECT n FROM kv WHERE k = 'b'");  // a transaction sees its own writes
    if (!seen.ok()) return std::move(seen).take_error();
    if (seen->size() != 1 || (*seen)[0].i64("n") != 2) return Error::internal("own write not visible");
    return ok_status();
  });
  ASSERT_OK(st);
  EXPECT_EQ(count_rows(db(), "kv"), 2);
}

TEST_P(DbConformance, TransactRollsBackWhenCallbackFails) {
  create_kv(db());
  Status st = db().transact([](Tx& tx) -> Status {
    SECPLAT_TRY(tx.exec("INSERT INTO kv (k, n) VALUES ('a', 1)"));
    return Error::conflict("caller changed its mind");
  });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::conflict);
  EXPECT_EQ(st.error().message, "caller changed its mind");
  EXPECT_EQ(count_rows(db(), "kv"), 0);
}

TEST_P(DbConformance, TransactRollsBackFailedStatementAndEarlierWrites) {
  create_kv(db());
  Status st = db().transact([](Tx& tx) -> Status {
    SECPLAT_TRY(tx.exec("INSERT INTO kv (k, n) VALUES ('a', 1)"));
    SECPLAT_TRY(tx.exec("INSERT INTO kv (k, n) VALUES ('a', 2)"));  // duplicate key
    return ok_status();
  });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::conflict);
  EXPECT_EQ(count_rows(db(), "kv"), 0);
}

TEST_P(DbConformance, TransactRollsBackAndRethrowsOnException) {
  create_kv(db());
  EXPECT_THROW((void)db().transact([](Tx& tx) -> Status {
                 auto r = tx.exec("INSERT INTO kv (k, n) VALUES ('a', 1)");
                 if (!r.ok()) return std::move(r).take_error();
                 throw std::runtime_error("boom");
               }),
               std::runtime_error);
  EXPECT_EQ(count_rows(db(), "kv"), 0);
  // The database is usable afterwards: no transaction was left open.
  ASSERT_OK(db().transact([](Tx& tx) -> Status {
    SECPLAT_TRY(tx.exec("INSERT INTO kv (k, n) VALUES ('b', 1)"));
    return ok_status();
  }));
  EXPECT_EQ(count_rows(db(), "kv"), 1);
}

// insert_id: the id of the row this INSERT made (not of an earlier insert into another table, nor
// a stale one after a refused insert), none when ON CONFLICT DO NOTHING skipped it.
TEST_P(DbConformance, InsertIdIsTheInsertedRowsKeyOrNone) {
  create_kv(db());
  ASSERT_OK(db().exec("CREATE TABLE IF NOT EXISTS items (id " + autoincrement_pk(db()) +
                      ", k TEXT NOT NULL UNIQUE, v TEXT NOT NULL)"));
  const std::string insert = "INSERT INTO items (k, v) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING";
  std::vector<int64_t> ids;
  ASSERT_OK(db().transact([&](Tx& tx) -> Status {
    for (const char* k : {"a", "b", "c"}) {
      // Another table's insert in between: its rowid is not the answer.
      auto other = tx.exec("INSERT INTO kv (k, n) VALUES ($1, 7)", {std::string(k)});
      if (!other.ok()) return std::move(other).take_error();
      auto id = tx.insert_id(insert, {std::string(k), std::string("v-") + k}, "id");
      if (!id.ok()) return std::move(id).take_error();
      EXPECT_TRUE(id->has_value()) << k;
      if (*id) ids.push_back(**id);
    }
    auto again = tx.insert_id(insert, {std::string("b"), std::string("other")}, "id");
    if (!again.ok()) return std::move(again).take_error();
    EXPECT_FALSE(again->has_value()) << "a skipped insert has no id";
    return ok_status();
  }));
  Status refused = db().transact([&](Tx& tx) -> Status {
    auto id = tx.insert_id("INSERT INTO items (k, v) VALUES ($1, $2)", {std::string("d"), null()}, "id");
    if (!id.ok()) return std::move(id).take_error();
    return ok_status();
  });
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::bad_request);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_LT(ids[0], ids[1]);
  EXPECT_LT(ids[1], ids[2]);
  const char* keys[] = {"a", "b", "c"};
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto row = db().query("SELECT k, v FROM items WHERE id = $1", {ids[i]});
    ASSERT_OK(row);
    ASSERT_EQ(row->size(), 1u);
    EXPECT_EQ((*row)[0].str("k"), keys[i]);
    EXPECT_EQ((*row)[0].str("v"), std::string("v-") + keys[i]) << "the skipped insert changed nothing";
  }
  EXPECT_EQ(count_rows(db(), "items"), 3);
}

// change_stamp: alike across calls only while no row of the table changed in between — a committed
// write or a rolled-back one (a reader inside it saw other rows); other tables' writes leave it. An
// adapter that cannot tell gives none at all (PostgreSQL: other clients write unseen).
TEST_P(DbConformance, ChangeStampMovesWithTheTablesRowsOnly) {
  create_kv(db());
  ASSERT_OK(db().exec("CREATE TABLE IF NOT EXISTS other_kv (k TEXT PRIMARY KEY)"));
  auto stamp = [&]() -> std::optional<uint64_t> {
    std::optional<uint64_t> seen;
    Status st = db().transact([&](Tx& tx) -> Status {
      auto s = tx.change_stamp("kv");
      if (!s.ok()) return std::move(s).take_error();
      seen = *s;
      return ok_status();
    });
    EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
    return seen;
  };
  const std::optional<uint64_t> first = stamp();
  if (db().dialect() == Dialect::postgres) {
    EXPECT_FALSE(first.has_value()) << "PostgreSQL cannot see other clients' writes";
    return;
  }
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(stamp(), first) << "nothing changed";
  ASSERT_OK(db().exec("INSERT INTO other_kv (k) VALUES ('x')"));
  EXPECT_EQ(stamp(), first) << "only another table changed";

  ASSERT_OK(db().exec("INSERT INTO kv (k, n) VALUES ('a', 1)"));
  const std::optional<uint64_t> inserted = stamp();
  EXPECT_NE(inserted, first) << "an insert";
  EXPECT_EQ(stamp(), inserted);
  ASSERT_OK(db().exec("UPDATE kv SET n = 2 WHERE k = 'a'"));
  const std::optional<uint64_t> updated = stamp();
  EXPECT_NE(updated, inserted) << "an update";

  std::optional<uint64_t> inside;  // as a reader after the write, inside the transaction, saw it
  Status refused = db().transact([&](Tx& tx) -> Status {
    SECPLAT_TRY(tx.exec("UPDATE kv SET n = 3 WHERE k = 'a'"));
    auto s = tx.change_stamp("kv");
    if (!s.ok()) return std::move(s).take_error();
    inside = *s;
    return Error::bad_request("changed its mind");
  });
  ASSERT_FALSE(refused.ok());
  const std::optional<uint64_t> rolled_back = stamp();
  EXPECT_NE(rolled_back, updated);
  EXPECT_NE(rolled_back, inside) << "rows read inside a rolled-back write are not the stored ones";

  ASSERT_OK(db().transact([&](Tx& tx) -> Status {
    auto before = tx.change_stamp("kv");
    if (!before.ok()) return std::move(before).take_error();
    SECPLAT_TRY(tx.exec("DELETE FROM kv WHERE k = 'a'"));
    auto after = tx.change_stamp("kv");
    if (!after.ok()) return std::move(after).take_error();
    EXPECT_NE(*before, *after) << "a delete, inside the transaction that made it";
    return ok_status();
  }));
  EXPECT_EQ(count_rows(db(), "kv"), 0);
}

TEST_P(DbConformance, UpsertReturningCountsHits) {
  create_kv(db());
  const std::string upsert =
      "INSERT INTO kv (k, n) VALUES ($1, 1) ON CONFLICT (k) DO UPDATE SET n = kv.n + 1 RETURNING n";
  for (int64_t expected = 1; expected <= 3; ++expected) {
    auto r = db().query(upsert, {std::string("hits")});
    ASSERT_OK(r);
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ((*r)[0].i64("n"), expected);
  }
  ASSERT_OK(db().transact([&](Tx& tx) -> Status {
    auto r = tx.query(upsert, {std::string("hits")});
    if (!r.ok()) return std::move(r).take_error();
    EXPECT_EQ((*r)[0].i64("n"), 4);
    return ok_status();
  }));
  auto stored = db().query("SELECT n FROM kv WHERE k = $1", {std::string("hits")});
  ASSERT_OK(stored);
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].i64("n"), 4);
}

TEST_P(DbConformance, ConcurrentTransactionsLoseNoUpdates) {
  create_kv(db());
  ASSERT_OK(db().exec("INSERT INTO kv (k, n) VALUES ('counter', 0)"));
  constexpr int kThreads = 4;
  constexpr int kIncrements = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        // Read-modify-write in application code: only correct if transactions serialise.
        Status st = db().transact([](Tx& tx) -> Status {
          auto cur = tx.query("SELECT n FROM kv WHERE k = 'counter'");
          if (!cur.ok()) return std::move(cur).take_error();
          auto w = tx.exec("UPDATE kv SET n = $1 WHERE k = 'counter'", {(*cur)[0].i64("n") + 1});
          if (!w.ok()) return std::move(w).take_error();
          return ok_status();
        });
        if (!st.ok()) failures.fetch_add(1);
        auto single = db().exec("UPDATE kv SET n = n + 1 WHERE k = 'counter'");
        if (!single.ok()) failures.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto r = db().query("SELECT n FROM kv WHERE k = 'counter'");
  ASSERT_OK(r);
  EXPECT_EQ((*r)[0].i64("n"), 2 * kThreads * kIncrements);
}

// Many writers at once, some failing after they wrote, some throwing, some hitting a constraint:
// every caller gets its own outcome and only the successful callers' writes remain (an adapter
// may commit concurrent transactions together; a failing one must not take others down).
TEST_P(DbConformance, ConcurrentTransactionsSucceedOrFailEachOnTheirOwn) {
  create_kv(db());
  ASSERT_OK(db().exec("INSERT INTO kv (k, n) VALUES ('taken', 0)"));
  constexpr int kThreads = 8;
  constexpr int kEach = 40;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string key = "k" + std::to_string(t) + "-" + std::to_string(i);
        const int kind = (t + i) % 4;  // 0 ok, 1 fails after writing, 2 throws, 3 constraint violation
        try {
          Status st = db().transact(write_of_kind(key, kind));
          const bool expect_ok = kind == 0;
          if (st.ok() != expect_ok) wrong.fetch_add(1);
          if (kind == 3 && (st.ok() || st.error().code != Errc::conflict)) wrong.fetch_add(1);
        } catch (const std::runtime_error&) {
          if (kind != 2) wrong.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(count_rows(db(), "kv"), 1 + kThreads * kEach / 4);
  auto kinds = db().query("SELECT COUNT(*) AS c FROM kv WHERE n <> 0");
  ASSERT_OK(kinds);
  EXPECT_EQ((*kinds)[0].i64("c"), 0) << "no write of a failed transaction survives";
}

// transact_async: the answer comes once, after the commit (a read from done() sees the write).
TEST_P(DbConformance, TransactAsyncAnswersOnceAfterTheCommit) {
  create_kv(db());
  std::promise<std::pair<bool, int64_t>> answered;
  auto seen = answered.get_future();
  std::atomic<int> calls{0};
  db().transact_async(
      [](Tx& tx) -> Status {
        SECPLAT_TRY(tx.exec("INSERT INTO kv (k, n) VALUES ('a', 7)"));
        return ok_status();
      },
      [&](Status st) {
        if (calls.fetch_add(1) == 0) answered.set_value({st.ok(), count_rows(db(), "kv")});
      });
  ASSERT_EQ(seen.wait_for(std::chrono::seconds(20)), std::future_status::ready) << "done() never called";
  auto [ok, rows_in_done] = seen.get();
  EXPECT_TRUE(ok);
  EXPECT_EQ(rows_in_done, 1) << "done() ran before the write was visible";
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(calls.load(), 1);
}

// Asynchronous and waiting writers at once, each succeeding, failing after writing, throwing or
// hitting a constraint: every one gets its own outcome exactly once and only successful writes stay.
TEST_P(DbConformance, TransactAsyncOutcomesAreEachTheirOwn) {
  create_kv(db());
  ASSERT_OK(db().exec("INSERT INTO kv (k, n) VALUES ('taken', 0)"));
  constexpr int kAsync = 400;
  constexpr int kSyncThreads = 4;
  constexpr int kSyncEach = 25;
  std::atomic<int> wrong{0};
  std::atomic<int> answers{0};
  std::latch all_answered(kAsync);
  std::thread sync_writers([&] {
    std::vector<std::thread> threads;
    for (int t = 0; t < kSyncThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kSyncEach; ++i) {
          Status st = db().transact(write_of_kind("s" + std::to_string(t) + "-" + std::to_string(i), 0));
          if (!st.ok()) wrong.fetch_add(1);
        }
      });
    }
    for (auto& th : threads) th.join();
  });
  for (int i = 0; i < kAsync; ++i) {
    const int kind = i % 4;  // 0 ok, 1 fails after writing, 2 throws, 3 constraint violation
    db().transact_async(write_of_kind("a" + std::to_string(i), kind), [&, kind](Status st) {
      answers.fetch_add(1);
      if (st.ok() != (kind == 0)) wrong.fetch_add(1);
      if (kind == 2 && (st.ok() || st.error().code != Errc::internal ||
                        st.error().message.find("boom") == std::string::npos))
        wrong.fetch_add(1);
      if (kind == 3 && (st.ok() || st.error().code != Errc::conflict)) wrong.fetch_add(1);
      all_answered.count_down();
    });
  }
  sync_writers.join();
  all_answered.wait();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(answers.load(), kAsync);
  EXPECT_EQ(count_rows(db(), "kv"), 1 + kAsync / 4 + kSyncThreads * kSyncEach);
  auto kinds = db().query("SELECT COUNT(*) AS c FROM kv WHERE n <> 0");
  ASSERT_OK(kinds);
  EXPECT_EQ((*kinds)[0].i64("c"), 0) << "no write of a failed transaction survives";
}

// done() may write again, waiting (transact) or not (transact_async), without deadlocking.
TEST_P(DbConformance, TransactAsyncDoneMayWriteAgain) {
  create_kv(db());
  std::promise<Status> nested_sync;
  std::promise<Status> nested_async;
  auto sync_outcome = nested_sync.get_future();
  auto async_outcome = nested_async.get_future();
  db().transact_async(
      [](Tx& tx) -> Status {
        SECPLAT_TRY(tx.exec("INSERT INTO kv (k, n) VALUES ('first', 1)"));
        return ok_status();
      },
      [&](Status st) {
        if (!st.ok()) {
          nested_sync.set_value(st);
          nested_async.set_value(st);
          return;
        }
        nested_sync.set_value(db().transact([](Tx& tx) -> Status {
          SECPLAT_TRY(tx.exec("INSERT INTO kv (k, n) VALUES ('second', 2)"));
          return ok_status();
        }));
        db().transact_async(
            [](Tx& tx) -> Status {
              SECPLAT_TRY(tx.exec("INSERT INTO kv (k, n) VALUES ('third', 3)"));
              return ok_status();
            },
            [&](Status st2) { nested_async.set_value(std::move(st2)); });
      });
  ASSERT_EQ(sync_outcome.wait_for(std::chrono::seconds(20)), std::future_status::ready) << "deadlock";
  ASSERT_EQ(async_outcome.wait_for(std::chrono::seconds(20)), std::future_status::ready) << "deadlock";
  ASSERT_OK(sync_outcome.get());
  ASSERT_OK(async_outcome.get());
  EXPECT_EQ(count_rows(db(), "kv"), 3);
}

TEST_P(DbConformance, ReadersSeeOnlyCommittedWholeTransactions) {
  ASSERT_OK(db().exec("CREATE TABLE pairs (id " + autoincrement_pk(db()) + ", half BIGINT NOT NULL)"));
  constexpr int kTransactions = 150;
  std::atomic<bool> writer_done{false};
  std::atomic<int> failures{0};
  std::atomic<int> odd_counts{0};
  constexpr int kReaders = 3;
  std::latch readers_started(kReaders);  // the writer starts once every reader has read once
  std::thread writer([&] {
    readers_started.wait();
    for (int i = 0; i < kTransactions; ++i) {
      Status st = db().transact([](Tx& tx) -> Status {
        SECPLAT_TRY(tx.exec("INSERT INTO pairs (half) VALUES (0)"));
        SECPLAT_TRY(tx.exec("INSERT INTO pairs (half) VALUES (1)"));
        return ok_status();
      });
      if (!st.ok()) failures.fetch_add(1);
    }
    writer_done.store(true);
  });
  std::vector<std::thread> readers;
  for (int t = 0; t < kReaders; ++t) {
    readers.emplace_back([&] {
      int64_t last = 0;
      bool first = true;
      do {
        auto r = db().query("SELECT count(*) AS c FROM pairs");
        if (first) readers_started.count_down();
        first = false;
        if (!r.ok()) {
          failures.fetch_add(1);
          continue;
        }
        int64_t c = (*r)[0].i64("c");
        if (c % 2 != 0) odd_counts.fetch_add(1);  // a half-committed transaction would show up here
        if (c < last) failures.fetch_add(1);      // committed rows never disappear
        last = c;
      } while (!writer_done.load());
    });
  }
  writer.join();
  for (auto& th : readers) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(odd_counts.load(), 0);
  EXPECT_EQ(count_rows(db(), "pairs"), 2 * kTransactions);
}

std::vector<Migration> base_migrations() {
  return {
      {1, "create_items",
       "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)",
       "CREATE TABLE items (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL)"},
      {2, "seed_items",
       "INSERT INTO items (name) VALUES ('semi;colon'); INSERT INTO items (name) VALUES ('it''s; fine');",
       "INSERT INTO items (name) VALUES ('semi;colon'); INSERT INTO items (name) VALUES ('it''s; fine');"},
  };
}

TEST_P(DbConformance, MigrationsApplyOnceInVersionOrder) {
  std::vector<Migration> ms = base_migrations();
  std::swap(ms[0], ms[1]);  // given out of order: 2 needs the table from 1
  ASSERT_OK(migrate(db(), ms));
  auto applied = applied_migrations(db());
  ASSERT_OK(applied);
  EXPECT_EQ(*applied, (std::vector<int>{1, 2}));
  auto names = db().query("SELECT name FROM items ORDER BY id");
  ASSERT_OK(names);
  ASSERT_EQ(names->size(), 2u);
  EXPECT_EQ((*names)[0].str("name"), "semi;colon");
  EXPECT_EQ((*names)[1].str("name"), "it's; fine");

  // Re-running is a no-op: the seed rows are not inserted twice.
  ASSERT_OK(migrate(db(), ms));
  EXPECT_EQ(count_rows(db(), "items"), 2);
  auto recorded = db().query("SELECT version, name, applied_at FROM schema_migrations ORDER BY version");
  ASSERT_OK(recorded);
  ASSERT_EQ(recorded->size(), 2u);
  EXPECT_EQ((*recorded)[1].str("name"), "seed_items");
  EXPECT_GT((*recorded)[0].i64("applied_at"), int64_t{1600000000000});  // epoch milliseconds

  // A later release adds version 3: only it runs.
  ms.push_back({3, "add_flag", "ALTER TABLE items ADD COLUMN flag BIGINT NOT NULL DEFAULT 0",
                "ALTER TABLE items ADD COLUMN flag BIGINT NOT NULL DEFAULT 0"});
  ASSERT_OK(migrate(db(), ms));
  applied = applied_migrations(db());
  ASSERT_OK(applied);
  EXPECT_EQ(*applied, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(count_rows(db(), "items"), 2);
}

TEST_P(DbConformance, AppliedMigrationsIsEmptyOnFreshDatabase) {
  auto applied = applied_migrations(db());
  ASSERT_OK(applied);
  EXPECT_TRUE(applied->empty());
}

TEST_P(DbConformance, FailingMigrationRollsBackAndStopsLaterVersions) {
  std::vector<Migration> ms = base_migrations();
  ms.push_back({3, "broken_step",
                "CREATE TABLE half_done (x BIGINT); INSERT INTO items (name) VALUES ('partial'); THIS IS NOT SQL",
                "CREATE TABLE half_done (x BIGINT); INSERT INTO items (name) VALUES ('partial'); THIS IS NOT SQL"});
  ms.push_back({4, "after_broken", "CREATE TABLE later (x BIGINT)", "CREATE TABLE later (x BIGINT)"});
  Status st = migrate(db(), ms);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("3"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("broken_step"), std::string::npos) << st.error().message;
  auto applied = applied_migrations(db());
  ASSERT_OK(applied);
  EXPECT_EQ(*applied, (std::vector<int>{1, 2}));
  EXPECT_EQ(count_rows(db(), "items"), 2);  // the 'partial' insert was rolled back
  EXPECT_FALSE(db().query("SELECT count(*) FROM half_done").ok());
  EXPECT_FALSE(db().query("SELECT count(*) FROM later").ok());
}

TEST_P(DbConformance, DuplicateMigrationVersionsAreRefused) {
  std::vector<Migration> ms = base_migrations();
  ms.push_back({1, "again", "CREATE TABLE again (x BIGINT)", "CREATE TABLE again (x BIGINT)"});
  Status st = migrate(db(), ms);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::internal);
  EXPECT_NE(st.error().message.find("version 1"), std::string::npos) << st.error().message;
  auto applied = applied_migrations(db());
  ASSERT_OK(applied);
  EXPECT_TRUE(applied->empty());
}

TEST_P(DbConformance, CheckWritableSucceedsRepeatedly) {
  ASSERT_OK(db().check_writable());
  ASSERT_OK(db().check_writable());
}

TEST_P(DbConformance, LargeResultSetComesBackComplete) {
  ASSERT_OK(db().exec("CREATE TABLE big (id BIGINT PRIMARY KEY, label TEXT NOT NULL)"));
  constexpr int64_t kRows = 10000;
  ASSERT_OK(db().transact([&](Tx& tx) -> Status {
    for (int64_t i = 1; i <= kRows; ++i) {
      SECPLAT_TRY(tx.exec("INSERT INTO big (id, label) VALUES ($1, $2)", {i, "row " + std::to_string(i)}));
    }
    return ok_status();
  }));
  auto rows = db().query("SELECT id, label FROM big ORDER BY id");
  ASSERT_OK(rows);
  ASSERT_EQ(rows->size(), static_cast<std::size_t>(kRows));
  int64_t sum = 0;
  for (const Row& r : *rows) sum += r.i64("id");
  EXPECT_EQ(sum, kRows * (kRows + 1) / 2);
  EXPECT_EQ(rows->back().str("label"), "row 10000");
}

TEST_P(DbConformance, MalformedSqlIsInternalErrorAndDbStaysUsable) {
  auto q = db().query("SELEC nonsense FROM");
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.error().code, Errc::internal);
  auto e = db().exec("INSERT INTO no_such_table (x) VALUES (1)");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, Errc::internal);
  Status st = db().transact([](Tx& tx) -> Status {
    SECPLAT_TRY(tx.exec("UPDATE no_such_table SET x = 1"));
    return ok_status();
  });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::internal);
  create_kv(db());
  ASSERT_OK(db().exec("INSERT INTO kv (k, n) VALUES ('still', 1)"));
  EXPECT_EQ(count_rows(db(), "kv"), 1);
}

}  // namespace
}  // namespace secplat::store::testing
