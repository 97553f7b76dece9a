// The Db conformance suite on a real PostgreSQL (started by the CTest fixture `pg`, see
// tests/support/pg_test_server.sh), plus what only a server adapter has: connections the server
// drops, an unreachable server.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <string>

#include "store/db_conformance.h"
#include "store/postgres_db.h"
#include "support/pg_test_db.h"

namespace secplat::store::testing {
namespace {

using secplat::testing::fresh_pg_db;
using secplat::testing::pg_server_url;

INSTANTIATE_TEST_SUITE_P(Postgres, DbConformance, ::testing::Values(DbFactory{"postgres", [] { return fresh_pg_db(); }}),
                         [](const auto& info) { return info.param.name; });

TEST(PostgresDb, UnreachableServerIsUnavailableNamingTheCause) {
  auto db = open_postgres({"postgresql://postgres@127.0.0.1:1/postgres", 2, 2});
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, Errc::unavailable);
  EXPECT_NE(db.error().message.find("cannot connect to PostgreSQL"), std::string::npos) << db.error().message;
  EXPECT_NE(db.error().message.find("127.0.0.1"), std::string::npos) << db.error().message;
}

TEST(PostgresDb, ConnectionDroppedByTheServerIsReplacedOnNextUse) {
  auto db = fresh_pg_db(1);  // one connection: the next call must reuse (or replace) the killed one
  ASSERT_NE(db, nullptr);
  auto pid = db->query("SELECT pg_backend_pid() AS pid");
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  auto admin = open_postgres({pg_server_url(), 1});
  ASSERT_TRUE(admin.ok());
  auto killed = (*admin)->query("SELECT pg_terminate_backend($1::int) AS ok", {(*pid)[0].i64("pid")});
  ASSERT_TRUE(killed.ok()) << killed.error().message;
  ASSERT_EQ((*killed)[0].i64("ok"), 1);
  // Reads are retried once on a new connection; writes start a transaction on a new one.
  auto again = db->query("SELECT pg_backend_pid() AS pid");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_NE((*again)[0].i64("pid"), (*pid)[0].i64("pid"));
  ASSERT_TRUE(db->exec("CREATE TABLE after_kill (x BIGINT)").ok());
  (void)(*admin)->query("SELECT pg_terminate_backend($1::int) AS ok", {(*again)[0].i64("pid")});
  EXPECT_TRUE(db->exec("INSERT INTO after_kill (x) VALUES (1)").ok());
  EXPECT_TRUE(db->check_writable().ok());
}

TEST(PostgresDb, BooleansAndNumericsReadAsNumbers) {
  auto db = fresh_pg_db();
  ASSERT_NE(db, nullptr);
  auto r = db->query("SELECT true AS t, false AS f, 2::int4 AS i, 1.5::numeric AS n, 'x'::text AS s");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)[0].i64("t"), 1);
  EXPECT_EQ((*r)[0].i64("f"), 0);
  EXPECT_EQ((*r)[0].i64("i"), 2);
  EXPECT_DOUBLE_EQ((*r)[0].f64("n"), 1.5);
  EXPECT_EQ((*r)[0].str("s"), "x");
}

}  // namespace
}  // namespace secplat::store::testing
