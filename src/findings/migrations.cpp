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

}  // namespace

std::vector<store::Migration> findings_migrations() {
  return {store::portable_migration(300, "assets", kAssets), store::portable_migration(301, "findings", kFindings)};
}

}  // namespace secplat::findings
