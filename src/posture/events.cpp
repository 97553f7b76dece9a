#include "posture/events.h"

namespace secplat::posture {
namespace {

constexpr const char* kColumns =
    "event_id, asset_key, ts, service, status, code, latency_ms, error_class, error, tls_version, cert_not_after, "
    "remote_ip";

HealthEvent from_row(const store::Row& r) {
  HealthEvent e;
  e.event_id = r.i64("event_id");
  e.asset_key = r.str("asset_key");
  e.ts_ms = r.i64("ts");
  e.service = r.str("service");
  e.up = r.str("status") == "up";
  e.code = static_cast<int>(r.i64("code"));
  e.latency_ms = r.i64("latency_ms");
  e.error_class = r.opt_str("error_class");
  e.error = r.opt_str("error");
  e.tls_version = r.opt_str("tls_version");
  e.cert_not_after_ms = r.opt_i64("cert_not_after");
  e.remote_ip = r.opt_str("remote_ip");
  return e;
}

store::Value opt(const std::optional<std::string>& s) { return s ? store::Value(*s) : store::null(); }
store::Value opt(const std::optional<int64_t>& v) { return v ? store::Value(*v) : store::null(); }

Result<std::vector<HealthEvent>> to_events(Result<store::Rows> rows) {
  if (!rows.ok()) return std::move(rows).take_error();
  std::vector<HealthEvent> out;
  out.reserve(rows->size());
  for (const auto& r : *rows) out.push_back(from_row(r));
  return out;
}

}  // namespace

std::string event_status_text(const HealthEvent& e) { return e.up ? "up" : "down"; }

Result<int64_t> EventStore::append(store::Tx& tx, const std::vector<HealthEvent>& events) {
  int64_t last = 0;
  for (const auto& e : events) {
    const std::string status = event_status_text(e);
    auto rows = tx.query(
        "INSERT INTO health_events (asset_key, ts, service, status, status_num, code, latency_ms, error_class, error, "
        "tls_version, cert_not_after, remote_ip) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
        "RETURNING event_id",
        {e.asset_key, e.ts_ms, e.service.empty() ? e.asset_key : e.service, status, int64_t{e.up ? 1 : -2},
         int64_t{e.code}, e.latency_ms, opt(e.error_class), opt(e.error), opt(e.tls_version), opt(e.cert_not_after_ms),
         opt(e.remote_ip)});
    if (!rows.ok()) return std::move(rows).take_error();
    if (!rows->empty()) last = std::max(last, rows->front().i64("event_id"));
  }
  return last;
}

Result<int64_t> EventStore::append(const std::vector<HealthEvent>& events) {
  int64_t last = 0;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    auto r = append(tx, events);
    if (!r.ok()) return std::move(r).take_error();
    last = *r;
    return ok_status();
  });
  if (!st.ok()) return std::move(st).take_error();
  return last;
}

Result<std::vector<HealthEvent>> EventStore::read_after(int64_t after_id, int64_t limit) {
  return to_events(db_.query(std::string("SELECT ") + kColumns +
                                 " FROM health_events WHERE event_id > $1 ORDER BY event_id LIMIT $2",
                             {after_id, limit}));
}

Result<std::vector<HealthEvent>> EventStore::timeline(const std::string& asset_key, int64_t since_ms,
                                                      int64_t until_ms, int64_t limit) {
  return to_events(db_.query(std::string("SELECT ") + kColumns +
                                 " FROM health_events WHERE asset_key = $1 AND ts >= $2 AND ts < $3 "
                                 "ORDER BY ts DESC, event_id DESC LIMIT $4",
                             {asset_key, since_ms, until_ms, limit}));
}

Result<EventWindowStats> EventStore::window_stats(const std::string& asset_key, int64_t since_ms, int64_t until_ms) {
  auto rows = db_.query(
      "SELECT COUNT(*) AS checks, SUM(CASE WHEN status = 'up' THEN 0 ELSE 1 END) AS errors, "
      "AVG(latency_ms) AS avg_latency FROM health_events WHERE asset_key = $1 AND ts >= $2 AND ts < $3",
      {asset_key, since_ms, until_ms});
  if (!rows.ok()) return std::move(rows).take_error();
  EventWindowStats s;
  if (rows->empty()) return s;
  const auto& r = rows->front();
  s.checks = r.i64("checks");
  s.errors = r.i64("errors");
  if (s.checks > 0 && !r.is_null("avg_latency")) s.avg_latency_ms = r.f64("avg_latency");
  return s;
}

Result<std::optional<double>> EventStore::avg_latency(int64_t since_ms, int64_t until_ms) {
  auto rows = db_.query("SELECT COUNT(*) AS n, AVG(latency_ms) AS avg_latency FROM health_events "
                        "WHERE ts >= $1 AND ts < $2",
                        {since_ms, until_ms});
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty() || rows->front().i64("n") == 0) return std::optional<double>{};
  return std::optional<double>{rows->front().f64("avg_latency")};
}

Result<std::vector<EventStore::Uptime>> EventStore::uptime_by_asset(int64_t since_ms, int64_t until_ms) {
  auto rows = db_.query(
      "SELECT asset_key, COUNT(*) AS checks, SUM(CASE WHEN status = 'up' THEN 1 ELSE 0 END) AS up "
      "FROM health_events WHERE ts >= $1 AND ts < $2 GROUP BY asset_key",
      {since_ms, until_ms});
  if (!rows.ok()) return std::move(rows).take_error();
  std::vector<Uptime> out;
  for (const auto& r : *rows) out.push_back({r.str("asset_key"), r.i64("checks"), r.i64("up")});
  return out;
}

Result<int64_t> EventStore::delete_before(int64_t cutoff_ms) {
  return db_.exec("DELETE FROM health_events WHERE ts < $1", {cutoff_ms});
}

}  // namespace secplat::posture
