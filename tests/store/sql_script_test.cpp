#include "store/sql_script.h"

#include <gtest/gtest.h>

namespace secplat::store {
namespace {

using Statements = std::vector<std::string>;

TEST(SplitSqlScriptTest, SplitsOnStatementEnds) {
  EXPECT_EQ(split_sql_script("CREATE TABLE a (x INT); CREATE TABLE b (y INT);\n"),
            (Statements{"CREATE TABLE a (x INT)", "CREATE TABLE b (y INT)"}));
  EXPECT_EQ(split_sql_script("SELECT 1"), (Statements{"SELECT 1"}));
  EXPECT_TRUE(split_sql_script("  ;\n ; -- only a comment\n /* and another */ ").empty());
}

TEST(SplitSqlScriptTest, IgnoresSemicolonsInLiteralsAndComments) {
  EXPECT_EQ(split_sql_script("INSERT INTO t VALUES ('a;b', 'it''s;'); SELECT \"odd;name\" FROM t"),
            (Statements{"INSERT INTO t VALUES ('a;b', 'it''s;')", "SELECT \"odd;name\" FROM t"}));
  EXPECT_EQ(split_sql_script("SELECT 1; -- note; not a statement\nSELECT 2 /* x; y */;"),
            (Statements{"SELECT 1", "-- note; not a statement\nSELECT 2 /* x; y */"}));
}

TEST(SplitSqlScriptTest, KeepsTriggerBodiesWhole) {
  const std::string trigger =
      "CREATE TRIGGER t_audit AFTER INSERT ON t BEGIN\n"
      "  INSERT INTO audit VALUES (CASE WHEN NEW.x > 0 THEN 'pos;' ELSE 'neg' END);\n"
      "  INSERT INTO audit VALUES ('two');\n"
      "END";
  EXPECT_EQ(split_sql_script("CREATE TABLE t (x INT);\n" + trigger + ";\nSELECT 1;"),
            (Statements{"CREATE TABLE t (x INT)", trigger, "SELECT 1"}));
  const std::string temp_trigger = "create temp trigger z after delete on t begin delete from u; end";
  EXPECT_EQ(split_sql_script(temp_trigger + "; select 2"), (Statements{temp_trigger, "select 2"}));
}

TEST(SplitSqlScriptTest, KeepsDollarQuotedBodiesWholeButNotPlaceholders) {
  const std::string fn =
      "CREATE FUNCTION f() RETURNS trigger AS $body$ BEGIN NEW.x := 1; RETURN NEW; END; $body$ LANGUAGE plpgsql";
  EXPECT_EQ(split_sql_script(fn + ";SELECT $1, $2;"), (Statements{fn, "SELECT $1, $2"}));
  const std::string anon = "DO $$ BEGIN PERFORM 1; END $$";
  EXPECT_EQ(split_sql_script(anon + "; SELECT 3"), (Statements{anon, "SELECT 3"}));
}

}  // namespace
}  // namespace secplat::store
