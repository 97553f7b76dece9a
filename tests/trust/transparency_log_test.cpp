// The transparency log suite on SQLite files, plus the canonical JSON rule every leaf relies on.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/ids.h"
#include "store/sqlite_db.h"
#include "trust/transparency_log.h"
#include "trust/transparency_log_suite.h"

namespace secplat::trust {
namespace {

namespace fs = std::filesystem;

class SqliteLogDb final : public LogTestDb {
 public:
  SqliteLogDb() : dir_(fs::temp_directory_path() / ("secplat-tlog-" + random_hex(8))) {
    fs::create_directories(dir_);
    db_ = open_again();
    if (db_) {
      auto migrated = store::migrate(*db_, transparency_log_migrations());
      EXPECT_TRUE(migrated.ok()) << migrated.error().message;
    }
  }
  ~SqliteLogDb() override {
    db_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  store::Db& db() override { return *db_; }
  std::unique_ptr<store::Db> open_again() override {
    auto db = store::open_sqlite({.path = (dir_ / "secplat.db").string()});
    EXPECT_TRUE(db.ok()) << db.error().message;
    return db.ok() ? std::move(*db) : nullptr;
  }

 private:
  fs::path dir_;
  std::unique_ptr<store::Db> db_;
};

INSTANTIATE_TEST_SUITE_P(Sqlite, TransparencyLogTest,
                         ::testing::Values(LogBackend{"sqlite", [] { return std::make_unique<SqliteLogDb>(); }}),
                         log_backend_name);

TEST(CanonicalJson, SerialisingTheParsedTextGivesTheSameBytes) {
  const std::vector<Json> values = {
      Json::object(),
      Json::array(),
      Json(nullptr),
      Json{{"b", 1}, {"a", {{"d", Json::array({1, 2.5, -0.0, 1e300, "x"})}, {"c", nullptr}}}},
      Json{{"unicode", "é ✓ 😀 \u0000 \u001f \" \\ /"}, {"max", 18446744073709551615ull}, {"min", INT64_MIN}},
      Json{{"float", 0.1}, {"third", 1.0 / 3.0}, {"int_as_double", 2.0}, {"tiny", 5e-324}},
  };
  for (const auto& v : values) {
    auto text = canonical_json(v);
    ASSERT_TRUE(text.ok());
    auto again = canonical_json(Json::parse(*text));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *text);
    EXPECT_EQ(Json::parse(*text), v);
  }
  // Keys are sorted by byte and there is no whitespace, whatever order they were built in.
  EXPECT_EQ(*canonical_json(Json::parse(R"({ "z": 1, "a": [ 1, 2 ], "é": true, "B": null })")),
            R"({"B":null,"a":[1,2],"z":1,"é":true})");
}

TEST(CanonicalJson, RefusesWhatCannotBeRoundTripped) {
  EXPECT_EQ(canonical_json(Json{{"x", std::numeric_limits<double>::infinity()}}).error().code, Errc::bad_request);
  EXPECT_EQ(canonical_json(Json::array({std::nan("")})).error().code, Errc::bad_request);
  EXPECT_EQ(canonical_json(Json(std::string("\xc3\x28"))).error().code, Errc::bad_request);
}

TEST(CheckpointNote, IsTheC2spCheckpointBody) {
  const std::string root(32, '\x01');
  EXPECT_EQ(checkpoint_note_text("example.com/log", 42, root),
            "example.com/log\n42\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n");
}

}  // namespace
}  // namespace secplat::trust
