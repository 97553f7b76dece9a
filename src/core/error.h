// Expected failures as values. An Error names what went wrong in words a client can act on;
// the HTTP layer maps Errc to a status code in exactly one place (http/error_envelope.cpp).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace secplat {

enum class Errc {
  bad_request,         // 400
  unauthorized,        // 401
  forbidden,           // 403
  not_found,           // 404
  method_not_allowed,  // 405
  timeout,             // 408
  conflict,            // 409
  too_large,           // 413
  validation,          // 422
  rate_limited,        // 429
  header_too_large,    // 431
  internal,            // 500
  unavailable,         // 503
};

// One entry of a 422 `detail` list: where (e.g. {"body","limit"}) and what.
struct FieldError {
  std::vector<std::string> loc;
  std::string msg;
};

struct Error {
  Errc code = Errc::internal;
  std::string message;
  std::vector<FieldError> fields;  // only for Errc::validation
  int retry_after_s = 0;           // > 0 adds a Retry-After header (429/503)

  static Error bad_request(std::string m) { return {Errc::bad_request, std::move(m), {}, 0}; }
  static Error unauthorized(std::string m) { return {Errc::unauthorized, std::move(m), {}, 0}; }
  static Error forbidden(std::string m) { return {Errc::forbidden, std::move(m), {}, 0}; }
  static Error not_found(std::string m) { return {Errc::not_found, std::move(m), {}, 0}; }
  static Error conflict(std::string m) { return {Errc::conflict, std::move(m), {}, 0}; }
  static Error too_large(std::string m) { return {Errc::too_large, std::move(m), {}, 0}; }
  static Error internal(std::string m) { return {Errc::internal, std::move(m), {}, 0}; }
  static Error unavailable(std::string m) { return {Errc::unavailable, std::move(m), {}, 0}; }
  static Error rate_limited(std::string m, int retry_after) {
    return {Errc::rate_limited, std::move(m), {}, retry_after};
  }
  // A 422 with one field error; message is the summary clients show.
  static Error invalid(std::vector<std::string> loc, std::string msg) {
    Error e{Errc::validation, "Request validation failed", {}, 0};
    e.fields.push_back({std::move(loc), std::move(msg)});
    return e;
  }
};

// True for failures worth retrying later (dependency down, timeouts, rate limits).
inline bool is_retryable(Errc c) {
  return c == Errc::timeout || c == Errc::rate_limited || c == Errc::internal || c == Errc::unavailable;
}

// Result<T> holds a T or an Error. Result<void> (alias Status) holds nothing or an Error.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }
  Error take_error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : e_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return !e_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *e_; }
  Error take_error() && { return std::move(*e_); }

 private:
  std::optional<Error> e_;
};

using Status = Result<void>;

inline Status ok_status() { return {}; }

}  // namespace secplat

// Propagate an error from an expression returning Result/Status.
#define SECPLAT_TRY(expr)                                   \
  do {                                                      \
    auto&& secplat_try_r_ = (expr);                         \
    if (!secplat_try_r_.ok()) return std::move(secplat_try_r_).take_error(); \
  } while (0)

// Declare `var` as the value of an expression returning Result<T>, or propagate its error.
#define SECPLAT_TRY_ASSIGN(var, expr)                                 \
  auto var##_secplat_r_ = (expr);                                     \
  if (!var##_secplat_r_.ok()) return std::move(var##_secplat_r_).take_error(); \
  auto var = std::move(*var##_secplat_r_)
