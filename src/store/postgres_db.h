// PostgreSQL adapter of the `Db` port (libpq): a pool of connections, parameters sent as text with
// int8/float8 types for numbers, reconnect on a lost connection.
//
// Transactions are serialised the way the SQLite adapter serialises them: every write
// (`transact`, and `exec`/non-SELECT `query` outside one) takes one transaction-scoped advisory lock
// first, so read-modify-write code written against the port stays correct, across processes too,
// and migrations started by several processes at once apply each version once. Plain SELECTs
// outside a transaction run without the lock and see only committed data.
//
// Errors: unique/primary-key violation → Errc::conflict; other constraint violations →
// Errc::bad_request; a lost or refused connection, serialization failure, deadlock or shutdown →
// Errc::unavailable (retryable; the connection is re-established on next use); anything else
// (bad SQL) → Errc::internal with the detail in the log only.
#pragma once

#include <memory>
#include <string>

#include "store/db.h"

namespace secplat::store {

struct PostgresOptions {
  // libpq connection string: "postgresql://user@host:port/db?options=..." or "host=... port=...".
  std::string url;
  int pool_size = 8;             // connections at most; opened on demand
  int connect_timeout_s = 5;
  int acquire_timeout_ms = 5000;  // waiting for a free connection beyond this → Errc::unavailable
};

// Connects once to check the URL and the server; Errc::unavailable naming the cause if it cannot.
Result<std::unique_ptr<Db>> open_postgres(const PostgresOptions& options);

}  // namespace secplat::store
