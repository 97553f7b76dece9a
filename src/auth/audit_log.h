// Append-only record of who changed what (table `audit_events`). Every mutating action of the
// platform appends one event; `details` never holds secrets (no passwords, tokens or keys).
//
// Threading: safe to share between threads (state lives in the Db).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/clock.h"
#include "store/db.h"

namespace secplat::auth {

// Who is acting, for audit rows: the principal's subject and the request's id.
struct Actor {
  std::string user_name;
  std::string request_id;
};

struct AuditEntry {
  int64_t id = 0;
  int64_t created_at_ms = 0;
  std::string action;
  std::optional<std::string> user_name = std::nullopt;
  std::optional<std::string> asset_key;
  std::string details_json;  // a JSON object as text
  std::optional<std::string> request_id;
};

struct AuditQuery {
  std::optional<std::string> user_name = std::nullopt;
  std::optional<std::string> action = std::nullopt;
  std::optional<int64_t> since_ms = std::nullopt;  // created_at >= since_ms
  int limit = 100;                  // clamped to 1..500
};

struct AuditPage {
  std::vector<AuditEntry> items;     // newest first
  std::vector<std::string> actions;  // every distinct action in the log, sorted (for filter menus)
};

class AuditLog {
 public:
  AuditLog(store::Db& db, const Clock& clock) : db_(db), clock_(clock) {}

  // Empty user_name / asset_key / request_id are stored as NULL. `details` must be an object.
  Status append(std::string_view action, std::string_view user_name, std::string_view asset_key,
                const nlohmann::json& details, std::string_view request_id);
  // The same inside a caller's transaction, so the event commits or rolls back with the change.
  Status append(store::Tx& tx, std::string_view action, std::string_view user_name, std::string_view asset_key,
                const nlohmann::json& details, std::string_view request_id);
  // The same with `details` already written as a JSON object's text (hot paths build it directly).
  Status append_json_text(store::Tx& tx, std::string_view action, std::string_view user_name,
                          std::string_view asset_key, std::string details_json, std::string_view request_id);

  Result<AuditPage> list(const AuditQuery& query);

 private:
  store::Params row(std::string_view action, std::string_view user_name, std::string_view asset_key,
                    std::string details_json, std::string_view request_id) const;

  store::Db& db_;
  const Clock& clock_;
};

}  // namespace secplat::auth
