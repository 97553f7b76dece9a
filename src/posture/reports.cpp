#include "posture/reports.h"

#include <charconv>
#include <cmath>

#include "core/json.h"

namespace secplat::posture {
namespace {

double round1(double v) { return std::round(v * 10.0) / 10.0; }

store::Value opt(const std::optional<double>& v) { return v ? store::Value(*v) : store::null(); }

ReportSnapshot from_row(const store::Row& r) {
  ReportSnapshot s;
  s.id = r.i64("id");
  s.period = r.str("period");
  s.created_ms = r.i64("created_at");
  s.uptime_pct = r.f64("uptime_pct");
  if (!r.is_null("posture_score_avg")) s.posture_score_avg = r.f64("posture_score_avg");
  if (!r.is_null("avg_latency_ms")) s.avg_latency_ms = r.f64("avg_latency_ms");
  s.total_assets = r.i64("total_assets");
  s.green = r.i64("green");
  s.amber = r.i64("amber");
  s.red = r.i64("red");
  s.top_incidents = string_list_from_json(r.str("top_incidents", "[]"));
  return s;
}

Result<std::vector<ReportSnapshot>> to_list(Result<store::Rows> rows) {
  if (!rows.ok()) return std::move(rows).take_error();
  std::vector<ReportSnapshot> out;
  for (const auto& r : *rows) out.push_back(from_row(r));
  return out;
}

}  // namespace

Result<int64_t> parse_period(const std::string& p) {
  auto bad = [&] { return Error::invalid({"query", "period"}, "Must be like 24h or 7d (1h..720h, 1d..90d)"); };
  if (p.size() < 2) return bad();
  int64_t n = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size() - 1, n);
  if (ec != std::errc() || ptr != p.data() + p.size() - 1 || n < 1) return bad();
  if (p.back() == 'h' && n <= 720) return n * 3600 * 1000;
  if (p.back() == 'd' && n <= 90) return n * 86400 * 1000;
  return bad();
}

Result<ReportSnapshot> Reports::summary(const std::string& period) {
  auto span = parse_period(period);
  if (!span.ok()) return std::move(span).take_error();
  auto snap = view_.snapshot();
  if (!snap.ok()) return std::move(snap).take_error();
  const int64_t now = clock_.now_ms();
  std::vector<const PostureItem*> items;
  for (const auto& it : (*snap)->items)
    if (it.asset_type != "repository") items.push_back(&it);
  PostureSummary sum = summarise(items);

  ReportSnapshot r;
  r.period = period;
  r.created_ms = now;
  r.total_assets = sum.total;
  r.green = sum.green;
  r.amber = sum.amber;
  r.red = sum.red;
  r.posture_score_avg = sum.posture_score_avg;
  for (const auto& key : sum.down_assets) {
    if (r.top_incidents.size() >= 10) break;
    r.top_incidents.push_back(key);
  }
  auto up = events_.uptime_by_asset(now - *span, now);
  if (!up.ok()) return std::move(up).take_error();
  double total = 0;
  int64_t counted = 0;
  for (const auto& u : *up) {
    if (u.checks == 0 || !(*snap)->find(u.asset_key)) continue;
    total += double(u.up) / double(u.checks);
    r.uptime_checks += u.checks;
    ++counted;
  }
  r.uptime_pct = counted ? round1(100.0 * total / double(counted)) : 0.0;
  auto lat = events_.avg_latency(now - *span, now);
  if (!lat.ok()) return std::move(lat).take_error();
  if (*lat) r.avg_latency_ms = round1(**lat);
  return r;
}

Result<ReportSnapshot> Reports::take_snapshot(const std::string& period, const AuditHook& audit) {
  auto r = summary(period);
  if (!r.ok()) return r;
  ReportSnapshot s = std::move(*r);
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    auto rows = tx.query(
        "INSERT INTO posture_report_snapshots (period, created_at, uptime_pct, posture_score_avg, avg_latency_ms, "
        "total_assets, green, amber, red, top_incidents) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        {s.period, s.created_ms, s.uptime_pct, opt(s.posture_score_avg), opt(s.avg_latency_ms), s.total_assets,
         s.green, s.amber, s.red, Json(s.top_incidents).dump()});
    if (!rows.ok()) return std::move(rows).take_error();
    s.id = rows->front().i64("id");
    if (audit) return audit(tx, s);
    return ok_status();
  });
  if (!st.ok()) return std::move(st).take_error();
  return s;
}

Result<std::vector<ReportSnapshot>> Reports::history(int64_t limit) {
  return to_list(db_.query("SELECT * FROM posture_report_snapshots ORDER BY created_at DESC, id DESC LIMIT $1", {limit}));
}

Result<ReportSnapshot> Reports::get(int64_t id) {
  auto rows = db_.query("SELECT * FROM posture_report_snapshots WHERE id = $1", {id});
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return Error::not_found("Snapshot not found");
  return from_row(rows->front());
}

Result<std::vector<ReportSnapshot>> Reports::since(int64_t since_ms) {
  return to_list(db_.query("SELECT * FROM posture_report_snapshots WHERE created_at >= $1 ORDER BY created_at, id",
                           {since_ms}));
}

Result<std::optional<ReportSnapshot>> Reports::newest_at_or_before(int64_t ms) {
  auto list = to_list(db_.query(
      "SELECT * FROM posture_report_snapshots WHERE created_at <= $1 ORDER BY created_at DESC, id DESC LIMIT 1", {ms}));
  if (!list.ok()) return std::move(list).take_error();
  if (list->empty()) return std::optional<ReportSnapshot>{};
  return std::optional<ReportSnapshot>{list->front()};
}

}  // namespace secplat::posture
