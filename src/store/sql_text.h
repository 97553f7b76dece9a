// Portable helpers for building SQL text against the Db port.
#pragma once

#include <cctype>
#include <string>
#include <string_view>

#include "store/db.h"

namespace secplat::store {

// A LIKE pattern matching values that contain `needle`, case-insensitively: the needle is
// lower-cased and its `%`, `_` and `\` are escaped. Use with `LOWER(col) LIKE $n ESCAPE '\'`.
inline std::string like_contains(std::string_view needle) {
  std::string pattern = "%";
  for (char c : needle) {
    if (c == '%' || c == '_' || c == '\\') pattern += '\\';
    pattern += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  pattern += '%';
  return pattern;
}

// A migration whose DDL is the same on both engines except for the auto-increment key: `{ID}` in
// `ddl` becomes INTEGER PRIMARY KEY AUTOINCREMENT (SQLite) or BIGSERIAL PRIMARY KEY (PostgreSQL).
inline Migration portable_migration(int version, std::string name, std::string_view ddl) {
  auto with_id = [&](std::string_view id_type) {
    std::string sql(ddl);
    const std::string token = "{ID}";
    for (std::size_t pos = sql.find(token); pos != std::string::npos; pos = sql.find(token, pos)) {
      sql.replace(pos, token.size(), id_type);
    }
    return sql;
  };
  return {version, std::move(name), with_id("INTEGER PRIMARY KEY AUTOINCREMENT"), with_id("BIGSERIAL PRIMARY KEY")};
}

}  // namespace secplat::store
