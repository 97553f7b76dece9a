// Behaviour every adapter of the Db port must show. An adapter's test file instantiates the suite:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, DbConformance,
//                            ::testing::Values(DbFactory{"sqlite", [] { return make_db(); }}),
//                            [](const auto& info) { return info.param.name; });
//
// `make` must return a fresh, empty database each call (the suite creates its own tables).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "store/db.h"

namespace secplat::store::testing {

struct DbFactory {
  std::string name;
  std::function<std::unique_ptr<store::Db>()> make;
};

inline std::ostream& operator<<(std::ostream& os, const DbFactory& f) { return os << f.name; }

class DbConformance : public ::testing::TestWithParam<DbFactory> {
 protected:
  void SetUp() override {
    db_ = GetParam().make();
    ASSERT_NE(db_, nullptr);
  }
  void TearDown() override { db_.reset(); }
  store::Db& db() { return *db_; }

  std::unique_ptr<store::Db> db_;
};

}  // namespace secplat::store::testing
