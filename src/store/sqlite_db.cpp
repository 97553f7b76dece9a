#include "store/sqlite_db.h"

#include <sqlite3.h>

#include <atomic>
#include <algorithm>
#include <cctype>
#include <exception>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <list>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/log.h"
#include "core/thread_name.h"
#include "store/async_write.h"
#include "store/sqlite_wal_vfs.h"

namespace secplat::store {
namespace {

constexpr std::size_t kStatementCacheCapacity = 256;

struct StatementCounters {
  std::atomic<int64_t> prepared{0};
  std::atomic<int64_t> hits{0};
  std::atomic<int64_t> transactions{0};
  std::atomic<int64_t> commits{0};
  std::atomic<int64_t> async_refused{0};
  std::atomic<int64_t> checkpoints{0};         // run by the checkpointer thread
  std::atomic<int64_t> inline_checkpoints{0};  // run by a committing writer to let the WAL start over
  std::atomic<int64_t> group_reruns{0};        // see run_without_savepoints()
};

// WAL checkpoints (copying committed pages back into the database file, with its fsync) run on a
// thread of their own, one for every SqliteOptions::checkpoint_pages committed since the last, so
// no commit waits for one (the longer the stretch, the more of its frames are the same hot pages,
// copied once). The WAL starts over from its beginning only when a commit finds every earlier frame
// copied, which under a steady stream of commits the checkpointer never quite achieves. So once the
// WAL holds twice that (restart), the committing writer checkpoints itself as soon as at most
// kInlinePages frames are left to copy (a short copy, not SQLite's usual 1,000 pages), and the
// next commit reuses the WAL from its start. Should the checkpointer fall behind (a starved CPU, a
// slow disk), the writer accepts a longer copy the longer the WAL grows, and at four times the
// stretch (force) copies whatever is left, as SQLite's own auto-checkpoint would: the WAL stays
// bounded either way.
constexpr int kInlinePages = 256;
struct CheckpointPages {
  int every, restart, force;
};
CheckpointPages checkpoint_pages_of(int every) {
  every = std::max(every, 2 * kInlinePages);
  return {every, 2 * every, 4 * every};
}

struct StatementDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StatementPtr = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// SQLite says "UNIQUE constraint failed: users.username"; we keep the engine's detail but
// lowercase the kind so messages read the same across adapters.
std::string constraint_message(std::string msg) {
  std::size_t colon = msg.find(':');
  std::size_t end = colon == std::string::npos ? msg.size() : colon;
  for (std::size_t i = 0; i < end; ++i) {
    msg[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(msg[i])));
  }
  return msg;
}

// Maps a failed sqlite call to the port's error kinds. Must be called before the next call on db,
// which would overwrite the error message.
Error map_error(sqlite3* db, int rc, std::string_view sql) {
  std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const int primary = rc & 0xff;
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return Error::conflict(constraint_message(std::move(msg)));
  }
  if (primary == SQLITE_CONSTRAINT) return Error::bad_request(constraint_message(std::move(msg)));
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    log::warn("database busy", {log::str("error", msg), log::str("sql", sql.substr(0, 300))});
    Error e = Error::unavailable("database is busy, try again");
    e.retry_after_s = 1;
    return e;
  }
  log::error("database error", {log::integer("code", rc), log::str("error", msg),
                                 log::str("sql", sql.substr(0, 300))});
  // The engine's text (table names, SQL fragments) goes to the log, not to clients.
  return Error::internal("database error");
}

// A cached statement and what its executions need to know of it, worked out once: where each $N
// is bound, and (after its first row) its column names with their lookup.
struct Statement {
  std::string sql;
  StatementPtr stmt;
  std::vector<int> slot_of;          // slot_of[N - 1]: the statement's parameter index of $N, 0 if unused
  std::string bad_parameter;         // a parameter that is not $N (N >= 1), if any
  std::shared_ptr<const Columns> columns;
  int columns_prepare_count = -1;    // SQLITE_STMTSTATUS_REPREPARE when `columns` was read
};

// Reads the statement's placeholders into `slot_of` (SQLite numbers a repeated $N once).
void map_parameters(Statement& s) {
  const int count = sqlite3_bind_parameter_count(s.stmt.get());
  for (int j = 1; j <= count; ++j) {
    const char* name = sqlite3_bind_parameter_name(s.stmt.get(), j);
    std::size_t n = 0;
    bool valid = name && name[0] == '$';
    if (valid) {
      std::string_view digits(name + 1);
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
      valid = ec == std::errc() && p == digits.data() + digits.size() && n >= 1 && n <= 65535;
    }
    if (!valid) {
      s.bad_parameter = name ? name : "?";
      return;
    }
    if (s.slot_of.size() < n) s.slot_of.resize(n, 0);
    s.slot_of[n - 1] = j;
  }
}

// One sqlite3 handle plus its statement cache. Not thread-safe: the owner (writer mutex or reader
// pool lease) guarantees one user at a time.
class Connection {
 public:
  Connection(sqlite3* db, StatementCounters* counters) : db_(db), counters_(counters) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    index_.clear();
    lru_.clear();  // finalizes every cached statement before the handle closes
    sqlite3_close_v2(db_);
  }

  sqlite3* handle() const { return db_; }

  // A compiled statement for exactly one SQL statement, reset and unbound, owned by the cache.
  Result<Statement*> prepare(std::string_view sql) {
    if (auto it = index_.find(sql); it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      counters_->hits.fetch_add(1, std::memory_order_relaxed);
      return &*it->second;
    }
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                &raw, &tail);
    StatementPtr stmt(raw);
    if (rc != SQLITE_OK) return map_error(db_, rc, sql);
    if (!stmt) return Error::internal("database error: empty statement");
    std::string_view rest = trim(std::string_view(tail, sql.data() + sql.size() - tail));
    if (!rest.empty()) {
      sqlite3_stmt* extra = nullptr;
      rc = sqlite3_prepare_v2(db_, rest.data(), static_cast<int>(rest.size()), &extra, nullptr);
      StatementPtr extra_owner(extra);
      if (rc != SQLITE_OK || extra) {
        return Error::internal("database error: several statements in one call (use exec_script)");
      }
    }
    counters_->prepared.fetch_add(1, std::memory_order_relaxed);
    if (lru_.size() >= kStatementCacheCapacity) {
      index_.erase(lru_.back().sql);
      lru_.pop_back();
    }
    lru_.push_front(Statement{std::string(sql), std::move(stmt), {}, {}, nullptr, -1});
    map_parameters(lru_.front());
    index_.emplace(lru_.front().sql, lru_.begin());
    return &lru_.front();
  }

 private:
  sqlite3* db_;
  StatementCounters* counters_;
  std::list<Statement> lru_;  // most recently used first; list nodes keep `sql` addresses stable
  // SQL texts run to a kilobyte and more: the hash reads their length and at most 64 bytes from
  // each end, which tells the cached statements apart as well (equal keys are still compared whole).
  struct SqlHash {
    std::size_t operator()(std::string_view sql) const {
      if (sql.size() <= 128) return std::hash<std::string_view>()(sql);
      const std::size_t head = std::hash<std::string_view>()(sql.substr(0, 64));
      const std::size_t tail = std::hash<std::string_view>()(sql.substr(sql.size() - 64));
      return head ^ (tail * 31) ^ (sql.size() * 0x9e3779b97f4a7c15ull);
    }
  };
  std::unordered_map<std::string_view, std::list<Statement>::iterator, SqlHash> index_;
};

// Binds params[i] to the parameter named "$<i+1>". Every parameter of the statement must be a
// $N with a value and every value must be used, as PostgreSQL requires.
Status bind_params(sqlite3* db, const Statement& s, const Params& params) {
  if (!s.bad_parameter.empty() || s.slot_of.size() > params.size()) {
    const std::string name = !s.bad_parameter.empty() ? s.bad_parameter : "$" + std::to_string(s.slot_of.size());
    return Error::internal("database error: statement parameter " + name + " has no value (" +
                           std::to_string(params.size()) + " given; use $1..$N placeholders)");
  }
  sqlite3_stmt* stmt = s.stmt.get();
  for (std::size_t i = 0; i < params.size(); ++i) {
    const int idx = i < s.slot_of.size() ? s.slot_of[i] : 0;
    if (idx == 0) {
      return Error::internal("database error: parameter $" + std::to_string(i + 1) + " is not used by the statement");
    }
    const Value& v = params[i];
    int rc = SQLITE_OK;
    if (const auto* iv = std::get_if<int64_t>(&v)) {
      rc = sqlite3_bind_int64(stmt, idx, *iv);
    } else if (const auto* dv = std::get_if<double>(&v)) {
      rc = sqlite3_bind_double(stmt, idx, *dv);
    } else if (const auto* sv = std::get_if<std::string>(&v)) {
      // SQLITE_STATIC is safe: bindings are cleared before params go out of scope.
      rc = sqlite3_bind_text64(stmt, idx, sv->data(), sv->size(), SQLITE_STATIC, SQLITE_UTF8);
    } else {
      rc = sqlite3_bind_null(stmt, idx);
    }
    if (rc != SQLITE_OK) return map_error(db, rc, s.sql);
  }
  return ok_status();
}

Value column_value(sqlite3_stmt* stmt, int i) {
  switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER:
      return static_cast<int64_t>(sqlite3_column_int64(stmt, i));
    case SQLITE_FLOAT:
      return sqlite3_column_double(stmt, i);
    case SQLITE_TEXT: {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
      return std::string(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(stmt, i)));
    }
    case SQLITE_BLOB: {
      const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt, i));
      return std::string(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(stmt, i)));
    }
    default:
      return std::monostate{};
  }
}

// Binds, steps to completion (so the statement never holds a read snapshot open afterwards),
// collects rows into `out` when given, and returns the rows changed by this statement.
Result<int64_t> run(Connection& conn, Statement& s, const Params& params, Rows* out) {
  sqlite3* db = conn.handle();
  sqlite3_stmt* stmt = s.stmt.get();
  const std::string_view sql = s.sql;
  struct ResetOnExit {
    sqlite3_stmt* s;
    ~ResetOnExit() {
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
    }
  } reset{stmt};

  SECPLAT_TRY(bind_params(db, s, params));
  const int64_t changes_before = sqlite3_total_changes64(db);
  // Column names are read after the first step: a step may transparently re-prepare the statement
  // after a schema change, and `SELECT *` can then have a different shape. They are kept with the
  // statement until SQLite says it re-prepared it.
  int ncols = 0;
  bool first = true;
  for (;;) {
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return map_error(db, rc, sql);
    if (!out) continue;
    if (first) {
      first = false;
      ncols = sqlite3_column_count(stmt);
      const int prepared = sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_REPREPARE, 0);
      if (!s.columns || s.columns_prepare_count != prepared || static_cast<int>(s.columns->size()) != ncols) {
        std::vector<std::string> names;
        names.reserve(static_cast<std::size_t>(ncols));
        for (int i = 0; i < ncols; ++i) {
          const char* n = sqlite3_column_name(stmt, i);
          names.emplace_back(n ? n : "");
        }
        s.columns = std::make_shared<const Columns>(std::move(names));
        s.columns_prepare_count = prepared;
      }
    }
    std::vector<Value> values;
    values.reserve(static_cast<std::size_t>(ncols));
    for (int i = 0; i < ncols; ++i) values.push_back(column_value(stmt, i));
    out->emplace_back(s.columns, std::move(values));
  }
  // sqlite3_changes64() is stale after DDL/SELECT; it is only trustworthy if something changed.
  if (sqlite3_total_changes64(db) == changes_before) return int64_t{0};
  return static_cast<int64_t>(sqlite3_changes64(db));
}

Result<Rows> query_on(Connection& conn, std::string_view sql, const Params& params) {
  auto stmt = conn.prepare(sql);
  if (!stmt.ok()) return std::move(stmt).take_error();
  Rows rows;
  auto r = run(conn, **stmt, params, &rows);
  if (!r.ok()) return std::move(r).take_error();
  return rows;
}

Result<int64_t> exec_on(Connection& conn, std::string_view sql, const Params& params) {
  auto stmt = conn.prepare(sql);
  if (!stmt.ok()) return std::move(stmt).take_error();
  return run(conn, **stmt, params, nullptr);
}

// Runs every statement of a script using SQLite's own parser (the prepare tail), so ';' inside
// literals and trigger bodies are handled exactly as the engine sees them. Not cached.
Status exec_script_on(Connection& conn, std::string_view sql) {
  sqlite3* db = conn.handle();
  const char* p = sql.data();
  const char* end = sql.data() + sql.size();
  while (p < end) {
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v2(db, p, static_cast<int>(end - p), &raw, &tail);
    StatementPtr stmt(raw);
    std::string_view current(p, static_cast<std::size_t>((tail ? tail : end) - p));
    if (rc != SQLITE_OK) return map_error(db, rc, current);
    p = tail ? tail : end;
    if (!stmt) continue;  // whitespace or comments only
    for (;;) {
      rc = sqlite3_step(stmt.get());
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return map_error(db, rc, current);
    }
  }
  return ok_status();
}

// What Tx::change_stamp() reports on SQLite. Every write goes through the one writer connection,
// whose update hook counts the row changes of each table a stamp was asked for; an undo epoch moves
// with every rollback (of a transaction, by the rollback hook, or to a member's savepoint) and with
// every commit of another connection or process (PRAGMA data_version, looked at once in each
// transaction that asks). A stamp is the sum of the table's count and the epoch: both only grow.
// Used only by the thread that holds the writer connection.
class ChangeWatch {
 public:
  void attach(sqlite3* db) {
    sqlite3_update_hook(db, &ChangeWatch::on_update, this);
    sqlite3_rollback_hook(db, &ChangeWatch::on_rollback, this);
    sqlite3_commit_hook(db, &ChangeWatch::on_commit, this);
  }
  void rolled_back_to_savepoint() { ++undo_epoch_; }

  Result<uint64_t> stamp(Connection& conn, std::string_view table) {
    if (!version_checked_) {
      auto rows = query_on(conn, "PRAGMA data_version", {});
      if (!rows.ok()) return std::move(rows).take_error();
      const int64_t version = rows->empty() ? 0 : rows->front().i64("data_version");
      if (version != data_version_) ++undo_epoch_;  // another connection committed (or the first look)
      data_version_ = version;
      version_checked_ = true;
    }
    for (const Table& t : tables_)
      if (t.name == table) return t.changes + undo_epoch_;
    tables_.push_back(Table{std::string(table), 0});
    return undo_epoch_;
  }

 private:
  struct Table {
    std::string name;
    uint64_t changes = 0;
  };
  static void on_update(void* self, int, const char*, const char* table, sqlite3_int64) {
    for (Table& t : static_cast<ChangeWatch*>(self)->tables_)
      if (t.name == table) ++t.changes;
  }
  static void on_rollback(void* self) {
    auto* me = static_cast<ChangeWatch*>(self);
    ++me->undo_epoch_;
    me->version_checked_ = false;
  }
  static int on_commit(void* self) {
    static_cast<ChangeWatch*>(self)->version_checked_ = false;
    return 0;  // let it commit
  }
  std::vector<Table> tables_;
  uint64_t undo_epoch_ = 0;
  int64_t data_version_ = -1;
  bool version_checked_ = false;  // in the current transaction
};

class SqliteTx final : public Tx {
 public:
  SqliteTx(Connection& conn, ChangeWatch& watch) : conn_(conn), watch_(watch) {}
  Result<Rows> query(std::string_view sql, const Params& params) override { return query_on(conn_, sql, params); }
  Result<int64_t> exec(std::string_view sql, const Params& params) override { return exec_on(conn_, sql, params); }
  Status exec_script(std::string_view sql) override { return exec_script_on(conn_, sql); }
  Result<std::optional<int64_t>> insert_id(std::string_view sql, const Params& params, std::string_view) override {
    auto n = exec_on(conn_, sql, params);
    if (!n.ok()) return std::move(n).take_error();
    if (*n == 0) return std::optional<int64_t>();
    return std::optional<int64_t>(sqlite3_last_insert_rowid(conn_.handle()));
  }
  Result<std::optional<uint64_t>> change_stamp(std::string_view table) override {
    auto st = watch_.stamp(conn_, table);
    if (!st.ok()) return std::move(st).take_error();
    return std::optional<uint64_t>(*st);
  }

 private:
  Connection& conn_;
  ChangeWatch& watch_;
};

Result<std::string> pragma_text(sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
  StatementPtr stmt(raw);
  if (rc != SQLITE_OK) return map_error(db, rc, sql);
  std::string value;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), 0));
    if (t) value = t;
  }
  if (rc != SQLITE_DONE) return map_error(db, rc, sql);
  return value;
}

Result<std::unique_ptr<Connection>> open_connection(const std::string& path, bool writer, int busy_timeout_ms,
                                                    StatementCounters* counters) {
  sqlite3* raw = nullptr;
  const int flags = (writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY) |
                    SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, wal_batching_vfs());
  // The Connection owns the handle even when opening failed (sqlite allocates it anyway).
  auto conn = std::make_unique<Connection>(raw, counters);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    log::error("cannot open database", {log::str("path", path), log::str("error", msg)});
    return Error::unavailable("cannot open database " + path + ": " + msg);
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  if (writer) {
    if (sqlite3_db_readonly(raw, "main") == 1) {
      return Error::unavailable("database file is read-only: " + path);
    }
    auto mode = pragma_text(raw, "PRAGMA journal_mode=WAL");
    if (!mode.ok()) return std::move(mode).take_error();
    if (*mode != "wal") return Error::unavailable("cannot switch database to WAL mode (got '" + *mode + "')");
    // Each member of a commit group runs in a SAVEPOINT, whose undo copies (the statement journal)
    // would otherwise spill past 64 KiB into a temporary file: a write syscall per page touched.
    auto temp = pragma_text(raw, "PRAGMA temp_store=MEMORY");
    if (!temp.ok()) return std::move(temp).take_error();
    auto cache = pragma_text(raw, "PRAGMA cache_size=-16384");
    if (!cache.ok()) return std::move(cache).take_error();
  }
  for (const char* pragma : {"PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON"}) {
    auto r = pragma_text(raw, pragma);
    if (!r.ok()) return std::move(r).take_error();
  }
  if (writer) {
    // Touch the schema so the -wal and -shm files exist before read-only connections open.
    auto r = pragma_text(raw, "SELECT count(*) FROM sqlite_schema");
    if (!r.ok()) return std::move(r).take_error();
  }
  return conn;
}

}  // namespace

class SqliteDb final : public Db {
 public:
  explicit SqliteDb(SqliteOptions options)
      : options_(std::move(options)), checkpoint_at_(checkpoint_pages_of(options_.checkpoint_pages)) {}
  ~SqliteDb() override {
    // Asynchronous writes already queued still run and get their answer; then the writer thread ends.
    {
      std::lock_guard<std::mutex> lock(group_mu_);
      closing_ = true;
    }
    writer_cv_.notify_one();
    if (async_thread_.joinable()) async_thread_.join();
    {
      std::lock_guard<std::mutex> lock(answer_mu_);
      answer_closing_ = true;
    }
    answer_cv_.notify_one();
    if (answer_thread_.joinable()) answer_thread_.join();  // after the last group's answers
    {
      std::lock_guard<std::mutex> lock(checkpoint_mu_);
      checkpoint_closing_ = true;
    }
    checkpoint_cv_.notify_one();
    if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
    checkpointer_.reset();
    idle_readers_.clear();
    readers_.clear();
    writer_.reset();
  }

  Status open() {
    auto w = open_connection(options_.path, true, options_.busy_timeout_ms, &counters_);
    if (!w.ok()) return std::move(w).take_error();
    writer_ = std::move(*w);
    auto c = open_connection(options_.path, true, options_.busy_timeout_ms, &counters_);
    if (!c.ok()) return std::move(c).take_error();
    checkpointer_ = std::move(*c);
    sqlite3_wal_hook(writer_->handle(), &SqliteDb::on_commit, this);  // replaces the auto-checkpoint
    watch_.attach(writer_->handle());
    checkpoint_thread_ = std::thread([this] {
      set_thread_name("secplat-dbckpt");
      run_checkpoints();
    });
    answer_thread_ = std::thread([this] {
      set_thread_name("secplat-dbdone");
      run_answers();
    });
    async_thread_ = std::thread([this] {
      set_thread_name("secplat-dbwrite");
      lead_async_groups();
    });
    for (int i = 0; i < options_.readers; ++i) {
      auto r = open_connection(options_.path, false, options_.busy_timeout_ms, &counters_);
      if (!r.ok()) return std::move(r).take_error();
      idle_readers_.push_back(r->get());
      readers_.push_back(std::move(*r));
    }
    return ok_status();
  }

  Dialect dialect() const override { return Dialect::sqlite; }

  Result<Rows> query(std::string_view sql, const Params& params) override {
    if (!readers_.empty()) {
      ReaderLease lease(*this);
      auto stmt = lease.conn->prepare(sql);
      if (!stmt.ok()) return std::move(stmt).take_error();
      if (sqlite3_stmt_readonly((*stmt)->stmt.get())) {
        Rows rows;
        auto r = run(*lease.conn, **stmt, params, &rows);
        if (!r.ok()) return std::move(r).take_error();
        return rows;
      }
      // A write (e.g. INSERT ... RETURNING): fall through to the writer.
    }
    // Writes join the commit group like a one-statement transaction.
    Rows rows;
    Status st = transact([&](Tx& tx) -> Status {
      auto r = tx.query(sql, params);
      if (!r.ok()) return std::move(r).take_error();
      rows = std::move(*r);
      return ok_status();
    });
    if (!st.ok()) return std::move(st).take_error();
    return rows;
  }

  Result<int64_t> exec(std::string_view sql, const Params& params) override {
    int64_t changed = 0;
    Status st = transact([&](Tx& tx) -> Status {
      auto r = tx.exec(sql, params);
      if (!r.ok()) return std::move(r).take_error();
      changed = *r;
      return ok_status();
    });
    if (!st.ok()) return std::move(st).take_error();
    return changed;
  }

  // Group commit: concurrent transact() and transact_async() calls are run by one thread (the
  // leader) in a single SQLite transaction, each in its own SAVEPOINT, and committed together. A
  // member that fails or throws rolls back to its savepoint only; the others commit. A caller hears
  // of its outcome only after the commit, so "ok" still means "durable and visible".
  // Under load this turns N commits (each appending every page it dirtied to the WAL) into one;
  // alone, a call runs at once as a plain BEGIN IMMEDIATE … COMMIT.
  // The leader is the oldest queued member: a transact() caller runs the group on its own thread;
  // asynchronous members are led by the Db's writer thread. Hand-offs are targeted: the leader wakes
  // exactly the waiting members of its group, answers the asynchronous ones, and then makes the
  // oldest queued member the next leader, so nobody wakes only to find its turn has not come.
  Status transact(const std::function<Status(Tx&)>& fn) override {
    if (holds_writer()) return nested_error();
    GroupMember me;
    me.fn = &fn;
    {
      std::unique_lock<std::mutex> lock(group_mu_);
      queued_.push_back(&me);
      if (!group_running_) {  // no group running means nobody is queued either: lead at once
        group_running_ = true;
        me.lead = true;
      }
      while (!me.done) {
        if (!me.lead) {
          me.wake.wait(lock);
          continue;
        }
        me.lead = false;
        lead_one_group(lock);
      }
    }
    if (me.thrown) std::rethrow_exception(me.thrown);
    return me.result;
  }

  void transact_async(std::function<Status(Tx&)> fn, std::function<void(Status)> done) override {
    if (!done) done = [](Status) {};  // a member is asynchronous by having a done_fn
    auto member = std::make_unique<GroupMember>();
    member->owned_fn = std::move(fn);
    member->fn = &member->owned_fn;
    member->done_fn = std::move(done);
    Error refused;
    {
      std::lock_guard<std::mutex> lock(group_mu_);
      if (closing_) {
        refused = Error::unavailable("database is closing");
      } else if (async_queued_ >= async_write::kMaxOutstanding) {
        refused = async_write::queue_full();
      } else {
        ++async_queued_;
        queued_.push_back(member.release());
        if (!group_running_) {
          group_running_ = true;
          async_thread_leads_ = true;
          writer_cv_.notify_one();
        }
        return;
      }
    }
    counters_.async_refused.fetch_add(1, std::memory_order_relaxed);
    async_write::deliver(member->done_fn, std::move(refused));
  }

  Status check_writable() override {
    if (holds_writer()) return nested_error();
    WriterLock lock(*this);
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    auto created = exec_on(*writer_,
                           "CREATE TABLE IF NOT EXISTS _secplat_ready "
                           "(id INTEGER PRIMARY KEY CHECK (id = 1), checked_at INTEGER NOT NULL)",
                           {});
    if (!created.ok()) return Error::unavailable("database is not writable: " + created.error().message);
    auto written = exec_on(*writer_,
                           "INSERT INTO _secplat_ready (id, checked_at) VALUES (1, $1) "
                           "ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
                           {now_ms});
    if (!written.ok()) return Error::unavailable("database is not writable: " + written.error().message);
    return ok_status();
  }

  SqliteStats stats() const {
    SqliteStats st{counters_.prepared.load(std::memory_order_relaxed), counters_.hits.load(std::memory_order_relaxed),
                   counters_.transactions.load(std::memory_order_relaxed),
                   counters_.commits.load(std::memory_order_relaxed), 0,
                   counters_.async_refused.load(std::memory_order_relaxed),
                   counters_.checkpoints.load(std::memory_order_relaxed),
                   counters_.inline_checkpoints.load(std::memory_order_relaxed),
                   counters_.group_reruns.load(std::memory_order_relaxed)};
    std::lock_guard<std::mutex> lock(group_mu_);
    st.async_queued = static_cast<int64_t>(async_queued_);
    return st;
  }

 private:
  // Holds the writer mutex and records the owning thread, so re-entry from inside transact()
  // becomes an error instead of a self-deadlock.
  class WriterLock {
   public:
    explicit WriterLock(SqliteDb& db) : db_(db), lock_(db.writer_mu_) {
      db_.writer_owner_.store(std::this_thread::get_id());
    }
    ~WriterLock() { db_.writer_owner_.store(std::thread::id()); }
    WriterLock(const WriterLock&) = delete;
    WriterLock& operator=(const WriterLock&) = delete;

   private:
    SqliteDb& db_;
    std::lock_guard<std::mutex> lock_;
  };

  // Exclusive use of one read-only connection until destroyed; waits while all are busy.
  struct ReaderLease {
    explicit ReaderLease(SqliteDb& db) : db(db) {
      std::unique_lock<std::mutex> lock(db.readers_mu_);
      db.reader_free_.wait(lock, [&] { return !db.idle_readers_.empty(); });
      conn = db.idle_readers_.back();
      db.idle_readers_.pop_back();
    }
    ~ReaderLease() {
      {
        std::lock_guard<std::mutex> lock(db.readers_mu_);
        db.idle_readers_.push_back(conn);
      }
      db.reader_free_.notify_one();
    }
    ReaderLease(const ReaderLease&) = delete;
    ReaderLease& operator=(const ReaderLease&) = delete;
    SqliteDb& db;
    Connection* conn = nullptr;
  };

  bool holds_writer() const { return writer_owner_.load() == std::this_thread::get_id(); }

  static constexpr std::size_t kMaxGroup = 64;

  struct GroupMember {
    const std::function<Status(Tx&)>* fn = nullptr;
    Status result;
    std::exception_ptr thrown;
    bool done = false;  // guarded by group_mu_
    bool lead = false;  // guarded by group_mu_: this caller runs the next group
    std::condition_variable wake;
    // Set for transact_async(): the member owns its work and is answered through done_fn.
    std::function<Status(Tx&)> owned_fn;
    std::function<void(Status)> done_fn;
  };

  // The writer thread: leads whenever the oldest queued member is asynchronous.
  void lead_async_groups() {
    std::unique_lock<std::mutex> lock(group_mu_);
    for (;;) {
      writer_cv_.wait(lock, [&] { return async_thread_leads_ || closing_; });
      if (!async_thread_leads_) return;  // closing, and nothing queued is ours to lead
      async_thread_leads_ = false;
      lead_one_group(lock);
    }
  }

  // Called holding group_mu_ by the current leader; returns holding it, leadership handed on.
  void lead_one_group(std::unique_lock<std::mutex>& lock) {
    const std::size_t n = std::min(queued_.size(), kMaxGroup);
    std::vector<GroupMember*> group(queued_.begin(), queued_.begin() + static_cast<std::ptrdiff_t>(n));
    queued_.erase(queued_.begin(), queued_.begin() + static_cast<std::ptrdiff_t>(n));
    lock.unlock();
    run_group_guarded(group);
    lock.lock();
    std::vector<std::unique_ptr<GroupMember>> answered;
    // Notified under the lock: a waiting member returns (and its wake-up goes away) only after it
    // has seen `done`, which it can only check holding the lock.
    for (GroupMember* m : group) {
      if (m->done_fn) {
        answered.emplace_back(m);
      } else {
        m->done = true;
        m->wake.notify_one();
      }
    }
    // The asynchronous members are answered by the answer thread while the next group runs: their
    // done()s (an HTTP reply built and handed to its I/O thread) are not the writer's work.
    if (!answered.empty()) hand_over(std::move(answered));
    if (queued_.empty()) {
      group_running_ = false;
    } else if (queued_.front()->done_fn) {
      async_thread_leads_ = true;
      writer_cv_.notify_one();
    } else {
      queued_.front()->lead = true;
      queued_.front()->wake.notify_one();
    }
  }

  static void answer(GroupMember& m) {
    async_write::deliver(m.done_fn, m.thrown ? Status(async_write::thrown(m.thrown)) : m.result);
  }

  // Queues a group's committed asynchronous members for the answer thread (a wake-up only when it
  // may be waiting: it waits only with nothing queued).
  void hand_over(std::vector<std::unique_ptr<GroupMember>> members) {
    bool was_empty;
    {
      std::lock_guard<std::mutex> lock(answer_mu_);
      was_empty = answers_.empty();
      if (was_empty) {
        answers_ = std::move(members);
      } else {
        for (auto& m : members) answers_.push_back(std::move(m));
      }
    }
    if (was_empty) answer_cv_.notify_one();
  }

  // The answer thread: calls the done() of every committed asynchronous member, in commit order.
  // A member counts as outstanding (see async_write::kMaxOutstanding) until its turn here comes.
  void run_answers() {
    std::unique_lock<std::mutex> lock(answer_mu_);
    for (;;) {
      answer_cv_.wait(lock, [&] { return !answers_.empty() || answer_closing_; });
      if (answers_.empty()) return;  // closing, and every answer given
      std::vector<std::unique_ptr<GroupMember>> batch = std::move(answers_);
      answers_.clear();
      lock.unlock();
      {
        std::lock_guard<std::mutex> group_lock(group_mu_);
        async_queued_ -= batch.size();
      }
      for (auto& m : batch) answer(*m);
      batch.clear();
      lock.lock();
    }
  }

  void run_group_guarded(const std::vector<GroupMember*>& group) {
    try {
      run_group(group);
    } catch (...) {  // out of memory in the machinery itself: no member's outcome is known
      {
        WriterLock writer(*this);
        rollback();
      }
      for (GroupMember* m : group)
        if (!m->thrown) m->thrown = std::current_exception();
    }
  }

  // Runs one group on the writer connection (see transact()).
  void run_group(const std::vector<GroupMember*>& group) {
    WriterLock lock(*this);
    counters_.transactions.fetch_add(static_cast<int64_t>(group.size()), std::memory_order_relaxed);
    counters_.commits.fetch_add(1, std::memory_order_relaxed);
    auto fail_all = [&](const Error& e) {
      for (GroupMember* m : group) {
        if (!m->thrown) m->result = e;
      }
    };
    if (auto begin = exec_on(*writer_, "BEGIN IMMEDIATE", {}); !begin.ok()) {
      fail_all(begin.error());
      return;
    }
    SqliteTx tx(*writer_, watch_);
    if (group.size() == 1) {
      GroupMember& m = *group.front();
      try {
        m.result = (*m.fn)(tx);
      } catch (...) {
        m.thrown = std::current_exception();
      }
      if (m.thrown || !m.result.ok()) {
        rollback();
        return;
      }
    } else {
      if (run_without_savepoints(group)) return;  // committed or failed as a whole; else begun again
      for (std::size_t i = 0; i < group.size(); ++i) {
        GroupMember& m = *group[i];
        if (auto sp = exec_on(*writer_, "SAVEPOINT secplat_member", {}); !sp.ok()) {
          m.result = sp.error();
          continue;
        }
        try {
          m.result = (*m.fn)(tx);
        } catch (...) {
          m.thrown = std::current_exception();
        }
        if (sqlite3_get_autocommit(writer_->handle())) {
          // SQLite rolled the whole transaction back (an I/O or full-disk error): the members before
          // this one lost their writes too, and the rest never ran in it.
          Error lost = Error::unavailable("database error: transaction rolled back, retry");
          if (!m.thrown && m.result.ok()) m.result = lost;
          for (std::size_t j = 0; j < group.size(); ++j) {
            if (j != i && !group[j]->thrown && (j > i || group[j]->result.ok())) group[j]->result = lost;
          }
          return;
        }
        if (m.thrown || !m.result.ok()) {
          auto undo = exec_on(*writer_, "ROLLBACK TO secplat_member", {});
          watch_.rolled_back_to_savepoint();
          if (!undo.ok()) log::error("rollback to savepoint failed", {log::str("error", undo.error().message)});
        }
        if (auto rel = exec_on(*writer_, "RELEASE secplat_member", {}); !rel.ok() && m.result.ok() && !m.thrown) {
          m.result = rel.error();
        }
      }
    }
    commit_group(group);
  }

  // A group of transact_async() members only (their work may run again: see db.h) first runs
  // without a savepoint per member — two statements and a pager savepoint each. If every member
  // succeeds, the group commits (true). If one fails, the transaction is rolled back and begun
  // again, and the caller runs the whole group again with savepoints (false); the first run's
  // outcomes are forgotten (a transaction SQLite itself rolled back is run again the same way).
  // True also when the transaction cannot begin again: every member then has that error.
  bool run_without_savepoints(const std::vector<GroupMember*>& group) {
    for (const GroupMember* m : group)
      if (!m->done_fn) return false;
    SqliteTx tx(*writer_, watch_);
    bool failed = false;
    for (GroupMember* m : group) {
      try {
        m->result = (*m->fn)(tx);
      } catch (...) {
        m->thrown = std::current_exception();
      }
      failed = m->thrown || !m->result.ok() || sqlite3_get_autocommit(writer_->handle());
      if (failed) break;
    }
    if (!failed) {
      commit_group(group);
      return true;
    }
    rollback();
    counters_.group_reruns.fetch_add(1, std::memory_order_relaxed);
    for (GroupMember* m : group) {
      m->result = ok_status();
      m->thrown = nullptr;
    }
    if (auto begin = exec_on(*writer_, "BEGIN IMMEDIATE", {}); !begin.ok()) {
      for (GroupMember* m : group) m->result = begin.error();
      return true;
    }
    return false;
  }

  void commit_group(const std::vector<GroupMember*>& group) {
    if (auto commit = exec_on(*writer_, "COMMIT", {}); !commit.ok()) {
      rollback();
      for (GroupMember* m : group) {
        if (!m->thrown && m->result.ok()) m->result = commit.error();
      }
    }
  }

  // SQLite's WAL hook: called on the committing thread after every commit, with the WAL's size.
  static int on_commit(void* self, sqlite3* db, const char* schema, int wal_pages) {
    auto* me = static_cast<SqliteDb*>(self);
    int copied = me->checkpointed_pages_.load(std::memory_order_relaxed);
    if (copied > wal_pages) copied = 0;  // the WAL started over since the checkpointer's last pass
    const int pending = wal_pages - copied;
    const CheckpointPages& at = me->checkpoint_at_;
    if (wal_pages >= at.force || (wal_pages >= at.restart && pending <= kInlinePages + (wal_pages - at.restart) / 2)) {
      // Past `force` this waits for a pass of the checkpointer under way, so it cannot be
      // refused; short of it a busy checkpointer means the next commit looks again.
      std::unique_lock<std::mutex> pass(me->checkpoint_pass_mu_, std::defer_lock);
      if (wal_pages >= at.force) pass.lock();
      int done = 0;
      if (sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, &done) == SQLITE_OK) {
        me->checkpointed_pages_.store(done, std::memory_order_relaxed);
        me->counters_.inline_checkpoints.fetch_add(1, std::memory_order_relaxed);
      }
    } else if ((pending >= at.every || wal_pages >= at.restart) && !me->checkpoint_wanted_.exchange(true)) {
      { std::lock_guard<std::mutex> lock(me->checkpoint_mu_); }  // no lost wake-up
      me->checkpoint_cv_.notify_one();
    }
    return SQLITE_OK;
  }

  // The checkpointer thread: a PASSIVE checkpoint on its own connection whenever a commit asks for
  // one. It never blocks the writer or the readers; frames a reader still needs wait for the next one.
  void run_checkpoints() {
    std::unique_lock<std::mutex> lock(checkpoint_mu_);
    for (;;) {
      checkpoint_cv_.wait(lock, [&] { return checkpoint_closing_ || checkpoint_wanted_.load(); });
      if (checkpoint_closing_) return;
      lock.unlock();
      checkpoint_wanted_.store(false);
      int done = 0;
      int rc;
      {
        std::lock_guard<std::mutex> pass(checkpoint_pass_mu_);
        rc = sqlite3_wal_checkpoint_v2(checkpointer_->handle(), "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, &done);
      }
      if (rc == SQLITE_OK) {
        checkpointed_pages_.store(done, std::memory_order_relaxed);
        counters_.checkpoints.fetch_add(1, std::memory_order_relaxed);
      } else if ((rc & 0xff) != SQLITE_BUSY) {
        log::warn("wal checkpoint failed", {log::str("error", sqlite3_errmsg(checkpointer_->handle()))});
      }
      lock.lock();
    }
  }

  static Error nested_error() {
    return Error::internal("database error: Db used for a write from inside transact(); use the Tx");
  }

  void rollback() {
    if (sqlite3_get_autocommit(writer_->handle())) return;  // sqlite already rolled back
    auto r = exec_on(*writer_, "ROLLBACK", {});
    if (!r.ok()) log::error("rollback failed", {log::str("error", r.error().message)});
  }

  SqliteOptions options_;
  const CheckpointPages checkpoint_at_;
  StatementCounters counters_;
  mutable std::mutex group_mu_;
  std::vector<GroupMember*> queued_;  // guarded by group_mu_
  bool group_running_ = false;        // guarded by group_mu_: a leader exists (queued_ or running)
  bool async_thread_leads_ = false;   // guarded by group_mu_: the writer thread runs the next group
  bool closing_ = false;              // guarded by group_mu_
  std::size_t async_queued_ = 0;      // guarded by group_mu_: transact_async() members not yet answered
  std::condition_variable writer_cv_;
  std::thread async_thread_;
  std::mutex answer_mu_;
  std::condition_variable answer_cv_;
  std::vector<std::unique_ptr<GroupMember>> answers_;  // guarded by answer_mu_: committed, not yet answered
  bool answer_closing_ = false;                        // guarded by answer_mu_
  std::thread answer_thread_;                          // runs run_answers()
  std::mutex writer_mu_;
  std::atomic<std::thread::id> writer_owner_{};
  ChangeWatch watch_;                   // guarded by writer_mu_ (its hooks run on the writer)
  std::unique_ptr<Connection> writer_;  // guarded by writer_mu_
  std::mutex readers_mu_;
  std::condition_variable reader_free_;
  std::vector<std::unique_ptr<Connection>> readers_;
  std::vector<Connection*> idle_readers_;  // guarded by readers_mu_
  std::unique_ptr<Connection> checkpointer_;  // used by checkpoint_thread_ only
  std::thread checkpoint_thread_;
  std::mutex checkpoint_mu_;
  std::mutex checkpoint_pass_mu_;  // held by the checkpointer during a pass; a forced checkpoint waits on it
  std::condition_variable checkpoint_cv_;
  std::atomic<bool> checkpoint_wanted_{false};
  std::atomic<int> checkpointed_pages_{0};  // WAL frames copied back, as of the last checkpoint
  bool checkpoint_closing_ = false;  // guarded by checkpoint_mu_
};

Result<std::unique_ptr<Db>> open_sqlite(const SqliteOptions& options) {
  if (options.path.empty()) return Error::bad_request("database path is empty");
  if (options.path == ":memory:" || options.path.rfind("file:", 0) == 0) {
    return Error::bad_request("database path must be a file path, not '" + options.path + "'");
  }
  if (options.readers < 0) return Error::bad_request("store.readers must be >= 0");
  if (options.busy_timeout_ms < 0) return Error::bad_request("store.busy_timeout_ms must be >= 0");
  std::filesystem::path parent = std::filesystem::path(options.path).parent_path();
  if (parent.empty()) parent = ".";
  std::error_code ec;
  if (!std::filesystem::is_directory(parent, ec)) {
    return Error::bad_request("database directory does not exist: " + parent.string());
  }
  auto db = std::make_unique<SqliteDb>(options);
  SECPLAT_TRY(db->open());
  return std::unique_ptr<Db>(std::move(db));
}

std::optional<SqliteStats> sqlite_stats(const Db& db) {
  if (const auto* s = dynamic_cast<const SqliteDb*>(&db)) return s->stats();
  return std::nullopt;
}

}  // namespace secplat::store
