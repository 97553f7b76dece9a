#include "api/posture_routes.h"

#include <charconv>
#include <cmath>
#include <set>

#include "api/route_helpers.h"
#include "core/clock.h"
#include "core/json.h"

namespace secplat::api {
namespace {

using posture::PostureItem;
using posture::ReportSnapshot;

double round1(double v) { return std::round(v * 10.0) / 10.0; }

// The reference AssetState (§3.8) — `status` is the posture state green/amber/red — plus our fields.
Json item_json(const PostureItem& it) {
  const auto& s = it.state;
  const bool scored = s.status != "scan_based";
  return Json{{"asset_id", s.asset_key},
              {"asset_key", s.asset_key},
              {"status", s.posture_state},
              {"last_seen", opt_time(s.last_seen_ms)},
              {"reason", opt_text(s.reason)},
              {"criticality", it.criticality},
              {"name", it.name},
              {"owner", opt_text(it.owner)},
              {"environment", it.environment},
              {"posture_score", s.posture_score},
              {"staleness_seconds", scored ? Json(it.staleness_seconds) : Json(nullptr)},
              {"last_status_change", opt_time(s.last_status_change_ms)},
              {"health_status", s.status},
              {"status_num", s.status_num},
              {"previous_status", opt_text(s.previous_status)},
              {"code", opt_num(s.code)},
              {"latency_ms", opt_num(s.latency_ms)},
              {"error_class", opt_text(s.error_class)},
              {"flapping", s.flapping},
              {"confidence", s.confidence},
              {"confidence_reason", s.confidence_reason},
              {"last_good_at", opt_time(s.last_good_at_ms)},
              {"last_good_code", opt_num(s.last_good_code)},
              {"last_good_latency_ms", opt_num(s.last_good_latency_ms)},
              {"tls_version", opt_text(s.tls_version)},
              {"cert_not_after", opt_time(s.cert_not_after_ms)},
              {"derived_at", format_rfc3339(s.derived_at_ms)},
              {"asset_type", it.asset_type}};
}

// The reference's health event document (§1.3) plus our probe details.
Json event_json(const posture::HealthEvent& e) {
  return Json{{"@timestamp", format_rfc3339(e.ts_ms)},
              {"service", e.service},
              {"asset", e.asset_key},
              {"level", "health"},
              {"message", "healthcheck"},
              {"status", posture::event_status_text(e)},
              {"status_num", e.up ? 1 : -2},
              {"code", e.code},
              {"latency_ms", e.latency_ms},
              {"error_class", opt_text(e.error_class)},
              {"error", opt_text(e.error)},
              {"tls_version", opt_text(e.tls_version)},
              {"cert_not_after", opt_time(e.cert_not_after_ms)},
              {"event_id", e.event_id}};
}

Json snapshot_json(const ReportSnapshot& s) {
  return Json{{"id", s.id == 0 ? Json("current") : Json(s.id)},
              {"period", s.period},
              {"created_at", format_rfc3339(s.created_ms)},
              {"uptime_pct", s.uptime_pct},
              {"posture_score_avg", opt_num(s.posture_score_avg)},
              {"avg_latency_ms", opt_num(s.avg_latency_ms)},
              {"total_assets", s.total_assets},
              {"green", s.green},
              {"amber", s.amber},
              {"red", s.red},
              {"top_incidents", s.top_incidents}};
}

Json summary_json(const posture::PostureSummary& s) {
  return Json{{"green", s.green},
              {"amber", s.amber},
              {"red", s.red},
              {"posture_score_avg", opt_num(s.posture_score_avg)},
              {"down_assets", s.down_assets},
              {"flapping_assets", s.flapping_assets},
              {"total_assets", s.total}};
}

std::string csv_cell(const std::string& v) {
  if (v.find_first_of(",\"\n\r") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

http::Route route(std::string method, std::string path, http::Access access, http::Handler h, std::string summary,
                  std::vector<std::string> query = {}) {
  return make_route("posture", std::move(method), std::move(path), access, std::move(h), std::move(summary), 200,
                    std::move(query));
}

http::Response json_body(std::shared_ptr<const std::string> body) {
  http::Response r;
  r.shared_body = std::move(body);  // the snapshot's cached rendering, sent without a copy
  return r;
}

std::vector<const PostureItem*> filtered(const posture::PostureSnapshot& snap, const posture::PostureFilter& f) {
  std::vector<const PostureItem*> out;
  out.reserve(snap.items.size());
  for (const auto& it : snap.items)
    if (f.matches(it)) out.push_back(&it);
  return out;
}

posture::PostureFilter filter_of(const http::Request& req) {
  return posture::PostureFilter::from_query([&](const char* n) { return req.query_param(n); });
}

std::vector<std::string> recommendations(const PostureItem& it, bool slo_breach) {
  std::vector<std::string> out;
  const auto& s = it.state;
  if (s.posture_state == "red") {
    out.push_back("Asset is down — check connectivity and service health.");
    const std::string reason = s.reason.value_or("");
    if (reason == "api_timeout") out.push_back("Requests time out — check the service's load and upstream dependencies.");
    if (reason == "port_closed") out.push_back("Connection refused — check that the service is running and listening.");
    if (reason == "tls_fail") out.push_back("TLS handshake failed — check the certificate chain and expiry.");
    if (reason == "http_error") out.push_back("The service answers with an error status — check its logs.");
    if (reason == "dns_failure") out.push_back("The name does not resolve — check DNS records.");
  }
  if (s.flapping) out.push_back("Asset is flapping — results alternate between up and down; check for intermittent failures.");
  if (it.staleness_seconds > 300 && s.last_seen_ms)
    out.push_back("No data in " + std::to_string(it.staleness_seconds / 60) +
                  " minutes — ingestion or checks may have stopped.");
  if (slo_breach) out.push_back("Latency exceeds SLO; investigate slow responses.");
  if (s.posture_state == "amber" && !s.flapping) out.push_back("Asset in warning state — review recent events and thresholds.");
  if (out.empty()) out.push_back("No actions required — asset is healthy.");
  return out;
}

}  // namespace

std::vector<http::Route> posture_routes(PostureRouteDeps d) {
  std::vector<http::Route> routes;
  auto& view = d.view;
  auto& events = d.events;
  auto& reports = d.reports;
  auto& audit = d.audit;
  const int64_t slo = d.latency_slo_ms;

  routes.push_back(route(
      "GET", "/posture", http::Access::viewer,
      [&view](http::Request& req) -> Result<http::Response> {
        auto snap = view.snapshot();
        if (!snap.ok()) return std::move(snap).take_error();
        const auto f = filter_of(req);
        auto limit = int_query(req, "limit", 10000, 1, 100000);
        if (!limit.ok()) return std::move(limit).take_error();
        auto offset = int_query(req, "offset", 0, 0, INT64_MAX);
        if (!offset.ok()) return std::move(offset).take_error();
        const auto format = req.query_param("format").value_or("json");
        if (format != "json" && format != "csv") return Error::invalid({"query", "format"}, "Must be json or csv");
        // The key covers every parameter that shapes the body (filters are normalised by from_query).
        std::string key = format + "|" + std::to_string(*limit) + "|" + std::to_string(*offset);
        for (const auto* list : {&f.environment, &f.criticality, &f.owner, &f.status}) {
          key += "|";
          for (const auto& v : *list) key += v + ",";
        }
        const auto& s = **snap;
        auto body = s.render(key, [&] {
          auto items = filtered(s, f);
          const std::size_t from = std::min<std::size_t>(items.size(), static_cast<std::size_t>(*offset));
          const std::size_t to = std::min<std::size_t>(items.size(), from + static_cast<std::size_t>(*limit));
          if (format == "csv") {
            std::string out = "asset_id,status,last_seen,reason,criticality,name,owner,environment,posture_score\n";
            for (std::size_t i = from; i < to; ++i) {
              const auto& it = *items[i];
              out += csv_cell(it.state.asset_key) + "," + it.state.posture_state + "," +
                     (it.state.last_seen_ms ? format_rfc3339(*it.state.last_seen_ms) : "") + "," +
                     csv_cell(it.state.reason.value_or("")) + "," + it.criticality + "," + csv_cell(it.name) + "," +
                     csv_cell(it.owner.value_or("")) + "," + csv_cell(it.environment) + "," +
                     std::to_string(it.state.posture_score) + "\n";
            }
            return out;
          }
          Json arr = Json::array();
          for (std::size_t i = from; i < to; ++i) arr.push_back(item_json(*items[i]));
          return Json{{"total", items.size()}, {"items", std::move(arr)}}.dump();
        });
        http::Response r = json_body(body);
        if (format == "csv") {
          r.content_type = "text/csv; charset=utf-8";
          r.headers.emplace_back("Content-Disposition", "attachment; filename=secplat-posture.csv");
        }
        return r;
      },
      "Derived posture of every asset (filters; ?format=csv)",
      {"environment", "criticality", "owner", "status", "format", "limit", "offset"}));

  routes.push_back(route(
      "GET", "/posture/summary", http::Access::viewer,
      [&view](http::Request& req) -> Result<http::Response> {
        auto snap = view.snapshot();
        if (!snap.ok()) return std::move(snap).take_error();
        const auto f = filter_of(req);
        std::string key = "summary";
        for (const auto* list : {&f.environment, &f.criticality, &f.owner, &f.status}) {
          key += "|";
          for (const auto& v : *list) key += v + ",";
        }
        const auto& s = **snap;
        return json_body(s.render(key, [&] { return summary_json(posture::summarise(filtered(s, f))).dump(); }));
      },
      "Counts by posture state, average score, down and flapping assets",
      {"environment", "criticality", "owner", "status"}));

  routes.push_back(route(
      "GET", "/posture/overview", http::Access::viewer,
      [&view, &reports](http::Request& req) -> Result<http::Response> {
        auto snap = view.snapshot();
        if (!snap.ok()) return std::move(snap).take_error();
        const auto& s = **snap;
        auto items = filtered(s, filter_of(req));
        auto sum = posture::summarise(items);
        auto baseline = reports.newest_at_or_before(s.built_ms - 23 * 3600 * 1000);
        if (!baseline.ok()) return std::move(baseline).take_error();
        Json trend = nullptr, risk = nullptr;
        if (*baseline) {
          const auto& b = **baseline;
          if (sum.posture_score_avg && b.posture_score_avg) {
            double delta = *sum.posture_score_avg - *b.posture_score_avg;
            trend = delta > 0.05 ? "up" : delta < -0.05 ? "down" : "same";
          }
          risk = sum.red - b.red;
        }
        Json strip{{"posture_score_avg", opt_num(sum.posture_score_avg)},
                   {"total_assets", sum.total},
                   {"alerts_firing", sum.red},
                   {"score_trend_vs_yesterday", trend},
                   {"risk_change_24h", risk},
                   {"green", sum.green},
                   {"amber", sum.amber},
                   {"red", sum.red},
                   {"down_assets", sum.down_assets},
                   {"flapping_assets", sum.flapping_assets}};
        Json worst = Json::array();
        for (std::size_t i = 0; i < items.size() && i < 5; ++i)  // items are worst first
          worst.push_back({{"asset_id", items[i]->state.asset_key},
                           {"name", items[i]->name},
                           {"posture_score", items[i]->state.posture_score},
                           {"status", items[i]->state.posture_state}});
        std::map<std::string, int64_t> reasons;
        for (const auto* it : items)
          if (it->state.posture_state != "green") ++reasons[it->state.reason.value_or("unknown")];
        std::vector<std::pair<std::string, int64_t>> rv(reasons.begin(), reasons.end());
        std::stable_sort(rv.begin(), rv.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
        Json by_reason = Json::array();
        for (std::size_t i = 0; i < rv.size() && i < 5; ++i)
          by_reason.push_back({{"reason", rv[i].first}, {"count", rv[i].second}});
        std::vector<const PostureItem*> recent(items);
        std::stable_sort(recent.begin(), recent.end(), [](const PostureItem* a, const PostureItem* b) {
          return a->state.last_seen_ms.value_or(0) > b->state.last_seen_ms.value_or(0);
        });
        Json recently = Json::array();
        for (std::size_t i = 0; i < recent.size() && i < 5; ++i)
          recently.push_back({{"asset_id", recent[i]->state.asset_key},
                              {"name", recent[i]->name},
                              {"last_seen", opt_time(recent[i]->state.last_seen_ms)}});
        return http::Response::json(
            200, Json{{"executive_strip", strip},
                      {"top_drivers", {{"worst_assets", worst}, {"by_reason", by_reason}, {"recently_updated", recently}}}});
      },
      "Executive strip and top drivers", {"environment", "criticality", "owner", "status"}));

  routes.push_back(route(
      "GET", "/posture/trend", http::Access::viewer,
      [&reports, &clock = d.clock](http::Request& req) -> Result<http::Response> {
        const std::string range = req.query_param("range").value_or("7d");
        int64_t span = 0;
        if (range == "24h") span = 86400000;
        else if (range == "7d") span = 7 * 86400000LL;
        else if (range == "30d") span = 30 * 86400000LL;
        else return Error::invalid({"query", "range"}, "Must be one of 24h, 7d, 30d");
        auto list = reports.since(clock.now_ms() - span);
        if (!list.ok()) return std::move(list).take_error();
        Json points = Json::array();
        for (const auto& s : *list)
          points.push_back({{"created_at", format_rfc3339(s.created_ms)},
                            {"posture_score_avg", opt_num(s.posture_score_avg)},
                            {"green", s.green},
                            {"amber", s.amber},
                            {"red", s.red}});
        return http::Response::json(200, Json{{"range", range}, {"points", points}});
      },
      "Posture score trend from report snapshots", {"range"}));

  routes.push_back(route(
      "GET", "/posture/reports/summary", http::Access::viewer,
      [&reports](http::Request& req) -> Result<http::Response> {
        auto s = reports.summary(req.query_param("period").value_or("24h"));
        if (!s.ok()) return std::move(s).take_error();
        Json j = snapshot_json(*s);
        j.erase("id");
        j["uptime_checks"] = s->uptime_checks;
        return http::Response::json(200, j);
      },
      "Report over a period: time-based uptime, average score and latency", {"period"}));

  routes.push_back(route(
      "POST", "/posture/reports/snapshot", http::Access::admin,
      [&reports, &audit](http::Request& req) -> Result<http::Response> {
        const auth::Actor actor = actor_of(req);
        auto s = reports.take_snapshot(req.query_param("period").value_or("24h"),
                                       [&](store::Tx& tx, const ReportSnapshot& snap) {
                                         return audit.append(tx, "posture_report.snapshot", actor.user_name, "",
                                                             Json{{"snapshot_id", snap.id},
                                                                  {"period", snap.period},
                                                                  {"total_assets", snap.total_assets},
                                                                  {"red", snap.red}},
                                                             actor.request_id);
                                       });
        if (!s.ok()) return std::move(s).take_error();
        return http::Response::json(200, snapshot_json(*s));
      },
      "Store a report snapshot", {"period"}));

  routes.push_back(route(
      "GET", "/posture/reports/history", http::Access::viewer,
      [&reports](http::Request& req) -> Result<http::Response> {
        auto limit = int_query(req, "limit", 20, 1, 100);
        if (!limit.ok()) return std::move(limit).take_error();
        auto list = reports.history(*limit);
        if (!list.ok()) return std::move(list).take_error();
        Json items = Json::array();
        for (const auto& s : *list) items.push_back(snapshot_json(s));
        return http::Response::json(200, Json{{"items", items}});
      },
      "Stored snapshots, newest first", {"limit"}));

  auto snapshot_id = [](const std::string& raw, const char* loc) -> Result<int64_t> {
    int64_t id = 0;
    auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), id);
    if (ec != std::errc() || p != raw.data() + raw.size() || id <= 0)
      return Error::invalid({"query", loc}, "Must be a positive integer");
    return id;
  };

  routes.push_back(route(
      "GET", "/posture/reports/history/{id}", http::Access::viewer,
      [&reports, snapshot_id](http::Request& req) -> Result<http::Response> {
        auto id = snapshot_id(req.param("id"), "id");
        if (!id.ok()) return std::move(id).take_error();
        auto s = reports.get(*id);
        if (!s.ok()) return std::move(s).take_error();
        return http::Response::json(200, snapshot_json(*s));
      },
      "One stored snapshot"));

  routes.push_back(route(
      "GET", "/posture/reports/what-changed", http::Access::viewer,
      [&reports, snapshot_id](http::Request& req) -> Result<http::Response> {
        auto from_raw = req.query_param("from_id");
        if (!from_raw) return Error::invalid({"query", "from_id"}, "Field required");
        auto from_id = snapshot_id(*from_raw, "from_id");
        if (!from_id.ok()) return std::move(from_id).take_error();
        auto from = reports.get(*from_id);
        if (!from.ok()) return Error::not_found("Snapshot " + std::to_string(*from_id) + " not found");
        Result<ReportSnapshot> to = Error::internal("unset");
        if (auto to_raw = req.query_param("to_id")) {
          auto to_id = snapshot_id(*to_raw, "to_id");
          if (!to_id.ok()) return std::move(to_id).take_error();
          to = reports.get(*to_id);
          if (!to.ok()) return Error::not_found("Snapshot " + std::to_string(*to_id) + " not found");
        } else {
          to = reports.summary("24h");
          if (!to.ok()) return std::move(to).take_error();
        }
        Json score_delta = nullptr;
        if (from->posture_score_avg && to->posture_score_avg)
          score_delta = round1(*to->posture_score_avg - *from->posture_score_avg);
        std::set<std::string> a(from->top_incidents.begin(), from->top_incidents.end());
        std::set<std::string> b(to->top_incidents.begin(), to->top_incidents.end());
        Json added = Json::array(), removed = Json::array();
        for (const auto& k : b)
          if (!a.count(k)) added.push_back(k);
        for (const auto& k : a)
          if (!b.count(k)) removed.push_back(k);
        return http::Response::json(200, Json{{"from", snapshot_json(*from)},
                                              {"to", snapshot_json(*to)},
                                              {"score_delta", score_delta},
                                              {"green_delta", to->green - from->green},
                                              {"amber_delta", to->amber - from->amber},
                                              {"red_delta", to->red - from->red},
                                              {"incidents_added", added},
                                              {"incidents_removed", removed}});
      },
      "Difference between two snapshots (or a snapshot and now)", {"from_id", "to_id"}));

  routes.push_back(route(
      "GET", "/posture/{asset_key}", http::Access::viewer,
      [&view](http::Request& req) -> Result<http::Response> {
        auto snap = view.snapshot();
        if (!snap.ok()) return std::move(snap).take_error();
        const auto* it = (*snap)->find(req.param("asset_key"));
        if (!it) return Error::not_found("Asset not found in posture index");
        return http::Response::json(200, item_json(*it));
      },
      "Derived posture of one asset"));

  routes.push_back(route(
      "GET", "/posture/{asset_key}/detail", http::Access::viewer,
      [&view, &events, slo](http::Request& req) -> Result<http::Response> {
        auto hours = int_query(req, "hours", 24, 1, 168);
        if (!hours.ok()) return std::move(hours).take_error();
        auto limit = int_query(req, "limit", 200, 1, 5000);
        if (!limit.ok()) return std::move(limit).take_error();
        auto snap = view.snapshot();
        if (!snap.ok()) return std::move(snap).take_error();
        const auto* it = (*snap)->find(req.param("asset_key"));
        if (!it) return Error::not_found("Asset not found in posture index");
        const std::string& key = it->state.asset_key;
        const int64_t now = (*snap)->built_ms;
        const int64_t until = now + 60000;  // include results written since the snapshot
        auto timeline = events.timeline(key, now - *hours * 3600000, until, *limit);
        if (!timeline.ok()) return std::move(timeline).take_error();
        auto window = events.window_stats(key, now - *hours * 3600000, until);
        if (!window.ok()) return std::move(window).take_error();
        auto day = events.window_stats(key, now - 86400000, until);
        if (!day.ok()) return std::move(day).take_error();
        auto hour = events.window_stats(key, now - 3600000, until);
        if (!hour.ok()) return std::move(hour).take_error();

        const int64_t interval = std::max<int64_t>(1, it->interval_seconds);
        const int64_t expected_day = 86400 / interval, expected_hour = std::max<int64_t>(1, 3600 / interval);
        const int64_t expected_window = *hours * 3600 / interval;
        Json tl = Json::array();
        for (const auto& e : *timeline) tl.push_back(event_json(e));
        const bool slo_ok = !it->state.latency_ms || *it->state.latency_ms <= slo;
        const bool scan_based = it->state.status == "scan_based";
        Json completeness{
            {"checks", window->checks},
            {"expected", expected_window},
            {"pct", expected_window ? round1(100.0 * std::min(window->checks, expected_window) / double(expected_window)) : 0.0},
            {"label_24h", scan_based ? "scan-based" : std::to_string(day->checks) + "/" + std::to_string(expected_day)},
            {"label_1h", scan_based ? "scan-based" : std::to_string(hour->checks) + "/" + std::to_string(expected_hour)},
            {"pct_24h", round1(100.0 * std::min(day->checks, expected_day) / double(std::max<int64_t>(1, expected_day)))},
            {"pct_1h", hour->checks ? Json(round1(100.0 * std::min(hour->checks, expected_hour) / double(expected_hour)))
                                    : Json(nullptr)}};
        Json reason_display = it->state.reason ? Json(*it->state.reason)
                              : !slo_ok       ? Json("latency_slo_breach")
                                              : Json(nullptr);
        if (scan_based) reason_display = "repository_scan";
        return http::Response::json(
            200, Json{{"state", item_json(*it)},
                      {"timeline", tl},
                      {"evidence", tl.empty() ? Json(nullptr) : tl.front()},
                      {"recommendations", recommendations(*it, !slo_ok)},
                      {"expected_interval_sec", interval},
                      {"data_completeness", completeness},
                      {"latency_slo_ms", slo},
                      {"latency_slo_ok", slo_ok},
                      {"avg_latency_ms", window->avg_latency_ms ? Json(round1(*window->avg_latency_ms)) : Json(nullptr)},
                      {"error_rate_24h", window->checks ? round1(100.0 * window->errors / double(window->checks)) : 0.0},
                      {"hours", *hours},
                      {"reason_display", reason_display}});
      },
      "One asset: state, timeline, evidence, completeness, SLO and recommendations", {"hours", "limit"}));
  return routes;
}

}  // namespace secplat::api
