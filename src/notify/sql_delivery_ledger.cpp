#include "notify/sql_delivery_ledger.h"

#include <algorithm>
#include <string_view>

#include "core/ids.h"

namespace secplat::notify {
namespace {

constexpr const char* kDeliveriesSql =
    "CREATE TABLE notify_deliveries ("
    " id TEXT PRIMARY KEY,"
    " event_id TEXT NOT NULL,"
    " event_type TEXT NOT NULL,"
    " dedupe_key TEXT NOT NULL,"
    " asset_key TEXT NOT NULL DEFAULT '',"
    " channel TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " attempts BIGINT NOT NULL DEFAULT 0,"
    " http_status BIGINT NOT NULL DEFAULT 0,"
    " error TEXT NOT NULL DEFAULT '',"
    " remote_id TEXT NOT NULL DEFAULT '',"
    " created_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL,"
    " UNIQUE (event_id, channel));"
    "CREATE INDEX notify_deliveries_dedupe ON notify_deliveries (asset_key, channel, created_at);"
    "CREATE INDEX notify_deliveries_created ON notify_deliveries (created_at)";

// The digest's one line per held message, and the reminder's title.
constexpr const char* kSummarySql =
    "ALTER TABLE notify_deliveries ADD COLUMN summary TEXT NOT NULL DEFAULT '';"
    "CREATE INDEX notify_deliveries_channel_status ON notify_deliveries (channel, status)";

Delivery to_delivery(const store::Row& r) {
  Delivery d;
  d.id = r.str("id");
  d.event_id = r.str("event_id");
  d.event_type = r.str("event_type");
  d.dedupe_key = r.str("dedupe_key");
  d.channel = r.str("channel");
  d.status = r.str("status");
  d.attempts = r.i64("attempts");
  d.http_status = r.i64("http_status");
  d.error = r.str("error");
  d.remote_id = r.str("remote_id");
  d.created_ms = r.i64("created_at");
  d.updated_ms = r.i64("updated_at");
  return d;
}

// Inserts the record of (event_id, channel); `on_conflict` says what an existing one becomes.
Result<int64_t> insert(store::Db& db, const char* on_conflict, const DeliveryRecord& r, int64_t now_ms) {
  return db.exec(
      std::string("INSERT INTO notify_deliveries (id, event_id, event_type, dedupe_key, channel, status, attempts, "
                  "http_status, error, remote_id, created_at, updated_at, asset_key, summary) VALUES ($1, $2, $3, $4, "
                  "$5, $6, $7, $8, $9, $10, $11, $11, $12, $13) ") +
          on_conflict,
      {new_uuid(), r.event_id, r.event_type, r.dedupe_key, r.channel, r.status, r.attempts, r.http_status, r.error,
       r.remote_id, now_ms, r.asset_key, r.summary});
}

}  // namespace

std::vector<store::Migration> notify_migrations() {
  return {{800, "notify_deliveries", kDeliveriesSql, kDeliveriesSql},
          {801, "notify_deliveries_summary", kSummarySql, kSummarySql}};
}

Result<std::optional<std::string>> SqlDeliveryLedger::status_of(const std::string& event_id,
                                                                const std::string& channel) {
  auto rows = db_.query("SELECT status FROM notify_deliveries WHERE event_id = $1 AND channel = $2", {event_id, channel});
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return std::optional<std::string>();
  return std::optional<std::string>((*rows)[0].str("status"));
}

Result<bool> SqlDeliveryLedger::sent_duplicate(const std::string& asset_key, const std::string& channel,
                                               const std::string& event_id, const std::string& dedupe_key,
                                               int64_t since_ms) {
  auto rows = db_.query(
      "SELECT 1 AS hit FROM notify_deliveries d WHERE d.asset_key = $1 AND d.channel = $2 AND d.status = 'sent' "
      "AND d.event_id <> $3 AND d.dedupe_key = $4 AND d.created_at >= $5 AND NOT EXISTS (SELECT 1 FROM "
      "notify_deliveries o WHERE o.asset_key = $1 AND o.channel = $2 AND o.status = 'sent' AND "
      "o.dedupe_key <> $4 AND o.created_at >= d.created_at) LIMIT 1",
      {asset_key, channel, event_id, dedupe_key, since_ms});
  if (!rows.ok()) return std::move(rows).take_error();
  return !rows->empty();
}

Status SqlDeliveryLedger::record(const DeliveryRecord& r, int64_t now_ms) {
  auto w = insert(db_,
                  "ON CONFLICT (event_id, channel) DO UPDATE SET status = excluded.status, "
                  "attempts = notify_deliveries.attempts + excluded.attempts, http_status = excluded.http_status, "
                  "error = excluded.error, remote_id = excluded.remote_id, updated_at = excluded.updated_at",
                  r, now_ms);
  if (!w.ok()) return std::move(w).take_error();
  return ok_status();
}

Result<bool> SqlDeliveryLedger::claim(const DeliveryRecord& r, int64_t now_ms) {
  auto w = insert(db_, "ON CONFLICT (event_id, channel) DO NOTHING", r, now_ms);
  if (!w.ok()) return std::move(w).take_error();
  return *w > 0;
}

Status SqlDeliveryLedger::give_up(const std::string& event_id, int64_t now_ms) {
  auto w = db_.exec(
      "UPDATE notify_deliveries SET status = 'failed', updated_at = $2 WHERE event_id = $1 "
      "AND status IN ('retrying', 'rate_limited')",
      {event_id, now_ms});
  if (!w.ok()) return std::move(w).take_error();
  return ok_status();
}

Result<std::optional<std::string>> SqlDeliveryLedger::remote_id_for(const std::string& channel,
                                                                    const std::string& incident_id) {
  auto rows = db_.query(
      "SELECT remote_id FROM notify_deliveries WHERE channel = $1 AND dedupe_key IN ($2, $3) AND status = 'sent' "
      "AND remote_id <> '' ORDER BY created_at, id LIMIT 1",
      {channel, "incident:" + incident_id + ":firing", "incident:" + incident_id + ":resolved"});
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return std::optional<std::string>();
  return std::optional<std::string>((*rows)[0].str("remote_id"));
}

Status SqlDeliveryLedger::release_stale_digests(int64_t stale_before_ms, int64_t now_ms) {
  auto w = db_.exec(
      "UPDATE notify_deliveries SET status = 'digest_pending', error = '', updated_at = $1 "
      "WHERE status = 'digest_sending' AND updated_at < $2",
      {now_ms, stale_before_ms});
  if (!w.ok()) return std::move(w).take_error();
  return ok_status();
}

Result<bool> SqlDeliveryLedger::has_held(const std::string& channel) {
  auto rows = db_.query(
      "SELECT 1 AS hit FROM notify_deliveries WHERE channel = $1 AND status = 'digest_pending' LIMIT 1", {channel});
  if (!rows.ok()) return std::move(rows).take_error();
  return !rows->empty();
}

Result<std::vector<HeldMessage>> SqlDeliveryLedger::claim_digest(const std::string& channel,
                                                                 const std::string& digest_id, int64_t now_ms) {
  // The claim is the digest id in `error` while the row is `digest_sending`.
  auto w = db_.exec(
      "UPDATE notify_deliveries SET status = 'digest_sending', error = $2, updated_at = $3 "
      "WHERE channel = $1 AND status = 'digest_pending'",
      {channel, digest_id, now_ms});
  if (!w.ok()) return std::move(w).take_error();
  auto rows = db_.query(
      "SELECT summary, event_id FROM notify_deliveries WHERE channel = $1 AND status = 'digest_sending' AND error = $2 "
      "ORDER BY created_at, id",
      {channel, digest_id});
  if (!rows.ok()) return std::move(rows).take_error();
  std::vector<HeldMessage> held;
  held.reserve(rows->size());
  for (const auto& r : *rows) held.push_back({r.str("event_id"), r.str("summary")});
  return held;
}

Status SqlDeliveryLedger::finish_digest(const std::string& channel, const std::string& digest_id,
                                        const std::string& status, int64_t http_status, const std::string& error,
                                        int64_t now_ms) {
  auto w = db_.exec(
      "UPDATE notify_deliveries SET status = $1, attempts = attempts + 1, http_status = $2, error = $3, "
      "remote_id = $4, updated_at = $5 WHERE channel = $6 AND status = 'digest_sending' AND error = $7",
      {status, http_status, error, status == "sent_in_digest" ? digest_id : std::string(), now_ms, channel, digest_id});
  if (!w.ok()) return std::move(w).take_error();
  return ok_status();
}

Result<std::vector<ReminderDue>> SqlDeliveryLedger::reminders_due(int64_t horizon_ms, int64_t due_ms) {
  // Only recent history is scanned: a reminder is itself a firing row, so a live incident always
  // has one.
  auto rows = db_.query(
      "SELECT dedupe_key, channel, MAX(created_at) AS last_ms FROM notify_deliveries "
      "WHERE dedupe_key LIKE 'incident:%:firing' AND status IN ('sent', 'sent_in_digest') AND created_at >= $1 "
      "GROUP BY dedupe_key, channel HAVING MAX(created_at) <= $2",
      {horizon_ms, due_ms});
  if (!rows.ok()) return std::move(rows).take_error();
  std::vector<ReminderDue> due;
  for (const auto& r : *rows) {
    ReminderDue d;
    d.dedupe_key = r.str("dedupe_key");
    d.channel = r.str("channel");
    d.last_ms = r.i64("last_ms");
    const std::string base = d.dedupe_key.substr(0, d.dedupe_key.size() - std::string_view(":firing").size());
    auto ended = db_.query(
        "SELECT 1 AS hit FROM notify_deliveries WHERE channel = $1 AND dedupe_key IN ($2, $3) AND created_at >= $4 "
        "LIMIT 1",
        {d.channel, base + ":resolved", base + ":closed", d.last_ms});
    if (!ended.ok()) return std::move(ended).take_error();
    if (!ended->empty()) continue;
    auto latest = db_.query(
        "SELECT summary, asset_key FROM notify_deliveries WHERE channel = $1 AND dedupe_key = $2 AND "
        "created_at = $3 ORDER BY id LIMIT 1",
        {d.channel, d.dedupe_key, d.last_ms});
    if (!latest.ok()) return std::move(latest).take_error();
    if (latest->empty()) continue;
    d.summary = (*latest)[0].str("summary");
    d.asset_key = (*latest)[0].str("asset_key");
    due.push_back(std::move(d));
  }
  return due;
}

Result<DeliveryPage> SqlDeliveryLedger::list(const DeliveryFilter& filter) {
  std::string where = " WHERE 1 = 1";
  store::Params params;
  auto add = [&](const char* column, const std::optional<std::string>& v) {
    if (!v) return;
    params.push_back(*v);
    where += std::string(" AND ") + column + " = $" + std::to_string(params.size());
  };
  add("channel", filter.channel);
  add("status", filter.status);
  add("event_id", filter.event_id);

  auto total = db_.query("SELECT COUNT(*) AS n FROM notify_deliveries" + where, params);
  if (!total.ok()) return std::move(total).take_error();
  const int64_t limit = std::clamp<int64_t>(filter.limit, 0, 1000);
  const int64_t offset = std::max<int64_t>(filter.offset, 0);
  // Clamped integers, written into the text (binding them trips GCC 12's maybe-uninitialized here).
  auto rows = db_.query("SELECT * FROM notify_deliveries" + where + " ORDER BY created_at DESC, id DESC LIMIT " +
                            std::to_string(limit) + " OFFSET " + std::to_string(offset),
                        params);
  if (!rows.ok()) return std::move(rows).take_error();
  DeliveryPage page;
  page.total = (*total)[0].i64("n");
  for (const auto& r : *rows) page.items.push_back(to_delivery(r));
  return page;
}

}  // namespace secplat::notify
