// /auth/* routes: login, refresh, logout, me, config, user administration, API keys and
// workspace grants.
// Handlers parse and render only; the rules live in the auth module.
#pragma once

#include <vector>

#include "http/route.h"

namespace secplat::auth {
class ApiKeys;
class LoginService;
class UserAccounts;
class UserRepo;
class WorkspaceGrants;
}  // namespace secplat::auth

namespace secplat::api {

// Borrowed; every service must outlive the server.
struct AuthRouteServices {
  auth::UserRepo* users = nullptr;
  auth::UserAccounts* accounts = nullptr;
  auth::LoginService* login = nullptr;
  auth::ApiKeys* api_keys = nullptr;
  auth::WorkspaceGrants* grants = nullptr;  // null: no /workspaces routes, /auth/me without workspaces
};

std::vector<http::Route> auth_routes(const AuthRouteServices& services);

}  // namespace secplat::api
