// The test PostgreSQL (CTest fixture `pg`, tests/support/pg_test_server.sh) for GoogleTest
// binaries: a fresh, empty schema per call.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "store/postgres_db.h"

namespace secplat::testing {

inline std::string pg_server_url() {
  const char* dir = std::getenv("SECPLAT_TEST_PG_DIR");
  if (!dir) return "";
  std::ifstream in(std::string(dir) + "/url");
  std::string url;
  std::getline(in, url);
  return url;
}

// A fresh, empty schema per call: each test (and each process under ctest -j) gets its own.
inline std::unique_ptr<store::Db> fresh_pg_db(int pool_size = 8) {
  static std::atomic<int> counter{0};
  const std::string url = pg_server_url();
  if (url.empty()) {
    ADD_FAILURE() << "no test PostgreSQL: run under ctest (fixture pg) or set SECPLAT_TEST_PG_DIR";
    return nullptr;
  }
  auto admin = store::open_postgres({url, 1});
  if (!admin.ok()) {
    ADD_FAILURE() << admin.error().message;
    return nullptr;
  }
  const std::string schema = "t" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  (void)(*admin)->exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
  auto made = (*admin)->exec("CREATE SCHEMA " + schema);
  EXPECT_TRUE(made.ok()) << (made.ok() ? "" : made.error().message);
  auto db = store::open_postgres({url + "?options=-c%20search_path%3D" + schema, pool_size});
  if (!db.ok()) {
    ADD_FAILURE() << db.error().message;
    return nullptr;
  }
  return std::move(*db);
}

}  // namespace secplat::testing
