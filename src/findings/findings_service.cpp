#include "findings/findings_service.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "core/json.h"
#include "core/log.h"
#include "core/thread_name.h"
#include "store/sql_text.h"
#include "findings/risk_score.h"
#include "findings/sarif.h"

namespace secplat::findings {
namespace {

// A finding's columns and its asset's (kSelect's FROM joins them; the upsert's prior read joins
// the asset to the finding, if any, so the same names come back either way).
constexpr std::string_view kColumns = R"SQL(
       f.finding_id, f.asset_id, f.finding_key, f.created_at, f.category, f.title, f.severity, f.confidence,
       f.evidence, f.remediation, f.source, f.status, f.first_seen, f.last_seen, f.accepted_risk_at,
       f.accepted_risk_expires_at, f.accepted_risk_reason, f.accepted_risk_by, f.risk_score, f.risk_level,
       f.risk_factors_json, f.vulnerability_id, f.package_ecosystem, f.package_name, f.package_version,
       f.fixed_version, f.scanner_metadata_json,
       a.asset_key, a.name AS asset_name, a.type AS asset_kind, a.asset_type, a.environment, a.criticality,
       a.verified, a.is_active, a.tags, a.metadata)SQL";

const std::string kSelect = "SELECT" + std::string(kColumns) + " FROM findings f JOIN assets a ON a.asset_id = f.asset_id";

// The asset (its id as `the_asset_id`: f.asset_id is NULL when there is no finding yet) and the
// finding of this key, if any, with kSelect's columns.
const std::string kSelectForUpsert =
    "SELECT a.asset_id AS the_asset_id," + std::string(kColumns) +
    " FROM assets a LEFT JOIN findings f ON f.asset_id = a.asset_id AND f.finding_key = $2 WHERE a.asset_key = $1";

// The status a reader sees: an accepted risk past its expiry (placeholder `now_param`) is open again.
std::string effective_status(const std::string& now_param) {
  return "(CASE WHEN f.status = 'accepted_risk' AND f.accepted_risk_expires_at <= " + now_param +
         " THEN 'open' ELSE f.status END)";
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool is_expired(const store::Row& row, int64_t now) {
  auto exp = row.opt_i64("accepted_risk_expires_at");
  return row.str("status") == "accepted_risk" && exp && *exp <= now;
}

// The asset's part of the risk inputs, from a row with kColumns' asset columns.
void asset_risk_inputs(const store::Row& row, RiskInputs& in) {
  in.asset_kind = row.str("asset_kind");
  in.asset_type = row.str("asset_type");
  in.environment = row.str("environment");
  in.criticality = row.str("criticality");
  in.verified = row.i64("verified") != 0;
  in.is_active = row.i64("is_active") != 0;
  in.tags = string_list_from_json(row.str("tags", "[]"));
  in.metadata_json = row.str("metadata", "{}");
}

RiskInputs risk_inputs(const store::Row& row, const std::string& status, int64_t now) {
  RiskInputs in;
  in.severity = row.str("severity");
  in.confidence = row.str("confidence");
  in.status = status;
  in.accepted_risk_expired = is_expired(row, now);
  in.source = row.str("source");
  in.age_ms = std::max<int64_t>(0, now - row.i64("first_seen"));
  asset_risk_inputs(row, in);
  return in;
}

store::Value opt(const std::optional<std::string>& v) {
  if (!v || v->empty()) return store::null();
  return *v;
}

// What a new finding takes from its asset: its id and names, and the asset's part of the risk inputs.
struct AssetFacts {
  int64_t asset_id = 0;
  std::string asset_key;
  std::string asset_name;
  RiskInputs risk;  // the asset's fields only
};

AssetFacts asset_facts(const store::Row& row) {  // of a kSelectForUpsert row
  AssetFacts a;
  a.asset_id = row.i64("the_asset_id");
  a.asset_key = row.str("asset_key");
  a.asset_name = row.str("asset_name");
  asset_risk_inputs(row, a.risk);
  return a;
}

// The finding a new key's insert stores: the input with the insert's defaults (an absent or empty
// optional column is NULL, an absent or empty defaulted one its default), open, first seen now.
Finding fresh_finding(const AssetFacts& asset, const FindingInput& in, int64_t now) {
  auto given = [](const std::optional<std::string>& v) { return v && !v->empty(); };
  auto or_default = [&](const std::optional<std::string>& v, const char* fallback) {
    return given(v) ? *v : std::string(fallback);
  };
  auto or_null = [&](const std::optional<std::string>& v) { return given(v) ? v : std::nullopt; };
  Finding f;
  f.finding_key = in.finding_key;
  f.asset_id = asset.asset_id;
  f.asset_key = asset.asset_key;
  f.asset_name = asset.asset_name;
  f.category = or_default(in.category, "");
  f.title = in.title;
  f.severity = or_default(in.severity, "medium");
  f.confidence = or_default(in.confidence, "high");
  f.evidence = or_default(in.evidence, "");
  f.remediation = or_default(in.remediation, "");
  f.source = or_default(in.source, "");
  f.vulnerability_id = or_null(in.vulnerability_id);
  f.package_ecosystem = or_null(in.package_ecosystem);
  f.package_name = or_null(in.package_name);
  f.package_version = or_null(in.package_version);
  f.fixed_version = or_null(in.fixed_version);
  f.scanner_metadata_json = or_default(in.scanner_metadata_json, "{}");
  f.status = "open";
  f.time_ms = f.first_seen_ms = f.last_seen_ms = now;
  return f;
}

RiskInputs fresh_risk_inputs(const AssetFacts& asset, const Finding& f) {
  RiskInputs in = asset.risk;
  in.severity = f.severity;
  in.confidence = f.confidence;
  in.status = f.status;
  in.source = f.source;
  in.age_ms = 0;
  return in;
}

// A new key's row, as fresh_finding() describes it; no row when the key exists already.
Result<std::optional<int64_t>> insert_fresh(store::Tx& tx, const Finding& f) {
  static const std::string sql = R"SQL(
INSERT INTO findings (asset_id, finding_key, created_at, category, title, severity, confidence, evidence,
                      remediation, source, status, first_seen, last_seen, vulnerability_id, package_ecosystem,
                      package_name, package_version, fixed_version, scanner_metadata_json, revision,
                      risk_score, risk_level, risk_factors_json)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $3, $3, $11, $12, $13, $14, $15, $16, 1, $17, $18, $19)
ON CONFLICT (asset_id, finding_key) DO NOTHING)SQL";
  return tx.insert_id(sql,
                      {f.asset_id, f.finding_key, f.time_ms, f.category, f.title, f.severity, f.confidence,
                       f.evidence, f.remediation, f.source, opt(f.vulnerability_id), opt(f.package_ecosystem),
                       opt(f.package_name), opt(f.package_version), opt(f.fixed_version), f.scanner_metadata_json,
                       int64_t{f.risk_score}, f.risk_level, f.risk_factors_json},
                      "finding_id");
}

// A new key's finding built, scored and inserted (its id set); nullopt when the key exists already.
Result<std::optional<int64_t>> store_fresh(store::Tx& tx, const AssetFacts& asset, const FindingInput& input,
                                           int64_t now, Finding& f) {
  f = fresh_finding(asset, input, now);
  const RiskScore risk = compute_risk(fresh_risk_inputs(asset, f));
  f.risk_score = risk.score;
  f.risk_level = risk.level;
  f.risk_factors_json = risk.factors_json;
  auto id = insert_fresh(tx, f);
  if (id.ok() && *id) f.finding_id = **id;
  return id;
}

Finding to_finding(const store::Row& row, int64_t now) {
  Finding f;
  f.finding_id = row.i64("finding_id");
  f.finding_key = row.str("finding_key");
  f.asset_id = row.i64("asset_id");
  f.asset_key = row.str("asset_key");
  f.asset_name = row.str("asset_name");
  f.category = row.str("category");
  f.title = row.str("title");
  f.severity = row.str("severity");
  f.confidence = row.str("confidence");
  f.evidence = row.str("evidence");
  f.remediation = row.str("remediation");
  f.source = row.str("source");
  f.vulnerability_id = row.opt_str("vulnerability_id");
  f.package_ecosystem = row.opt_str("package_ecosystem");
  f.package_name = row.opt_str("package_name");
  f.package_version = row.opt_str("package_version");
  f.fixed_version = row.opt_str("fixed_version");
  f.scanner_metadata_json = row.str("scanner_metadata_json", "{}");
  f.time_ms = row.i64("created_at");
  f.first_seen_ms = row.i64("first_seen");
  f.last_seen_ms = row.i64("last_seen");
  f.accepted_risk_at_ms = row.opt_i64("accepted_risk_at");
  f.accepted_risk_expires_at_ms = row.opt_i64("accepted_risk_expires_at");
  f.accepted_risk_reason = row.opt_str("accepted_risk_reason");
  f.accepted_risk_by = row.opt_str("accepted_risk_by");
  f.status = row.str("status");
  f.risk_score = static_cast<int>(row.i64("risk_score"));
  f.risk_level = row.str("risk_level");
  f.risk_factors_json = row.str("risk_factors_json", "{}");
  if (is_expired(row, now)) {  // not yet swept: report it as the open finding it is again
    f.status = "open";
    RiskScore r = compute_risk(risk_inputs(row, "open", now));
    f.risk_score = r.score;
    f.risk_level = r.level;
    f.risk_factors_json = r.factors_json;
  }
  return f;
}

Result<std::optional<store::Row>> load_row(store::Tx& tx, int64_t finding_id) {
  auto rows = tx.query(kSelect + " WHERE f.finding_id = $1", {finding_id});
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return std::optional<store::Row>();
  return std::optional<store::Row>(rows->front());
}

Result<Finding> load(store::Tx& tx, int64_t finding_id, int64_t now) {
  auto row = load_row(tx, finding_id);
  if (!row.ok()) return std::move(row).take_error();
  if (!row->has_value()) return Error::not_found("Finding not found");
  return to_finding(**row, now);
}

// Recomputes and stores the risk of one finding from its row and its asset; returns the finding as
// stored (one read of the row, not a second one after the update).
Result<Finding> rescore_and_load(store::Tx& tx, int64_t finding_id, int64_t now) {
  auto row = load_row(tx, finding_id);
  if (!row.ok()) return std::move(row).take_error();
  if (!row->has_value()) return Error::not_found("Finding not found");
  RiskScore r = compute_risk(risk_inputs(**row, (*row)->str("status"), now));
  auto n = tx.exec("UPDATE findings SET risk_score = $1, risk_level = $2, risk_factors_json = $3 WHERE finding_id = $4",
                   {int64_t{r.score}, r.level, r.factors_json, finding_id});
  if (!n.ok()) return std::move(n).take_error();
  Finding f = to_finding(**row, now);
  if (!is_expired(**row, now)) {  // to_finding already scored an expired acceptance as open
    f.risk_score = r.score;
    f.risk_level = r.level;
    f.risk_factors_json = r.factors_json;
  }
  return f;
}

Status rescore(store::Tx& tx, int64_t finding_id, int64_t now) {
  auto f = rescore_and_load(tx, finding_id, now);
  if (!f.ok()) return std::move(f).take_error();
  return ok_status();
}

Result<int64_t> asset_id_of(store::Tx& tx, const std::string& asset_key) {
  auto rows = tx.query("SELECT asset_id FROM assets WHERE asset_key = $1", {asset_key});
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return Error::not_found("Asset not found: " + asset_key);
  return rows->front().i64("asset_id");
}

struct Upserted {
  int64_t finding_id = 0;
  bool created = false;
};

// One statement, so concurrent first writers of a key cannot both insert: the loser updates.
// `risk` is stored by an insert; by an update only when `risk_of_update` (the caller scored the
// merged row), else the stored risk is kept for the caller to recompute.
// On SQLite the statement has no RETURNING (SQLite runs one through a temporary b-tree it creates
// and drops per execution) and the row is read back by its key.
Result<Upserted> upsert_in_tx(store::Tx& tx, store::Dialect dialect, int64_t asset_id, const FindingInput& in,
                              int64_t now, const RiskScore& risk = RiskScore{0, "low", "{}"},
                              bool risk_of_update = false) {
  static const std::string sql = R"SQL(
INSERT INTO findings (asset_id, finding_key, created_at, category, title, severity, confidence, evidence,
                      remediation, source, status, first_seen, last_seen, vulnerability_id, package_ecosystem,
                      package_name, package_version, fixed_version, scanner_metadata_json, revision,
                      risk_score, risk_level, risk_factors_json)
VALUES ($1, $2, $3, COALESCE($4, ''), $5, COALESCE($6, 'medium'), COALESCE($7, 'high'), COALESCE($8, ''),
        COALESCE($9, ''), COALESCE($10, ''), 'open', $3, $3, $11, $12, $13, $14, $15, COALESCE($16, '{}'), 1,
        $17, $18, $19)
ON CONFLICT (asset_id, finding_key) DO UPDATE SET
  last_seen = excluded.last_seen,
  title = excluded.title,
  category = COALESCE($4, findings.category),
  severity = COALESCE($6, findings.severity),
  confidence = COALESCE($7, findings.confidence),
  evidence = COALESCE($8, findings.evidence),
  remediation = COALESCE($9, findings.remediation),
  source = COALESCE($10, findings.source),
  vulnerability_id = COALESCE($11, findings.vulnerability_id),
  package_ecosystem = COALESCE($12, findings.package_ecosystem),
  package_name = COALESCE($13, findings.package_name),
  package_version = COALESCE($14, findings.package_version),
  fixed_version = COALESCE($15, findings.fixed_version),
  scanner_metadata_json = COALESCE($16, findings.scanner_metadata_json),
  status = CASE WHEN findings.status = 'remediated'
                  OR (findings.status = 'accepted_risk' AND findings.accepted_risk_expires_at <= excluded.last_seen)
                THEN 'open' ELSE findings.status END,
  revision = findings.revision + 1,
  risk_score = CASE WHEN $20 = 1 THEN $17 ELSE findings.risk_score END,
  risk_level = CASE WHEN $20 = 1 THEN $18 ELSE findings.risk_level END,
  risk_factors_json = CASE WHEN $20 = 1 THEN $19 ELSE findings.risk_factors_json END)SQL";
  static const std::string returning = sql + " RETURNING finding_id, revision";
  const store::Params params{asset_id, in.finding_key, now, opt(in.category), in.title, opt(in.severity),
                             opt(in.confidence), opt(in.evidence), opt(in.remediation), opt(in.source),
                             opt(in.vulnerability_id), opt(in.package_ecosystem), opt(in.package_name),
                             opt(in.package_version), opt(in.fixed_version), opt(in.scanner_metadata_json),
                             int64_t{risk.score}, risk.level, risk.factors_json, int64_t{risk_of_update ? 1 : 0}};
  Result<store::Rows> rows = store::Rows{};
  if (dialect == store::Dialect::sqlite) {
    auto n = tx.exec(sql, params);
    if (!n.ok()) return std::move(n).take_error();
    rows = tx.query("SELECT finding_id, revision FROM findings WHERE asset_id = $1 AND finding_key = $2",
                    {asset_id, in.finding_key});
  } else {
    rows = tx.query(returning, params);
  }
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return Error::internal("upsert returned no row");
  return Upserted{rows->front().i64("finding_id"), rows->front().i64("revision") == 1};
}

bool one_of(const std::optional<std::string>& v, std::initializer_list<const char*> set) {
  return !v || std::any_of(set.begin(), set.end(), [&](const char* s) { return *v == s; });
}

Status validate_input(const FindingInput& in) {
  if (in.asset_key.empty() && !in.asset_id) return Error::invalid({"body", "asset_key"}, "Field required");
  if (in.finding_key.empty()) return Error::invalid({"body", "finding_key"}, "Field required");
  if (in.finding_key.size() > 512) return Error::invalid({"body", "finding_key"}, "At most 512 characters");
  if (in.title.empty()) return Error::invalid({"body", "title"}, "Field required");
  if (!one_of(in.severity, {"critical", "high", "medium", "low", "info"})) {
    return Error::invalid({"body", "severity"}, "Must be one of critical, high, medium, low, info");
  }
  if (!one_of(in.confidence, {"high", "medium", "low"})) {
    return Error::invalid({"body", "confidence"}, "Must be one of high, medium, low");
  }
  if (in.scanner_metadata_json) {
    Json m = Json::parse(*in.scanner_metadata_json, nullptr, false);
    if (!m.is_object()) return Error::invalid({"body", "scanner_metadata_json"}, "Must be a JSON object");
  }
  return ok_status();
}

bool transition_allowed(const std::string& from, const std::string& to) {
  if (from == "open") return to == "in_progress" || to == "remediated";
  if (from == "in_progress") return to == "open" || to == "remediated";
  if (from == "remediated" || from == "accepted_risk") return to == "open";
  return false;
}

Error transition_error(const std::string& from, const std::string& to) {
  return Error::conflict("Cannot change finding status from " + from + " to " + to);
}

Status audit_in(auth::AuditLog& audit, store::Tx& tx, std::string_view action, const auth::Actor& actor,
                const std::string& asset_key, const Json& details) {
  return audit.append(tx, action, actor.user_name, asset_key, details, actor.request_id);
}

}  // namespace

bool is_valid_status(std::string_view s) {
  return s == "open" || s == "in_progress" || s == "remediated" || s == "accepted_risk";
}

namespace {

FindingEvent event_of(std::string type, const Finding& f) {
  return FindingEvent{std::move(type), f.asset_key, f.finding_key, f.title, f.severity, f.status, f.source,
                      f.finding_id};
}

}  // namespace

// One thread delivering upsert_async's announcements in order. Bounded: a sink that cannot keep up
// loses announcements (logged), as a failed publish does; the findings themselves are stored.
class FindingsService::Announcer {
 public:
  explicit Announcer(FindingEventSink sink) : sink_(std::move(sink)), thread_([this] { run(); }) {}
  ~Announcer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  void post(std::vector<FindingEvent> events) {
    bool was_empty;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queued_.size() >= kMaxQueued) {
        ++dropped_;
        return;
      }
      was_empty = queued_.empty();
      queued_.push_back(std::move(events));
    }
    if (was_empty) cv_.notify_one();  // otherwise the thread is at work and will find it
  }

 private:
  static constexpr std::size_t kMaxQueued = 10000;
  void run() {
    set_thread_name("secplat-announce");
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stopping_ || !queued_.empty(); });
      if (dropped_ > 0) {
        log::warn("finding events dropped: the event sink is behind", {log::integer("dropped", dropped_)});
        dropped_ = 0;
      }
      if (queued_.empty()) return;  // stopping, and everything delivered
      std::vector<FindingEvent> events = std::move(queued_.front());
      queued_.pop_front();
      lock.unlock();
      try {
        sink_(events);
      } catch (const std::exception& e) {
        log::warn("finding event sink failed", {log::str("error", e.what())});
      }
      lock.lock();
    }
  }
  FindingEventSink sink_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<FindingEvent>> queued_;  // guarded by mu_
  int64_t dropped_ = 0;                           // guarded by mu_
  bool stopping_ = false;                         // guarded by mu_
  std::thread thread_;                            // last: starts once the rest is ready
};

// The assets findings were lately upserted on, each as of a store change stamp (see
// store::Tx::change_stamp): an entry counts only while the stamp of `assets` is still the one it was
// read at, so any write to an asset (or rollback, or another process's commit) retires them all.
// An entry also remembers whether the asset's last upsert was of a new key: then the next one tries
// the insert before reading (a new key needs no read; an existing one costs a skipped insert more).
class FindingsService::AssetCache {
 public:
  struct Hit {
    std::shared_ptr<const AssetFacts> facts;
    bool new_keys = false;
  };
  std::optional<Hit> find(const std::string& asset_key, uint64_t stamp) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(asset_key);
    if (it == entries_.end() || it->second.stamp != stamp) return std::nullopt;
    return it->second.hit;
  }
  void put(const std::string& asset_key, uint64_t stamp, std::shared_ptr<const AssetFacts> facts, bool new_keys) {
    std::lock_guard<std::mutex> lock(mu_);
    if (entries_.size() >= kMaxAssets && !entries_.contains(asset_key)) entries_.clear();
    entries_[asset_key] = Entry{stamp, Hit{std::move(facts), new_keys}};
  }

 private:
  static constexpr std::size_t kMaxAssets = 4096;
  struct Entry {
    uint64_t stamp = 0;
    Hit hit;
  };
  mutable std::mutex mu_;  // the writer's thread alone uses it on SQLite; PostgreSQL gives no stamps
  std::unordered_map<std::string, Entry> entries_;
};

FindingsService::FindingsService(store::Db& db, const Clock& clock, auth::AuditLog& audit)
    : db_(db), clock_(clock), audit_(audit), assets_(std::make_unique<AssetCache>()) {}

FindingsService::~FindingsService() = default;

void FindingsService::set_event_sink(FindingEventSink sink, FindingEventFilter wanted) {
  sink_ = std::move(sink);
  wanted_ = std::move(wanted);
  announcer_ = sink_ ? std::make_unique<Announcer>(sink_) : nullptr;
}

std::vector<FindingEvent> FindingsService::wanted(std::vector<FindingEvent> events) const {
  if (wanted_) std::erase_if(events, [this](const FindingEvent& e) { return !wanted_(e); });
  return events;
}

void FindingsService::announce(const std::vector<FindingEvent>& events) const {
  if (!sink_) return;
  if (auto kept = wanted(events); !kept.empty()) sink_(kept);
}

Status FindingsService::upsert_in(store::Tx& tx, const FindingInput& input, const auth::Actor& actor, int64_t now,
                                  UpsertResult& out, std::string& prior_status) {
  std::string asset_key = input.asset_key;
  if (asset_key.empty()) {  // named by id
    auto a = tx.query("SELECT asset_key FROM assets WHERE asset_id = $1", {input.asset_id.value_or(0)});
    if (!a.ok()) return std::move(a).take_error();
    if (a->empty()) return Error::not_found("Asset not found: " + std::to_string(input.asset_id.value_or(0)));
    asset_key = a->front().str("asset_key");
  }
  auto stamp = tx.change_stamp("assets");
  if (!stamp.ok()) return std::move(stamp).take_error();
  Stored stored;
  std::optional<AssetCache::Hit> hit;
  if (*stamp) hit = assets_->find(asset_key, **stamp);
  if (hit && hit->new_keys) {
    // The asset is unchanged since its last upsert, whose key was new: insert at once, no read.
    auto id = store_fresh(tx, *hit->facts, input, now, out.finding);
    if (!id.ok()) return std::move(id).take_error();
    if (*id) {
      stored = Stored{hit->facts->asset_id, **id, true};
    } else {
      assets_->put(asset_key, **stamp, hit->facts, false);  // the key exists: read first next time
    }
  }
  if (!stored.created) {
    auto read_first = upsert_read_first(tx, input, asset_key, now, *stamp, out, prior_status);
    if (!read_first.ok()) return std::move(read_first).take_error();
    stored = *read_first;
  }
  out.created = stored.created;
  // The details a Json object of these fields would dump (keys sorted), written directly: this is
  // on the store's writer thread once per upsert.
  std::string details = "{\"asset_id\":" + std::to_string(stored.asset_id) +
                        ",\"asset_key\":" + log::json_quote(asset_key) +
                        ",\"finding_id\":" + std::to_string(stored.finding_id) +
                        ",\"finding_key\":" + log::json_quote(input.finding_key) +
                        ",\"source\":" + log::json_quote(out.finding.source) +
                        ",\"updated\":" + (stored.created ? "false" : "true") + "}";
  return audit_.append_json_text(tx, "finding.upsert", actor.user_name, asset_key, std::move(details), actor.request_id);
}

Result<FindingsService::Stored> FindingsService::upsert_read_first(store::Tx& tx, const FindingInput& input,
                                                                   const std::string& asset_key, int64_t now,
                                                                   std::optional<uint64_t> stamp, UpsertResult& out,
                                                                   std::string& prior_status) {
  // The asset and the finding of this key (if any) in one read.
  auto prior = tx.query(kSelectForUpsert, {asset_key, input.finding_key});
  if (!prior.ok()) return std::move(prior).take_error();
  if (prior->empty()) return Error::not_found("Asset not found: " + asset_key);
  store::Row& row = prior->front();
  Stored stored;
  stored.asset_id = row.i64("the_asset_id");
  const bool fresh = row.is_null("finding_id");
  prior_status = row.str("status", "");
  std::shared_ptr<const AssetFacts> facts;
  if (stamp || fresh) facts = std::make_shared<const AssetFacts>(asset_facts(row));
  if (stamp) assets_->put(asset_key, *stamp, facts, fresh);
  if (fresh) {
    // A new key: the finding is the input with the insert's defaults, scored and inserted as such.
    auto id = store_fresh(tx, *facts, input, now, out.finding);
    if (!id.ok()) return std::move(id).take_error();
    if (*id) return Stored{stored.asset_id, **id, true};
  }
  // An existing key: the row the upsert will store is known here by its merge rules, so it is
  // scored before and not read back. Both follow the SQL of upsert_in_tx;
  // WhatAnUpsertReturnsIsWhatIsStored holds them to it. A new key whose insert was skipped keeps the
  // stored risk and is re-scored below: a defensive path, as every write transaction holds the
  // store's writer lock, so no other writer commits the key between the read and the insert.
  RiskScore risk{0, "low", "{}"};
  if (!fresh) {
    auto given = [&](const char* column, const std::optional<std::string>& v) {
      if (v && !v->empty()) row.set(column, *v);  // COALESCE($n, findings.column); "" binds NULL
    };
    row.set("last_seen", now);
    row.set("title", input.title);
    given("category", input.category);
    given("severity", input.severity);
    given("confidence", input.confidence);
    given("evidence", input.evidence);
    given("remediation", input.remediation);
    given("source", input.source);
    given("vulnerability_id", input.vulnerability_id);
    given("package_ecosystem", input.package_ecosystem);
    given("package_name", input.package_name);
    given("package_version", input.package_version);
    given("fixed_version", input.fixed_version);
    given("scanner_metadata_json", input.scanner_metadata_json);
    const std::optional<int64_t> expires = row.opt_i64("accepted_risk_expires_at");
    if (prior_status == "remediated" || (prior_status == "accepted_risk" && expires && *expires <= now))
      row.set("status", std::string("open"));
    risk = compute_risk(risk_inputs(row, row.str("status"), now));
    row.set("risk_score", int64_t{risk.score});
    row.set("risk_level", risk.level);
    row.set("risk_factors_json", risk.factors_json);
  }
  auto up = upsert_in_tx(tx, db_.dialect(), stored.asset_id, input, now, risk, /*risk_of_update=*/!fresh);
  if (!up.ok()) return std::move(up).take_error();
  stored.finding_id = up->finding_id;
  if (!fresh && !up->created) {
    out.finding = to_finding(row, now);
  } else {  // the key appeared (or vanished) between the read and the write: the stored row is the truth
    auto f = rescore_and_load(tx, up->finding_id, now);
    if (!f.ok()) return std::move(f).take_error();
    out.finding = std::move(*f);
  }
  stored.created = up->created;
  return stored;
}

namespace {

// What an upsert announces: a new finding, or a status it changed (a reopen).
std::vector<FindingEvent> upsert_events(const UpsertResult& out, const std::string& prior_status) {
  if (out.created) return {event_of("finding.created", out.finding)};
  if (prior_status != out.finding.status) return {event_of("finding.updated", out.finding)};
  return {};
}

}  // namespace

void FindingsService::announce_upsert(const UpsertResult& out, const std::string& prior_status) const {
  announce(upsert_events(out, prior_status));
}

Result<UpsertResult> FindingsService::upsert(const FindingInput& input, const auth::Actor& actor) {
  SECPLAT_TRY(validate_input(input));
  const int64_t now = clock_.now_ms();
  UpsertResult out;
  std::string prior_status;
  SECPLAT_TRY(db_.transact([&](store::Tx& tx) { return upsert_in(tx, input, actor, now, out, prior_status); }));
  announce_upsert(out, prior_status);
  return out;
}

void FindingsService::upsert_async(FindingInput input, auth::Actor actor,
                                   std::function<void(Result<UpsertResult>)> done) {
  if (Status valid = validate_input(input); !valid.ok()) return done(valid.error());
  struct State {
    FindingInput input;
    auth::Actor actor;
    int64_t now = 0;
    UpsertResult out;
    std::string prior_status;
  };
  auto state = std::make_shared<State>(State{std::move(input), std::move(actor), clock_.now_ms(), {}, {}});
  db_.transact_async(
      [this, state](store::Tx& tx) {
        state->out = UpsertResult{};  // a run may be a second one (see Db::transact_async)
        return upsert_in(tx, state->input, state->actor, state->now, state->out, state->prior_status);
      },
      [this, state, done = std::move(done)](Status st) {
        if (!st.ok()) return done(st.error());
        if (announcer_)
          if (auto events = wanted(upsert_events(state->out, state->prior_status)); !events.empty())
            announcer_->post(std::move(events));
        done(std::move(state->out));
      });
}

Result<Finding> FindingsService::get(int64_t finding_id) {
  const int64_t now = clock_.now_ms();
  auto rows = db_.query(kSelect + " WHERE f.finding_id = $1", {finding_id});
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return Error::not_found("Finding not found");
  return to_finding(rows->front(), now);
}

Result<FindingPage> FindingsService::list(const FindingFilter& filter) {
  const int64_t now = clock_.now_ms();
  store::Params params;
  std::string where = " WHERE 1 = 1";
  auto add = [&](const std::string& expr, store::Value v) {
    params.push_back(std::move(v));
    where += " AND " + expr + " $" + std::to_string(params.size());
  };
  // Only the finding's own columns in the filter: the count needs no join (asset_id is a NOT NULL
  // foreign key, so every finding has its asset), which on PostgreSQL was most of a page's cost.
  if (filter.asset_key) {
    add("f.asset_id = (SELECT asset_id FROM assets WHERE asset_key =", *filter.asset_key);
    where += ")";
  }
  if (filter.status) {
    params.push_back(now);
    add(effective_status("$" + std::to_string(params.size())) + " =", *filter.status);
  }
  if (filter.severity) add("f.severity =", *filter.severity);
  if (filter.source) add("f.source =", *filter.source);
  if (filter.risk_level) add("f.risk_level =", *filter.risk_level);
  if (filter.q && !filter.q->empty()) {
    std::string pattern = store::like_contains(*filter.q);
    params.push_back(pattern);
    const std::string n = "$" + std::to_string(params.size());
    where += " AND (LOWER(f.title) LIKE " + n + " ESCAPE '\\' OR LOWER(f.finding_key) LIKE " + n +
             " ESCAPE '\\' OR LOWER(COALESCE(f.vulnerability_id, '')) LIKE " + n + " ESCAPE '\\')";
  }
  FindingPage page;
  auto count = db_.query("SELECT COUNT(*) AS n FROM findings f" + where, params);
  if (!count.ok()) return std::move(count).take_error();
  page.total = count->front().i64("n");
  params.push_back(filter.limit);
  params.push_back(filter.offset);
  const std::string paging = " ORDER BY f.last_seen DESC, f.finding_id DESC LIMIT $" +
                             std::to_string(params.size() - 1) + " OFFSET $" + std::to_string(params.size());
  auto rows = db_.query(kSelect + where + paging, params);
  if (!rows.ok()) return std::move(rows).take_error();
  for (const auto& r : *rows) page.items.push_back(to_finding(r, now));
  return page;
}

Result<Finding> FindingsService::set_status(int64_t finding_id, std::string_view status, const auth::Actor& actor) {
  const std::string to(status);
  if (!is_valid_status(to)) {
    return Error::invalid({"body", "status"},
                          "Invalid status. Use one of: open, in_progress, remediated, accepted_risk");
  }
  if (to == "accepted_risk") {
    return Error::invalid({"body", "status"},
                          "accepted_risk needs a reason and an expiry: use POST /findings/{id}/accept-risk");
  }
  const int64_t now = clock_.now_ms();
  Finding out;
  bool changed = false;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    changed = false;
    auto cur = load(tx, finding_id, now);
    if (!cur.ok()) return std::move(cur).take_error();
    const std::string from = cur->status;
    if (from == to) {
      out = std::move(*cur);
      return ok_status();
    }
    if (!transition_allowed(from, to)) return transition_error(from, to);
    auto n = tx.exec("UPDATE findings SET status = $1 WHERE finding_id = $2", {to, finding_id});
    if (!n.ok()) return std::move(n).take_error();
    auto f = rescore_and_load(tx, finding_id, now);
    if (!f.ok()) return std::move(f).take_error();
    out = std::move(*f);
    changed = true;
    return audit_in(audit_, tx, "finding_status", actor, out.asset_key,
                    {{"finding_id", finding_id}, {"finding_key", out.finding_key}, {"from", from}, {"status", to}});
  });
  if (!st.ok()) return std::move(st).take_error();
  if (changed) announce({event_of("finding.updated", out)});
  return out;
}

Result<Finding> FindingsService::accept_risk(int64_t finding_id, const std::string& reason, int64_t expires_ms,
                                             const auth::Actor& actor) {
  if (reason.empty()) return Error::invalid({"body", "reason"}, "Field required");
  const int64_t now = clock_.now_ms();
  if (expires_ms <= now) return Error::invalid({"body", "expires_at"}, "expires_at must be in the future");
  Finding out;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    auto cur = load(tx, finding_id, now);
    if (!cur.ok()) return std::move(cur).take_error();
    if (cur->status != "open" && cur->status != "in_progress") return transition_error(cur->status, "accepted_risk");
    auto n = tx.exec(
        "UPDATE findings SET status = 'accepted_risk', accepted_risk_at = $1, accepted_risk_expires_at = $2, "
        "accepted_risk_reason = $3, accepted_risk_by = $4 WHERE finding_id = $5",
        {now, expires_ms, reason, actor.user_name, finding_id});
    if (!n.ok()) return std::move(n).take_error();
    auto f = rescore_and_load(tx, finding_id, now);
    if (!f.ok()) return std::move(f).take_error();
    out = std::move(*f);
    return audit_in(audit_, tx, "accept_risk", actor, out.asset_key,
                    {{"finding_id", finding_id}, {"reason", reason.substr(0, 100)},
                     {"expires_at", format_rfc3339(expires_ms)}});
  });
  if (!st.ok()) return std::move(st).take_error();
  announce({event_of("finding.updated", out)});
  return out;
}

Result<int64_t> FindingsService::expire_accepted_risks(int64_t now_ms) {
  int64_t count = 0;
  std::vector<FindingEvent> events;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    count = 0;
    events.clear();
    auto rows = tx.query(
        "SELECT f.finding_id, f.finding_key, f.title, f.severity, f.source, a.asset_key, f.accepted_risk_expires_at "
        "FROM findings f "
        "JOIN assets a ON a.asset_id = f.asset_id "
        "WHERE f.status = 'accepted_risk' AND f.accepted_risk_expires_at <= $1",
        {now_ms});
    if (!rows.ok()) return std::move(rows).take_error();
    for (const auto& r : *rows) {
      const int64_t id = r.i64("finding_id");
      auto n = tx.exec("UPDATE findings SET status = 'open' WHERE finding_id = $1", {id});
      if (!n.ok()) return std::move(n).take_error();
      SECPLAT_TRY(rescore(tx, id, now_ms));
      SECPLAT_TRY(audit_.append(tx, "accept_risk.expired", "system", r.str("asset_key"),
                                Json{{"finding_id", id}, {"finding_key", r.str("finding_key")},
                                     {"expired_at", format_rfc3339(r.i64("accepted_risk_expires_at"))}},
                                ""));
      ++count;
      events.push_back({"finding.updated", r.str("asset_key"), r.str("finding_key"), r.str("title"),
                        r.str("severity"), "open", r.str("source"), id});
    }
    return ok_status();
  });
  if (!st.ok()) return std::move(st).take_error();
  announce(events);
  return count;
}

Status FindingsService::recompute_risk_for_asset(int64_t asset_id) {
  const int64_t now = clock_.now_ms();
  return db_.transact([&](store::Tx& tx) -> Status {
    auto rows = tx.query("SELECT finding_id FROM findings WHERE asset_id = $1", {asset_id});
    if (!rows.ok()) return std::move(rows).take_error();
    for (const auto& r : *rows) SECPLAT_TRY(rescore(tx, r.i64("finding_id"), now));
    return ok_status();
  });
}

Result<SarifImportResult> FindingsService::import_sarif(const std::string& asset_key, const Json& sarif_log,
                                                        const std::string& source, const auth::Actor& actor) {
  if (asset_key.empty()) return Error::invalid({"body", "asset_key"}, "Field required");
  auto parsed = read_sarif(sarif_log);
  if (!parsed.ok()) return std::move(parsed).take_error();
  std::string src = source;
  if (src.empty()) src = parsed->tool_name.empty() ? "sarif" : lower(parsed->tool_name);
  for (std::size_t i = 0; i < parsed->items.size(); ++i)
    parsed->items[i].finding_key = sarif_finding_key(src, parsed->key_basis[i]);
  return reconcile(asset_key, src, std::move(parsed->items), actor, "finding.import");
}

Result<SarifImportResult> FindingsService::reconcile(const std::string& asset_key, const std::string& src,
                                                     std::vector<FindingInput> items, const auth::Actor& actor,
                                                     const std::string& audit_action,
                                                     const std::vector<std::string>& undecided) {
  if (asset_key.empty()) return Error::invalid({"body", "asset_key"}, "Field required");
  const int64_t now = clock_.now_ms();
  SarifImportResult out;
  out.total = static_cast<int64_t>(items.size());
  std::vector<FindingEvent> events;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    out = SarifImportResult{};
    out.total = static_cast<int64_t>(items.size());
    events.clear();
    auto asset_id = asset_id_of(tx, asset_key);
    if (!asset_id.ok()) return std::move(asset_id).take_error();
    std::set<std::string> seen(undecided.begin(), undecided.end());
    for (auto& in : items) {
      in.asset_key = asset_key;
      in.source = src;
      if (!seen.insert(in.finding_key).second) {  // the same result twice in one set
        ++out.unchanged;
        continue;
      }
      auto prior = tx.query(
          "SELECT title, severity, evidence, remediation, category, scanner_metadata_json, status FROM findings "
          "WHERE asset_id = $1 AND finding_key = $2",
          {*asset_id, in.finding_key});
      if (!prior.ok()) return std::move(prior).take_error();
      auto up = upsert_in_tx(tx, db_.dialect(), *asset_id, in, now);
      if (!up.ok()) return std::move(up).take_error();
      SECPLAT_TRY(rescore(tx, up->finding_id, now));
      if (up->created) {
        ++out.created;
        events.push_back({"finding.created", asset_key, in.finding_key, in.title, in.severity.value_or("medium"),
                          "open", src, up->finding_id});
      } else {
        const store::Row& p = prior->front();
        const bool same = p.str("status") != "remediated" && p.str("title") == in.title &&
                          p.str("severity") == in.severity.value_or("") &&
                          p.str("evidence") == in.evidence.value_or(p.str("evidence")) &&
                          p.str("remediation") == in.remediation.value_or(p.str("remediation")) &&
                          p.str("category") == in.category.value_or(p.str("category")) &&
                          p.str("scanner_metadata_json") == in.scanner_metadata_json.value_or("{}");
        ++(same ? out.unchanged : out.updated);
        if (p.str("status") == "remediated")  // seen again: reopened
          events.push_back({"finding.updated", asset_key, in.finding_key, in.title, in.severity.value_or(p.str("severity")),
                            "open", src, up->finding_id});
      }
    }
    // Auto-remediation: what this source reported before on this asset but not now is gone.
    auto stale = tx.query(
        "SELECT finding_id, finding_key, title, severity FROM findings WHERE asset_id = $1 AND source = $2 AND "
        "status <> 'remediated'",
        {*asset_id, src});
    if (!stale.ok()) return std::move(stale).take_error();
    for (const auto& r : *stale) {
      if (seen.count(r.str("finding_key"))) continue;
      auto n = tx.exec("UPDATE findings SET status = 'remediated' WHERE finding_id = $1", {r.i64("finding_id")});
      if (!n.ok()) return std::move(n).take_error();
      SECPLAT_TRY(rescore(tx, r.i64("finding_id"), now));
      ++out.remediated;
      events.push_back({"finding.updated", asset_key, r.str("finding_key"), r.str("title"), r.str("severity"),
                        "remediated", src, r.i64("finding_id")});
    }
    return audit_in(audit_, tx, audit_action, actor, asset_key,
                    {{"asset_key", asset_key}, {"source", src}, {"created", out.created}, {"updated", out.updated},
                     {"unchanged", out.unchanged}, {"remediated", out.remediated}, {"total", out.total}});
  });
  if (!st.ok()) return std::move(st).take_error();
  announce(events);
  return out;
}

}  // namespace secplat::findings
