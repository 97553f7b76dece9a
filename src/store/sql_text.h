// Portable helpers for building SQL text against the Db port.
#pragma once

#include <cctype>
#include <string>
#include <string_view>

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

}  // namespace secplat::store
