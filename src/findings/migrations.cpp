#include "findings/migrations.h"

#include <string>

#include "store/sql_text.h"

namespace secplat::findings {
namespace {

// Booleans are INTEGER 0/1 and times epoch-ms BIGINT so the same SQL runs on both engines.
const char* kAssets = R"SQL(
CREATE TABLE assets (
  asset_id {ID},
  asset_key TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  name TEXT NOT NULL,
  owner TEXT,
  owner_team TEXT,
  owner_email TEXT,
  asset_type TEXT NOT NULL DEFAULT 'service',
  environment TEXT NOT NULL DEFAULT 'dev',
  criticality TEXT NOT NULL DEFAULT 'medium',
  verified INTEGER NOT NULL DEFAULT 0,
  verification_method TEXT,
  verification_token TEXT,
  address TEXT,
  port INTEGER,
  is_active INTEGER NOT NULL DEFAULT 1,
  tags TEXT NOT NULL DEFAULT '[]',
  metadata TEXT NOT NULL DEFAULT '{}',
  probe TEXT,
  parent_asset_key TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX assets_environment_idx ON assets (environment);
CREATE INDEX assets_type_idx ON assets (type);
CREATE INDEX assets_criticality_idx ON assets (criticality))SQL";

// finding_key is unique per asset, not globally. `revision` starts at 1 and grows on every upsert,
// so an upsert's RETURNING tells a create (1) from an update without engine-specific tricks.
const char* kFindings = R"SQL(
CREATE TABLE findings (
  finding_id {ID},
  asset_id BIGINT NOT NULL REFERENCES assets (asset_id),
  finding_key TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  category TEXT NOT NULL DEFAULT '',
  title TEXT NOT NULL,
  severity TEXT NOT NULL DEFAULT 'medium',
  confidence TEXT NOT NULL DEFAULT 'high',
  evidence TEXT NOT NULL DEFAULT '',
  remediation TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'open'
    CHECK (status IN ('open', 'in_progress', 'remediated', 'accepted_risk')),
  first_seen BIGINT NOT NULL,
  last_seen BIGINT NOT NULL,
  accepted_risk_at BIGINT,
  accepted_risk_expires_at BIGINT,
  accepted_risk_reason TEXT,
  accepted_risk_by TEXT,
  risk_score INTEGER NOT NULL DEFAULT 0,
  risk_level TEXT NOT NULL DEFAULT 'low',
  risk_factors_json TEXT NOT NULL DEFAULT '{}',
  vulnerability_id TEXT,
  package_ecosystem TEXT,
  package_name TEXT,
  package_version TEXT,
  fixed_version TEXT,
  scanner_metadata_json TEXT NOT NULL DEFAULT '{}',
  revision BIGINT NOT NULL DEFAULT 1,
  UNIQUE (asset_id, finding_key)
);
CREATE INDEX findings_asset_source_idx ON findings (asset_id, source, status);
CREATE INDEX findings_last_seen_idx ON findings (last_seen DESC, finding_id DESC);
CREATE INDEX findings_status_expiry_idx ON findings (status, accepted_risk_expires_at);
CREATE INDEX findings_risk_score_idx ON findings (risk_score DESC))SQL";

// Cheaper writes of a finding (every POST /findings/ inserts or updates one):
// * SQLite compiles a CHECK of `status IN (four values)` into a temporary b-tree that it creates,
//   fills and drops on every insert and status update; the same rule as ORs compiles to four
//   comparisons. SQLite cannot change a CHECK, so the table is rebuilt (ids and the AUTOINCREMENT
//   high-water mark kept; nothing references findings by foreign key).
// * No query orders or filters by risk_score: its index only cost every write.
// * Only accepted risks have an expiry to sweep: that index holds them alone.
const char* kLeanWritesSqlite = R"SQL(
CREATE TABLE findings_v2 (
  finding_id INTEGER PRIMARY KEY AUTOINCREMENT,
  asset_id BIGINT NOT NULL REFERENCES assets (asset_id),
  finding_key TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  category TEXT NOT NULL DEFAULT '',
  title TEXT NOT NULL,
  severity TEXT NOT NULL DEFAULT 'medium',
  confidence TEXT NOT NULL DEFAULT 'high',
  evidence TEXT NOT NULL DEFAULT '',
  remediation TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'open'
    CHECK (status = 'open' OR status = 'in_progress' OR status = 'remediated' OR status = 'accepted_risk'),
  first_seen BIGINT NOT NULL,
  last_seen BIGINT NOT NULL,
  accepted_risk_at BIGINT,
  accepted_risk_expires_at BIGINT,
  accepted_risk_reason TEXT,
  accepted_risk_by TEXT,
  risk_score INTEGER NOT NULL DEFAULT 0,
  risk_level TEXT NOT NULL DEFAULT 'low',
  risk_factors_json TEXT NOT NULL DEFAULT '{}',
  vulnerability_id TEXT,
  package_ecosystem TEXT,
  package_name TEXT,
  package_version TEXT,
  fixed_version TEXT,
  scanner_metadata_json TEXT NOT NULL DEFAULT '{}',
  revision BIGINT NOT NULL DEFAULT 1,
  UNIQUE (asset_id, finding_key)
);
INSERT INTO findings_v2 SELECT * FROM findings;
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'findings')
  WHERE name = 'findings_v2' AND seq < (SELECT seq FROM sqlite_sequence WHERE name = 'findings');
INSERT INTO sqlite_sequence (name, seq) SELECT 'findings_v2', seq FROM sqlite_sequence WHERE name = 'findings'
  AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'findings_v2');
DROP TABLE findings;
ALTER TABLE findings_v2 RENAME TO findings;
CREATE INDEX findings_asset_source_idx ON findings (asset_id, source, status);
CREATE INDEX findings_last_seen_idx ON findings (last_seen DESC, finding_id DESC);
CREATE INDEX findings_accepted_expiry_idx ON findings (accepted_risk_expires_at) WHERE status = 'accepted_risk')SQL";

const char* kLeanWritesPostgres = R"SQL(
DROP INDEX IF EXISTS findings_risk_score_idx;
DROP INDEX IF EXISTS findings_status_expiry_idx;
CREATE INDEX findings_accepted_expiry_idx ON findings (accepted_risk_expires_at) WHERE status = 'accepted_risk')SQL";

}  // namespace

std::vector<store::Migration> findings_migrations() {
  return {store::portable_migration(300, "assets", kAssets), store::portable_migration(301, "findings", kFindings),
          {302, "findings_lean_writes", kLeanWritesSqlite, kLeanWritesPostgres}};
}

}  // namespace secplat::findings
