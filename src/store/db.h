// The `Db` port: the only way domain code reaches persistent state.
//
// SQL written against this port is portable between the SQLite and PostgreSQL adapters:
//   * placeholders are $1, $2, ... (both engines accept them);
//   * time is epoch milliseconds in BIGINT columns (or RFC 3339 text), never engine time types;
//   * JSON is stored as TEXT;
//   * INSERT ... ON CONFLICT ... DO UPDATE ... RETURNING, LIMIT/OFFSET, CTEs are fine;
//   * DDL differences are confined to migrations, which are given per dialect.
//
// Threading: a Db is shared by all threads. query()/exec() outside a transaction may run on any
// reader/writer connection; transact() serialises writers and gives the callback exclusive use of
// one connection until it returns.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.h"

namespace secplat::store {

// A bound parameter or a column value.
using Value = std::variant<std::monostate, int64_t, double, std::string>;

inline Value null() { return std::monostate{}; }

// A result's column names with a hashed lookup, built once and shared by its rows (the SQLite
// adapter keeps one per cached statement, so repeated executions build none).
class Columns {
 public:
  explicit Columns(std::vector<std::string> names);
  const std::vector<std::string>& names() const { return names_; }
  std::size_t size() const { return names_.size(); }
  // The index of the first column of this name, or npos.
  std::size_t find(std::string_view name) const;
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

 private:
  std::vector<std::string> names_;
  std::vector<uint32_t> slots_;  // open addressing, a power of two long: 0 = empty, else index + 1
};

class Row {
 public:
  Row(std::shared_ptr<const Columns> columns, std::vector<Value> values)
      : columns_(std::move(columns)), values_(std::move(values)) {}
  Row(const std::shared_ptr<const std::vector<std::string>>& names, std::vector<Value> values)
      : columns_(names ? std::make_shared<const Columns>(*names) : nullptr), values_(std::move(values)) {}

  std::size_t size() const { return values_.size(); }
  const Value& at(std::size_t i) const { return values_.at(i); }
  const Value& at(std::string_view column) const;  // throws std::out_of_range for an unknown column
  bool is_null(std::string_view column) const { return std::holds_alternative<std::monostate>(at(column)); }
  // Typed accessors. Integers read from a REAL or text column are converted; NULL gives the fallback.
  int64_t i64(std::string_view column, int64_t fallback = 0) const;
  double f64(std::string_view column, double fallback = 0) const;
  std::string str(std::string_view column, std::string fallback = {}) const;
  std::optional<int64_t> opt_i64(std::string_view column) const;
  std::optional<std::string> opt_str(std::string_view column) const;
  // Replaces one column's value (throws std::out_of_range for an unknown column): for building the
  // row a write is known to have stored without reading it back.
  void set(std::string_view column, Value v);

 private:
  std::size_t index_of(std::string_view column) const;
  std::shared_ptr<const Columns> columns_;
  std::vector<Value> values_;
};

using Rows = std::vector<Row>;
using Params = std::vector<Value>;

enum class Dialect { sqlite, postgres };

// Errors: a UNIQUE/PK violation is Errc::conflict; a locked/busy database past the busy timeout or a
// lost connection is Errc::unavailable (retryable); malformed SQL is Errc::internal.
class Tx {
 public:
  virtual ~Tx() = default;
  virtual Result<Rows> query(std::string_view sql, const Params& params = {}) = 0;
  // Returns the number of rows changed.
  virtual Result<int64_t> exec(std::string_view sql, const Params& params = {}) = 0;
  // Runs several ';'-separated statements without parameters (migrations). The default splits
  // with split_sql_script() (store/sql_script.h); adapters may use their engine's own parser.
  virtual Status exec_script(std::string_view sql);
  // Runs an INSERT of at most one row (no RETURNING clause; it may say ON CONFLICT DO NOTHING) and
  // returns `id_column` of the row it inserted — the table's integer primary key — or nullopt if it
  // inserted none. The default appends RETURNING; SQLite reads the connection's last inserted rowid
  // instead (its RETURNING builds and drops a temporary b-tree per execution).
  virtual Result<std::optional<int64_t>> insert_id(std::string_view sql, const Params& params,
                                                   std::string_view id_column);
  // For caches of rows read in transactions: a number that two calls (in this transaction or a
  // later one of the same Db) return alike only if no row of `table` changed in between — by a
  // write committed or rolled back, in this process or another. nullopt when the adapter cannot
  // tell (the default; PostgreSQL, whose other clients' writes it does not see): cache nothing then.
  virtual Result<std::optional<uint64_t>> change_stamp(std::string_view table);
};

class Db {
 public:
  virtual ~Db() = default;
  virtual Dialect dialect() const = 0;

  // Single statements in their own implicit transaction (reads go to a reader connection).
  virtual Result<Rows> query(std::string_view sql, const Params& params = {}) = 0;
  virtual Result<int64_t> exec(std::string_view sql, const Params& params = {}) = 0;

  // Runs fn inside one write transaction. Commits if fn returns ok, rolls back otherwise
  // (and if fn throws). Nested calls from inside fn are a programming error.
  virtual Status transact(const std::function<Status(Tx&)>& fn) = 0;

  // transact() without a waiting caller: fn runs in a write transaction on a thread of the Db's
  // own, and done gets its outcome (ok only once committed and durable) on a thread of the Db's
  // own, exactly once — possibly before transact_async returns (e.g. Errc::unavailable when the
  // Db's write queue is full or it is closing). A throw from fn becomes Errc::internal. done should
  // not block: later answers may wait for it. It may call the Db again (a transact() from done
  // waits its turn like any other). For callers that must not block, such as an HTTP I/O thread. fn may be run more than once (an adapter may run a group of
  // them without a savepoint each and, when one fails, roll the group back and run it again), so
  // fn must act only through the Tx and start from scratch each time; done sees the last run's.
  virtual void transact_async(std::function<Status(Tx&)> fn, std::function<void(Status)> done) = 0;

  // True if a trivial write round-trip succeeds (for /ready).
  virtual Status check_writable() = 0;
};

// A schema step. Applied in version order, each in its own transaction, recorded in
// schema_migrations(version, name, applied_at). Versions are never reused or edited once released.
struct Migration {
  int version;
  std::string name;
  std::string sqlite_sql;    // may hold several statements separated by ';'
  std::string postgres_sql;  // same schema in PostgreSQL DDL
};

// Applies the migrations not yet recorded. Fails (and applies nothing further) on the first error.
Status migrate(Db& db, const std::vector<Migration>& migrations);

// The versions recorded as applied, ascending.
Result<std::vector<int>> applied_migrations(Db& db);

}  // namespace secplat::store
