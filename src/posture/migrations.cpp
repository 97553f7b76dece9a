#include "posture/migrations.h"

#include <string>

#include "store/sql_text.h"

namespace secplat::posture {
namespace {

// Health events are appended and never rewritten (ARCHITECTURE "events are not state"). Times are
// epoch-ms BIGINT. `asset_status` holds exactly one derived row per asset, written only by the
// deriver; `history` is its ring of the last raw results (JSON) for debounce/flapping/confidence.
const char* kPosture = R"SQL(
CREATE TABLE health_events (
  event_id {ID},
  asset_key TEXT NOT NULL,
  ts BIGINT NOT NULL,
  service TEXT NOT NULL,
  status TEXT NOT NULL,
  status_num INTEGER NOT NULL,
  code INTEGER NOT NULL,
  latency_ms BIGINT NOT NULL,
  error_class TEXT,
  error TEXT,
  tls_version TEXT,
  cert_not_after BIGINT,
  remote_ip TEXT
);
CREATE INDEX health_events_asset_ts_idx ON health_events (asset_key, ts);
CREATE INDEX health_events_ts_idx ON health_events (ts);
CREATE TABLE asset_status (
  asset_key TEXT PRIMARY KEY,
  derived_at BIGINT NOT NULL,
  status TEXT NOT NULL,
  status_num INTEGER NOT NULL,
  code INTEGER,
  latency_ms BIGINT,
  last_seen BIGINT,
  posture_score INTEGER NOT NULL,
  posture_state TEXT NOT NULL,
  reason TEXT,
  error_class TEXT,
  previous_status TEXT,
  last_status_change BIGINT,
  flapping INTEGER NOT NULL DEFAULT 0,
  confidence DOUBLE PRECISION NOT NULL DEFAULT 0,
  confidence_reason TEXT,
  last_good_at BIGINT,
  last_good_code INTEGER,
  last_good_latency_ms BIGINT,
  pending INTEGER NOT NULL DEFAULT 0,
  history TEXT NOT NULL DEFAULT '[]',
  tls_version TEXT,
  cert_not_after BIGINT
);
CREATE TABLE posture_cursor (
  name TEXT PRIMARY KEY,
  last_event_id BIGINT NOT NULL
);
CREATE TABLE posture_report_snapshots (
  id {ID},
  period TEXT NOT NULL DEFAULT '24h',
  created_at BIGINT NOT NULL,
  uptime_pct DOUBLE PRECISION NOT NULL DEFAULT 0,
  posture_score_avg DOUBLE PRECISION,
  avg_latency_ms DOUBLE PRECISION,
  total_assets INTEGER NOT NULL DEFAULT 0,
  green INTEGER NOT NULL DEFAULT 0,
  amber INTEGER NOT NULL DEFAULT 0,
  red INTEGER NOT NULL DEFAULT 0,
  top_incidents TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX posture_report_snapshots_created_idx ON posture_report_snapshots (created_at))SQL";

// Scan jobs (reference §1.2 scan_jobs) plus `idempotency_key` = {job_type}+{asset_key}+{hour bucket}:
// a second request in the same hour returns the existing job.
const char* kJobs = R"SQL(
CREATE TABLE scan_jobs (
  job_id {ID},
  job_type TEXT NOT NULL,
  target_asset_id BIGINT,
  asset_key TEXT,
  requested_by TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
  created_at BIGINT NOT NULL,
  started_at BIGINT,
  finished_at BIGINT,
  error TEXT,
  log_output TEXT NOT NULL DEFAULT '',
  retry_count INTEGER NOT NULL DEFAULT 0,
  job_params_json TEXT NOT NULL DEFAULT '{}',
  idempotency_key TEXT UNIQUE
);
CREATE INDEX scan_jobs_status_idx ON scan_jobs (status);
CREATE INDEX scan_jobs_created_idx ON scan_jobs (created_at))SQL";

}  // namespace

std::vector<store::Migration> posture_migrations() {
  return {store::portable_migration(600, "posture_events_status_snapshots", kPosture),
          store::portable_migration(601, "scan_jobs", kJobs)};
}

}  // namespace secplat::posture
