#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "store/db.h"

namespace secplat::store {
namespace {

Row make_row() {
  auto names = std::make_shared<const std::vector<std::string>>(
      std::vector<std::string>{"i", "d", "s", "num_text", "n", "bad_text"});
  return Row(names, {int64_t{42}, 2.75, std::string("hello"), std::string("-17"), null(), std::string("12abc")});
}

TEST(RowTest, LooksUpColumnsByNameAndIndex) {
  Row r = make_row();
  EXPECT_EQ(r.size(), 6u);
  EXPECT_EQ(r.at(0), Value(int64_t{42}));
  EXPECT_EQ(r.at("s"), Value(std::string("hello")));
  EXPECT_THROW((void)r.at("missing"), std::out_of_range);
  EXPECT_THROW((void)r.at(6), std::out_of_range);
}

TEST(RowTest, FindsEveryColumnOfAWideResultAndTheFirstOfARepeatedName) {
  std::vector<std::string> names;
  std::vector<Value> values;
  for (int i = 0; i < 70; ++i) {
    names.push_back("column_" + std::to_string(i));
    values.emplace_back(int64_t{i});
  }
  names.push_back("column_3");  // as `SELECT a.x, b.x` gives twice
  values.emplace_back(int64_t{-1});
  Row r(std::make_shared<const Columns>(names), values);
  for (int i = 0; i < 70; ++i) EXPECT_EQ(r.i64("column_" + std::to_string(i)), i);
  EXPECT_EQ(r.i64("column_3"), 3);
  EXPECT_THROW((void)r.at("column_70"), std::out_of_range);
  EXPECT_THROW((void)r.at(""), std::out_of_range);
  EXPECT_EQ(Columns({}).find("x"), Columns::npos);
}

TEST(RowTest, TypedAccessorsConvertAndFallBackOnNull) {
  Row r = make_row();
  EXPECT_EQ(r.i64("i"), 42);
  EXPECT_EQ(r.i64("d"), 2);            // REAL truncates
  EXPECT_EQ(r.i64("num_text"), -17);   // numeric text parses
  EXPECT_EQ(r.i64("bad_text", -1), -1);
  EXPECT_EQ(r.i64("n", 99), 99);
  EXPECT_DOUBLE_EQ(r.f64("d"), 2.75);
  EXPECT_DOUBLE_EQ(r.f64("i"), 42.0);
  EXPECT_DOUBLE_EQ(r.f64("n", 1.5), 1.5);
  EXPECT_EQ(r.str("s"), "hello");
  EXPECT_EQ(r.str("i"), "42");
  EXPECT_EQ(r.str("d"), "2.75");
  EXPECT_EQ(r.str("n", "none"), "none");
  EXPECT_TRUE(r.is_null("n"));
  EXPECT_FALSE(r.is_null("s"));
  EXPECT_EQ(r.opt_i64("n"), std::nullopt);
  EXPECT_EQ(r.opt_i64("i"), std::optional<int64_t>(42));
  EXPECT_EQ(r.opt_str("n"), std::nullopt);
  EXPECT_EQ(r.opt_str("s"), std::optional<std::string>("hello"));
}

}  // namespace
}  // namespace secplat::store
