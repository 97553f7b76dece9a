#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <mutex>

#include "core/clock.h"

namespace secplat::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::info)};
std::mutex g_service_mu;
std::string g_service = "secplat";
}  // namespace

void set_level(Level l) { g_level.store(static_cast<int>(l)); }
Level level() { return static_cast<Level>(g_level.load()); }

bool parse_level(std::string_view s, Level& out) {
  if (s == "debug") out = Level::debug;
  else if (s == "info") out = Level::info;
  else if (s == "warn" || s == "warning") out = Level::warn;
  else if (s == "error") out = Level::error;
  else return false;
  return true;
}

void set_service(std::string service) {
  std::lock_guard lk(g_service_mu);
  g_service = std::move(service);
}

std::string json_quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
  return out;
}

Field str(std::string key, std::string_view value) { return {std::move(key), json_quote(value)}; }
Field num(std::string key, double value) {
  if (!std::isfinite(value)) return {std::move(key), "null"};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  return {std::move(key), buf};
}
Field integer(std::string key, long long value) { return {std::move(key), std::to_string(value)}; }
Field boolean(std::string key, bool value) { return {std::move(key), value ? "true" : "false"}; }

void write(Level l, std::string_view msg, std::initializer_list<Field> fields) {
  if (static_cast<int>(l) < g_level.load()) return;
  static constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
  std::string service;
  {
    std::lock_guard lk(g_service_mu);
    service = g_service;
  }
  std::string line = "{\"ts\":\"" + format_rfc3339(SystemClock().now_ms()) + "\",\"level\":\"" +
                     kNames[static_cast<int>(l)] + "\",\"service\":" + json_quote(service) +
                     ",\"msg\":" + json_quote(msg);
  for (const auto& f : fields) {
    line += ',';
    line += json_quote(f.key);
    line += ':';
    line += f.json;
  }
  line += "}\n";
  // One write keeps lines whole when several threads log at once.
  std::size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(2, line.data() + off, line.size() - off);
    if (n <= 0) break;
    off += static_cast<std::size_t>(n);
  }
}

}  // namespace secplat::log
