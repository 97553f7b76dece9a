// Splitting a multi-statement SQL text (a migration) into single statements.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace secplat::store {

// Splits on ';' that end a statement. A ';' does not split inside '...' or "..." literals,
// -- and /* */ comments, PostgreSQL $tag$...$tag$ bodies, or the BEGIN ... END body of a
// CREATE TRIGGER. Returned statements are trimmed; empty ones (and comment-only ones) are dropped.
std::vector<std::string> split_sql_script(std::string_view sql);

}  // namespace secplat::store
