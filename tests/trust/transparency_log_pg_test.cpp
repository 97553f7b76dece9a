// The transparency log suite on the test PostgreSQL (CTest fixture `pg`). open_again() is a second
// connection pool on the same schema, so "two processes" really are two sets of connections
// racing through the server.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>

#include "store/postgres_db.h"
#include "support/pg_test_db.h"
#include "trust/transparency_log.h"
#include "trust/transparency_log_suite.h"

namespace secplat::trust {
namespace {

class PgLogDb final : public LogTestDb {
 public:
  PgLogDb() {
    static std::atomic<int> counter{0};
    url_ = secplat::testing::pg_server_url();
    if (url_.empty()) {
      ADD_FAILURE() << "no test PostgreSQL: run under ctest (fixture pg) or set SECPLAT_TEST_PG_DIR";
      return;
    }
    schema_ = "tlog" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    auto admin = store::open_postgres({url_, 1});
    if (!admin.ok()) {
      ADD_FAILURE() << admin.error().message;
      return;
    }
    (void)(*admin)->exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
    auto made = (*admin)->exec("CREATE SCHEMA " + schema_);
    EXPECT_TRUE(made.ok()) << (made.ok() ? "" : made.error().message);
    db_ = open_again();
    if (db_) {
      auto migrated = store::migrate(*db_, transparency_log_migrations());
      EXPECT_TRUE(migrated.ok()) << migrated.error().message;
    }
  }
  ~PgLogDb() override {
    db_.reset();
    if (schema_.empty()) return;
    auto admin = store::open_postgres({url_, 1});
    if (admin.ok()) (void)(*admin)->exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
  }
  bool ready() const { return db_ != nullptr; }
  store::Db& db() override { return *db_; }
  std::unique_ptr<store::Db> open_again() override {
    auto db = store::open_postgres({url_ + "?options=-c%20search_path%3D" + schema_, 4});
    EXPECT_TRUE(db.ok()) << db.error().message;
    return db.ok() ? std::move(*db) : nullptr;
  }

 private:
  std::string url_;
  std::string schema_;
  std::unique_ptr<store::Db> db_;
};

std::unique_ptr<LogTestDb> make_pg() {
  auto env = std::make_unique<PgLogDb>();
  if (!env->ready()) return nullptr;
  return env;
}

INSTANTIATE_TEST_SUITE_P(Postgres, TransparencyLogTest, ::testing::Values(LogBackend{"postgres", make_pg}),
                         log_backend_name);

}  // namespace
}  // namespace secplat::trust
