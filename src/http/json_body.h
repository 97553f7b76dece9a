// Request body and query helpers that turn client mistakes into 422s naming the field, in the
// {"loc":[...],"msg":...} shape of the error envelope.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/json.h"
#include "http/route.h"

namespace secplat::http {

// The body as a JSON object. 422 at loc ["body"] for an empty or malformed body, a non-object, or an
// explicit non-JSON Content-Type (a missing Content-Type is read as JSON).
Result<Json> parse_json_object(const Request& req);

// The Content-Type test of parse_json_object(): true when the request has none or a JSON one.
bool declares_json_or_nothing(const Request& req);

// 422 with one entry per field of `obj` not in `allowed`.
Status reject_unknown_fields(const Json& obj, std::initializer_list<std::string_view> allowed);

// Typed field getters. A missing or null field is nullopt for opt_*, 422 "Field required" for req_*;
// a value of the wrong type is 422 at ["body", key].
Result<std::optional<std::string>> opt_string(const Json& obj, std::string_view key);
Result<std::string> req_string(const Json& obj, std::string_view key);
Result<std::optional<bool>> opt_bool(const Json& obj, std::string_view key);
Result<std::optional<int64_t>> opt_int(const Json& obj, std::string_view key);
Result<int64_t> req_int(const Json& obj, std::string_view key);

// Query integer: `def` when absent; 422 at ["query", name] when not an integer or outside [min, max].
Result<int64_t> query_int(const Request& req, std::string_view name, int64_t def, int64_t min, int64_t max);

// application/x-www-form-urlencoded: pairs in order, '+' as space; a value with a malformed escape
// is kept as sent.
std::vector<std::pair<std::string, std::string>> parse_form(std::string_view body);

// Splits a raw query string (without '?') into decoded pairs; false on a bad escape or invalid UTF-8.
bool parse_query(std::string_view raw, std::vector<std::pair<std::string, std::string>>& out);

}  // namespace secplat::http
