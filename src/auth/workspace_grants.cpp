#include "auth/workspace_grants.h"

#include <algorithm>

#include "core/json.h"

namespace secplat::auth {
namespace {

bool valid_workspace_id(const std::string& w) {
  if (w == WorkspaceGrants::kAll) return true;
  if (w.empty() || w.size() > 128) return false;
  return std::all_of(w.begin(), w.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-' || c == ':';
  });
}

}  // namespace

Result<WorkspaceScope> WorkspaceGrants::scope_of(const http::Principal& principal) {
  if (principal.role == http::Role::admin) return WorkspaceScope{};
  auto granted = list(principal.kind, principal.user_id);
  if (!granted) return std::move(granted).take_error();
  if (std::find(granted->begin(), granted->end(), kAll) != granted->end()) return WorkspaceScope{};
  return WorkspaceScope{std::move(*granted)};
}

Result<std::vector<std::string>> WorkspaceGrants::list(std::string_view kind, int64_t id) {
  auto rows = db_.query(
      "SELECT workspace_id FROM workspace_grants WHERE principal_kind = $1 AND principal_id = $2 ORDER BY workspace_id",
      {std::string(kind), id});
  if (!rows) return std::move(rows).take_error();
  std::vector<std::string> out;
  out.reserve(rows->size());
  for (const auto& r : *rows) out.push_back(r.str("workspace_id"));
  return out;
}

Result<std::vector<std::string>> WorkspaceGrants::replace(std::string_view kind, int64_t id, const std::string& label,
                                                          std::vector<std::string> workspaces, const Actor& actor) {
  for (std::size_t i = 0; i < workspaces.size(); ++i) {
    if (!valid_workspace_id(workspaces[i]))
      return Error::invalid({"body", "workspaces", std::to_string(i)},
                            "workspace id must be 1-128 letters, digits, '.', '_', '-' or ':', or \"*\" for all");
  }
  std::sort(workspaces.begin(), workspaces.end());
  workspaces.erase(std::unique(workspaces.begin(), workspaces.end()), workspaces.end());
  const std::string k(kind);
  SECPLAT_TRY(db_.transact([&](store::Tx& tx) -> Status {
    SECPLAT_TRY(remove_all(tx, kind, id));
    for (const auto& w : workspaces) {
      auto n = tx.exec(
          "INSERT INTO workspace_grants (principal_kind, principal_id, workspace_id, granted_by, created_at) "
          "VALUES ($1, $2, $3, $4, $5)",
          {k, id, w, actor.user_name, clock_.now_ms()});
      if (!n) return std::move(n).take_error();
    }
    return audit_.append(tx, k == "user" ? "user.workspaces" : "apikey.workspaces", actor.user_name, "",
                         Json{{k == "user" ? "username" : "api_key", label}, {"workspaces", workspaces}},
                         actor.request_id);
  }));
  return workspaces;
}

Status WorkspaceGrants::remove_all(store::Tx& tx, std::string_view kind, int64_t id) {
  auto n = tx.exec("DELETE FROM workspace_grants WHERE principal_kind = $1 AND principal_id = $2",
                   {std::string(kind), id});
  if (!n) return std::move(n).take_error();
  return ok_status();
}

}  // namespace secplat::auth
