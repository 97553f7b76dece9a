#include "posture/index/opensearch_mirror.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "core/json.h"
#include "core/log.h"
#include "http/client.h"
#include "posture/events.h"
#include "posture/index/opensearch_docs.h"
#include "posture/status_row.h"

namespace secplat::posture::opensearch {
namespace {

constexpr const char* kEventsCursor = "opensearch.events";
constexpr const char* kStatusCursor = "opensearch.status";
constexpr int kMaxRejectionLogsPerRequest = 5;

// The inventory columns a status document copies, joined to asset_status (a removed asset's row
// is about to be deleted by the deriver: it is not mirrored).
constexpr const char* kStatusSelect =
    "SELECT s.*, a.name AS a_name, a.type AS a_type, a.environment AS a_environment, a.owner AS a_owner, "
    "a.owner_team AS a_owner_team, a.criticality AS a_criticality "
    "FROM asset_status s JOIN assets a ON a.asset_key = s.asset_key ";

AssetFields asset_fields(const store::Row& r) {
  AssetFields a;
  a.name = r.str("a_name");
  a.type = r.str("a_type");
  a.environment = r.str("a_environment", "dev");
  a.owner = r.str("a_owner");
  a.owner_team = r.str("a_owner_team");
  a.criticality = r.str("a_criticality", "medium");
  return a;
}

// error.type / error.reason of an OpenSearch error document, for logs ("" when absent).
std::string error_summary(const std::string& body) {
  Json j = Json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("error")) return "";
  const Json& e = j["error"];
  if (e.is_string()) return e.get<std::string>().substr(0, 300);
  if (!e.is_object()) return "";
  std::string out = e.value("type", "");
  const std::string reason = e.value("reason", "");
  if (!reason.empty()) out += (out.empty() ? "" : ": ") + reason.substr(0, 300);
  return out;
}

}  // namespace

struct Mirror::Counters {
  Counter* events_indexed = nullptr;
  Counter* events_failed = nullptr;
  Counter* status_indexed = nullptr;
  Counter* status_failed = nullptr;
  Counter* req_ok = nullptr;
  Counter* req_item_errors = nullptr;
  Counter* req_http_error = nullptr;
  Counter* req_transport_error = nullptr;
  Gauge* lag_seconds = nullptr;
};

Mirror::Mirror(store::Db& db, const Clock& clock, MirrorOptions options)
    : db_(db), clock_(clock), opt_(std::move(options)), counters_(std::make_unique<Counters>()) {
  base_url_ = opt_.url;
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  opt_.batch_size = std::max<int64_t>(1, opt_.batch_size);
  chunk_ = static_cast<std::size_t>(opt_.batch_size);
  rng_state_ = std::random_device{}();
  if (Metrics* m = opt_.metrics) {
    const char* docs_help = "Documents sent to OpenSearch by the posture mirror, by index and outcome";
    const char* req_help = "Requests to OpenSearch by the posture mirror, by outcome";
    auto& c = *counters_;
    c.events_indexed = &m->counter("secplat_opensearch_docs_total", docs_help,
                                   {{"index", std::string(kEventsIndex)}, {"outcome", "indexed"}});
    c.events_failed = &m->counter("secplat_opensearch_docs_total", docs_help,
                                  {{"index", std::string(kEventsIndex)}, {"outcome", "failed"}});
    c.status_indexed = &m->counter("secplat_opensearch_docs_total", docs_help,
                                   {{"index", std::string(kStatusIndex)}, {"outcome", "indexed"}});
    c.status_failed = &m->counter("secplat_opensearch_docs_total", docs_help,
                                  {{"index", std::string(kStatusIndex)}, {"outcome", "failed"}});
    c.req_ok = &m->counter("secplat_opensearch_requests_total", req_help, {{"outcome", "ok"}});
    c.req_item_errors = &m->counter("secplat_opensearch_requests_total", req_help, {{"outcome", "item_errors"}});
    c.req_http_error = &m->counter("secplat_opensearch_requests_total", req_help, {{"outcome", "http_error"}});
    c.req_transport_error =
        &m->counter("secplat_opensearch_requests_total", req_help, {{"outcome", "transport_error"}});
    c.lag_seconds = &m->gauge("secplat_opensearch_lag_seconds",
                              "Age of the oldest health event not yet mirrored to OpenSearch (0 = caught up)");
  }
}

Mirror::~Mirror() { stop(); }

bool Mirror::stopping() {
  std::lock_guard lk(mu_);
  return stop_;
}

bool Mirror::wait_ms(int64_t ms) {
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, std::chrono::milliseconds(std::max<int64_t>(0, ms)), [&] { return stop_; });
  return !stop_;
}

// Equal jitter: a delay in [d/2, d], d = min(max, base·2^(attempt-1)).
int64_t Mirror::backoff(int attempt) {
  int64_t d = opt_.backoff_base_ms;
  for (int i = 1; i < attempt && d < opt_.backoff_max_ms; ++i) d *= 2;
  d = std::min(d, opt_.backoff_max_ms);
  rng_state_ = rng_state_ * 6364136223846793005ULL + 1442695040888963407ULL;
  const int64_t half = d / 2;
  return half + static_cast<int64_t>((rng_state_ >> 33) % static_cast<uint64_t>(d - half + 1));
}

void Mirror::update_lag() {
  if (!counters_->lag_seconds) return;
  const int64_t lag = oldest_unsent_ms_ > 0 ? std::max<int64_t>(0, clock_.now_ms() - oldest_unsent_ms_) : 0;
  counters_->lag_seconds->set(static_cast<double>(lag) / 1000.0);
}

Status Mirror::put_template(const std::string& name, const std::string& body) {
  for (int attempt = 1;; ++attempt) {
    if (stopping()) return Error::unavailable("opensearch mirror stopping");
    http::ClientRequest req;
    req.method = "PUT";
    req.url = base_url_ + "/_index_template/" + name;
    req.headers = {{"Content-Type", "application/json"}};
    req.body = body;
    req.timeout_ms = opt_.timeout_ms;
    req.connect_timeout_ms = std::min<int64_t>(opt_.timeout_ms, 5000);
    if (!opt_.username.empty()) req.userpwd = opt_.username + ":" + opt_.password;
    auto r = http::perform(req);
    std::string problem;
    if (!r.ok()) {
      if (counters_->req_transport_error) counters_->req_transport_error->inc();
      problem = r.error().message;
    } else if (r->status >= 200 && r->status < 300) {
      if (counters_->req_ok) counters_->req_ok->inc();
      log::info("opensearch index template in place", {log::str("template", name)});
      return ok_status();
    } else {
      if (counters_->req_http_error) counters_->req_http_error->inc();
      problem = "HTTP " + std::to_string(r->status);
      if (auto e = error_summary(r->body); !e.empty()) problem += ": " + e;
    }
    const int64_t delay = backoff(attempt);
    log::warn("opensearch index template not created; retrying",
              {log::str("template", name), log::str("host", http::url_host(base_url_)), log::str("error", problem),
               log::integer("attempt", attempt), log::integer("retry_in_ms", delay)});
    if (!wait_ms(delay)) return Error::unavailable("opensearch mirror stopping");
  }
}

Status Mirror::ensure_templates() {
  if (templates_ready_) return ok_status();
  SECPLAT_TRY(put_template(std::string(kEventsIndex), events_index_template()));
  SECPLAT_TRY(put_template(std::string(kStatusIndex), status_index_template()));
  templates_ready_ = true;
  return ok_status();
}

Result<std::vector<ItemResult>> Mirror::send_bulk(const std::vector<const BulkItem*>& items, long& http_status) {
  http_status = 0;
  std::string body;
  {
    std::vector<BulkItem> copy;  // bulk_body takes values; documents are small
    copy.reserve(items.size());
    for (const auto* it : items) copy.push_back(*it);
    body = bulk_body(copy);
  }
  http::ClientRequest req;
  req.method = "POST";
  req.url = base_url_ + "/_bulk";
  req.headers = {{"Content-Type", "application/x-ndjson"}};
  req.body = std::move(body);
  req.timeout_ms = opt_.timeout_ms;
  req.connect_timeout_ms = std::min<int64_t>(opt_.timeout_ms, 5000);
  if (!opt_.username.empty()) req.userpwd = opt_.username + ":" + opt_.password;
  auto r = http::perform(req);
  if (!r.ok()) {
    if (counters_->req_transport_error) counters_->req_transport_error->inc();
    return std::move(r).take_error();
  }
  http_status = r->status;
  if (r->status < 200 || r->status >= 300) {
    if (counters_->req_http_error) counters_->req_http_error->inc();
    std::string msg = "HTTP " + std::to_string(r->status);
    if (auto e = error_summary(r->body); !e.empty()) msg += ": " + e;
    return Error::unavailable(msg);
  }
  auto parsed = parse_bulk_response(r->body, items.size());
  if (!parsed.ok()) {
    if (counters_->req_http_error) counters_->req_http_error->inc();
    return parsed;
  }
  const bool all_ok = std::all_of(parsed->begin(), parsed->end(),
                                  [](const ItemResult& x) { return x.outcome == ItemOutcome::indexed; });
  if (Counter* c = all_ok ? counters_->req_ok : counters_->req_item_errors) c->inc();
  return parsed;
}

// Sends every item until each one is indexed or refused for good. After every request,
// on_progress gets the length of the prefix of `items` that is final (it moves the cursor).
Status Mirror::ship(const std::vector<BulkItem>& items, std::vector<ItemResult>& results,
                    const std::function<Status(std::size_t)>& on_progress) {
  results.assign(items.size(), ItemResult{ItemOutcome::retry, 0, {}, {}});
  std::size_t prefix = 0;
  int attempt = 0;
  while (prefix < items.size()) {
    if (stopping()) return Error::unavailable("opensearch mirror stopping");
    std::vector<std::size_t> idx;
    for (std::size_t i = prefix; i < items.size() && idx.size() < chunk_; ++i)
      if (results[i].outcome == ItemOutcome::retry) idx.push_back(i);
    std::vector<const BulkItem*> send;
    send.reserve(idx.size());
    for (std::size_t i : idx) send.push_back(&items[i]);
    long status = 0;
    auto r = send_bulk(send, status);
    bool retry_later = false;
    if (!r.ok()) {
      if (status == 413 && idx.size() > 1) {
        chunk_ = std::max<std::size_t>(1, idx.size() / 2);
        log::warn("opensearch bulk request too large; sending smaller requests",
                  {log::integer("items_per_request", static_cast<int64_t>(chunk_))});
        continue;
      }
      if (status == 413) {  // one document alone is too large: it never fits
        results[idx[0]] = ItemResult{ItemOutcome::failed, 413, "request_entity_too_large", "document too large"};
      } else {
        ++attempt;
        const int64_t delay = backoff(attempt);
        log::warn("opensearch bulk request failed; retrying",
                  {log::str("host", http::url_host(base_url_)), log::str("error", r.error().message),
                   log::integer("items", static_cast<int64_t>(idx.size())), log::integer("attempt", attempt),
                   log::integer("retry_in_ms", delay)});
        update_lag();
        if (!wait_ms(delay)) return Error::unavailable("opensearch mirror stopping");
        continue;
      }
    } else {
      int logged = 0, rejected = 0;
      for (std::size_t k = 0; k < idx.size(); ++k) {
        const ItemResult& res = (*r)[k];
        results[idx[k]] = res;
        if (res.outcome == ItemOutcome::retry) retry_later = true;
        if (res.outcome != ItemOutcome::failed) continue;
        ++rejected;
        if (logged++ < kMaxRejectionLogsPerRequest)
          log::warn("opensearch refused a document",
                    {log::str("index", items[idx[k]].index), log::str("_id", items[idx[k]].id),
                     log::integer("status", res.status), log::str("error_type", res.error_type),
                     log::str("reason", res.error_reason)});
      }
      if (rejected > kMaxRejectionLogsPerRequest)
        log::warn("opensearch refused more documents",
                  {log::integer("not_logged", rejected - kMaxRejectionLogsPerRequest)});
    }
    // Count outcomes that became final in this round.
    for (std::size_t i : idx) {
      const ItemResult& res = results[i];
      if (res.outcome == ItemOutcome::retry) continue;
      const bool events = items[i].index == kEventsIndex;
      Counter* c = res.outcome == ItemOutcome::indexed ? (events ? counters_->events_indexed : counters_->status_indexed)
                                                       : (events ? counters_->events_failed : counters_->status_failed);
      if (c) c->inc();
    }
    const std::size_t before = prefix;
    while (prefix < items.size() && results[prefix].outcome != ItemOutcome::retry) ++prefix;
    if (prefix != before) SECPLAT_TRY(on_progress(prefix));
    if (retry_later) {
      ++attempt;
      const int64_t delay = backoff(attempt);
      log::info("opensearch asked to retry some documents",
                {log::integer("attempt", attempt), log::integer("retry_in_ms", delay)});
      update_lag();
      if (!wait_ms(delay)) return Error::unavailable("opensearch mirror stopping");
    } else {
      attempt = 0;
    }
  }
  return ok_status();
}

Status Mirror::load_cursors() {
  if (cursors_loaded_) return ok_status();
  auto rows = db_.query("SELECT name, last_event_id FROM posture_cursor WHERE name IN ($1, $2)",
                        {std::string(kEventsCursor), std::string(kStatusCursor)});
  if (!rows.ok()) return std::move(rows).take_error();
  for (const auto& r : *rows) {
    if (r.str("name") == kEventsCursor) events_cursor_ = r.i64("last_event_id");
    if (r.str("name") == kStatusCursor) status_cursor_ms_ = r.i64("last_event_id");
  }
  // Rows at exactly the persisted ms are sent again after a restart (same _id: harmless).
  status_cursor_key_.clear();
  cursors_loaded_ = true;
  return ok_status();
}

Status Mirror::save_cursor(const char* name, int64_t value) {
  auto n = db_.exec(
      "INSERT INTO posture_cursor (name, last_event_id) VALUES ($1, $2) "
      "ON CONFLICT (name) DO UPDATE SET last_event_id = excluded.last_event_id",
      {std::string(name), value});
  if (!n.ok()) return std::move(n).take_error();
  return ok_status();
}

Result<int64_t> Mirror::events_cursor() {
  auto rows = db_.query("SELECT last_event_id FROM posture_cursor WHERE name = $1", {std::string(kEventsCursor)});
  if (!rows.ok()) return std::move(rows).take_error();
  return rows->empty() ? int64_t{0} : rows->front().i64("last_event_id");
}

// Event ids are assigned in commit order (SQLite has one writer; the PostgreSQL adapter serialises
// writers), so a cursor over event_id never skips an event committed late.
Status Mirror::mirror_events(MirrorPass& pass) {
  EventStore store(db_);
  auto events = store.read_after(events_cursor_, opt_.batch_size);
  if (!events.ok()) return std::move(events).take_error();
  if (events->empty()) {
    oldest_unsent_ms_ = 0;
    update_lag();
    return ok_status();
  }
  pass.more = pass.more || static_cast<int64_t>(events->size()) >= opt_.batch_size;
  oldest_unsent_ms_ = events->front().ts_ms;
  update_lag();
  std::vector<BulkItem> items;
  items.reserve(events->size());
  for (const auto& e : *events)
    items.push_back({std::string(kEventsIndex), std::to_string(e.event_id), event_document(e)});
  std::vector<ItemResult> results;
  Status st = ship(items, results, [&](std::size_t prefix) -> Status {
    const int64_t cursor = (*events)[prefix - 1].event_id;
    SECPLAT_TRY(save_cursor(kEventsCursor, cursor));
    events_cursor_ = cursor;
    oldest_unsent_ms_ = prefix < events->size() ? (*events)[prefix].ts_ms : 0;
    update_lag();
    return ok_status();
  });
  for (const auto& r : results) {
    if (r.outcome == ItemOutcome::indexed) ++pass.events_indexed;
    if (r.outcome == ItemOutcome::failed) ++pass.events_failed;
  }
  return st;
}

// Keyset order (derived_at, asset_key) after the cursor. The deriver stamps every row of a pass
// with the pass's start time and commits them together, so a later pass has a later derived_at.
// A row committed after the cursor passed its ms (two passes in one millisecond, or the wall clock
// stepping back) would be skipped here; the periodic full refresh re-sends it.
Status Mirror::mirror_status_changes(MirrorPass& pass) {
  auto rows = db_.query(std::string(kStatusSelect) +
                            "WHERE s.derived_at > $1 OR (s.derived_at = $1 AND s.asset_key > $2) "
                            "ORDER BY s.derived_at, s.asset_key LIMIT $3",
                        {status_cursor_ms_, status_cursor_key_, opt_.batch_size});
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return ok_status();
  pass.more = pass.more || static_cast<int64_t>(rows->size()) >= opt_.batch_size;
  std::vector<BulkItem> items;
  std::vector<std::pair<int64_t, std::string>> keys;
  items.reserve(rows->size());
  for (const auto& r : *rows) {
    AssetState s = asset_state_from_row(r, false);
    items.push_back({std::string(kStatusIndex), s.asset_key, status_document(s, asset_fields(r), s.derived_at_ms)});
    keys.emplace_back(s.derived_at_ms, s.asset_key);
  }
  std::vector<ItemResult> results;
  Status st = ship(items, results, [&](std::size_t prefix) -> Status {
    const auto& [ms, key] = keys[prefix - 1];
    if (ms != status_cursor_ms_) SECPLAT_TRY(save_cursor(kStatusCursor, ms));
    status_cursor_ms_ = ms;
    status_cursor_key_ = key;
    return ok_status();
  });
  for (const auto& r : results) {
    if (r.outcome == ItemOutcome::indexed) ++pass.status_indexed;
    if (r.outcome == ItemOutcome::failed) ++pass.status_failed;
  }
  return st;
}

Status Mirror::refresh_status(MirrorPass& pass) {
  const int64_t as_of = clock_.now_ms();
  std::string after;
  for (;;) {
    auto rows = db_.query(std::string(kStatusSelect) + "WHERE s.asset_key > $1 ORDER BY s.asset_key LIMIT $2",
                          {after, opt_.batch_size});
    if (!rows.ok()) return std::move(rows).take_error();
    if (rows->empty()) return ok_status();
    std::vector<BulkItem> items;
    items.reserve(rows->size());
    for (const auto& r : *rows) {
      AssetState s = asset_state_from_row(r, false);
      items.push_back({std::string(kStatusIndex), s.asset_key, status_document(s, asset_fields(r), as_of)});
    }
    after = items.back().id;
    std::vector<ItemResult> results;
    SECPLAT_TRY(ship(items, results, [](std::size_t) { return ok_status(); }));
    for (const auto& r : results) {
      if (r.outcome == ItemOutcome::indexed) ++pass.status_indexed;
      if (r.outcome == ItemOutcome::failed) ++pass.status_failed;
    }
    if (static_cast<int64_t>(rows->size()) < opt_.batch_size) return ok_status();
  }
}

Result<MirrorPass> Mirror::run_once(bool refresh) {
  std::lock_guard pass_lock(pass_mu_);
  MirrorPass pass;
  SECPLAT_TRY(ensure_templates());
  SECPLAT_TRY(load_cursors());
  SECPLAT_TRY(mirror_events(pass));
  SECPLAT_TRY(mirror_status_changes(pass));
  if (refresh) SECPLAT_TRY(refresh_status(pass));
  return pass;
}

Status Mirror::start() {
  if (thread_.joinable()) return ok_status();
  {
    std::lock_guard lk(mu_);
    stop_ = false;
  }
  log::info("opensearch mirror started", {log::str("host", http::url_host(base_url_)),
                                          log::integer("batch_size", opt_.batch_size)});
  thread_ = std::thread([this] { loop(); });
  return ok_status();
}

void Mirror::stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void Mirror::loop() {
  int64_t next_refresh = steady_ms();  // a first refresh right after the first catch-up pass
  int failures = 0;
  while (!stopping()) {
    const bool refresh = steady_ms() >= next_refresh;
    auto r = run_once(refresh);
    if (stopping()) return;
    if (!r.ok()) {
      // The store failed (or a cursor could not be written): the batch is read again later.
      ++failures;
      const int64_t delay = std::max(opt_.flush_interval_ms, backoff(failures));
      log::warn("opensearch mirror pass failed", {log::str("error", r.error().message),
                                                  log::integer("retry_in_ms", delay)});
      if (!wait_ms(delay)) return;
      continue;
    }
    failures = 0;
    if (refresh) next_refresh = steady_ms() + opt_.status_refresh_ms;
    if (r->more) continue;
    if (!wait_ms(opt_.flush_interval_ms)) return;
  }
}

}  // namespace secplat::posture::opensearch
