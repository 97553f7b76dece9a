// SQLite adapter of the `Db` port: WAL journal, busy timeout, one writer connection plus a pool of
// reader connections, a prepared-statement cache per connection.
#pragma once

#include <memory>
#include <string>

#include "store/db.h"

namespace secplat::store {

struct SqliteOptions {
  std::string path;          // database file; ":memory:" is refused (readers could not see it)
  int readers = 4;
  int busy_timeout_ms = 5000;
};

Result<std::unique_ptr<Db>> open_sqlite(const SqliteOptions& options);

}  // namespace secplat::store
