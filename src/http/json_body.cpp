#include "http/json_body.h"

#include <charconv>

#include "core/encoding.h"

namespace secplat::http {

namespace {
std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool is_json_content_type(std::string_view ct) {
  std::string t = lower(ct.substr(0, ct.find(';')));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  if (t == "application/json") return true;
  return t.starts_with("application/") && t.ends_with("+json");
}

Error field_error(std::string_view key, std::string msg) { return Error::invalid({"body", std::string(key)}, std::move(msg)); }

const Json* find_field(const Json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}
}  // namespace

bool declares_json_or_nothing(const Request& req) {
  auto ct = req.header("content-type");
  return !ct || is_json_content_type(*ct);
}

Result<Json> parse_json_object(const Request& req) {
  if (!declares_json_or_nothing(req))
    return Error::invalid({"body"}, "Content-Type must be application/json");
  if (req.body.empty()) return Error::invalid({"body"}, "Request body is required (a JSON object)");
  Json j = Json::parse(req.body, nullptr, false);
  if (j.is_discarded()) return Error::invalid({"body"}, "Malformed JSON in request body");
  if (!j.is_object()) return Error::invalid({"body"}, "Request body must be a JSON object");
  return j;
}

Status reject_unknown_fields(const Json& obj, std::initializer_list<std::string_view> allowed) {
  if (!obj.is_object()) return ok_status();
  Error e{Errc::validation, "Request validation failed", {}, 0};
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool known = false;
    for (std::string_view a : allowed)
      if (a == it.key()) known = true;
    if (!known) e.fields.push_back({{"body", it.key()}, "Unknown field '" + it.key() + "'"});
  }
  if (e.fields.empty()) return ok_status();
  return e;
}

Result<std::optional<std::string>> opt_string(const Json& obj, std::string_view key) {
  const Json* v = find_field(obj, key);
  if (!v) return std::optional<std::string>{};
  if (!v->is_string()) return field_error(key, "Input should be a valid string");
  return std::optional<std::string>{v->get<std::string>()};
}

Result<std::string> req_string(const Json& obj, std::string_view key) {
  auto r = opt_string(obj, key);
  if (!r) return std::move(r).take_error();
  if (!r->has_value()) return field_error(key, "Field required");
  return std::move(**r);
}

Result<std::optional<bool>> opt_bool(const Json& obj, std::string_view key) {
  const Json* v = find_field(obj, key);
  if (!v) return std::optional<bool>{};
  if (!v->is_boolean()) return field_error(key, "Input should be a valid boolean");
  return std::optional<bool>{v->get<bool>()};
}

Result<std::optional<int64_t>> opt_int(const Json& obj, std::string_view key) {
  const Json* v = find_field(obj, key);
  if (!v) return std::optional<int64_t>{};
  if (v->is_number_integer()) {
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      return field_error(key, "Input should be a valid integer");
    return std::optional<int64_t>{v->get<int64_t>()};
  }
  return field_error(key, "Input should be a valid integer");
}

Result<int64_t> req_int(const Json& obj, std::string_view key) {
  auto r = opt_int(obj, key);
  if (!r) return std::move(r).take_error();
  if (!r->has_value()) return field_error(key, "Field required");
  return **r;
}

Result<int64_t> query_int(const Request& req, std::string_view name, int64_t def, int64_t min, int64_t max) {
  auto raw = req.query_param(name);
  if (!raw) return def;
  int64_t v = 0;
  const char* b = raw->data();
  const char* e = b + raw->size();
  auto res = std::from_chars(b, e, v);
  if (raw->empty() || res.ec != std::errc() || res.ptr != e)
    return Error::invalid({"query", std::string(name)}, "Input should be a valid integer");
  if (v < min || v > max)
    return Error::invalid({"query", std::string(name)},
                          "Input should be between " + std::to_string(min) + " and " + std::to_string(max));
  return v;
}

namespace {
template <class Fn>
void split_pairs(std::string_view s, Fn&& fn) {
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t amp = s.find('&', start);
    if (amp == std::string_view::npos) amp = s.size();
    std::string_view part = s.substr(start, amp - start);
    if (!part.empty()) {
      std::size_t eq = part.find('=');
      if (eq == std::string_view::npos) fn(part, std::string_view{});
      else fn(part.substr(0, eq), part.substr(eq + 1));
    }
    start = amp + 1;
  }
}
}  // namespace

std::vector<std::pair<std::string, std::string>> parse_form(std::string_view body) {
  std::vector<std::pair<std::string, std::string>> out;
  split_pairs(body, [&](std::string_view k, std::string_view v) {
    auto dk = url_decode(k, true);
    auto dv = url_decode(v, true);
    out.emplace_back(dk ? std::move(*dk) : std::string(k), dv ? std::move(*dv) : std::string(v));
  });
  return out;
}

bool parse_query(std::string_view raw, std::vector<std::pair<std::string, std::string>>& out) {
  bool ok = true;
  split_pairs(raw, [&](std::string_view k, std::string_view v) {
    auto dk = url_decode(k, true);
    auto dv = url_decode(v, true);
    if (!dk || !dv || !is_valid_utf8(*dk) || !is_valid_utf8(*dv)) {
      ok = false;
      return;
    }
    out.emplace_back(std::move(*dk), std::move(*dv));
  });
  return ok;
}

}  // namespace secplat::http
