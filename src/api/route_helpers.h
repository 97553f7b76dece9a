// Small pieces every route table uses.
#pragma once

#include <charconv>
#include <cstddef>
#include <functional>
#include <optional>
#include <string_view>
#include <string>
#include <utility>
#include <vector>

#include "auth/audit_log.h"
#include "core/clock.h"
#include "core/json.h"
#include "http/json_body.h"
#include "http/route.h"

namespace secplat::api {

// The audit actor of a request: the authenticated subject and the request id.
inline auth::Actor actor_of(const http::Request& req) {
  return {req.principal ? req.principal->subject : std::string(), req.request_id};
}

inline http::Route make_route(std::string tag, std::string method, std::string path, http::Access access,
                              http::Handler handler, std::string summary, int success_status = 200,
                              std::vector<std::string> query_params = {}) {
  http::Route r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.access = access;
  r.handler = std::move(handler);
  r.doc.summary = std::move(summary);
  r.doc.tag = std::move(tag);
  r.doc.success_status = success_status;
  r.doc.query_params = std::move(query_params);
  return r;
}

// The /internal routes of a port served to role processes without database credentials: POST
// <prefix><op> for every op, service API keys only; the JSON body goes to serve(op, body) and its
// answer is the 200 body. `max_body(op)` gives an operation its own body cap (0 = the server's).
using InternalOp = std::function<Result<Json>(std::string_view op, const Json& body)>;
inline std::vector<http::Route> internal_op_routes(const std::string& prefix, const std::vector<std::string_view>& ops,
                                                   const std::string& what, InternalOp serve,
                                                   const std::function<std::size_t(std::string_view)>& max_body = {}) {
  std::vector<http::Route> routes;
  for (std::string_view op : ops) {
    http::Route r;
    r.method = "POST";
    r.path = prefix + std::string(op);
    r.access = http::Access::service;
    r.doc = {what + ": " + std::string(op) + " (service API keys)", "internal", "", "", {}, 200};
    if (max_body) r.max_body_bytes = max_body(op);
    r.handler = [serve, op](http::Request& req) -> Result<http::Response> {
      auto body = http::parse_json_object(req);
      if (!body.ok()) return std::move(body).take_error();
      auto answer = serve(op, *body);
      if (!answer.ok()) return std::move(answer).take_error();
      return http::Response::json(200, *answer);
    };
    routes.push_back(std::move(r));
  }
  return routes;
}

// A stored JSON-object column as an object; anything else (junk, an array) reads as {}.
inline Json object_or_empty(const std::string& text) {
  Json j = Json::parse(text, nullptr, false);
  return j.is_object() ? j : Json::object();
}

// JSON null for an absent value.
inline Json opt_text(const std::optional<std::string>& s) { return s ? Json(*s) : Json(nullptr); }
inline Json opt_time(const std::optional<int64_t>& ms) { return ms ? Json(format_rfc3339(*ms)) : Json(nullptr); }
template <class T>
Json opt_num(const std::optional<T>& v) {
  return v ? Json(*v) : Json(nullptr);
}

// An optional integer query parameter within [lo, hi]; absent → def; anything else → 422 naming it.
inline Result<int64_t> int_query(const http::Request& req, const char* name, int64_t def, int64_t lo, int64_t hi) {
  auto v = req.query_param(name);
  if (!v) return def;
  int64_t n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || p != v->data() + v->size() || n < lo || n > hi)
    return Error::invalid({"query", name},
                          "Must be an integer between " + std::to_string(lo) + " and " + std::to_string(hi));
  return n;
}

}  // namespace secplat::api
