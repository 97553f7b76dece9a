#include <charconv>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

#include "store/db.h"

namespace secplat::store {

namespace {

// FNV-1a: column names are short, so a simple byte hash is the cheapest good one.
uint32_t hash_name(std::string_view s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}

}  // namespace

Columns::Columns(std::vector<std::string> names) : names_(std::move(names)) {
  std::size_t size = 8;
  while (size < names_.size() * 2) size *= 2;
  slots_.assign(size, 0);
  for (std::size_t i = 0; i < names_.size(); ++i) {
    if (find(names_[i]) != npos) continue;  // a repeated name keeps its first column
    std::size_t at = hash_name(names_[i]) & (size - 1);
    while (slots_[at] != 0) at = (at + 1) & (size - 1);
    slots_[at] = static_cast<uint32_t>(i + 1);
  }
}

std::size_t Columns::find(std::string_view name) const {
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t at = hash_name(name) & mask; slots_[at] != 0; at = (at + 1) & mask) {
    const std::size_t i = slots_[at] - 1;
    if (names_[i] == name) return i;
  }
  return npos;
}

std::size_t Row::index_of(std::string_view column) const {
  if (columns_) {
    const std::size_t i = columns_->find(column);
    if (i != Columns::npos && i < values_.size()) return i;
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
