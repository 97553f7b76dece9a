#include "assurance/scan_store.h"

#include "core/ids.h"

namespace secplat::assurance {

namespace {

const char* kScansDdl = R"SQL(
CREATE TABLE scans (
  test_id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  component_id TEXT NOT NULL,
  assessment_id TEXT NOT NULL,
  source_type TEXT NOT NULL,
  git_url TEXT,
  branch TEXT,
  commit_ref TEXT,
  directory_path TEXT,
  archive_path TEXT,
  requested_by TEXT,
  profile TEXT NOT NULL,
  manifest_path TEXT,
  manifest_uri TEXT,
  manifest_signature_uri TEXT,
  request_json TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
  created_at BIGINT NOT NULL,
  started_at BIGINT,
  completed_at BIGINT,
  artifacts_json TEXT NOT NULL DEFAULT '{}',
  warnings_json TEXT NOT NULL DEFAULT '[]',
  errors_json TEXT NOT NULL DEFAULT '[]',
  manifest_digest TEXT,
  manifest_metadata_json TEXT,
  source_json TEXT,
  tools_json TEXT NOT NULL DEFAULT '[]',
  policy_json TEXT,
  upload_status TEXT NOT NULL DEFAULT 'pending',
  idempotency_key TEXT UNIQUE,
  request_fingerprint TEXT NOT NULL,
  retry_of TEXT
);
CREATE INDEX scans_workspace_idx ON scans (workspace_id, created_at);
CREATE INDEX scans_component_idx ON scans (component_id, created_at);
CREATE INDEX scans_status_idx ON scans (status);
CREATE TABLE scan_events (
  test_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  type TEXT NOT NULL,
  ts_ms BIGINT NOT NULL,
  payload TEXT NOT NULL,
  PRIMARY KEY (test_id, seq)
))SQL";

store::Value opt(const std::optional<std::string>& s) { return s ? store::Value(*s) : store::null(); }

Json parse_or(const std::optional<std::string>& text, Json fallback) {
  if (!text) return fallback;
  Json j = Json::parse(*text, nullptr, false);
  return j.is_discarded() ? fallback : j;
}

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

ScanRecord from_row(const store::Row& row) {
  ScanRecord r;
  r.test_id = row.str("test_id");
  r.request = ScanRequest::from_json(parse_or(row.opt_str("request_json"), Json::object()));
  r.status = row.str("status");
  r.created_ms = row.i64("created_at");
  r.started_ms = row.opt_i64("started_at");
  r.completed_ms = row.opt_i64("completed_at");
  r.artifacts = parse_or(row.opt_str("artifacts_json"), Json::object());
  r.warnings = parse_or(row.opt_str("warnings_json"), Json::array());
  r.errors = parse_or(row.opt_str("errors_json"), Json::array());
  r.manifest_digest = row.opt_str("manifest_digest");
  r.manifest_metadata = parse_or(row.opt_str("manifest_metadata_json"), nullptr);
  r.source = parse_or(row.opt_str("source_json"), nullptr);
  r.tools = parse_or(row.opt_str("tools_json"), Json::array());
  r.policy = parse_or(row.opt_str("policy_json"), nullptr);
  r.upload_status = row.str("upload_status", "pending");
  r.upload = parse_or(row.opt_str("upload_json"), Json::object());
  r.idempotency_key = row.opt_str("idempotency_key");
  r.request_fingerprint = row.str("request_fingerprint");
  r.retry_of = row.opt_str("retry_of");
  return r;
}

// " AND workspace_id IN ($k, ...)" for a caller's scope (values appended to params); "" for all,
// " AND 1 = 0" for none.
std::string scope_clause(const std::optional<std::vector<std::string>>& workspaces, store::Params& params) {
  if (!workspaces) return "";
  if (workspaces->empty()) return " AND 1 = 0";
  std::string clause = " AND workspace_id IN (";
  for (std::size_t i = 0; i < workspaces->size(); ++i) {
    params.push_back((*workspaces)[i]);
    clause += (i ? ", $" : "$") + std::to_string(params.size());
  }
  return clause + ")";
}

}  // namespace

std::vector<store::Migration> scan_migrations() {
  // 401: the lease of the worker running a scan (distributed mode: a worker that stops renewing it
  // loses the scan to the worker that reclaims its queue message).
  static const char* kLeaseDdl =
      "ALTER TABLE scans ADD COLUMN lease_owner TEXT; ALTER TABLE scans ADD COLUMN lease_until BIGINT";
  // 402: publishing state of the bundle (upload-request → trust gate → S3 / OCI → golden).
  static const char* kUploadDdl =
      "ALTER TABLE scans ADD COLUMN upload_json TEXT; ALTER TABLE scans ADD COLUMN upload_updated_at BIGINT";
  return {{400, "assurance_scans", kScansDdl, kScansDdl},
          {401, "assurance_scan_leases", kLeaseDdl, kLeaseDdl},
          {402, "assurance_scan_uploads", kUploadDdl, kUploadDdl}};
}

Result<bool> ScanStore::begin_upload(const std::string& test_id, const Json& upload) {
  auto n = db_.exec(
      "UPDATE scans SET upload_status = 'requested', upload_json = $2, upload_updated_at = $3 WHERE test_id = $1 "
      "AND status = 'SUCCEEDED' AND upload_status IN ('pending', 'denied', 'trust_unavailable', 'upload_failed')",
      {test_id, dump(upload), clock_.now_ms()});
  if (!n) return std::move(n).take_error();
  return *n == 1;
}

Result<bool> ScanStore::set_upload(const std::string& test_id, const std::string& from, const std::string& to,
                                   const Json& upload) {
  auto n = db_.exec(
      "UPDATE scans SET upload_status = $3, upload_json = $4, upload_updated_at = $5 WHERE test_id = $1 AND "
      "upload_status = $2",
      {test_id, from, to, dump(upload), clock_.now_ms()});
  if (!n) return std::move(n).take_error();
  return *n == 1;
}

std::string new_test_id() { return "test_" + random_hex(6); }

Status ScanStore::insert(const ScanRecord& rec) {
  const ScanRequest& q = rec.request;
  auto r = db_.exec(
      "INSERT INTO scans (test_id, workspace_id, component_id, assessment_id, source_type, git_url, branch, "
      "commit_ref, directory_path, archive_path, requested_by, profile, manifest_path, manifest_uri, "
      "manifest_signature_uri, request_json, status, created_at, manifest_digest, upload_status, "
      "idempotency_key, request_fingerprint, retry_of) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,"
      "$15,$16,$17,$18,$19,$20,$21,$22,$23)",
      {rec.test_id, q.workspace_id, q.component_id, q.assessment_id, q.source_type, opt(q.git_url), opt(q.branch),
       opt(q.commit), opt(q.directory_path), opt(q.archive_path), opt(q.requested_by), q.profile,
       opt(q.manifest_path), opt(q.manifest_uri), opt(q.manifest_signature_uri), dump(q.to_json()), rec.status,
       rec.created_ms, opt(rec.manifest_digest), rec.upload_status, opt(rec.idempotency_key),
       rec.request_fingerprint, opt(rec.retry_of)});
  if (!r) return std::move(r).take_error();
  return ok_status();
}

Result<std::optional<ScanRecord>> ScanStore::get(const std::string& test_id) {
  auto rows = db_.query("SELECT * FROM scans WHERE test_id = $1", {test_id});
  if (!rows) return std::move(rows).take_error();
  if (rows->empty()) return std::optional<ScanRecord>{};
  return std::optional<ScanRecord>{from_row(rows->front())};
}

Result<std::optional<ScanRecord>> ScanStore::find_by_idempotency_key(const std::string& key) {
  auto rows = db_.query("SELECT * FROM scans WHERE idempotency_key = $1", {key});
  if (!rows) return std::move(rows).take_error();
  if (rows->empty()) return std::optional<ScanRecord>{};
  return std::optional<ScanRecord>{from_row(rows->front())};
}

Result<ScanPage> ScanStore::list(const ScanFilter& f) {
  std::string where = " WHERE 1=1";
  store::Params params;
  auto add = [&](const char* col, const std::optional<std::string>& v) {
    if (!v) return;
    params.push_back(*v);
    where += std::string(" AND ") + col + " = $" + std::to_string(params.size());
  };
  add("workspace_id", f.workspace_id);
  add("component_id", f.component_id);
  add("status", f.status);
  if (f.workspaces && f.workspaces->empty()) return ScanPage{};
  where += scope_clause(f.workspaces, params);
  auto total = db_.query("SELECT COUNT(*) AS n FROM scans" + where, params);
  if (!total) return std::move(total).take_error();
  store::Params page = params;
  page.push_back(f.limit);
  page.push_back(f.offset);
  auto rows = db_.query("SELECT * FROM scans" + where + " ORDER BY created_at DESC, test_id DESC LIMIT $" +
                            std::to_string(params.size() + 1) + " OFFSET $" + std::to_string(params.size() + 2),
                        page);
  if (!rows) return std::move(rows).take_error();
  ScanPage out;
  out.total = total->front().i64("n");
  for (const auto& row : *rows) out.items.push_back(from_row(row));
  return out;
}

Result<bool> ScanStore::mark_running(const std::string& test_id) {
  auto n = db_.exec("UPDATE scans SET status = 'RUNNING', started_at = $2 WHERE test_id = $1 AND status = 'QUEUED'",
                    {test_id, clock_.now_ms()});
  if (!n) return std::move(n).take_error();
  return *n == 1;
}

Result<ScanStore::Claim> ScanStore::claim(const std::string& test_id, const std::string& owner, int64_t lease_ms) {
  const int64_t now = clock_.now_ms();
  auto n = db_.exec(
      "UPDATE scans SET status = 'RUNNING', started_at = $2, lease_owner = $3, lease_until = $4 "
      "WHERE test_id = $1 AND status = 'QUEUED'",
      {test_id, now, owner, now + lease_ms});
  if (!n) return std::move(n).take_error();
  if (*n == 1) return Claim::started;
  n = db_.exec(
      "UPDATE scans SET lease_owner = $2, lease_until = $3 WHERE test_id = $1 AND status = 'RUNNING' "
      "AND (lease_until IS NULL OR lease_until < $4)",
      {test_id, owner, now + lease_ms, now});
  if (!n) return std::move(n).take_error();
  if (*n == 1) return Claim::resumed;
  auto st = status_of(test_id);
  if (!st) return std::move(st).take_error();
  return *st && **st == kRunning ? Claim::busy : Claim::finished;
}

Result<bool> ScanStore::renew_lease(const std::string& test_id, const std::string& owner, int64_t lease_ms) {
  auto n = db_.exec(
      "UPDATE scans SET lease_until = $3 WHERE test_id = $1 AND status = 'RUNNING' AND lease_owner = $2",
      {test_id, owner, clock_.now_ms() + lease_ms});
  if (!n) return std::move(n).take_error();
  return *n == 1;
}

Result<bool> ScanStore::finish(const std::string& test_id, const ScanResult& r,
                               const std::optional<std::string>& owner) {
  auto n = db_.exec(
      "UPDATE scans SET status = $2, completed_at = $3, artifacts_json = $4, warnings_json = $5, errors_json = $6, "
      "manifest_digest = COALESCE($7, manifest_digest), manifest_metadata_json = $8, source_json = $9, "
      "tools_json = $10, policy_json = $11, lease_until = NULL WHERE test_id = $1 AND status = 'RUNNING' "
      "AND (CAST($12 AS TEXT) IS NULL OR lease_owner = $12)",
      {test_id, r.status, clock_.now_ms(), dump(r.artifacts), dump(r.warnings), dump(r.errors), opt(r.manifest_digest),
       r.manifest_metadata.is_null() ? store::null() : store::Value(dump(r.manifest_metadata)),
       r.source.is_null() ? store::null() : store::Value(dump(r.source)), dump(r.tools),
       r.policy.is_null() ? store::null() : store::Value(dump(r.policy)), opt(owner)});
  if (!n) return std::move(n).take_error();
  return *n == 1;
}

Result<std::optional<std::string>> ScanStore::cancel(const std::string& test_id) {
  std::optional<std::string> previous;
  int64_t now = clock_.now_ms();
  Status s = db_.transact([&](store::Tx& tx) -> Status {
    auto rows = tx.query("SELECT status FROM scans WHERE test_id = $1", {test_id});
    if (!rows) return std::move(rows).take_error();
    if (rows->empty()) return ok_status();
    std::string st = rows->front().str("status");
    if (st != kQueued && st != kRunning) return ok_status();
    auto n = tx.exec(
        "UPDATE scans SET status = 'CANCELLED', completed_at = $2, errors_json = $3 WHERE test_id = $1",
        {test_id, now, dump(Json::array({"cancelled"}))});
    if (!n) return std::move(n).take_error();
    previous = st;
    return ok_status();
  });
  if (!s) return std::move(s).take_error();
  return previous;
}

Result<bool> ScanStore::fail_undeliverable(const std::string& test_id, const std::string& error) {
  auto n = db_.exec(
      "UPDATE scans SET status = 'FAILED', completed_at = $2, errors_json = $3, lease_until = NULL "
      "WHERE test_id = $1 AND (status = 'QUEUED' OR (status = 'RUNNING' AND (lease_until IS NULL OR lease_until < $2)))",
      {test_id, clock_.now_ms(), dump(Json::array({error}))});
  if (!n) return std::move(n).take_error();
  return *n == 1;
}

Result<std::vector<std::string>> ScanStore::fail_interrupted() {
  std::vector<std::string> ids;
  int64_t now = clock_.now_ms();
  Status s = db_.transact([&](store::Tx& tx) -> Status {
    auto rows = tx.query("SELECT test_id FROM scans WHERE status = 'RUNNING'");
    if (!rows) return std::move(rows).take_error();
    for (const auto& row : *rows) ids.push_back(row.str("test_id"));
    auto n = tx.exec("UPDATE scans SET status = 'FAILED', completed_at = $1, errors_json = $2 WHERE status = 'RUNNING'",
                     {now, dump(Json::array({"interrupted"}))});
    if (!n) return std::move(n).take_error();
    return ok_status();
  });
  if (!s) return std::move(s).take_error();
  return ids;
}

Result<std::optional<std::string>> ScanStore::status_of(const std::string& test_id) {
  auto rows = db_.query("SELECT status FROM scans WHERE test_id = $1", {test_id});
  if (!rows) return std::move(rows).take_error();
  if (rows->empty()) return std::optional<std::string>{};
  return std::optional<std::string>{rows->front().str("status")};
}

Result<Json> ScanStore::counts(const std::optional<std::vector<std::string>>& workspaces) {
  store::Params params;
  const std::string where = " WHERE 1 = 1" + scope_clause(workspaces, params);
  Json by_status = {{"queued", 0}, {"running", 0}, {"succeeded", 0}, {"failed", 0}, {"cancelled", 0}};
  Json uploads = {{"pending", 0}, {"permitted", 0}, {"uploaded", 0}, {"upload_failed", 0}, {"denied", 0}};
  int64_t total = 0;
  auto rows = db_.query("SELECT status, COUNT(*) AS n FROM scans" + where + " GROUP BY status", params);
  if (!rows) return std::move(rows).take_error();
  for (const auto& row : *rows) {
    std::string s = row.str("status");
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    by_status[s] = row.i64("n");
    total += row.i64("n");
  }
  auto up = db_.query("SELECT upload_status, COUNT(*) AS n FROM scans" + where + " GROUP BY upload_status", params);
  if (!up) return std::move(up).take_error();
  for (const auto& row : *up) uploads[row.str("upload_status")] = row.i64("n");
  return Json{{"total_scans", total}, {"scans_by_status", by_status}, {"upload_stats", uploads}};
}

Status ScanStore::append_event(const std::string& test_id, int64_t seq, const std::string& type, int64_t ts_ms,
                               const std::string& json) {
  auto r = db_.exec("INSERT INTO scan_events (test_id, seq, type, ts_ms, payload) VALUES ($1, $2, $3, $4, $5)",
                    {test_id, seq, type, ts_ms, json});
  if (!r) return std::move(r).take_error();
  return ok_status();
}

Result<std::vector<StoredEvent>> ScanStore::events_after(const std::string& test_id, int64_t after_seq) {
  auto rows = db_.query("SELECT seq, type, payload FROM scan_events WHERE test_id = $1 AND seq > $2 ORDER BY seq",
                        {test_id, after_seq});
  if (!rows) return std::move(rows).take_error();
  std::vector<StoredEvent> out;
  out.reserve(rows->size());
  for (const auto& row : *rows) out.push_back({row.i64("seq"), row.str("type"), row.str("payload")});
  return out;
}

Result<std::optional<StoredEvent>> ScanStore::last_event(const std::string& test_id) {
  auto rows = db_.query("SELECT seq, type FROM scan_events WHERE test_id = $1 ORDER BY seq DESC LIMIT 1", {test_id});
  if (!rows) return std::move(rows).take_error();
  if (rows->empty()) return std::optional<StoredEvent>{};
  return std::optional<StoredEvent>{StoredEvent{rows->front().i64("seq"), rows->front().str("type"), {}}};
}

Result<int64_t> ScanStore::last_seq(const std::string& test_id) {
  auto rows = db_.query("SELECT MAX(seq) AS m FROM scan_events WHERE test_id = $1", {test_id});
  if (!rows) return std::move(rows).take_error();
  return rows->empty() ? 0 : rows->front().i64("m", 0);
}

}  // namespace secplat::assurance
