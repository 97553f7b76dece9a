#include "api/auth_routes.h"

#include <charconv>
#include <functional>
#include <string>
#include <utility>

#include "api/route_helpers.h"
#include "auth/api_keys.h"
#include "auth/login_service.h"
#include "auth/user_accounts.h"
#include "auth/user_repo.h"
#include "auth/workspace_grants.h"
#include "core/clock.h"
#include "core/json.h"
#include "http/json_body.h"

namespace secplat::api {
namespace {

constexpr std::size_t kMaxCredentialField = 1024;
constexpr std::size_t kMaxApiKeyName = 100;

http::Route auth_route(std::string method, std::string path, http::Access access, http::Handler handler,
                       std::string summary, int success_status = 200) {
  return make_route("auth", std::move(method), std::move(path), access, std::move(handler), std::move(summary),
                    success_status);
}

auth::LoginContext login_context(const http::Request& req) {
  return {{req.client_ip, req.header("user-agent").value_or("")}, req.request_id};
}

Json optional_time(const std::optional<int64_t>& ms) { return ms ? Json(format_rfc3339(*ms)) : Json(nullptr); }

Json user_json(const auth::User& u) {
  return Json{{"username", u.username},
              {"role", auth::role_to_string(u.role)},
              {"source", "db"},
              {"disabled", u.disabled},
              {"password_configured", u.password_configured()},
              {"created_at", format_rfc3339(u.created_at_ms)},
              {"updated_at", format_rfc3339(u.updated_at_ms)}};
}

Json api_key_json(const auth::ApiKey& k) {
  return Json{{"id", k.id},
              {"name", k.name},
              {"role", auth::role_to_string(k.role)},
              {"prefix", k.prefix},
              {"created_by", k.created_by},
              {"created_at", format_rfc3339(k.created_at_ms)},
              {"last_used_at", optional_time(k.last_used_at_ms)},
              {"revoked_at", optional_time(k.revoked_at_ms)}};
}

Json token_pair_json(const auth::TokenPair& p) {
  return Json{{"access_token", p.access_token}, {"refresh_token", p.refresh_token}, {"token_type", "bearer"}};
}

Result<http::Role> parse_role_field(const std::optional<std::string>& s, http::Role fallback) {
  if (!s) return fallback;
  auto role = auth::role_from_string(*s);
  if (!role) return Error::bad_request("invalid role: use one of viewer, analyst, admin (service: API keys only)");
  return *role;
}

// Username and password from an OAuth2 password form or, for convenience, a JSON object.
Result<std::pair<std::string, std::string>> read_credentials(const http::Request& req) {
  std::optional<std::string> username, password;
  auto ct = req.header("content-type");
  if (ct && ct->find("application/json") != std::string::npos) {
    auto body = http::parse_json_object(req);
    if (!body.ok()) return std::move(body).take_error();
    SECPLAT_TRY(http::reject_unknown_fields(*body, {"username", "password", "grant_type", "scope", "client_id"}));
    auto u = http::req_string(*body, "username");
    if (!u.ok()) return std::move(u).take_error();
    auto p = http::req_string(*body, "password");
    if (!p.ok()) return std::move(p).take_error();
    username = std::move(*u);
    password = std::move(*p);
  } else {
    for (auto& [k, v] : http::parse_form(req.body)) {
      if (k == "username" && !username) username = v;
      if (k == "password" && !password) password = v;
    }
    if (!username) return Error::invalid({"body", "username"}, "Field required");
    if (!password) return Error::invalid({"body", "password"}, "Field required");
  }
  if (username->size() > kMaxCredentialField) return Error::invalid({"body", "username"}, "Value too long");
  if (password->size() > kMaxCredentialField) return Error::invalid({"body", "password"}, "Value too long");
  return std::pair{std::move(*username), std::move(*password)};
}

// {"refresh_token": "..."} with a non-blank token, else 400 "refresh_token required".
Result<std::string> read_refresh_token(const http::Request& req) {
  auto body = http::parse_json_object(req);
  if (!body.ok()) return std::move(body).take_error();
  SECPLAT_TRY(http::reject_unknown_fields(*body, {"refresh_token"}));
  auto token = http::opt_string(*body, "refresh_token");
  if (!token.ok()) return std::move(token).take_error();
  if (!*token || (*token)->find_first_not_of(" \t\r\n") == std::string::npos) {
    return Error::bad_request("refresh_token required");
  }
  return std::move(**token);
}

Result<int64_t> api_key_id_param(const http::Request& req) {
  std::string text = req.param("id");
  int64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty())
    return Error::invalid({"path", "id"}, "id must be an integer");
  return id;
}

// {"workspaces": ["w1", ...]} → the list (strings only).
Result<std::vector<std::string>> workspaces_body(http::Request& req) {
  auto body = http::parse_json_object(req);
  if (!body.ok()) return std::move(body).take_error();
  SECPLAT_TRY(http::reject_unknown_fields(*body, {"workspaces"}));
  auto it = body->find("workspaces");
  if (it == body->end() || !it->is_array())
    return Error::invalid({"body", "workspaces"}, "workspaces must be a list of workspace ids");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < it->size(); ++i) {
    if (!(*it)[i].is_string())
      return Error::invalid({"body", "workspaces", std::to_string(i)}, "workspace id must be a string");
    out.push_back((*it)[i].get<std::string>());
  }
  if (out.size() > 1000) return Error::invalid({"body", "workspaces"}, "at most 1000 workspaces");
  return out;
}

// Whose grants a /workspaces route is about: kind and id as WorkspaceGrants keys them, and the
// name shown in responses and the audit log.
struct GrantHolder {
  std::string kind;
  int64_t id = 0;
  std::string label;
};

// GET and PUT `path` for the grants of whoever `resolve` names (404 if nobody).
void add_grant_routes(std::vector<http::Route>& routes, const AuthRouteServices& s, const std::string& path,
                      const char* json_key, const std::string& noun,
                      std::function<Result<GrantHolder>(const http::Request&)> resolve) {
  auto render = [json_key](const GrantHolder& h, const std::vector<std::string>& w) {
    return http::Response::json(200, Json{{json_key, h.label}, {"workspaces", w}});
  };
  routes.push_back(auth_route(
      "GET", path, http::Access::admin,
      [s, resolve, render](http::Request& req) -> Result<http::Response> {
        auto holder = resolve(req);
        if (!holder.ok()) return std::move(holder).take_error();
        auto w = s.grants->list(holder->kind, holder->id);
        if (!w.ok()) return std::move(w).take_error();
        return render(*holder, *w);
      },
      "The workspaces " + noun + " may see and act in"));
  routes.push_back(auth_route(
      "PUT", path, http::Access::admin,
      [s, resolve, render](http::Request& req) -> Result<http::Response> {
        auto list = workspaces_body(req);
        if (!list.ok()) return std::move(list).take_error();
        auto holder = resolve(req);
        if (!holder.ok()) return std::move(holder).take_error();
        auto w = s.grants->replace(holder->kind, holder->id, holder->label, std::move(*list), actor_of(req));
        if (!w.ok()) return std::move(w).take_error();
        return render(*holder, *w);
      },
      "Replace the workspace grants of " + noun + " (\"*\" = all workspaces)"));
}

Result<http::Response> user_response(Result<auth::User> user, int status = 200) {
  if (!user.ok()) return std::move(user).take_error();
  return http::Response::json(status, user_json(*user));
}

}  // namespace

std::vector<http::Route> auth_routes(const AuthRouteServices& s) {
  using http::Access;
  using http::Request;
  using http::Response;
  std::vector<http::Route> routes;

  routes.push_back(auth_route(
      "POST", "/auth/login", Access::public_route,
      [s](Request& req) -> Result<Response> {
        auto creds = read_credentials(req);
        if (!creds.ok()) return std::move(creds).take_error();
        auto pair = s.login->login(creds->first, creds->second, login_context(req));
        if (!pair.ok()) return std::move(pair).take_error();
        return Response::json(200, token_pair_json(*pair));
      },
      "Log in with username and password (form or JSON); returns access and refresh tokens"));

  routes.push_back(auth_route(
      "POST", "/auth/refresh", Access::public_route,
      [s](Request& req) -> Result<Response> {
        auto token = read_refresh_token(req);
        if (!token.ok()) return std::move(token).take_error();
        auto pair = s.login->refresh(*token, login_context(req));
        if (!pair.ok()) return std::move(pair).take_error();
        return Response::json(200, token_pair_json(*pair));
      },
      "Exchange a refresh token for a new token pair (the old one is revoked; reuse revokes the session)"));

  routes.push_back(auth_route(
      "POST", "/auth/logout", Access::viewer,
      [s](Request& req) -> Result<Response> {
        auto token = read_refresh_token(req);
        if (!token.ok()) return std::move(token).take_error();
        SECPLAT_TRY(s.login->logout(*token, actor_of(req)));
        return Response::json(200, Json{{"ok", true}});
      },
      "End the session of a refresh token"));

  routes.push_back(auth_route(
      "GET", "/auth/me", Access::viewer,
      [s](Request& req) -> Result<Response> {
        if (!req.principal) return Error::unauthorized("Not authenticated");
        Json me{{"username", req.principal->subject}, {"role", auth::role_to_string(req.principal->role)}};
        if (s.grants) {
          auto scope = s.grants->scope_of(*req.principal);
          if (!scope.ok()) return std::move(scope).take_error();
          me["workspaces"] = *scope ? Json(**scope) : Json::array({std::string(auth::WorkspaceGrants::kAll)});
        }
        return Response::json(200, me);
      },
      "The caller's identity, role and workspaces (\"*\" = all)"));

  auto config = auth_route(
      "GET", "/auth/config", Access::public_route,
      [](Request&) -> Result<Response> { return Response::json(200, Json{{"oidc_enabled", false}}); },
      "Login options for the web page");
  config.inline_io = true;
  routes.push_back(std::move(config));

  routes.push_back(auth_route(
      "GET", "/auth/users", Access::admin,
      [s](Request&) -> Result<Response> {
        auto users = s.users->list();
        if (!users.ok()) return std::move(users).take_error();
        Json items = Json::array();
        for (const auto& u : *users) items.push_back(user_json(u));
        return Response::json(200, Json{{"items", std::move(items)}});
      },
      "List users"));

  routes.push_back(auth_route(
      "POST", "/auth/users", Access::admin,
      [s](Request& req) -> Result<Response> {
        auto body = http::parse_json_object(req);
        if (!body.ok()) return std::move(body).take_error();
        SECPLAT_TRY(http::reject_unknown_fields(*body, {"username", "role", "password", "disabled"}));
        auto username = http::opt_string(*body, "username");
        if (!username.ok()) return std::move(username).take_error();
        auto role_text = http::opt_string(*body, "role");
        if (!role_text.ok()) return std::move(role_text).take_error();
        auto password = http::opt_string(*body, "password");
        if (!password.ok()) return std::move(password).take_error();
        auto disabled = http::opt_bool(*body, "disabled");
        if (!disabled.ok()) return std::move(disabled).take_error();
        auto role = parse_role_field(*role_text, http::Role::viewer);
        if (!role.ok()) return std::move(role).take_error();
        auth::NewUser nu{username->value_or(""), *role, *password, disabled->value_or(false)};
        return user_response(s.accounts->create(nu, actor_of(req)), 201);
      },
      "Create a user (password optional: without one the user cannot log in until reset)", 201));

  routes.push_back(auth_route(
      "PATCH", "/auth/users/{username}", Access::admin,
      [s](Request& req) -> Result<Response> {
        auto body = http::parse_json_object(req);
        if (!body.ok()) return std::move(body).take_error();
        SECPLAT_TRY(http::reject_unknown_fields(*body, {"role", "disabled"}));
        auto role_text = http::opt_string(*body, "role");
        if (!role_text.ok()) return std::move(role_text).take_error();
        auto disabled = http::opt_bool(*body, "disabled");
        if (!disabled.ok()) return std::move(disabled).take_error();
        std::optional<http::Role> role;
        if (*role_text) {
          auto r = parse_role_field(*role_text, http::Role::viewer);
          if (!r.ok()) return std::move(r).take_error();
          role = *r;
        }
        return user_response(s.accounts->update(req.param("username"), role, *disabled, actor_of(req)));
      },
      "Change a user's role or disabled flag"));

  routes.push_back(auth_route(
      "POST", "/auth/users/{username}/disable", Access::admin,
      [s](Request& req) -> Result<Response> {
        return user_response(s.accounts->disable(req.param("username"), actor_of(req)));
      },
      "Disable a user; their tokens stop working at once"));

  routes.push_back(auth_route(
      "POST", "/auth/users/{username}/enable", Access::admin,
      [s](Request& req) -> Result<Response> {
        return user_response(s.accounts->enable(req.param("username"), actor_of(req)));
      },
      "Enable a user"));

  routes.push_back(auth_route(
      "POST", "/auth/users/{username}/reset-password", Access::admin,
      [s](Request& req) -> Result<Response> {
        auto body = http::parse_json_object(req);
        if (!body.ok()) return std::move(body).take_error();
        SECPLAT_TRY(http::reject_unknown_fields(*body, {"password"}));
        auto password = http::req_string(*body, "password");
        if (!password.ok()) return std::move(password).take_error();
        return user_response(s.accounts->reset_password(req.param("username"), *password, actor_of(req)));
      },
      "Set a new password (also re-enables the user and ends their sessions)"));

  routes.push_back(auth_route(
      "DELETE", "/auth/users/{username}", Access::admin,
      [s](Request& req) -> Result<Response> {
        std::string username = req.param("username");
        SECPLAT_TRY(s.accounts->remove(username, actor_of(req)));
        return Response::json(200, Json{{"ok", true}, {"username", username}});
      },
      "Delete a user"));

  routes.push_back(auth_route(
      "POST", "/auth/api-keys", Access::admin,
      [s](Request& req) -> Result<Response> {
        auto body = http::parse_json_object(req);
        if (!body.ok()) return std::move(body).take_error();
        SECPLAT_TRY(http::reject_unknown_fields(*body, {"name", "role"}));
        auto name = http::req_string(*body, "name");
        if (!name.ok()) return std::move(name).take_error();
        if (name->find_first_not_of(" \t\r\n") == std::string::npos || name->size() > kMaxApiKeyName) {
          return Error::bad_request("name must be 1 to 100 characters");
        }
        auto role_text = http::opt_string(*body, "role");
        if (!role_text.ok()) return std::move(role_text).take_error();
        auto role = parse_role_field(*role_text, http::Role::viewer);
        if (!role.ok()) return std::move(role).take_error();
        auto created = s.api_keys->create(*name, *role, actor_of(req));
        if (!created.ok()) return std::move(created).take_error();
        Json j = api_key_json(created->key);
        j["key"] = created->raw_key;  // shown once; only its hash is stored
        return Response::json(201, j);
      },
      "Create an API key; the key is in this response only", 201));

  routes.push_back(auth_route(
      "GET", "/auth/api-keys", Access::admin,
      [s](Request&) -> Result<Response> {
        auto keys = s.api_keys->list();
        if (!keys.ok()) return std::move(keys).take_error();
        Json items = Json::array();
        for (const auto& k : *keys) items.push_back(api_key_json(k));
        return Response::json(200, Json{{"items", std::move(items)}});
      },
      "List API keys (without secrets)"));

  routes.push_back(auth_route(
      "DELETE", "/auth/api-keys/{id}", Access::admin,
      [s](Request& req) -> Result<Response> {
        auto id = api_key_id_param(req);
        if (!id.ok()) return std::move(id).take_error();
        auto revoked = s.api_keys->revoke(*id, actor_of(req));
        if (!revoked.ok()) return std::move(revoked).take_error();
        return Response::json(200, api_key_json(*revoked));
      },
      "Revoke an API key"));

  if (!s.grants) return routes;

  // Workspace grants of users and API keys (admins see every workspace without any).
  add_grant_routes(routes, s, "/auth/users/{username}/workspaces", "username", "a user",
                   [s](const Request& req) -> Result<GrantHolder> {
                     auto user = s.users->find_by_name(req.param("username"));
                     if (!user.ok()) return std::move(user).take_error();
                     if (!*user) return Error::not_found("user not found");
                     return GrantHolder{"user", (*user)->id, (*user)->username};
                   });
  add_grant_routes(routes, s, "/auth/api-keys/{id}/workspaces", "api_key", "an API key",
                   [s](const Request& req) -> Result<GrantHolder> {
                     auto id = api_key_id_param(req);
                     if (!id.ok()) return std::move(id).take_error();
                     auto keys = s.api_keys->list();
                     if (!keys.ok()) return std::move(keys).take_error();
                     for (const auto& k : *keys)
                       if (k.id == *id) return GrantHolder{"api_key", k.id, k.name};
                     return Error::not_found("api key not found");
                   });

  return routes;
}

}  // namespace secplat::api
