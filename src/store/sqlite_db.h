// SQLite adapter of the `Db` port: WAL journal, busy timeout, one writer connection plus a pool of
// reader connections, a prepared-statement cache per connection.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "store/db.h"

namespace secplat::store {

struct SqliteOptions {
  std::string path;          // database file; ":memory:" is refused (readers could not see it)
  int readers = 4;
  int busy_timeout_ms = 5000;
  // WAL pages committed between the checkpointer's passes; the WAL starts over at twice that and
  // never grows past four times (4,000 pages of 4 KiB: 32 MiB, at most 64 MiB). At least 512.
  int checkpoint_pages = 4000;
};

// Opens (creating if missing) the database file; its directory must exist. Sets WAL journal,
// synchronous=NORMAL, foreign_keys=ON and the busy timeout on every connection.
Result<std::unique_ptr<Db>> open_sqlite(const SqliteOptions& options);

// Prepared-statement cache counters summed over all connections (for metrics and tests).
struct SqliteStats {
  int64_t statements_prepared = 0;  // cache misses: a statement was compiled
  int64_t statement_cache_hits = 0;
  int64_t transactions = 0;  // write transactions run (transact(), and exec()/writing query() calls)
  int64_t commits = 0;       // SQLite transactions they ran in (fewer under load: group commit)
  int64_t async_queued = 0;  // transact_async() writes not yet answered (queued, running, or committed and waiting for the answer thread)
  int64_t async_refused = 0; // transact_async() writes refused (queue full or closing)
  int64_t checkpoints = 0;         // WAL checkpoints run by the checkpointer thread
  int64_t inline_checkpoints = 0;  // short ones run by a committing writer, so the WAL can start over
  int64_t group_reruns = 0;  // groups of asynchronous writes run again with a savepoint per member
};

// The counters of a Db made by open_sqlite(); nullopt for any other Db.
std::optional<SqliteStats> sqlite_stats(const Db& db);

}  // namespace secplat::store
