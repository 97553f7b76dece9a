// Structured logging: one JSON object per line on stderr
// ({"ts","level","service","msg","request_id",...}). Thread-safe; a line is written with one write(2).
// Never pass secrets as fields: callers redact before logging.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace secplat::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

void set_level(Level l);
Level level();
bool parse_level(std::string_view s, Level& out);
void set_service(std::string service);

// A field value already rendered as JSON (use str() / num() / boolean() to build one).
struct Field {
  std::string key;
  std::string json;
};
Field str(std::string key, std::string_view value);
Field num(std::string key, double value);
Field integer(std::string key, long long value);
Field boolean(std::string key, bool value);

void write(Level l, std::string_view msg, std::initializer_list<Field> fields = {});
inline void debug(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::debug, m, f); }
inline void info(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::info, m, f); }
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::warn, m, f); }
inline void error(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::error, m, f); }

// JSON string escaping used by the logger (exposed for tests and small writers).
std::string json_quote(std::string_view s);

}  // namespace secplat::log
