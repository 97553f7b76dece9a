// Security findings per asset (table `findings`, versions 300..399 in findings/migrations.h).
//
// A finding is identified by (asset, finding_key): keys are scoped to their asset, so one asset can
// never take over another asset's finding. Status is a small state machine:
//   open -> in_progress | remediated | accepted_risk      in_progress -> open | remediated | accepted_risk
//   remediated -> open (also automatically when seen again)   accepted_risk -> open (manual or expiry)
// Setting the current status again is a no-op. accepted_risk needs a reason and a future expiry
// (accept_risk()); once expired, reads report the finding as `open` and expire_accepted_risks()
// makes that durable. The risk score (0..100, risk_score.h) is recomputed on every write.
//
// Threading: safe to share between threads; every write is one store transaction with its audit row.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "auth/audit_log.h"
#include "core/clock.h"
#include "core/error.h"
#include "store/db.h"

namespace secplat::findings {

bool is_valid_status(std::string_view status);  // open, in_progress, remediated, accepted_risk

struct Finding {
  int64_t finding_id = 0;
  std::string finding_key;
  int64_t asset_id = 0;
  std::string asset_key;
  std::string asset_name;
  std::string category;
  std::string title;
  std::string severity = "medium";   // critical/high/medium/low/info
  std::string confidence = "high";   // high/medium/low
  std::string evidence;              // redacted for viewers
  std::string remediation;
  std::string source;
  std::optional<std::string> vulnerability_id, package_ecosystem, package_name, package_version, fixed_version;
  std::string scanner_metadata_json = "{}";  // a JSON object as text
  std::string status = "open";               // effective: an expired accepted risk reads as "open"
  int64_t time_ms = 0;                       // creation time
  int64_t first_seen_ms = 0;
  int64_t last_seen_ms = 0;
  int risk_score = 0;
  std::string risk_level = "low";            // critical >= 85, high >= 70, medium >= 40, else low
  std::string risk_factors_json = "{}";
  std::optional<int64_t> accepted_risk_at_ms, accepted_risk_expires_at_ms;
  std::optional<std::string> accepted_risk_reason, accepted_risk_by;  // reason redacted for viewers

  bool operator==(const Finding&) const = default;
};

// POST /findings/ body. Empty optionals leave an existing finding's value unchanged.
struct FindingInput {
  std::string asset_key;
  std::optional<int64_t> asset_id;  // for upsert: names the asset when asset_key is empty
  std::string finding_key;
  std::string title;
  std::optional<std::string> category, severity, confidence, evidence, remediation, source;
  std::optional<std::string> vulnerability_id, package_ecosystem, package_name, package_version, fixed_version;
  std::optional<std::string> scanner_metadata_json;  // a JSON object as text
};

struct UpsertResult {
  Finding finding;
  bool created = false;  // false: an existing (asset, finding_key) was updated
};

struct FindingFilter {
  std::optional<std::string> asset_key, status, severity, source, risk_level;
  std::optional<std::string> q;  // substring of title, finding_key or vulnerability_id
  int64_t limit = 100;
  int64_t offset = 0;
};

struct FindingPage {
  std::vector<Finding> items;  // ordered last_seen DESC, finding_id DESC
  int64_t total = 0;
};

struct SarifImportResult {
  int64_t created = 0, updated = 0, unchanged = 0, remediated = 0, total = 0;
};

// A change other parts react to (the correlator opens an incident for a new serious finding and
// resolves it when the finding is remediated or its risk accepted). Only the fields a consumer needs.
struct FindingEvent {
  std::string type;  // finding.created | finding.updated
  std::string asset_key, finding_key, title, severity, status, source;
  int64_t finding_id = 0;
};
// Called after the change committed (never inside a transaction), from the caller's thread; for
// upsert_async, from a thread of the service's own, in commit order (not the store's answer thread,
// which a sink publishing over the network would otherwise hold up for every write).
using FindingEventSink = std::function<void(const std::vector<FindingEvent>&)>;
// Which events the sink wants (the rest are never built into a batch or handed to a thread).
using FindingEventFilter = std::function<bool(const FindingEvent&)>;

class FindingsService {
 public:
  FindingsService(store::Db& db, const Clock& clock, auth::AuditLog& audit);
  ~FindingsService();  // delivers the announcements still queued
  FindingsService(const FindingsService&) = delete;
  FindingsService& operator=(const FindingsService&) = delete;

  // Race-free upsert keyed by (asset, finding_key): one INSERT ... ON CONFLICT DO UPDATE. On update,
  // last_seen moves to now, given values overwrite, a remediated (or expired accepted) finding is
  // reopened. Unknown asset → Errc::not_found. Audit `finding.upsert`.
  Result<UpsertResult> upsert(const FindingInput& input, const auth::Actor& actor);
  // The same without waiting: done gets the outcome once committed, on a thread of the Db's own (see
  // store::Db::transact_async), or at once for input that fails validation. Does not block.
  void upsert_async(FindingInput input, auth::Actor actor, std::function<void(Result<UpsertResult>)> done);

  // Where committed changes are announced: creations, status changes (set_status, accept_risk,
  // expiry, a reopen by upsert) and auto-remediation, those `wanted` (all without a filter). Set
  // once, before use.
  void set_event_sink(FindingEventSink sink, FindingEventFilter wanted = {});

  Result<Finding> get(int64_t finding_id);  // Errc::not_found "Finding not found"
  Result<FindingPage> list(const FindingFilter& filter);

  // Moves along the state machine. accepted_risk is refused here (422: use accept_risk); a
  // transition the machine forbids is Errc::conflict naming both states. Audit `finding_status`.
  Result<Finding> set_status(int64_t finding_id, std::string_view status, const auth::Actor& actor);

  // open|in_progress -> accepted_risk until expires_ms (must be after now: else 422). Audit `accept_risk`.
  Result<Finding> accept_risk(int64_t finding_id, const std::string& reason, int64_t expires_ms,
                              const auth::Actor& actor);

  // Reopens every accepted risk whose expiry is <= now_ms; returns how many. Run periodically.
  Result<int64_t> expire_accepted_risks(int64_t now_ms);

  // Recomputes the stored risk of every finding of the asset (after the asset's attributes changed).
  Status recompute_risk_for_asset(int64_t asset_id);

  // Upserts one finding per SARIF result on the asset (key = asset-scoped fingerprint from
  // partialFingerprints, else hash of ruleId + location), marks findings of the same `source` on that
  // asset that are absent from this import as remediated (auto-remediation), all in one transaction.
  // A log that is not SARIF 2.1.0 is Errc::validation naming the offending path; nothing is written.
  // Empty `source` means the first run's tool.driver.name (lower-cased). Audit `finding.import`.
  Result<SarifImportResult> import_sarif(const std::string& asset_key, const nlohmann::json& sarif_log,
                                         const std::string& source, const auth::Actor& actor);

  // The complete current result set of one source on one asset (a scan job's findings, keyed
  // deterministically): upserts every item (finding_key set by the caller) and marks this source's
  // findings on the asset that are absent as remediated, in one transaction with one audit row.
  // Keys in `undecided` (checks that could not run this time) are neither updated nor remediated.
  Result<SarifImportResult> reconcile(const std::string& asset_key, const std::string& source,
                                      std::vector<FindingInput> items, const auth::Actor& actor,
                                      const std::string& audit_action,
                                      const std::vector<std::string>& undecided = {});

 private:
  store::Db& db_;
  const Clock& clock_;
  auth::AuditLog& audit_;
  FindingEventSink sink_;
  FindingEventFilter wanted_;
  class Announcer;
  std::unique_ptr<Announcer> announcer_;  // upsert_async's announcements, off the store's answer thread
  void announce(const std::vector<FindingEvent>& events) const;
  std::vector<FindingEvent> wanted(std::vector<FindingEvent> events) const;  // those the sink's filter keeps
  class AssetCache;
  std::unique_ptr<AssetCache> assets_;  // the assets of recent upserts, while unchanged (SQLite: see store::Tx::change_stamp)
  // upsert's transaction; prior_status is the key's status before it ("" for a new key).
  Status upsert_in(store::Tx& tx, const FindingInput& input, const auth::Actor& actor, int64_t now,
                   UpsertResult& out, std::string& prior_status);
  struct Stored {
    int64_t asset_id = 0;
    int64_t finding_id = 0;
    bool created = false;
  };
  // upsert_in reading the asset and the key's finding first (stamp: of `assets`, to cache the asset).
  Result<Stored> upsert_read_first(store::Tx& tx, const FindingInput& input, const std::string& asset_key,
                                   int64_t now, std::optional<uint64_t> stamp, UpsertResult& out,
                                   std::string& prior_status);
  void announce_upsert(const UpsertResult& out, const std::string& prior_status) const;
};

}  // namespace secplat::findings
