#include "incidents/incident_service.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "core/json.h"
#include "queue/envelope.h"
#include "queue/streams.h"
#include "store/sql_text.h"

// Unwraps a Result into `var` or returns its error from the enclosing function.
#define INCIDENTS_ASSIGN(var, expr)                              \
  auto var##_result_ = (expr);                                   \
  if (!var##_result_.ok()) return std::move(var##_result_).take_error(); \
  auto& var = *var##_result_

namespace secplat::incidents {
namespace {

// Times are epoch-ms BIGINT, JSON is TEXT, booleans INTEGER 0/1, so one DDL serves both engines.
// `open_key` equals correlation_key while the incident is open and is NULL otherwise: its UNIQUE
// constraint is what makes "one open incident per correlation key" hold under concurrency.
const char* kIncidents = R"SQL(
CREATE TABLE incidents (
  id {ID},
  incident_key TEXT UNIQUE,
  title TEXT NOT NULL,
  severity TEXT NOT NULL DEFAULT 'medium' CHECK (severity IN ('critical', 'high', 'medium', 'low', 'info')),
  status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'triaged', 'contained', 'resolved', 'closed')),
  category TEXT NOT NULL DEFAULT 'manual',
  correlation_key TEXT,
  open_key TEXT UNIQUE,
  asset_key TEXT,
  assigned_to TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  resolved_at BIGINT,
  closed_at BIGINT,
  sla_due_at BIGINT,
  metadata TEXT NOT NULL DEFAULT '{}',
  reopen_count BIGINT NOT NULL DEFAULT 0,
  jira_issue_key TEXT,
  jira_issue_url TEXT,
  jira_claim_token TEXT,
  jira_claimed_at BIGINT
);
CREATE INDEX incidents_status_idx ON incidents (status);
CREATE INDEX incidents_created_idx ON incidents (created_at DESC, id DESC);
CREATE INDEX incidents_severity_idx ON incidents (severity);
CREATE INDEX incidents_assigned_idx ON incidents (assigned_to);
CREATE INDEX incidents_sla_idx ON incidents (sla_due_at);
CREATE INDEX incidents_correlation_idx ON incidents (correlation_key, created_at DESC))SQL";

const char* kAlerts = R"SQL(
CREATE TABLE incident_alerts (
  incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  asset_key TEXT NOT NULL,
  alert_id BIGINT,
  added_at BIGINT NOT NULL,
  added_by TEXT,
  PRIMARY KEY (incident_id, asset_key),
  UNIQUE (incident_id, alert_id)
))SQL";

// source_event_id: the queue event a signal/resolution came from, recorded once per incident.
const char* kNotes = R"SQL(
CREATE TABLE incident_notes (
  id {ID},
  incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  event_type TEXT NOT NULL CHECK (event_type IN ('note', 'state_change', 'alert_added', 'resolution', 'signal')),
  author TEXT,
  body TEXT NOT NULL DEFAULT '',
  details TEXT NOT NULL DEFAULT '{}',
  created_at BIGINT NOT NULL,
  source_event_id TEXT,
  UNIQUE (incident_id, source_event_id)
);
CREATE INDEX incident_notes_incident_idx ON incident_notes (incident_id, created_at DESC);
CREATE INDEX incident_notes_event_idx ON incident_notes (source_event_id))SQL";

const char* kEvidence = R"SQL(
CREATE TABLE incident_evidence (
  evidence_id {ID},
  incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  evidence_type TEXT NOT NULL
    CHECK (evidence_type IN ('alert', 'finding', 'asset', 'job', 'ticket', 'note', 'event', 'other')),
  ref_id TEXT NOT NULL,
  relation TEXT NOT NULL DEFAULT 'linked',
  summary TEXT,
  details TEXT NOT NULL DEFAULT '{}',
  added_by TEXT,
  created_at BIGINT NOT NULL,
  UNIQUE (incident_id, evidence_type, ref_id, relation)
))SQL";

const char* kWatchers = R"SQL(
CREATE TABLE incident_watchers (
  incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  username TEXT NOT NULL,
  added_by TEXT,
  added_at BIGINT NOT NULL,
  PRIMARY KEY (incident_id, username)
))SQL";

const char* kChecklist = R"SQL(
CREATE TABLE incident_checklist_items (
  item_id {ID},
  incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  title TEXT NOT NULL,
  done INTEGER NOT NULL DEFAULT 0,
  done_by TEXT,
  done_at BIGINT,
  created_by TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX incident_checklist_incident_idx ON incident_checklist_items (incident_id))SQL";

const char* kDecisions = R"SQL(
CREATE TABLE incident_decisions (
  decision_id {ID},
  incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  decision TEXT NOT NULL,
  rationale TEXT,
  decided_by TEXT,
  details TEXT NOT NULL DEFAULT '{}',
  created_at BIGINT NOT NULL
);
CREATE INDEX incident_decisions_incident_idx ON incident_decisions (incident_id))SQL";

// lease_until: a relay holds the row until then (so concurrent relays take disjoint rows).
const char* kOutbox = R"SQL(
CREATE TABLE incident_outbox (
  id {ID},
  event_id TEXT NOT NULL UNIQUE,
  event_type TEXT NOT NULL,
  incident_id BIGINT NOT NULL,
  payload TEXT NOT NULL,
  asset_key TEXT NOT NULL DEFAULT '',
  severity TEXT NOT NULL DEFAULT '',
  request_id TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  lease_until BIGINT,
  published_at BIGINT
);
CREATE INDEX incident_outbox_pending_idx ON incident_outbox (published_at, id))SQL";

constexpr const char* kSelect = R"SQL(
SELECT i.id, i.incident_key, i.title, i.severity, i.status, i.category, i.correlation_key, i.asset_key,
       i.assigned_to, i.created_at, i.updated_at, i.resolved_at, i.closed_at, i.sla_due_at, i.metadata,
       i.reopen_count,
       (SELECT COUNT(*) FROM incident_alerts a WHERE a.incident_id = i.id) AS alert_count
FROM incidents i)SQL";

constexpr int64_t kOutboxLeaseMs = 30000;
constexpr int kMaxRaceRetries = 10;

store::Value opt(const std::optional<std::string>& v) {
  if (!v || v->empty()) return store::null();
  return *v;
}
store::Value opt_text(const std::string& v) { return v.empty() ? store::null() : store::Value(v); }
store::Value opt_ms(const std::optional<int64_t>& v) { return v ? store::Value(*v) : store::null(); }

Json object_or_empty(const std::string& text) {
  Json j = Json::parse(text, nullptr, false);
  return j.is_object() ? j : Json::object();
}

Incident to_incident(const store::Row& r) {
  Incident i;
  i.id = r.i64("id");
  i.incident_key = r.str("incident_key");
  i.title = r.str("title");
  i.severity = r.str("severity");
  i.status = r.str("status");
  i.category = r.str("category");
  i.correlation_key = r.str("correlation_key");
  i.asset_key = r.str("asset_key");
  i.assigned_to = r.opt_str("assigned_to");
  i.created_ms = r.i64("created_at");
  i.updated_ms = r.i64("updated_at");
  i.resolved_ms = r.opt_i64("resolved_at");
  i.closed_ms = r.opt_i64("closed_at");
  i.sla_due_ms = r.opt_i64("sla_due_at");
  i.metadata_json = r.str("metadata", "{}");
  i.alert_count = r.i64("alert_count");
  i.reopen_count = r.i64("reopen_count");
  return i;
}

Result<Incident> load(store::Tx& tx, int64_t id) {
  auto rows = tx.query(std::string(kSelect) + " WHERE i.id = $1", {id});
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return Error::not_found("Incident not found");
  return to_incident(rows->front());
}

// Takes the row lock (PostgreSQL; SQLite writers are serialised anyway) so a read-modify-write
// inside the transaction cannot lose a concurrent update.
Status lock_incident(store::Tx& tx, int64_t id) {
  auto n = tx.exec("UPDATE incidents SET updated_at = updated_at WHERE id = $1", {id});
  if (!n.ok()) return std::move(n).take_error();
  if (*n == 0) return Error::not_found("Incident not found");
  return ok_status();
}

Result<Incident> lock_and_load(store::Tx& tx, int64_t id) {
  SECPLAT_TRY(lock_incident(tx, id));
  return load(tx, id);
}

Status exists(store::Db& db, int64_t id) {
  auto rows = db.query("SELECT id FROM incidents WHERE id = $1", {id});
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return Error::not_found("Incident not found");
  return ok_status();
}

Status touch(store::Tx& tx, int64_t id, int64_t now) {
  auto n = tx.exec("UPDATE incidents SET updated_at = $1 WHERE id = $2", {now, id});
  if (!n.ok()) return std::move(n).take_error();
  return ok_status();
}

Status audit_in(auth::AuditLog& audit, store::Tx& tx, std::string_view action, const auth::Actor& actor,
                const std::string& asset_key, const Json& details) {
  return audit.append(tx, action, actor.user_name, asset_key, details, actor.request_id);
}

Result<int64_t> insert_note(store::Tx& tx, int64_t incident_id, const std::string& event_type,
                            const std::string& author, const std::string& body, const Json& details, int64_t at,
                            const std::string& source_event_id = {}) {
  auto rows = tx.query(
      "INSERT INTO incident_notes (incident_id, event_type, author, body, details, created_at, source_event_id) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
      {incident_id, event_type, opt_text(author), body, details.dump(), at, opt_text(source_event_id)});
  if (!rows.ok()) return std::move(rows).take_error();
  return rows->front().i64("id");
}

// Inserts the evidence row unless the same (type, ref_id, relation) is already there.
Status insert_evidence(store::Tx& tx, int64_t incident_id, const EvidenceInput& in, const std::string& added_by,
                       int64_t now) {
  auto n = tx.exec(
      "INSERT INTO incident_evidence (incident_id, evidence_type, ref_id, relation, summary, details, added_by, "
      "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
      "ON CONFLICT (incident_id, evidence_type, ref_id, relation) DO NOTHING",
      {incident_id, in.evidence_type, in.ref_id, in.relation, opt(in.summary), in.details_json, opt_text(added_by),
       now});
  if (!n.ok()) return std::move(n).take_error();
  return ok_status();
}

// Links an asset (and alert id); true when the link is new. A new asset link also gets evidence.
Result<bool> insert_link(store::Tx& tx, int64_t incident_id, const std::string& asset_key,
                         std::optional<int64_t> alert_id, const std::string& added_by, int64_t now) {
  auto n = tx.exec(
      "INSERT INTO incident_alerts (incident_id, asset_key, alert_id, added_at, added_by) VALUES ($1, $2, $3, $4, $5) "
      "ON CONFLICT DO NOTHING",
      {incident_id, asset_key, opt_ms(alert_id), now, opt_text(added_by)});
  if (!n.ok()) return std::move(n).take_error();
  if (*n == 0) return false;
  EvidenceInput ev;
  ev.evidence_type = alert_id ? "alert" : "asset";
  ev.ref_id = alert_id ? std::to_string(*alert_id) : asset_key;
  ev.summary = alert_id ? "Alert " + std::to_string(*alert_id) + " on " + asset_key : "Linked asset " + asset_key;
  ev.details_json = Json{{"asset_key", asset_key}}.dump();
  SECPLAT_TRY(insert_evidence(tx, incident_id, ev, added_by, now));
  return true;
}

Result<std::vector<std::string>> asset_keys_of(store::Tx& tx, int64_t id) {
  auto rows = tx.query("SELECT asset_key FROM incident_alerts WHERE incident_id = $1 ORDER BY added_at, asset_key",
                       {id});
  if (!rows.ok()) return std::move(rows).take_error();
  std::vector<std::string> keys;
  for (const auto& r : *rows) keys.push_back(r.str("asset_key"));
  return keys;
}

// Writes one lifecycle event for `inc` (its state after the change) to the outbox.
Status write_outbox(store::Tx& tx, const Incident& inc, const std::string& event_type, const std::string& event_id,
                    const std::string& action, const std::optional<std::string>& from,
                    const std::string& request_id, int64_t now) {
  INCIDENTS_ASSIGN(assets, asset_keys_of(tx, inc.id));
  Json payload{{"incident_id", inc.id},
               {"incident_key", inc.incident_key},
               {"title", inc.title},
               {"severity", inc.severity},
               {"status", inc.status},
               {"category", inc.category},
               {"correlation_key", inc.correlation_key},
               {"asset_key", inc.asset_key},
               {"asset_keys", assets},
               {"action", action},
               {"from", from ? Json(*from) : Json(nullptr)},
               {"to", inc.status},
               {"reopen_count", inc.reopen_count},
               {"sla_due_at", inc.sla_due_ms ? Json(format_rfc3339(*inc.sla_due_ms)) : Json(nullptr)},
               {"created_at", format_rfc3339(inc.created_ms)}};
  // A second event with the same deterministic id (the same move twice within one millisecond)
  // is the same event as far as consumers can tell.
  auto n = tx.exec(
      "INSERT INTO incident_outbox (event_id, event_type, incident_id, payload, asset_key, severity, request_id, "
      "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (event_id) DO NOTHING",
      {event_id, event_type, inc.id, payload.dump(), inc.asset_key, inc.severity, request_id, now});
  if (!n.ok()) return std::move(n).take_error();
  return ok_status();
}

bool is_reopen(std::string_view from, std::string_view to) {
  return (from == "resolved" || from == "closed") && is_open_status(to);
}

Status write_move_event(store::Tx& tx, const Incident& inc, const std::string& from, const std::string& request_id,
                        int64_t now) {
  const std::string id = "incident-" + std::to_string(inc.id);
  const std::string n = std::to_string(inc.reopen_count);
  if (inc.status == "closed") {
    return write_outbox(tx, inc, "incident.closed", id + "-closed-" + n, "closed", from, request_id, now);
  }
  if (inc.status == "resolved") {
    return write_outbox(tx, inc, "incident.updated", id + "-resolved-" + n, "resolved", from, request_id, now);
  }
  if (is_reopen(from, inc.status)) {
    return write_outbox(tx, inc, "incident.updated", id + "-reopened-" + n, "reopened", from, request_id, now);
  }
  return write_outbox(tx, inc, "incident.updated", id + "-" + inc.status + "-" + std::to_string(inc.updated_ms),
                      "status", from, request_id, now);
}

// Moves `cur` (locked by the caller) to `to`: the row update, a state_change note, the outbox event
// and the audit row. *lost_race is set when the row was no longer in cur.status. A manual move
// (assign_actor) assigns an unassigned incident to the actor; automatic ones leave it unassigned.
Result<Incident> apply_move(store::Tx& tx, auth::AuditLog& audit, const Incident& cur, const std::string& to,
                            const auth::Actor& actor, const std::string& reason, int64_t now,
                            const std::string& source_event_id, bool* lost_race, bool assign_actor) {
  const std::string& from = cur.status;
  if (!transition_allowed(from, to)) {
    return Error::conflict("Cannot change incident status from " + from + " to " + to);
  }
  const bool reopen = is_reopen(from, to);
  if (reopen && !cur.correlation_key.empty()) {
    auto other = tx.query("SELECT id FROM incidents WHERE open_key = $1 AND id <> $2",
                          {cur.correlation_key, cur.id});
    if (!other.ok()) return std::move(other).take_error();
    if (!other->empty()) {
      return Error::conflict("Cannot reopen: incident #" + std::to_string(other->front().i64("id")) +
                             " is already open for " + cur.correlation_key);
    }
  }
  std::string set = "status = $1, updated_at = $2, assigned_to = COALESCE(assigned_to, $3)";
  if (to == "resolved") {
    set += ", resolved_at = COALESCE(resolved_at, $2), open_key = NULL";
  } else if (to == "closed") {
    set += ", closed_at = $2, resolved_at = COALESCE(resolved_at, $2), open_key = NULL";
  } else if (reopen) {
    set += ", resolved_at = NULL, closed_at = NULL, reopen_count = reopen_count + 1, open_key = correlation_key";
  }
  auto n = tx.exec("UPDATE incidents SET " + set + " WHERE id = $4 AND status = $5",
                   {to, now, assign_actor ? opt_text(actor.user_name) : store::null(), cur.id, from});
  if (!n.ok()) return std::move(n).take_error();
  if (*n == 0) {
    if (lost_race) *lost_race = true;
    return Error::conflict("Incident #" + std::to_string(cur.id) + " changed concurrently; retry");
  }
  Json details{{"from", from}, {"to", to}};
  if (!reason.empty()) details["reason"] = reason;
  if (!source_event_id.empty()) details["event_id"] = source_event_id;
  auto note = insert_note(tx, cur.id, "state_change", actor.user_name,
                          reason.empty() ? "Status changed from " + from + " to " + to : reason, details, now,
                          source_event_id);
  if (!note.ok()) return std::move(note).take_error();
  INCIDENTS_ASSIGN(after, load(tx, cur.id));
  SECPLAT_TRY(write_move_event(tx, after, from, actor.request_id, now));
  Json audit_details{{"incident_id", cur.id}, {"from", from}, {"to", to}};
  if (!reason.empty()) audit_details["reason"] = reason.substr(0, 200);
  SECPLAT_TRY(audit_in(audit, tx, "incident.status.update", actor, cur.asset_key, audit_details));
  return after;
}

// The incident of this correlation key on which event_id is already recorded, if any.
Result<std::optional<int64_t>> recorded_event(store::Tx& tx, const std::string& correlation_key,
                                              const std::string& event_id) {
  if (event_id.empty()) return std::optional<int64_t>();
  auto rows = tx.query(
      "SELECT n.incident_id FROM incident_notes n JOIN incidents i ON i.id = n.incident_id "
      "WHERE n.source_event_id = $1 AND i.correlation_key = $2 LIMIT 1",
      {event_id, correlation_key});
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return std::optional<int64_t>();
  return std::optional<int64_t>(rows->front().i64("incident_id"));
}

Result<std::optional<int64_t>> open_incident_id(store::Tx& tx, const std::string& correlation_key) {
  auto rows = tx.query("SELECT id FROM incidents WHERE open_key = $1", {correlation_key});
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return std::optional<int64_t>();
  return std::optional<int64_t>(rows->front().i64("id"));
}

// Records the signal on the incident: a `signal` note (carrying the event id) and the asset link.
Status record_signal(store::Tx& tx, int64_t incident_id, const Signal& s, const auth::Actor& actor, int64_t at,
                     int64_t now) {
  Json details = object_or_empty(s.details_json);
  details["correlation_key"] = s.correlation_key;
  if (!s.event_type.empty()) details["event_type"] = s.event_type;
  if (!s.event_id.empty()) details["event_id"] = s.event_id;
  if (!s.severity.empty()) details["severity"] = s.severity;
  if (!s.asset_key.empty()) details["asset_key"] = s.asset_key;
  const std::string body = !s.summary.empty() ? s.summary : !s.title.empty() ? s.title : s.event_type;
  auto note = insert_note(tx, incident_id, "signal", actor.user_name, body, details, at, s.event_id);
  if (!note.ok()) return std::move(note).take_error();
  if (!s.asset_key.empty()) {
    auto linked = insert_link(tx, incident_id, s.asset_key, std::nullopt, actor.user_name, now);
    if (!linked.ok()) return std::move(linked).take_error();
  }
  return ok_status();
}

AlertLink to_link(const store::Row& r) {
  return {r.i64("incident_id"), r.str("asset_key"), r.opt_i64("alert_id"), r.i64("added_at"), r.opt_str("added_by")};
}

Evidence to_evidence(const store::Row& r) {
  Evidence e;
  e.evidence_id = r.i64("evidence_id");
  e.incident_id = r.i64("incident_id");
  e.evidence_type = r.str("evidence_type");
  e.ref_id = r.str("ref_id");
  e.relation = r.str("relation");
  e.summary = r.opt_str("summary");
  e.details_json = r.str("details", "{}");
  e.added_by = r.opt_str("added_by");
  e.created_ms = r.i64("created_at");
  return e;
}

Watcher to_watcher(const store::Row& r) {
  return {r.i64("incident_id"), r.str("username"), r.opt_str("added_by"), r.i64("added_at")};
}

ChecklistItem to_item(const store::Row& r) {
  ChecklistItem c;
  c.item_id = r.i64("item_id");
  c.incident_id = r.i64("incident_id");
  c.title = r.str("title");
  c.done = r.i64("done") != 0;
  c.done_by = r.opt_str("done_by");
  c.done_ms = r.opt_i64("done_at");
  c.created_by = r.opt_str("created_by");
  c.created_ms = r.i64("created_at");
  c.updated_ms = r.i64("updated_at");
  return c;
}

Decision to_decision(const store::Row& r) {
  Decision d;
  d.decision_id = r.i64("decision_id");
  d.incident_id = r.i64("incident_id");
  d.decision = r.str("decision");
  d.rationale = r.opt_str("rationale");
  d.decided_by = r.opt_str("decided_by");
  d.details_json = r.str("details", "{}");
  d.created_ms = r.i64("created_at");
  return d;
}

void backoff(int attempt) {
  std::this_thread::sleep_for(std::chrono::milliseconds(1 + (attempt * 3) % 17));
}

}  // namespace

std::vector<store::Migration> incident_migrations() {
  return {store::portable_migration(900, "incidents", kIncidents),
          store::portable_migration(901, "incident_alerts", kAlerts),
          store::portable_migration(902, "incident_notes", kNotes),
          store::portable_migration(903, "incident_evidence", kEvidence),
          store::portable_migration(904, "incident_watchers", kWatchers),
          store::portable_migration(905, "incident_checklist_items", kChecklist),
          store::portable_migration(906, "incident_decisions", kDecisions),
          store::portable_migration(907, "incident_outbox", kOutbox)};
}

bool is_valid_incident_status(std::string_view s) {
  return s == "new" || s == "triaged" || s == "contained" || s == "resolved" || s == "closed";
}
bool is_valid_severity(std::string_view s) {
  return s == "critical" || s == "high" || s == "medium" || s == "low" || s == "info";
}
bool is_open_status(std::string_view s) { return s == "new" || s == "triaged" || s == "contained"; }
bool is_valid_category(std::string_view c) {
  return c == "manual" || c == "availability" || c == "flapping" || c == "finding" || c == "alert";
}
bool is_valid_evidence_type(std::string_view t) {
  return t == "alert" || t == "finding" || t == "asset" || t == "job" || t == "ticket" || t == "note" ||
         t == "event" || t == "other";
}

bool transition_allowed(std::string_view from, std::string_view to) {
  if (!is_valid_incident_status(from) || !is_valid_incident_status(to)) return false;
  if (from == to) return true;
  if (from == "new") return true;
  if (from == "triaged") return to == "contained" || to == "resolved" || to == "closed";
  if (from == "contained") return to == "triaged" || to == "resolved" || to == "closed";
  if (from == "resolved") return to == "closed" || to == "new" || to == "triaged";
  return to == "triaged";  // closed: reopen only
}

int64_t SlaPolicy::seconds_for(std::string_view severity) const {
  if (severity == "critical") return critical_s;
  if (severity == "high") return high_s;
  if (severity == "medium") return medium_s;
  if (severity == "low") return low_s;
  if (severity == "info") return info_s;
  return 0;
}

IncidentService::IncidentService(store::Db& db, const Clock& clock, auth::AuditLog& audit, SlaPolicy sla)
    : db_(db), clock_(clock), audit_(audit), sla_(sla) {}

Result<CreateResult> IncidentService::create(const NewIncident& in, const auth::Actor& actor) {
  if (in.title.empty()) return Error::invalid({"body", "title"}, "Field required");
  if (in.title.size() > 500) return Error::invalid({"body", "title"}, "At most 500 characters");
  if (!is_valid_severity(in.severity)) {
    return Error::invalid({"body", "severity"}, "Invalid severity: " + in.severity +
                                                    " (use critical, high, medium, low or info)");
  }
  if (!is_valid_category(in.category)) {
    return Error::invalid({"body", "category"}, "Must be one of manual, availability, flapping, finding, alert");
  }
  if (!Json::parse(in.metadata_json, nullptr, false).is_object()) {
    return Error::invalid({"body", "metadata"}, "Must be a JSON object");
  }
  std::vector<std::string> assets;
  for (const auto& k : in.asset_keys) {
    if (!k.empty() && std::find(assets.begin(), assets.end(), k) == assets.end()) assets.push_back(k);
  }
  const int64_t now = clock_.now_ms();
  std::optional<int64_t> sla_due = in.sla_due_ms;
  if (!sla_due && sla_.seconds_for(in.severity) > 0) sla_due = now + sla_.seconds_for(in.severity) * 1000;
  CreateResult out;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    auto rows = tx.query(
        "INSERT INTO incidents (incident_key, title, severity, status, category, asset_key, assigned_to, created_at, "
        "updated_at, sla_due_at, metadata) VALUES ($1, $2, $3, 'new', $4, $5, $6, $7, $7, $8, $9) "
        "ON CONFLICT (incident_key) DO NOTHING RETURNING id",
        {opt(in.incident_key), in.title, in.severity, in.category, assets.empty() ? store::null() : assets.front(),
         opt(in.assigned_to), now, opt_ms(sla_due), in.metadata_json});
    if (!rows.ok()) return std::move(rows).take_error();
    if (rows->empty()) {  // deduped: another incident already has this key
      auto existing = tx.query(std::string(kSelect) + " WHERE i.incident_key = $1", {*in.incident_key});
      if (!existing.ok()) return std::move(existing).take_error();
      if (existing->empty()) return Error::internal("incident_key conflict without a row");
      out.incident = to_incident(existing->front());
      out.created = false;
      return audit_in(audit_, tx, "incident.dedupe_hit", actor, out.incident.asset_key,
                      {{"incident_id", out.incident.id}, {"incident_key", out.incident.incident_key}});
    }
    const int64_t id = rows->front().i64("id");
    std::vector<std::string> linked;
    for (const auto& k : assets) {
      INCIDENTS_ASSIGN(fresh, insert_link(tx, id, k, std::nullopt, actor.user_name, now));
      if (fresh) linked.push_back(k);
    }
    if (!linked.empty()) {
      std::string body = "Linked assets: ";
      for (std::size_t i = 0; i < linked.size(); ++i) body += (i ? ", " : "") + linked[i];
      auto note = insert_note(tx, id, "alert_added", actor.user_name, body, Json{{"asset_keys", linked}}, now);
      if (!note.ok()) return std::move(note).take_error();
    }
    for (int64_t alert_id : in.alert_ids) {
      EvidenceInput ev;
      ev.evidence_type = "alert";
      ev.ref_id = std::to_string(alert_id);
      ev.summary = "Alert " + ev.ref_id;
      SECPLAT_TRY(insert_evidence(tx, id, ev, actor.user_name, now));
    }
    INCIDENTS_ASSIGN(inc, load(tx, id));
    SECPLAT_TRY(write_outbox(tx, inc, "incident.created", "incident-" + std::to_string(id) + "-created", "created",
                             std::nullopt, actor.request_id, now));
    out.incident = inc;
    out.created = true;
    return audit_in(audit_, tx, "incident.create", actor, inc.asset_key,
                    {{"incident_id", id},
                     {"incident_key", inc.incident_key},
                     {"severity", inc.severity},
                     {"asset_keys", assets},
                     {"alert_ids", in.alert_ids}});
  });
  if (!st.ok()) return std::move(st).take_error();
  return out;
}

Result<Incident> IncidentService::get(int64_t id) {
  auto rows = db_.query(std::string(kSelect) + " WHERE i.id = $1", {id});
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return Error::not_found("Incident not found");
  return to_incident(rows->front());
}

Result<IncidentPage> IncidentService::list(const IncidentFilter& f) {
  store::Params params;
  std::string where = " WHERE 1 = 1";
  auto add = [&](const char* column, const std::string& v) {
    params.push_back(v);
    where += std::string(" AND i.") + column + " = $" + std::to_string(params.size());
  };
  if (f.status) add("status", *f.status);
  if (f.severity) add("severity", *f.severity);
  if (f.assigned_to) add("assigned_to", *f.assigned_to);
  IncidentPage page;
  auto count = db_.query("SELECT COUNT(*) AS n FROM incidents i" + where, params);
  if (!count.ok()) return std::move(count).take_error();
  page.total = count->front().i64("n");
  params.push_back(f.limit);
  params.push_back(f.offset);
  auto rows = db_.query(std::string(kSelect) + where + " ORDER BY i.created_at DESC, i.id DESC LIMIT $" +
                            std::to_string(params.size() - 1) + " OFFSET $" + std::to_string(params.size()),
                        params);
  if (!rows.ok()) return std::move(rows).take_error();
  for (const auto& r : *rows) page.items.push_back(to_incident(r));
  return page;
}

Result<Incident> IncidentService::set_status(int64_t id, std::string_view to_view, const auth::Actor& actor,
                                             std::string_view reason) {
  const std::string to(to_view);
  if (!is_valid_incident_status(to)) {
    return Error::invalid({"body", "status"},
                          "Invalid status: " + to + " (use new, triaged, contained, resolved or closed)");
  }
  const int64_t now = clock_.now_ms();
  Incident out;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    INCIDENTS_ASSIGN(cur, lock_and_load(tx, id));
    if (cur.status == to) {
      out = cur;
      return ok_status();
    }
    INCIDENTS_ASSIGN(after, apply_move(tx, audit_, cur, to, actor, std::string(reason), now, {}, nullptr, true));
    out = after;
    return ok_status();
  });
  if (!st.ok()) return std::move(st).take_error();
  return out;
}

Result<Correlated> IncidentService::correlate(const Signal& s, const auth::Actor& actor) {
  if (s.correlation_key.empty()) return Error::invalid({"body", "correlation_key"}, "Field required");
  if (s.correlation_key.size() > 512) return Error::invalid({"body", "correlation_key"}, "At most 512 characters");
  const std::string category = s.category.empty() ? "alert" : s.category;
  if (!is_valid_category(category) || category == "manual") {
    return Error::invalid({"body", "category"}, "Must be one of availability, flapping, finding, alert");
  }
  const std::string severity = s.severity.empty() ? "medium" : s.severity;
  if (!is_valid_severity(severity)) return Error::invalid({"body", "severity"}, "Invalid severity: " + severity);
  const std::string title = s.title.empty() ? s.correlation_key : s.title.substr(0, 500);

  for (int attempt = 0;; ++attempt) {
    bool raced = false;
    Correlated out;
    Status st = db_.transact([&](store::Tx& tx) -> Status {
      const int64_t now = clock_.now_ms();
      const int64_t at = s.at_ms > 0 ? s.at_ms : now;
      auto audit_correlate = [&](const Incident& inc) {
        return audit_in(audit_, tx, "incident.correlate", actor, inc.asset_key,
                        {{"incident_id", inc.id},
                         {"correlation_key", s.correlation_key},
                         {"action", out.action},
                         {"event_id", s.event_id},
                         {"event_type", s.event_type}});
      };

      INCIDENTS_ASSIGN(seen, recorded_event(tx, s.correlation_key, s.event_id));
      if (seen) {
        INCIDENTS_ASSIGN(inc, load(tx, *seen));
        out = {inc, "duplicate"};
        return ok_status();
      }

      INCIDENTS_ASSIGN(open_id, open_incident_id(tx, s.correlation_key));
      if (open_id) {
        SECPLAT_TRY(lock_incident(tx, *open_id));
        SECPLAT_TRY(record_signal(tx, *open_id, s, actor, at, now));
        SECPLAT_TRY(touch(tx, *open_id, now));
        INCIDENTS_ASSIGN(inc, load(tx, *open_id));
        if (!is_open_status(inc.status)) {  // closed between our read and the lock
          raced = true;
          return Error::conflict("incident closed concurrently");
        }
        out = {inc, "appended"};
        return audit_correlate(inc);
      }

      auto latest = tx.query(
          "SELECT id, status, resolved_at FROM incidents WHERE correlation_key = $1 "
          "ORDER BY created_at DESC, id DESC LIMIT 1",
          {s.correlation_key});
      if (!latest.ok()) return std::move(latest).take_error();
      if (!latest->empty() && latest->front().str("status") == "resolved") {
        auto resolved = latest->front().opt_i64("resolved_at");
        if (resolved && at - *resolved <= s.reopen_window_ms) {
          const int64_t id = latest->front().i64("id");
          SECPLAT_TRY(lock_incident(tx, id));
          INCIDENTS_ASSIGN(cur, load(tx, id));
          const std::string reason = "Reopened by signal: " + (s.summary.empty() ? title : s.summary);
          auto moved = apply_move(tx, audit_, cur, "new", actor, reason, now, {}, &raced, false);
          if (!moved.ok()) {
            if (moved.error().code == Errc::conflict) raced = true;
            return std::move(moved).take_error();
          }
          SECPLAT_TRY(record_signal(tx, id, s, actor, at, now));
          INCIDENTS_ASSIGN(inc, load(tx, id));
          out = {inc, "reopened"};
          return audit_correlate(inc);
        }
      }

      // A new incident. incident_key must be unique; two incidents of one key in the same
      // millisecond (create, resolve, close, create) get a suffix.
      std::string key = s.correlation_key + ":" + std::to_string(now);
      for (int n = 2;; ++n) {
        auto taken = tx.query("SELECT id FROM incidents WHERE incident_key = $1", {key});
        if (!taken.ok()) return std::move(taken).take_error();
        if (taken->empty()) break;
        key = s.correlation_key + ":" + std::to_string(now) + "-" + std::to_string(n);
      }
      const int64_t sla_s = sla_.seconds_for(severity);
      auto rows = tx.query(
          "INSERT INTO incidents (incident_key, title, severity, status, category, correlation_key, open_key, "
          "asset_key, created_at, updated_at, sla_due_at, metadata) "
          "VALUES ($1, $2, $3, 'new', $4, $5, $5, $6, $7, $7, $8, $9) RETURNING id",
          {key, title, severity, category, s.correlation_key, opt_text(s.asset_key), now,
           sla_s > 0 ? store::Value(now + sla_s * 1000) : store::null(),
           Json{{"correlation_key", s.correlation_key}, {"source_event_type", s.event_type}}.dump()});
      if (!rows.ok()) {
        if (rows.error().code == Errc::conflict) raced = true;  // another caller opened one first
        return std::move(rows).take_error();
      }
      const int64_t id = rows->front().i64("id");
      SECPLAT_TRY(record_signal(tx, id, s, actor, at, now));
      INCIDENTS_ASSIGN(inc, load(tx, id));
      SECPLAT_TRY(write_outbox(tx, inc, "incident.created", "incident-" + std::to_string(id) + "-created", "created",
                               std::nullopt, actor.request_id, now));
      out = {inc, "created"};
      return audit_correlate(inc);
    });
    if (st.ok()) return out;
    const bool transient = raced || st.error().code == Errc::unavailable;
    if (!transient || attempt + 1 >= kMaxRaceRetries) return std::move(st).take_error();
    backoff(attempt);
  }
}

Result<std::optional<Incident>> IncidentService::resolve_correlated(const std::string& correlation_key,
                                                                    const std::string& event_id,
                                                                    const std::string& reason,
                                                                    const auth::Actor& actor) {
  if (correlation_key.empty()) return Error::invalid({"body", "correlation_key"}, "Field required");
  for (int attempt = 0;; ++attempt) {
    bool raced = false;
    std::optional<Incident> out;
    Status st = db_.transact([&](store::Tx& tx) -> Status {
      const int64_t now = clock_.now_ms();
      INCIDENTS_ASSIGN(seen, recorded_event(tx, correlation_key, event_id));
      if (seen) {
        INCIDENTS_ASSIGN(inc, load(tx, *seen));
        out = inc;
        return ok_status();
      }
      INCIDENTS_ASSIGN(open_id, open_incident_id(tx, correlation_key));
      if (!open_id) return ok_status();
      INCIDENTS_ASSIGN(cur, lock_and_load(tx, *open_id));
      if (!is_open_status(cur.status)) {
        raced = true;
        return Error::conflict("incident changed concurrently");
      }
      INCIDENTS_ASSIGN(after, apply_move(tx, audit_, cur, "resolved", actor,
                                         reason.empty() ? "Resolved: condition cleared" : reason, now, event_id,
                                         &raced, false));
      out = after;
      return ok_status();
    });
    if (st.ok()) return out;
    const bool transient = raced || st.error().code == Errc::unavailable;
    if (!transient || attempt + 1 >= kMaxRaceRetries) return std::move(st).take_error();
    backoff(attempt);
  }
}

Result<std::optional<Incident>> IncidentService::find_open(const std::string& correlation_key) {
  auto rows = db_.query(std::string(kSelect) + " WHERE i.open_key = $1", {correlation_key});
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return std::optional<Incident>();
  return std::optional<Incident>(to_incident(rows->front()));
}

Result<std::vector<Incident>> IncidentService::open_for_asset(const std::string& asset_key) {
  auto rows = db_.query(std::string(kSelect) +
                            " WHERE i.status IN ('new', 'triaged', 'contained') AND (i.asset_key = $1 OR i.id IN "
                            "(SELECT incident_id FROM incident_alerts WHERE asset_key = $1)) ORDER BY i.id",
                        {asset_key});
  if (!rows.ok()) return std::move(rows).take_error();
  std::vector<Incident> out;
  for (const auto& r : *rows) out.push_back(to_incident(r));
  return out;
}

Result<int64_t> IncidentService::relay_outbox(queue::Queue& queue, int limit) {
  const int64_t now = clock_.now_ms();
  // The common case (called after every correlation message and every second) is an empty outbox:
  // answer it from a reader connection instead of taking the writer.
  auto pending = db_.query(
      "SELECT id FROM incident_outbox WHERE published_at IS NULL AND (lease_until IS NULL OR lease_until <= $1) "
      "LIMIT 1",
      {now});
  if (!pending.ok()) return std::move(pending).take_error();
  if (pending->empty()) return int64_t{0};
  std::vector<store::Row> leased;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    auto ids = tx.query(
        "SELECT id FROM incident_outbox WHERE published_at IS NULL AND (lease_until IS NULL OR lease_until <= $1) "
        "ORDER BY id LIMIT $2",
        {now, int64_t{std::max(1, limit)}});
    if (!ids.ok()) return std::move(ids).take_error();
    for (const auto& r : *ids) {
      // Conditional, so a concurrent relay that leased the row first keeps it.
      auto rows = tx.query(
          "UPDATE incident_outbox SET lease_until = $1 WHERE id = $2 AND published_at IS NULL "
          "AND (lease_until IS NULL OR lease_until <= $3) "
          "RETURNING id, event_id, event_type, payload, asset_key, severity, request_id",
          {now + kOutboxLeaseMs, r.i64("id"), now});
      if (!rows.ok()) return std::move(rows).take_error();
      for (auto& row : *rows) leased.push_back(std::move(row));
    }
    return ok_status();
  });
  if (!st.ok()) return std::move(st).take_error();

  int64_t published = 0;
  const std::string stream(queue::kNotifyEvents);
  for (std::size_t i = 0; i < leased.size(); ++i) {
    const store::Row& r = leased[i];
    Json payload = Json::parse(r.str("payload"), nullptr, false);
    queue::Fields fields = queue::make_envelope(r.str("event_type"), r.str("asset_key"), r.str("severity"), payload,
                                                r.str("request_id"), clock_.now_ms());
    fields["event_id"] = r.str("event_id");
    auto id = queue.publish(stream, fields);
    if (!id.ok()) {
      // Hand the rest back at once rather than after the lease.
      for (std::size_t j = i; j < leased.size(); ++j) {
        (void)db_.exec("UPDATE incident_outbox SET lease_until = NULL WHERE id = $1 AND published_at IS NULL",
                       {leased[j].i64("id")});
      }
      return std::move(id).take_error();
    }
    auto n = db_.exec("UPDATE incident_outbox SET published_at = $1 WHERE id = $2", {clock_.now_ms(), r.i64("id")});
    if (!n.ok()) return std::move(n).take_error();  // published but unmarked: republished after the lease
    ++published;
  }
  return published;
}

Result<Note> IncidentService::add_note(int64_t id, const std::string& body, const auth::Actor& actor) {
  if (body.empty()) return Error::invalid({"body", "body"}, "Field required");
  if (body.size() > 20000) return Error::invalid({"body", "body"}, "At most 20000 characters");
  const int64_t now = clock_.now_ms();
  Note out;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    INCIDENTS_ASSIGN(inc, lock_and_load(tx, id));
    INCIDENTS_ASSIGN(note_id, insert_note(tx, id, "note", actor.user_name, body, Json::object(), now));
    SECPLAT_TRY(touch(tx, id, now));
    out = {note_id, id, "note", actor.user_name.empty() ? std::nullopt : std::optional(actor.user_name), body, "{}",
           now};
    return audit_in(audit_, tx, "incident.note.create", actor, inc.asset_key,
                    {{"incident_id", id}, {"note_id", note_id}});
  });
  if (!st.ok()) return std::move(st).take_error();
  return out;
}

Result<std::vector<AlertLink>> IncidentService::alerts(int64_t id) {
  SECPLAT_TRY(exists(db_, id));
  auto rows = db_.query("SELECT * FROM incident_alerts WHERE incident_id = $1 ORDER BY added_at, asset_key", {id});
  if (!rows.ok()) return std::move(rows).take_error();
  std::vector<AlertLink> out;
  for (const auto& r : *rows) out.push_back(to_link(r));
  return out;
}

Result<LinkResult> IncidentService::link_alert(int64_t id, const std::string& asset_key_in,
                                               std::optional<int64_t> alert_id, const auth::Actor& actor) {
  if (asset_key_in.empty() && !alert_id) return Error::bad_request("asset_key or alert_id required");
  const std::string asset_key = asset_key_in.empty() ? "alert:" + std::to_string(*alert_id) : asset_key_in;
  if (asset_key.size() > 512) return Error::invalid({"body", "asset_key"}, "At most 512 characters");
  const int64_t now = clock_.now_ms();
  LinkResult out;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    INCIDENTS_ASSIGN(inc, lock_and_load(tx, id));
    INCIDENTS_ASSIGN(fresh, insert_link(tx, id, asset_key, alert_id, actor.user_name, now));
    auto row = tx.query("SELECT * FROM incident_alerts WHERE incident_id = $1 AND asset_key = $2", {id, asset_key});
    if (!row.ok()) return std::move(row).take_error();
    if (row->empty()) {  // the alert id is linked under another asset key
      return Error::conflict("Alert " + std::to_string(*alert_id) + " is already linked to this incident");
    }
    out.link = to_link(row->front());
    out.created = fresh;
    if (!fresh) return ok_status();
    Json details{{"asset_key", asset_key}};
    if (alert_id) details["alert_id"] = *alert_id;
    auto note = insert_note(tx, id, "alert_added", actor.user_name, "Linked " + asset_key, details, now);
    if (!note.ok()) return std::move(note).take_error();
    if (inc.asset_key.empty() && !asset_key_in.empty()) {
      auto n = tx.exec("UPDATE incidents SET asset_key = $1 WHERE id = $2", {asset_key, id});
      if (!n.ok()) return std::move(n).take_error();
    }
    SECPLAT_TRY(touch(tx, id, now));
    return audit_in(audit_, tx, "incident.alert.link", actor, asset_key,
                    {{"incident_id", id}, {"asset_key", asset_key}, {"alert_id", alert_id ? Json(*alert_id) : Json()}});
  });
  if (!st.ok()) return std::move(st).take_error();
  return out;
}

Status IncidentService::unlink_alert(int64_t id, const std::string& asset_key, const auth::Actor& actor) {
  const int64_t now = clock_.now_ms();
  return db_.transact([&](store::Tx& tx) -> Status {
    INCIDENTS_ASSIGN(inc, lock_and_load(tx, id));
    auto n = tx.exec("DELETE FROM incident_alerts WHERE incident_id = $1 AND asset_key = $2", {id, asset_key});
    if (!n.ok()) return std::move(n).take_error();
    if (*n == 0) return Error::not_found("Link not found");
    if (inc.asset_key == asset_key) {  // the primary asset moves to the oldest remaining link
      auto m = tx.exec(
          "UPDATE incidents SET asset_key = (SELECT asset_key FROM incident_alerts WHERE incident_id = $1 "
          "ORDER BY added_at, asset_key LIMIT 1) WHERE id = $1",
          {id});
      if (!m.ok()) return std::move(m).take_error();
    }
    SECPLAT_TRY(touch(tx, id, now));
    return audit_in(audit_, tx, "incident.alert.unlink", actor, asset_key, {{"incident_id", id}, {"asset_key", asset_key}});
  });
}

Result<std::vector<Evidence>> IncidentService::evidence(int64_t id) {
  SECPLAT_TRY(exists(db_, id));
  auto rows = db_.query("SELECT * FROM incident_evidence WHERE incident_id = $1 ORDER BY created_at, evidence_id", {id});
  if (!rows.ok()) return std::move(rows).take_error();
  std::vector<Evidence> out;
  for (const auto& r : *rows) out.push_back(to_evidence(r));
  return out;
}

Result<Evidence> IncidentService::add_evidence(int64_t id, const EvidenceInput& in, const auth::Actor& actor) {
  if (!is_valid_evidence_type(in.evidence_type)) {
    return Error::invalid({"body", "evidence_type"},
                          "Must be one of alert, finding, asset, job, ticket, note, event, other");
  }
  if (in.ref_id.empty()) return Error::invalid({"body", "ref_id"}, "Field required");
  if (in.relation.empty()) return Error::invalid({"body", "relation"}, "Must not be empty");
  if (!Json::parse(in.details_json, nullptr, false).is_object()) {
    return Error::invalid({"body", "details"}, "Must be a JSON object");
  }
  const int64_t now = clock_.now_ms();
  Evidence out;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    INCIDENTS_ASSIGN(inc, lock_and_load(tx, id));
    SECPLAT_TRY(insert_evidence(tx, id, in, actor.user_name, now));
    auto rows = tx.query(
        "SELECT * FROM incident_evidence WHERE incident_id = $1 AND evidence_type = $2 AND ref_id = $3 "
        "AND relation = $4",
        {id, in.evidence_type, in.ref_id, in.relation});
    if (!rows.ok()) return std::move(rows).take_error();
    out = to_evidence(rows->front());
    SECPLAT_TRY(touch(tx, id, now));
    return audit_in(audit_, tx, "incident.evidence.add", actor, inc.asset_key,
                    {{"incident_id", id},
                     {"evidence_id", out.evidence_id},
                     {"evidence_type", in.evidence_type},
                     {"ref_id", in.ref_id}});
  });
  if (!st.ok()) return std::move(st).take_error();
  return out;
}

Result<std::vector<Watcher>> IncidentService::watchers(int64_t id) {
  SECPLAT_TRY(exists(db_, id));
  auto rows = db_.query("SELECT * FROM incident_watchers WHERE incident_id = $1 ORDER BY added_at, username", {id});
  if (!rows.ok()) return std::move(rows).take_error();
  std::vector<Watcher> out;
  for (const auto& r : *rows) out.push_back(to_watcher(r));
  return out;
}

Result<Watcher> IncidentService::add_watcher(int64_t id, const std::string& username, const auth::Actor& actor) {
  if (username.empty()) return Error::bad_request("username required");
  if (username.size() > 200) return Error::invalid({"body", "username"}, "At most 200 characters");
  const int64_t now = clock_.now_ms();
  Watcher out;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    INCIDENTS_ASSIGN(inc, lock_and_load(tx, id));
    auto n = tx.exec(
        "INSERT INTO incident_watchers (incident_id, username, added_by, added_at) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT DO NOTHING",
        {id, username, opt_text(actor.user_name), now});
    if (!n.ok()) return std::move(n).take_error();
    auto rows = tx.query("SELECT * FROM incident_watchers WHERE incident_id = $1 AND username = $2", {id, username});
    if (!rows.ok()) return std::move(rows).take_error();
    out = to_watcher(rows->front());
    if (*n == 0) return ok_status();
    return audit_in(audit_, tx, "incident.watcher.add", actor, inc.asset_key,
                    {{"incident_id", id}, {"username", username}});
  });
  if (!st.ok()) return std::move(st).take_error();
  return out;
}

Status IncidentService::remove_watcher(int64_t id, const std::string& username, const auth::Actor& actor) {
  return db_.transact([&](store::Tx& tx) -> Status {
    INCIDENTS_ASSIGN(inc, lock_and_load(tx, id));
    auto n = tx.exec("DELETE FROM incident_watchers WHERE incident_id = $1 AND username = $2", {id, username});
    if (!n.ok()) return std::move(n).take_error();
    if (*n == 0) return Error::not_found("Watcher not found");
    return audit_in(audit_, tx, "incident.watcher.remove", actor, inc.asset_key,
                    {{"incident_id", id}, {"username", username}});
  });
}

Result<std::vector<ChecklistItem>> IncidentService::checklist(int64_t id) {
  SECPLAT_TRY(exists(db_, id));
  auto rows = db_.query("SELECT * FROM incident_checklist_items WHERE incident_id = $1 ORDER BY item_id", {id});
  if (!rows.ok()) return std::move(rows).take_error();
  std::vector<ChecklistItem> out;
  for (const auto& r : *rows) out.push_back(to_item(r));
  return out;
}

Result<ChecklistItem> IncidentService::add_checklist_item(int64_t id, const std::string& title,
                                                          const auth::Actor& actor) {
  if (title.empty()) return Error::invalid({"body", "title"}, "Field required");
  if (title.size() > 500) return Error::invalid({"body", "title"}, "At most 500 characters");
  const int64_t now = clock_.now_ms();
  ChecklistItem out;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    INCIDENTS_ASSIGN(inc, lock_and_load(tx, id));
    auto rows = tx.query(
        "INSERT INTO incident_checklist_items (incident_id, title, done, created_by, created_at, updated_at) "
        "VALUES ($1, $2, 0, $3, $4, $4) RETURNING *",
        {id, title, opt_text(actor.user_name), now});
    if (!rows.ok()) return std::move(rows).take_error();
    out = to_item(rows->front());
    SECPLAT_TRY(touch(tx, id, now));
    return audit_in(audit_, tx, "incident.checklist.add", actor, inc.asset_key,
                    {{"incident_id", id}, {"item_id", out.item_id}});
  });
  if (!st.ok()) return std::move(st).take_error();
  return out;
}

Result<ChecklistItem> IncidentService::set_checklist_done(int64_t id, int64_t item_id, bool done,
                                                          const auth::Actor& actor) {
  const int64_t now = clock_.now_ms();
  ChecklistItem out;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    INCIDENTS_ASSIGN(inc, lock_and_load(tx, id));
    auto rows = done ? tx.query(
                           "UPDATE incident_checklist_items SET done = 1, done_by = $1, done_at = $2, updated_at = $2 "
                           "WHERE incident_id = $3 AND item_id = $4 RETURNING *",
                           {opt_text(actor.user_name), now, id, item_id})
                     : tx.query(
                           "UPDATE incident_checklist_items SET done = 0, done_by = NULL, done_at = NULL, "
                           "updated_at = $1 WHERE incident_id = $2 AND item_id = $3 RETURNING *",
                           {now, id, item_id});
    if (!rows.ok()) return std::move(rows).take_error();
    if (rows->empty()) return Error::not_found("Checklist item not found");
    out = to_item(rows->front());
    SECPLAT_TRY(touch(tx, id, now));
    return audit_in(audit_, tx, "incident.checklist.update", actor, inc.asset_key,
                    {{"incident_id", id}, {"item_id", item_id}, {"done", done}});
  });
  if (!st.ok()) return std::move(st).take_error();
  return out;
}

Result<std::vector<Decision>> IncidentService::decisions(int64_t id) {
  SECPLAT_TRY(exists(db_, id));
  auto rows = db_.query("SELECT * FROM incident_decisions WHERE incident_id = $1 ORDER BY created_at, decision_id", {id});
  if (!rows.ok()) return std::move(rows).take_error();
  std::vector<Decision> out;
  for (const auto& r : *rows) out.push_back(to_decision(r));
  return out;
}

Result<Decision> IncidentService::add_decision(int64_t id, const std::string& decision,
                                               const std::optional<std::string>& rationale,
                                               const std::string& details_json, const auth::Actor& actor) {
  if (decision.empty()) return Error::invalid({"body", "decision"}, "Field required");
  if (decision.size() > 2000) return Error::invalid({"body", "decision"}, "At most 2000 characters");
  if (!Json::parse(details_json, nullptr, false).is_object()) {
    return Error::invalid({"body", "details"}, "Must be a JSON object");
  }
  const int64_t now = clock_.now_ms();
  Decision out;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    INCIDENTS_ASSIGN(inc, lock_and_load(tx, id));
    auto rows = tx.query(
        "INSERT INTO incident_decisions (incident_id, decision, rationale, decided_by, details, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        {id, decision, opt(rationale), opt_text(actor.user_name), details_json, now});
    if (!rows.ok()) return std::move(rows).take_error();
    out = to_decision(rows->front());
    SECPLAT_TRY(touch(tx, id, now));
    return audit_in(audit_, tx, "incident.decision.add", actor, inc.asset_key,
                    {{"incident_id", id}, {"decision_id", out.decision_id}});
  });
  if (!st.ok()) return std::move(st).take_error();
  return out;
}

Result<std::vector<TimelineItem>> IncidentService::timeline(int64_t id, const TimelineQuery& q) {
  SECPLAT_TRY(exists(db_, id));
  const int64_t since = clock_.now_ms() - q.lookback_hours * 3600 * 1000;
  auto wanted = [](const std::vector<std::string>& set, const std::string& v) {
    return set.empty() || std::find(set.begin(), set.end(), v) != set.end();
  };
  std::vector<TimelineItem> items;
  auto add = [&](const std::string& source_type, int64_t source_id, std::string event_type,
                 std::optional<std::string> author, std::string body, std::string details, int64_t at) {
    if (at < since || !wanted(q.source_types, source_type) || !wanted(q.event_types, event_type)) return;
    TimelineItem t;
    t.id = source_type + ":" + std::to_string(source_id);
    t.incident_id = id;
    t.event_type = std::move(event_type);
    t.author = std::move(author);
    t.body = std::move(body);
    t.details_json = std::move(details);
    t.created_ms = at;
    t.source_type = source_type;
    t.source_id = source_id;
    items.push_back(std::move(t));
  };

  if (wanted(q.source_types, "note")) {
    auto rows = db_.query("SELECT * FROM incident_notes WHERE incident_id = $1 AND created_at >= $2", {id, since});
    if (!rows.ok()) return std::move(rows).take_error();
    for (const auto& r : *rows) {
      add("note", r.i64("id"), r.str("event_type"), r.opt_str("author"), r.str("body"), r.str("details", "{}"),
          r.i64("created_at"));
    }
  }
  if (wanted(q.source_types, "checklist")) {
    INCIDENTS_ASSIGN(list, checklist(id));
    for (const auto& c : list) {
      add("checklist", c.item_id, "checklist_added", c.created_by, c.title, Json{{"item_id", c.item_id}}.dump(),
          c.created_ms);
      if (c.done && c.done_ms) {
        add("checklist", c.item_id, "checklist_done", c.done_by, c.title, Json{{"item_id", c.item_id}}.dump(),
            *c.done_ms);
      }
    }
  }
  if (wanted(q.source_types, "decision")) {
    INCIDENTS_ASSIGN(list, decisions(id));
    for (const auto& d : list) {
      Json details{{"decision_id", d.decision_id},
                   {"rationale", d.rationale ? Json(*d.rationale) : Json(nullptr)},
                   {"details", object_or_empty(d.details_json)}};
      add("decision", d.decision_id, "decision", d.decided_by, d.decision, details.dump(), d.created_ms);
    }
  }
  if (wanted(q.source_types, "evidence")) {
    INCIDENTS_ASSIGN(list, evidence(id));
    for (const auto& e : list) {
      Json details{{"evidence_id", e.evidence_id},
                   {"evidence_type", e.evidence_type},
                   {"ref_id", e.ref_id},
                   {"relation", e.relation},
                   {"details", object_or_empty(e.details_json)}};
      add("evidence", e.evidence_id, "evidence_linked", e.added_by,
          e.summary.value_or(e.evidence_type + " " + e.ref_id), details.dump(), e.created_ms);
    }
  }
  std::sort(items.begin(), items.end(), [](const TimelineItem& a, const TimelineItem& b) {
    if (a.created_ms != b.created_ms) return a.created_ms < b.created_ms;
    if (a.source_type != b.source_type) return a.source_type < b.source_type;
    if (a.source_id != b.source_id) return a.source_id < b.source_id;
    return a.event_type < b.event_type;
  });
  if (q.limit >= 0 && items.size() > static_cast<std::size_t>(q.limit)) items.resize(static_cast<std::size_t>(q.limit));
  return items;
}

Result<JiraClaim> IncidentService::claim_jira(int64_t id, const std::string& token, int64_t lease_ms) {
  JiraClaim out;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    const int64_t now = clock_.now_ms();
    auto state = [&]() -> Status {
      auto rows = tx.query("SELECT jira_issue_key, jira_issue_url FROM incidents WHERE id = $1", {id});
      if (!rows.ok()) return std::move(rows).take_error();
      if (rows->empty()) return Error::not_found("Incident not found");
      if (!rows->front().is_null("jira_issue_key")) {
        out.state = JiraClaim::State::already_created;
        out.issue_key = rows->front().str("jira_issue_key");
        out.url = rows->front().str("jira_issue_url");
      } else {
        out.state = JiraClaim::State::busy;
      }
      return ok_status();
    };
    SECPLAT_TRY(state());
    if (out.state == JiraClaim::State::already_created) return ok_status();
    // Conditional: of two concurrent claimers exactly one changes the row (PostgreSQL re-checks
    // the WHERE after the first commits; SQLite serialises writers).
    auto n = tx.exec(
        "UPDATE incidents SET jira_claim_token = $1, jira_claimed_at = $2 WHERE id = $3 AND jira_issue_key IS NULL "
        "AND (jira_claimed_at IS NULL OR jira_claimed_at <= $4)",
        {token, now, id, now - lease_ms});
    if (!n.ok()) return std::move(n).take_error();
    if (*n == 1) {
      out.state = JiraClaim::State::claimed;
      return ok_status();
    }
    return state();
  });
  if (!st.ok()) return std::move(st).take_error();
  return out;
}

Result<Incident> IncidentService::record_jira(int64_t id, const std::string& token, const std::string& issue_key,
                                              const std::string& url, const auth::Actor& actor) {
  const int64_t now = clock_.now_ms();
  Incident out;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    INCIDENTS_ASSIGN(cur, lock_and_load(tx, id));
    Json meta = object_or_empty(cur.metadata_json);
    meta["jira_issue_key"] = issue_key;
    meta["jira_issue_url"] = url;
    auto n = tx.exec(
        "UPDATE incidents SET metadata = $1, jira_issue_key = $2, jira_issue_url = $3, jira_claim_token = NULL, "
        "updated_at = $4 WHERE id = $5 AND jira_claim_token = $6 AND jira_issue_key IS NULL",
        {meta.dump(), issue_key, url, now, id, token});
    if (!n.ok()) return std::move(n).take_error();
    if (*n == 0) return Error::conflict("Jira claim for incident #" + std::to_string(id) + " was lost");
    EvidenceInput ev;
    ev.evidence_type = "ticket";
    ev.ref_id = issue_key;
    ev.summary = "Jira " + issue_key;
    ev.details_json = Json{{"url", url}}.dump();
    SECPLAT_TRY(insert_evidence(tx, id, ev, actor.user_name, now));
    INCIDENTS_ASSIGN(after, load(tx, id));
    out = after;
    return audit_in(audit_, tx, "incident.jira.create", actor, cur.asset_key,
                    {{"incident_id", id}, {"issue_key", issue_key}});
  });
  if (!st.ok()) return std::move(st).take_error();
  return out;
}

Status IncidentService::release_jira(int64_t id, const std::string& token) {
  auto n = db_.exec(
      "UPDATE incidents SET jira_claim_token = NULL, jira_claimed_at = NULL WHERE id = $1 AND jira_claim_token = $2",
      {id, token});
  if (!n.ok()) return std::move(n).take_error();
  return ok_status();
}

}  // namespace secplat::incidents
