#include "store/postgres_db.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/log.h"
#include "core/worker_pool.h"
#include "store/async_write.h"

namespace secplat::store {
namespace {

// The one advisory lock every write transaction holds (serialises writers, like SQLite's).
constexpr int64_t kWriterLockKey = 0x5EC91A7D8;

// Type oids (pg_type.h) the adapter maps to numbers.
constexpr Oid kInt8 = 20, kInt2 = 21, kInt4 = 23, kOid = 26, kBool = 16, kFloat4 = 700, kFloat8 = 701,
              kNumeric = 1700;

using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

std::string first_line(const char* text) {
  std::string s = text ? text : "";
  if (auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
  if (s.starts_with("ERROR:  ")) s = s.substr(8);
  return s;
}

bool connection_lost(PGconn* conn) { return conn == nullptr || PQstatus(conn) != CONNECTION_OK; }

Error unavailable(std::string why) {
  log::warn("database unavailable", {log::str("error", why)});
  Error e = Error::unavailable("database unavailable, try again");
  e.retry_after_s = 1;
  return e;
}

Error map_error(PGconn* conn, const PGresult* res, std::string_view sql) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string msg = first_line(res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
  if (connection_lost(conn) || state == nullptr) return unavailable(msg);
  const std::string s(state);
  if (s == "23505") return Error::conflict(msg);       // unique_violation (also primary keys)
  if (s.starts_with("23")) return Error::bad_request(msg);  // not null, check, foreign key
  if (s.starts_with("08") || s.starts_with("57P") || s == "40001" || s == "40P01" || s == "53300")
    return unavailable(msg);
  log::error("database error", {log::str("sqlstate", s), log::str("error", msg), log::str("sql", sql.substr(0, 300))});
  // The engine's text (table names, SQL fragments) goes to the log, not to clients.
  return Error::internal("database error");
}

bool is_plain_select(std::string_view sql) {
  std::size_t i = 0;
  while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
  if (sql.size() - i < 6) return false;
  std::string head(sql.substr(i, 6));
  for (char& c : head) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return head == "SELECT";
}

// Parameters as text with int8/float8 types for numbers (strings and NULL: type inferred).
struct BoundParams {
  std::vector<std::string> storage;
  std::vector<const char*> values;
  std::vector<Oid> types;

  explicit BoundParams(const Params& params) {
    storage.reserve(params.size());
    for (const Value& v : params) {
      if (std::holds_alternative<std::monostate>(v)) {
        storage.emplace_back();
      } else if (auto* i = std::get_if<int64_t>(&v)) {
        storage.push_back(std::to_string(*i));
      } else if (auto* d = std::get_if<double>(&v)) {
        if (std::isnan(*d)) storage.emplace_back("NaN");
        else if (std::isinf(*d)) storage.emplace_back(*d > 0 ? "Infinity" : "-Infinity");
        else {
          char buf[32];
          auto r = std::to_chars(buf, buf + sizeof buf, *d);  // shortest text that reads back exactly
          storage.emplace_back(buf, r.ptr);
        }
      } else {
        storage.push_back(std::get<std::string>(v));
      }
    }
    for (std::size_t k = 0; k < params.size(); ++k) {
      const Value& v = params[k];
      values.push_back(std::holds_alternative<std::monostate>(v) ? nullptr : storage[k].c_str());
      types.push_back(std::holds_alternative<int64_t>(v) ? kInt8 : std::holds_alternative<double>(v) ? kFloat8 : 0);
    }
  }
};

Rows to_rows(const PGresult* res) {
  const int ncols = PQnfields(res);
  auto names = std::make_shared<std::vector<std::string>>();
  std::vector<Oid> types;
  for (int c = 0; c < ncols; ++c) {
    names->emplace_back(PQfname(res, c));
    types.push_back(PQftype(res, c));
  }
  const int nrows = PQntuples(res);
  Rows rows;
  rows.reserve(static_cast<std::size_t>(nrows));
  for (int r = 0; r < nrows; ++r) {
    std::vector<Value> values;
    values.reserve(static_cast<std::size_t>(ncols));
    for (int c = 0; c < ncols; ++c) {
      if (PQgetisnull(res, r, c)) {
        values.emplace_back(std::monostate{});
        continue;
      }
      const char* text = PQgetvalue(res, r, c);
      const int len = PQgetlength(res, r, c);
      const Oid t = types[static_cast<std::size_t>(c)];
      if (t == kInt8 || t == kInt4 || t == kInt2 || t == kOid) {
        int64_t v = 0;
        std::from_chars(text, text + len, v);
        values.emplace_back(v);
      } else if (t == kFloat8 || t == kFloat4 || t == kNumeric) {
        values.emplace_back(std::strtod(text, nullptr));
      } else if (t == kBool) {
        values.emplace_back(int64_t{text[0] == 't' ? 1 : 0});
      } else {
        values.emplace_back(std::string(text, static_cast<std::size_t>(len)));
      }
    }
    rows.emplace_back(names, std::move(values));
  }
  return rows;
}

// One server connection and the statements prepared on it (by SQL text and parameter types).
struct Conn {
  PGconn* pg = nullptr;
  std::unordered_map<std::string, std::string> prepared;
  int64_t next_name = 0;
};

constexpr std::size_t kMaxPreparedPerConnection = 512;

bool succeeded(const PGresult* res) {
  const ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

const char* sqlstate(const PGresult* res) { return res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr; }

// Transaction control and scripts: the simple-query protocol, nothing prepared.
Result<ResultPtr> simple(Conn& c, const char* sql) {
  ResultPtr res(PQexec(c.pg, sql), PQclear);
  if (succeeded(res.get())) return res;
  return map_error(c.pg, res.get(), sql);
}

// One statement: prepared by name on first use on this connection, then Bind+Execute only.
Result<ResultPtr> run(Conn& c, std::string_view sql, const Params& params) {
  BoundParams bound(params);
  std::string key(sql);
  key.push_back('\x1f');
  for (Oid t : bound.types) key += std::to_string(t) + ",";
  for (int attempt = 0;; ++attempt) {
    auto it = c.prepared.find(key);
    if (it == c.prepared.end()) {
      if (c.prepared.size() >= kMaxPreparedPerConnection) {
        ResultPtr d(PQexec(c.pg, "DEALLOCATE ALL"), PQclear);
        c.prepared.clear();
      }
      std::string name = "s" + std::to_string(c.next_name++);
      const std::string text(sql);
      ResultPtr prep(PQprepare(c.pg, name.c_str(), text.c_str(), static_cast<int>(params.size()), bound.types.data()),
                     PQclear);
      if (!succeeded(prep.get())) return map_error(c.pg, prep.get(), sql);
      it = c.prepared.emplace(key, std::move(name)).first;
    }
    ResultPtr res(PQexecPrepared(c.pg, it->second.c_str(), static_cast<int>(params.size()), bound.values.data(),
                                 nullptr, nullptr, 0),
                  PQclear);
    if (succeeded(res.get())) return res;
    // A table changed under a cached plan ("cached plan must not change result type"), or the
    // statement is gone: prepare it again, once.
    const char* state = sqlstate(res.get());
    if (attempt == 0 && state && (std::string_view(state) == "0A000" || std::string_view(state) == "26000") &&
        PQtransactionStatus(c.pg) == PQTRANS_IDLE) {
      c.prepared.erase(it);
      continue;
    }
    return map_error(c.pg, res.get(), sql);
  }
}

int64_t changed(const PGresult* res) {
  const char* n = PQcmdTuples(const_cast<PGresult*>(res));
  return n && *n ? std::atoll(n) : 0;
}

class PgTx final : public Tx {
 public:
  explicit PgTx(Conn& conn) : conn_(conn) {}
  Result<Rows> query(std::string_view sql, const Params& params) override {
    auto res = run(conn_, sql, params);
    if (!res) return std::move(res).take_error();
    return to_rows(res->get());
  }
  Result<int64_t> exec(std::string_view sql, const Params& params) override {
    auto res = run(conn_, sql, params);
    if (!res) return std::move(res).take_error();
    return changed(res->get());
  }
  // The simple-query protocol runs ';'-separated statements itself, inside our transaction.
  Status exec_script(std::string_view sql) override {
    const std::string text(sql);
    ResultPtr res(PQexec(conn_.pg, text.c_str()), PQclear);
    const ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) return ok_status();
    return map_error(conn_.pg, res.get(), sql);
  }

 private:
  Conn& conn_;
};

class PostgresDb final : public Db {
 public:
  explicit PostgresDb(PostgresOptions options) : options_(std::move(options)) {}
  ~PostgresDb() override {
    if (async_pool_) async_pool_->shutdown();  // queued asynchronous writes run and are answered first
    for (Conn* c : idle_) {
      PQfinish(c->pg);
      delete c;
    }
  }

  Dialect dialect() const override { return Dialect::postgres; }

  // A leased connection; returned to the pool (or closed when broken) on destruction.
  class Lease {
   public:
    Lease(PostgresDb* db, Conn* conn) : db_(db), conn_(conn) {}
    Lease(Lease&& o) noexcept : db_(o.db_), conn_(std::exchange(o.conn_, nullptr)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_) db_->release(conn_);
    }
    Conn& get() const { return *conn_; }
    bool fresh = false;  // opened for this lease (not taken idle from the pool)

   private:
    PostgresDb* db_;
    Conn* conn_;
  };

  Result<Lease> acquire() {
    std::unique_lock lk(mu_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.acquire_timeout_ms);
    while (idle_.empty() && open_ >= options_.pool_size) {
      if (cv_.wait_until(lk, deadline) == std::cv_status::timeout && idle_.empty() && open_ >= options_.pool_size)
        return unavailable("no free database connection within " + std::to_string(options_.acquire_timeout_ms) + " ms");
    }
    if (!idle_.empty()) {
      Conn* c = idle_.back();
      idle_.pop_back();
      return Lease(this, c);
    }
    // Reconnect with backoff: while the server is down, fail fast instead of stalling every call.
    const auto now = std::chrono::steady_clock::now();
    if (now < retry_at_) return unavailable("reconnect backoff: " + last_connect_error_);
    ++open_;
    lk.unlock();
    PGconn* c = connect();
    lk.lock();
    if (connection_lost(c)) {
      std::string why = first_line(c ? PQerrorMessage(c) : "out of memory");
      if (c) PQfinish(c);
      --open_;
      backoff_ms_ = std::clamp(backoff_ms_ * 2, 100, 5000);
      retry_at_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(backoff_ms_);
      last_connect_error_ = why;
      cv_.notify_one();
      return unavailable("cannot connect: " + why);
    }
    backoff_ms_ = 50;
    retry_at_ = {};
    Lease lease(this, new Conn{c, {}, 0});
    lease.fresh = true;
    return lease;
  }

  void release(Conn* c) {
    std::lock_guard lk(mu_);
    if (connection_lost(c->pg) || PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
      PQfinish(c->pg);
      delete c;
      --open_;
    } else {
      idle_.push_back(c);
    }
    cv_.notify_one();
  }

  Result<Rows> query(std::string_view sql, const Params& params) override {
    if (!is_plain_select(sql)) {
      Rows out;
      SECPLAT_TRY(transact([&](Tx& tx) -> Status {
        auto rows = tx.query(sql, params);
        if (!rows) return std::move(rows).take_error();
        out = std::move(*rows);
        return ok_status();
      }));
      return out;
    }
    // A read on an idle connection the server has since dropped (restart) is retried once on a
    // new one: reads are idempotent.
    for (int attempt = 0;; ++attempt) {
      auto lease = acquire();
      if (!lease) return std::move(lease).take_error();
      auto res = run(lease->get(), sql, params);
      if (res) return to_rows(res->get());
      if (attempt == 0 && !lease->fresh && connection_lost(lease->get().pg)) continue;
      return std::move(res).take_error();
    }
  }

  Result<int64_t> exec(std::string_view sql, const Params& params) override {
    int64_t n = 0;
    SECPLAT_TRY(transact([&](Tx& tx) -> Status {
      auto r = tx.exec(sql, params);
      if (!r) return std::move(r).take_error();
      n = *r;
      return ok_status();
    }));
    return n;
  }

  Status transact(const std::function<Status(Tx&)>& fn) override {
    for (int attempt = 0;; ++attempt) {
      auto lease = acquire();
      if (!lease) return std::move(lease).take_error();
      Conn& conn = lease->get();
      auto begun = simple(conn, "BEGIN");
      if (begun) return in_transaction(conn, fn);
      // A pooled connection that died while idle (server restart): one more try on a new one.
      if (attempt == 0 && !lease->fresh && connection_lost(conn.pg)) continue;
      return std::move(begun).take_error();
    }
  }

  // PostgreSQL has no group commit to join: each asynchronous write is a transact() on a thread of
  // a pool as large as the connection pool (started on first use); its queue is bounded.
  void transact_async(std::function<Status(Tx&)> fn, std::function<void(Status)> done) override {
    if (!done) done = [](Status) {};
    std::call_once(async_pool_once_, [&] {
      async_pool_ = std::make_unique<WorkerPool>(static_cast<std::size_t>(options_.pool_size), async_write::kMaxOutstanding);
    });
    auto task = std::make_shared<std::pair<std::function<Status(Tx&)>, std::function<void(Status)>>>(std::move(fn),
                                                                                                     std::move(done));
    bool queued = async_pool_->try_submit([this, task] {
      Status st = ok_status();
      try {
        st = transact(task->first);
      } catch (...) {
        st = async_write::thrown(std::current_exception());
      }
      async_write::deliver(task->second, std::move(st));
    });
    if (!queued) async_write::deliver(task->second, async_write::queue_full());
  }

  Status check_writable() override {
    auto rows = query("SELECT NOT pg_is_in_recovery() AS writable", {});
    if (!rows) return std::move(rows).take_error();
    if (rows->empty() || rows->front().i64("writable") != 1) return unavailable("server is read-only (in recovery)");
    return ok_status();
  }

  // One connection made directly, so a bad URL or an unreachable server is named at start-up.
  Status probe() {
    PGconn* c = connect();
    if (connection_lost(c)) {
      std::string why = first_line(c ? PQerrorMessage(c) : "out of memory");
      if (c) PQfinish(c);
      return Error::unavailable("cannot connect to PostgreSQL: " + why);
    }
    std::lock_guard lk(mu_);
    idle_.push_back(new Conn{c, {}, 0});
    ++open_;
    return ok_status();
  }

 private:
  Status in_transaction(Conn& conn, const std::function<Status(Tx&)>& fn) {
    auto locked = run(conn, "SELECT pg_advisory_xact_lock($1)", {kWriterLockKey});
    if (!locked) {
      rollback(conn);
      return std::move(locked).take_error();
    }
    PgTx tx(conn);
    Status st = ok_status();
    try {
      st = fn(tx);
    } catch (...) {
      rollback(conn);
      throw;
    }
    if (!st.ok()) {
      rollback(conn);
      return st;
    }
    auto committed = simple(conn, "COMMIT");
    if (!committed) return std::move(committed).take_error();
    // COMMIT of a transaction an earlier statement aborted answers ROLLBACK, not an error.
    if (std::string_view(PQcmdStatus(committed->get())) == "ROLLBACK")
      return Error::internal("transaction rolled back: an earlier statement in it failed");
    return ok_status();
  }

  PGconn* connect() {
    const std::string timeout = std::to_string(std::max(1, options_.connect_timeout_s));
    const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
    const char* values[] = {options_.url.c_str(), timeout.c_str(), "secplat", nullptr};
    // expand_dbname=1: `dbname` may be a whole URL or key=value string; later keys fill gaps.
    return PQconnectdbParams(keys, values, 1);
  }

  static void rollback(Conn& conn) {
    ResultPtr r(PQexec(conn.pg, "ROLLBACK"), PQclear);
  }

  PostgresOptions options_;
  std::once_flag async_pool_once_;
  std::unique_ptr<WorkerPool> async_pool_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Conn*> idle_;  // owned
  int open_ = 0;
  int backoff_ms_ = 50;
  std::chrono::steady_clock::time_point retry_at_{};
  std::string last_connect_error_;
};

}  // namespace

Result<std::unique_ptr<Db>> open_postgres(const PostgresOptions& options) {
  if (options.url.empty()) return Error::bad_request("database url is empty");
  if (options.pool_size < 1) return Error::bad_request("database pool size must be at least 1");
  auto db = std::make_unique<PostgresDb>(options);
  if (auto st = db->probe(); !st.ok()) return std::move(st).take_error();
  return std::unique_ptr<Db>(std::move(db));
}

}  // namespace secplat::store
