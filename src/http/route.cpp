#include "http/route.h"

#include <strings.h>

#include <atomic>

#include "core/json.h"

namespace secplat::http {

const char* role_name(Role r) {
  switch (r) {
    case Role::viewer: return "viewer";
    case Role::analyst: return "analyst";
    case Role::admin: return "admin";
    case Role::service: return "service";
  }
  return "viewer";
}

std::optional<Role> parse_role(std::string_view s) {
  if (s == "viewer") return Role::viewer;
  if (s == "analyst") return Role::analyst;
  if (s == "admin") return Role::admin;
  if (s == "service") return Role::service;
  return std::nullopt;
}

namespace {
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}
}  // namespace

std::optional<std::string> Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return std::nullopt;
}

std::optional<std::string> Request::query_param(std::string_view name) const {
  for (const auto& [k, v] : query)
    if (k == name) return v;
  return std::nullopt;
}

std::string Request::param(std::string_view name) const {
  for (const auto& [k, v] : params)
    if (k == name) return v;
  return {};
}

struct Reply::State {
  Sink sink;
  std::atomic<bool> answered{false};
  ~State() {
    if (answered.load()) return;
    try {
      sink(Error::internal("handler dropped the request without answering"));
    } catch (...) {  // nothing more can be done from a destructor
    }
  }
};

Reply::Reply(Sink sink) : state_(std::make_shared<State>()) { state_->sink = std::move(sink); }

void Reply::operator()(Result<Response> r) const {
  if (state_->answered.exchange(true)) return;
  state_->sink(std::move(r));
}

Response Response::json(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response Response::text(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

Response Response::no_content() {
  Response r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

}  // namespace secplat::http
