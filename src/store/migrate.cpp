// Schema migrations over the Db port only, so every adapter shares one implementation.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <set>

#include "store/db.h"

namespace secplat::store {
namespace {

bool is_blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); });
}

std::string label(const Migration& m) { return "migration " + std::to_string(m.version) + " (" + m.name + ")"; }

Status ensure_table(Db& db) {
  auto r = db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)");
  if (!r.ok()) return std::move(r).take_error();
  return ok_status();
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Status migrate(Db& db, const std::vector<Migration>& migrations) {
  std::set<int> seen;
  for (const Migration& m : migrations) {
    if (!seen.insert(m.version).second) {
      return Error::internal("duplicate migration version " + std::to_string(m.version));
    }
  }
  SECPLAT_TRY(ensure_table(db));
  auto applied = applied_migrations(db);
  if (!applied.ok()) return std::move(applied).take_error();
  const std::set<int> done(applied->begin(), applied->end());

  std::vector<const Migration*> pending;
  for (const Migration& m : migrations) {
    if (!done.count(m.version)) pending.push_back(&m);
  }
  std::sort(pending.begin(), pending.end(), [](const Migration* a, const Migration* b) { return a->version < b->version; });

  for (const Migration* m : pending) {
    const std::string& sql = db.dialect() == Dialect::sqlite ? m->sqlite_sql : m->postgres_sql;
    const std::string& other = db.dialect() == Dialect::sqlite ? m->postgres_sql : m->sqlite_sql;
    if (is_blank(sql) && !is_blank(other)) {
      return Error::internal(label(*m) + " has no SQL for this database dialect");
    }
    Status st = db.transact([&](Tx& tx) -> Status {
      // Another process may have applied it since we looked; the write transaction serialises us.
      auto again = tx.query("SELECT version FROM schema_migrations WHERE version = $1", {int64_t{m->version}});
      if (!again.ok()) return std::move(again).take_error();
      if (!again->empty()) return ok_status();
      SECPLAT_TRY(tx.exec_script(sql));
      auto rec = tx.exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                         {int64_t{m->version}, m->name, now_ms()});
      if (!rec.ok()) return std::move(rec).take_error();
      return ok_status();
    });
    if (!st.ok()) {
      Error e = std::move(st).take_error();
      e.message = label(*m) + " failed: " + e.message;
      return e;
    }
  }
  return ok_status();
}

Result<std::vector<int>> applied_migrations(Db& db) {
  SECPLAT_TRY(ensure_table(db));
  auto rows = db.query("SELECT version FROM schema_migrations ORDER BY version");
  if (!rows.ok()) return std::move(rows).take_error();
  std::vector<int> out;
  out.reserve(rows->size());
  for (const Row& r : *rows) out.push_back(static_cast<int>(r.i64("version")));
  return out;
}

}  // namespace secplat::store
