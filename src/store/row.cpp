#include <charconv>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

#include "store/db.h"

namespace secplat::store {

std::size_t Row::index_of(std::string_view column) const {
  if (names_) {
    for (std::size_t i = 0; i < names_->size() && i < values_.size(); ++i) {
      if ((*names_)[i] == column) return i;
    }
  }
  throw std::out_of_range("no column named '" + std::string(column) + "'");
}

const Value& Row::at(std::string_view column) const { return values_[index_of(column)]; }

void Row::set(std::string_view column, Value v) { values_[index_of(column)] = std::move(v); }

int64_t Row::i64(std::string_view column, int64_t fallback) const {
  const Value& v = at(column);
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) {
    if (!std::isfinite(*d)) return fallback;
    return static_cast<int64_t>(*d);
  }
  if (const auto* s = std::get_if<std::string>(&v)) {
    int64_t out = 0;
    const char* end = s->data() + s->size();
    auto [p, ec] = std::from_chars(s->data(), end, out);
    if (ec == std::errc() && p == end) return out;
    return fallback;
  }
  return fallback;
}

double Row::f64(std::string_view column, double fallback) const {
  const Value& v = at(column);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  if (const auto* s = std::get_if<std::string>(&v)) {
    if (s->empty()) return fallback;
    char* end = nullptr;
    double out = std::strtod(s->c_str(), &end);
    if (end == s->c_str() + s->size()) return out;
    return fallback;
  }
  return fallback;
}

std::string Row::str(std::string_view column, std::string fallback) const {
  const Value& v = at(column);
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) {
    char buf[64];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, *d);
    if (ec == std::errc()) return std::string(buf, p);
    return fallback;
  }
  return fallback;
}

std::optional<int64_t> Row::opt_i64(std::string_view column) const {
  if (is_null(column)) return std::nullopt;
  return i64(column);
}

std::optional<std::string> Row::opt_str(std::string_view column) const {
  if (is_null(column)) return std::nullopt;
  return str(column);
}

}  // namespace secplat::store
