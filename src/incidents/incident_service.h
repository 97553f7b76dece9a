// Incidents: their lifecycle, what is attached to them (alerts/assets, notes, evidence, watchers,
// checklist, decisions), the correlated signals that open and feed them, and the outbox of lifecycle
// events (tables incidents, incident_*, versions 900..929 in incident_migrations()).
//
// Lifecycle (anything else is refused with Errc::conflict; the same state again is a no-op):
//   new       -> triaged | contained | resolved | closed
//   triaged   -> contained | resolved | closed
//   contained -> triaged | resolved | closed
//   resolved  -> closed, or reopen -> new | triaged
//   closed    -> reopen -> triaged
// Resolving sets resolved_at; closing sets closed_at (and resolved_at if unset); a reopen clears both
// and counts in reopen_count.
//
// Correlation invariant: at most one *open* (new/triaged/contained) incident per correlation_key.
// It is enforced by the UNIQUE column `open_key`, which holds the correlation_key only while the
// incident is open, so two concurrent correlate() calls can never both open one: the loser's insert
// conflicts and it retries, then appends to the winner's incident.
//
// Outbox: every lifecycle event is written to `incident_outbox` in the same transaction as the change
// and published later by relay_outbox() to queue::kNotifyEvents (at least once; event ids are
// deterministic so consumers dedupe):
//   event_type        event_id                                  when
//   incident.created  incident-<id>-created                     create() / correlate() created one
//   incident.updated  incident-<id>-reopened-<reopen_count>     reopen (manual or by a signal), action "reopened"
//   incident.updated  incident-<id>-resolved-<reopen_count>     resolve, action "resolved"
//   incident.updated  incident-<id>-<to>-<updated_ms>           any other move, action "status"
//   incident.closed   incident-<id>-closed-<reopen_count>       close, action "closed"
// Payload (JSON object; its scalar fields are also flattened into the envelope):
//   incident_id (int), incident_key (string, "" if none), title, severity, status (after the change),
//   category, correlation_key, asset_key (primary asset, ""), asset_keys ([string]),
//   action ("created" | "reopened" | "resolved" | "closed" | "status"), from (previous status or null),
//   to (new status), reopen_count (int), sla_due_at (RFC 3339 or null), created_at (RFC 3339).
// The envelope's event_id is the outbox event_id, asset_key the primary asset, severity the
// incident's severity.
//
// Threading: safe to share between threads and processes sharing the database; every mutation is
// one store transaction together with its audit row (and outbox row where it is a lifecycle event).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/audit_log.h"
#include "core/clock.h"
#include "core/error.h"
#include "queue/queue.h"
#include "store/db.h"

namespace secplat::incidents {

std::vector<store::Migration> incident_migrations();  // versions 900..929

bool is_valid_incident_status(std::string_view status);  // new triaged contained resolved closed
bool is_valid_severity(std::string_view severity);       // critical high medium low info
bool is_open_status(std::string_view status);            // new triaged contained
bool is_valid_category(std::string_view category);       // manual availability flapping finding alert
bool is_valid_evidence_type(std::string_view type);      // alert finding asset job ticket note event other
bool transition_allowed(std::string_view from, std::string_view to);

// Seconds from creation to SLA due, per severity; 0 = no SLA.
struct SlaPolicy {
  int64_t critical_s = 4 * 3600, high_s = 24 * 3600, medium_s = 72 * 3600, low_s = 7 * 86400, info_s = 0;
  // The seconds for a severity (0 for an unknown one).
  int64_t seconds_for(std::string_view severity) const;
};

struct Incident {
  int64_t id = 0;
  std::string incident_key;            // "" when none
  std::string title;
  std::string severity = "medium";
  std::string status = "new";
  std::string category = "manual";     // manual | availability | flapping | finding | alert
  std::string correlation_key;         // "" for manual incidents
  std::string asset_key;               // primary asset, "" when none
  std::optional<std::string> assigned_to;
  int64_t created_ms = 0, updated_ms = 0;
  std::optional<int64_t> resolved_ms, closed_ms, sla_due_ms;
  std::string metadata_json = "{}";    // object; holds jira_issue_key / jira_issue_url once created
  int64_t alert_count = 0;             // linked alerts/assets
  int64_t reopen_count = 0;
};

struct NewIncident {
  std::string title;
  std::string severity = "medium";
  std::optional<std::string> incident_key, assigned_to;
  std::optional<int64_t> sla_due_ms;   // absent → created_ms + SlaPolicy for the severity (none if 0)
  std::vector<std::string> asset_keys; // the first non-blank one is the primary asset
  std::vector<int64_t> alert_ids;      // recorded as evidence (type alert)
  std::string category = "manual";
  std::string metadata_json = "{}";
};
struct CreateResult {
  Incident incident;
  bool created = false;  // false: deduped by incident_key (nothing was changed)
};

struct IncidentFilter {
  std::optional<std::string> status, severity, assigned_to;
  int64_t limit = 50;
  int64_t offset = 0;
};
struct IncidentPage {
  std::vector<Incident> items;  // newest first (created_at DESC, id DESC)
  int64_t total = 0;
};

// One correlated observation from the correlator.
struct Signal {
  std::string correlation_key;   // e.g. "availability:<asset>", "flapping:<asset>", "finding:<asset>:<finding_key>"
  std::string category;          // availability | flapping | finding | alert
  std::string title, severity, asset_key;
  std::string event_id;          // the source event id; recorded at most once per correlation key (idempotency)
  std::string event_type;        // posture.changed, alert.triggered, finding.created, ...
  std::string summary;           // one line for the timeline
  std::string details_json = "{}";
  int64_t at_ms = 0;             // when it happened (0 = now)
  int64_t reopen_window_ms = 3600 * 1000;
};
struct Correlated {
  Incident incident;
  std::string action;  // "created" | "appended" | "reopened" | "duplicate"
};

// A row of incident_alerts: an asset (and optionally an alert id) linked to the incident.
struct AlertLink {
  int64_t incident_id = 0;
  std::string asset_key;
  std::optional<int64_t> alert_id;
  int64_t added_ms = 0;
  std::optional<std::string> added_by;
};
struct LinkResult {
  AlertLink link;
  bool created = false;  // false: it was already linked
};

// incident_notes; event_type note | state_change | alert_added | signal.
struct Note {
  int64_t id = 0;
  int64_t incident_id = 0;
  std::string event_type;
  std::optional<std::string> author;
  std::string body;
  std::string details_json = "{}";
  int64_t created_ms = 0;
};

struct EvidenceInput {
  std::string evidence_type;   // is_valid_evidence_type()
  std::string ref_id;
  std::string relation = "linked";
  std::optional<std::string> summary;
  std::string details_json = "{}";
};
struct Evidence {
  int64_t evidence_id = 0;
  int64_t incident_id = 0;
  std::string evidence_type, ref_id, relation;
  std::optional<std::string> summary;
  std::string details_json = "{}";
  std::optional<std::string> added_by;
  int64_t created_ms = 0;
};

struct Watcher {
  int64_t incident_id = 0;
  std::string username;
  std::optional<std::string> added_by;
  int64_t added_ms = 0;
};

struct ChecklistItem {
  int64_t item_id = 0;
  int64_t incident_id = 0;
  std::string title;
  bool done = false;
  std::optional<std::string> done_by;
  std::optional<int64_t> done_ms;
  std::optional<std::string> created_by;
  int64_t created_ms = 0, updated_ms = 0;
};

struct Decision {
  int64_t decision_id = 0;
  int64_t incident_id = 0;
  std::string decision;
  std::optional<std::string> rationale, decided_by;
  std::string details_json = "{}";
  int64_t created_ms = 0;
};

// One entry of the merged timeline. source_type: note (event_type note | state_change |
// alert_added | signal), checklist (checklist_added | checklist_done), decision (decision),
// evidence (evidence_linked). id is "<source_type>:<source_id>" (unique across sources).
struct TimelineItem {
  std::string id;
  int64_t incident_id = 0;
  std::string event_type;
  std::optional<std::string> author;
  std::string body;
  std::string details_json = "{}";
  int64_t created_ms = 0;
  std::string source_type;
  int64_t source_id = 0;
};
struct TimelineQuery {
  std::vector<std::string> source_types, event_types;  // empty = all
  int64_t lookback_hours = 72;                          // entries created within this many hours of now
  int64_t limit = 500;                                  // the oldest `limit` entries are kept
};

// The state of an incident's Jira ticket as seen by claim_jira().
struct JiraClaim {
  enum class State { claimed, already_created, busy } state = State::claimed;
  std::string issue_key, url;  // set for already_created
};

class IncidentService {
 public:
  IncidentService(store::Db& db, const Clock& clock, auth::AuditLog& audit, SlaPolicy sla = {});

  // Creates an incident, or returns the existing one with the same incident_key (created=false,
  // audit `incident.dedupe_hit`). Links each asset (evidence asset/linked + one alert_added note).
  // Invalid title/severity/category/metadata → Errc::validation naming the body field.
  // Audit `incident.create`; outbox incident.created.
  Result<CreateResult> create(const NewIncident& in, const auth::Actor& actor);
  Result<Incident> get(int64_t id);  // Errc::not_found "Incident not found"
  Result<IncidentPage> list(const IncidentFilter& f);

  // Lifecycle move (see the table above). A refused move is Errc::conflict naming both states;
  // reopening a correlated incident while another one is open for its key is Errc::conflict too.
  // Sets assigned_to to the actor when unset. State-change note; audit `incident.status.update`.
  Result<Incident> set_status(int64_t id, std::string_view to, const auth::Actor& actor, std::string_view reason = {});

  // Atomically: a replayed event_id (already recorded on an incident of this key) → "duplicate";
  // else if an open incident has this correlation_key → append the signal to its timeline
  // ("appended"); else if the most recent incident with this key is `resolved` (not closed) and
  // was resolved within reopen_window_ms of the signal → reopen it ("reopened"); else create a new
  // incident (incident_key "<correlation_key>:<created_ms>", SLA from policy, asset linked,
  // "created"). Audit `incident.correlate`.
  Result<Correlated> correlate(const Signal& s, const auth::Actor& actor);
  // Resolves the open incident with this correlation_key (state-change note with the reason,
  // event_id recorded). nullopt when none is open; a replayed event_id returns its incident unchanged.
  Result<std::optional<Incident>> resolve_correlated(const std::string& correlation_key, const std::string& event_id,
                                                     const std::string& reason, const auth::Actor& actor);
  Result<std::optional<Incident>> find_open(const std::string& correlation_key);
  // The open (new/triaged/contained) incidents whose primary asset is, or which link, this asset.
  Result<std::vector<Incident>> open_for_asset(const std::string& asset_key);

  // Publishes pending outbox rows (oldest first) to queue::kNotifyEvents, one envelope each, and
  // marks them published; returns how many. Concurrent relays (threads or processes) lease
  // disjoint rows for 30 s; a crash between publish and mark republishes the row after the lease.
  Result<int64_t> relay_outbox(queue::Queue& queue, int limit = 100);

  // Notes. Bumps updated_at. Audit `incident.note.create`.
  Result<Note> add_note(int64_t id, const std::string& body, const auth::Actor& actor);

  // Asset/alert links, by added_at. A blank asset_key with an alert_id links "alert:<id>".
  // Audit `incident.alert.link` / `incident.alert.unlink` (not_found "Link not found").
  Result<std::vector<AlertLink>> alerts(int64_t id);
  Result<LinkResult> link_alert(int64_t id, const std::string& asset_key, std::optional<int64_t> alert_id,
                                const auth::Actor& actor);
  Status unlink_alert(int64_t id, const std::string& asset_key, const auth::Actor& actor);

  // Evidence, idempotent on (type, ref_id, relation). Audit `incident.evidence.add`.
  Result<std::vector<Evidence>> evidence(int64_t id);
  Result<Evidence> add_evidence(int64_t id, const EvidenceInput& in, const auth::Actor& actor);

  // Watchers (adding twice keeps the first). Audit `incident.watcher.add` / `.remove`
  // (not_found "Watcher not found").
  Result<std::vector<Watcher>> watchers(int64_t id);
  Result<Watcher> add_watcher(int64_t id, const std::string& username, const auth::Actor& actor);
  Status remove_watcher(int64_t id, const std::string& username, const auth::Actor& actor);

  // Checklist. Audit `incident.checklist.add` / `.update` (not_found "Checklist item not found").
  Result<std::vector<ChecklistItem>> checklist(int64_t id);
  Result<ChecklistItem> add_checklist_item(int64_t id, const std::string& title, const auth::Actor& actor);
  Result<ChecklistItem> set_checklist_done(int64_t id, int64_t item_id, bool done, const auth::Actor& actor);

  // Decisions. Audit `incident.decision.add`.
  Result<std::vector<Decision>> decisions(int64_t id);
  Result<Decision> add_decision(int64_t id, const std::string& decision, const std::optional<std::string>& rationale,
                                const std::string& details_json, const auth::Actor& actor);

  // The merged timeline, ascending by (created_at, source_type, source_id).
  Result<std::vector<TimelineItem>> timeline(int64_t id, const TimelineQuery& q);

  // Jira ticket creation without duplicates: claim_jira() takes a lease (conditional UPDATE) unless
  // a ticket exists (already_created) or another caller holds a lease younger than lease_ms (busy).
  // The holder calls out, then record_jira() (stores jira_issue_key/jira_issue_url in metadata,
  // audit `incident.jira.create`) or release_jira() on failure.
  Result<JiraClaim> claim_jira(int64_t id, const std::string& token, int64_t lease_ms = 60000);
  Result<Incident> record_jira(int64_t id, const std::string& token, const std::string& issue_key,
                               const std::string& url, const auth::Actor& actor);
  Status release_jira(int64_t id, const std::string& token);

 private:
  store::Db& db_;
  const Clock& clock_;
  auth::AuditLog& audit_;
  SlaPolicy sla_;
};

}  // namespace secplat::incidents
