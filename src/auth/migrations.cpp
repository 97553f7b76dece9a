#include "auth/migrations.h"

#include <string>

namespace secplat::auth {
namespace {

// The DDL differs between dialects only in the id column; `{ID}` is replaced per dialect.
std::string with_id(std::string sql, const std::string& id_column) {
  const std::string token = "{ID}";
  for (std::size_t pos = sql.find(token); pos != std::string::npos; pos = sql.find(token, pos)) {
    sql.replace(pos, token.size(), id_column);
  }
  return sql;
}

store::Migration portable(int version, std::string name, const std::string& ddl) {
  return {version, std::move(name), with_id(ddl, "id INTEGER PRIMARY KEY AUTOINCREMENT"),
          with_id(ddl, "id BIGSERIAL PRIMARY KEY")};
}

const char* kUsers = R"SQL(
CREATE TABLE users (
  {ID},
  username TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin')),
  password_hash TEXT,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  token_version INTEGER NOT NULL DEFAULT 0
))SQL";

const char* kRefreshTokens = R"SQL(
CREATE TABLE refresh_tokens (
  {ID},
  token_hash TEXT NOT NULL UNIQUE,
  family_id TEXT NOT NULL,
  user_id BIGINT NOT NULL,
  issued_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT,
  revoked_reason TEXT,
  replaced_by_hash TEXT,
  client_ip TEXT,
  user_agent TEXT
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id))SQL";

const char* kApiKeys = R"SQL(
CREATE TABLE api_keys (
  {ID},
  name TEXT NOT NULL UNIQUE,
  key_hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin')),
  created_by TEXT,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT,
  revoked_at BIGINT
))SQL";

const char* kAuditEvents = R"SQL(
CREATE TABLE audit_events (
  {ID},
  created_at BIGINT NOT NULL,
  action TEXT NOT NULL,
  user_name TEXT,
  asset_key TEXT,
  details TEXT NOT NULL DEFAULT '{}',
  request_id TEXT
);
CREATE INDEX audit_events_created_at_idx ON audit_events (created_at);
CREATE INDEX audit_events_action_idx ON audit_events (action);
CREATE INDEX audit_events_user_name_idx ON audit_events (user_name))SQL";

// principal_kind "user" (users.id) or "api_key" (api_keys.id); workspace_id "*" = all workspaces.
const char* kWorkspaceGrants = R"SQL(
CREATE TABLE workspace_grants (
  principal_kind TEXT NOT NULL CHECK (principal_kind IN ('user', 'api_key')),
  principal_id BIGINT NOT NULL,
  workspace_id TEXT NOT NULL,
  granted_by TEXT,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (principal_kind, principal_id, workspace_id)
))SQL";

// API keys may have the role `service` (role processes without database credentials; users may
// not). SQLite cannot change a CHECK constraint, so the table is rebuilt (ids kept).
const char* kApiKeysServiceSqlite = R"SQL(
CREATE TABLE api_keys_v2 (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  key_hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin', 'service')),
  created_by TEXT,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT,
  revoked_at BIGINT
);
INSERT INTO api_keys_v2 (id, name, key_hash, prefix, role, created_by, created_at, last_used_at, revoked_at)
  SELECT id, name, key_hash, prefix, role, created_by, created_at, last_used_at, revoked_at FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_v2 RENAME TO api_keys)SQL";

const char* kApiKeysServicePostgres = R"SQL(
ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN ('viewer', 'analyst', 'admin', 'service')))SQL";

}  // namespace

std::vector<store::Migration> auth_migrations() {
  return {
      portable(100, "auth_users", kUsers),
      portable(101, "auth_refresh_tokens", kRefreshTokens),
      portable(102, "auth_api_keys", kApiKeys),
      portable(103, "audit_events", kAuditEvents),
      portable(104, "workspace_grants", kWorkspaceGrants),
      {105, "api_keys_service_role", kApiKeysServiceSqlite, kApiKeysServicePostgres},
  };
}

}  // namespace secplat::auth
