// Workspace grants: which workspaces a user or API key may see and act in (scans today). Admins
// see every workspace; everyone else sees exactly the workspaces granted to them, or all with
// the "*" grant. No grant, no access (fail closed).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/audit_log.h"
#include "core/clock.h"
#include "core/error.h"
#include "http/route.h"
#include "store/db.h"

namespace secplat::auth {

// nullopt = every workspace; otherwise the granted ids (possibly none).
using WorkspaceScope = std::optional<std::vector<std::string>>;

inline bool scope_allows(const WorkspaceScope& scope, std::string_view workspace_id) {
  if (!scope) return true;
  for (const auto& w : *scope)
    if (w == workspace_id) return true;
  return false;
}

class WorkspaceGrants {
 public:
  WorkspaceGrants(store::Db& db, const Clock& clock, AuditLog& audit) : db_(db), clock_(clock), audit_(audit) {}

  static constexpr std::string_view kAll = "*";

  // The caller's scope: admins and holders of "*" see all. One indexed read.
  Result<WorkspaceScope> scope_of(const http::Principal& principal);

  // Grants of a user ("user", users.id) or API key ("api_key", api_keys.id), sorted.
  Result<std::vector<std::string>> list(std::string_view kind, int64_t id);

  // Replaces the grants. Each id: 1..128 characters of letters, digits, '.', '_', '-', ':', or
  // "*" alone; Errc::invalid names the bad entry. Audits `<kind>.workspaces` with `label`.
  Result<std::vector<std::string>> replace(std::string_view kind, int64_t id, const std::string& label,
                                           std::vector<std::string> workspaces, const Actor& actor);

  // Inside a caller's transaction (user or key deleted).
  static Status remove_all(store::Tx& tx, std::string_view kind, int64_t id);

 private:
  store::Db& db_;
  const Clock& clock_;
  AuditLog& audit_;
};

}  // namespace secplat::auth
