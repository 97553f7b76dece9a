// The transparency log suite, run on every `Db` adapter: transparency_log_test.cpp instantiates it
// on SQLite files, transparency_log_pg_test.cpp on the test PostgreSQL (fixture `pg`).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "store/db.h"

namespace secplat::trust {

// One migrated, empty database. open_again() is a second, independent handle on the same
// database (its own connections and locks): what another process would have.
class LogTestDb {
 public:
  virtual ~LogTestDb() = default;
  virtual store::Db& db() = 0;
  virtual std::unique_ptr<store::Db> open_again() = 0;
};

struct LogBackend {
  std::string name;
  std::function<std::unique_ptr<LogTestDb>()> make;
};

inline void PrintTo(const LogBackend& backend, std::ostream* os) { *os << backend.name; }

inline std::string log_backend_name(const ::testing::TestParamInfo<LogBackend>& info) { return info.param.name; }

class TransparencyLogTest : public ::testing::TestWithParam<LogBackend> {
 protected:
  void SetUp() override {
    env_ = GetParam().make();
    ASSERT_NE(env_, nullptr);
  }
  store::Db& db() { return env_->db(); }

  std::unique_ptr<LogTestDb> env_;
};

}  // namespace secplat::trust
