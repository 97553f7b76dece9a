#include "api/ops_routes.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "queue/queue.h"
#include "queue/streams.h"
#include "store/db.h"
#include "store/sqlite_db.h"

namespace secplat::api {
namespace {

const int64_t g_started_ms = steady_ms();

long resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * sysconf(_SC_PAGESIZE);
}

Json pending_json(const queue::PendingSummary& p) {
  Json j = {{"pending", p.pending}, {"min_id", nullptr}, {"max_id", nullptr}, {"oldest_idle_ms", nullptr},
            {"lag", nullptr}};  // lag: entries not yet delivered to the group (ours; null when unknown)
  if (p.lag) j["lag"] = *p.lag;
  if (p.min_id) j["min_id"] = *p.min_id;
  if (p.max_id) j["max_id"] = *p.max_id;
  if (p.oldest_idle_ms) j["oldest_idle_ms"] = *p.oldest_idle_ms;
  return j;
}

}  // namespace

std::vector<http::Route> ops_routes(std::shared_ptr<OpsContext> ctx) {
  std::vector<http::Route> routes;

  http::Route health;
  health.method = "GET";
  health.path = "/health";
  health.access = http::Access::public_route;
  health.inline_io = true;  // liveness only: no store, no locks
  health.handler = [](http::Request&) -> Result<http::Response> {
    http::Response r;
    r.body = R"({"status":"ok"})";
    return r;
  };
  health.doc = {"Liveness: the process answers", "ops", "", R"({"type":"object"})", {}, 200};
  routes.push_back(std::move(health));

  http::Route ready;
  ready.method = "GET";
  ready.path = "/ready";
  ready.access = http::Access::public_route;
  ready.handler = [ctx](http::Request& req) -> Result<http::Response> {
    Json checks = Json::object();
    bool ok = true;
    auto check = [&](const std::string& name, const Status& s) {
      if (s.ok()) {
        checks[name] = "ok";
        return;
      }
      ok = false;
      checks[name] = "error";  // details go to the log, not to an unauthenticated caller
      log::warn("readiness check failed", {log::str("check", name), log::str("error", s.error().message),
                                           log::str("request_id", req.request_id)});
    };
    if (ctx->db) check("store", ctx->db->check_writable());
    check("queue", ctx->queue->ping());
    for (const auto& [name, fn] : ctx->ready_checks) check(name, fn());
    return http::Response::json(ok ? 200 : 503, Json{{"status", ok ? "ok" : "degraded"}, {"checks", checks}});
  };
  ready.doc = {"Readiness: the store is writable and the queue answers", "ops", "", "", {}, 200};
  routes.push_back(std::move(ready));

  http::Route metrics;
  metrics.method = "GET";
  metrics.path = "/metrics";
  metrics.access = ctx->metrics_public ? http::Access::public_route : http::Access::viewer;
  metrics.handler = [ctx](http::Request&) -> Result<http::Response> {
    return http::Response::text(200, ctx->metrics->render(), "text/plain; version=0.0.4; charset=utf-8");
  };
  metrics.doc = {"Prometheus metrics (text format 0.0.4)", "ops", "", "", {}, 200};
  routes.push_back(std::move(metrics));

  http::Route qh;
  qh.method = "GET";
  qh.path = "/queue/health";
  qh.access = http::Access::viewer;
  qh.handler = [ctx](http::Request&) -> Result<http::Response> {
    Json streams = Json::object(), dlq = Json::object(), pending = Json::object();
    const std::string backend = ctx->queue->backend();
    // The reference's failure shape for Redis: 503 {"redis":"error","error":"<text>"}.
    auto failed = [&](const Error& e) -> Result<http::Response> {
      if (backend != "redis") return Error::unavailable("queue unavailable");
      return http::Response::json(503, Json{{"redis", "error"}, {"error", e.message}});
    };
    Json body{{"queue", "ok"}, {"backend", backend}};
    if (backend == "redis") {
      auto version = ctx->queue->server_version();
      if (!version) return failed(version.error());
      body["redis"] = "ok";
      body["redis_version"] = *version;
    }
    for (const auto& sg : queue::kStreams) {
      std::string name(sg.stream);
      auto st = ctx->queue->stats(name);
      if (!st) return failed(st.error());
      streams[name] = st->length;
      dlq[name + ".dlq"] = st->dlq_length;
      Json groups = Json::object();
      for (const auto& [g, p] : st->groups) groups[g] = pending_json(p);
      if (!groups.contains(std::string(sg.group))) groups[std::string(sg.group)] = pending_json({});
      pending[name] = groups;
    }
    body["streams"] = std::move(streams);
    body["dlq_streams"] = std::move(dlq);
    body["pending"] = std::move(pending);
    return http::Response::json(200, body);
  };
  qh.doc = {"Stream lengths, dead letters and pending entries per consumer group", "ops", "", "", {}, 200};
  routes.push_back(std::move(qh));

  http::Route openapi;
  openapi.method = "GET";
  openapi.path = "/openapi.json";
  openapi.access = http::Access::viewer;
  openapi.handler = [ctx](http::Request&) -> Result<http::Response> {
    http::Response r;
    r.body = *ctx->openapi;
    return r;
  };
  openapi.doc = {"This API's OpenAPI 3.1 document, generated from the route table", "ops", "", "", {}, 200};
  routes.push_back(std::move(openapi));
  return routes;
}

void register_process_metrics(Metrics& metrics, queue::Queue* q, const store::Db* db) {
  if (db && store::sqlite_stats(*db)) {
    metrics.add_collector([db](std::string& out) {
      const store::SqliteStats st = *store::sqlite_stats(*db);
      char buf[3072];
      std::snprintf(buf, sizeof buf,
                    "# HELP secplat_sqlite_transactions_total Write transactions run on the SQLite store.\n"
                    "# TYPE secplat_sqlite_transactions_total counter\nsecplat_sqlite_transactions_total %lld\n"
                    "# HELP secplat_sqlite_commits_total SQLite commits they ran in (group commit: fewer under load).\n"
                    "# TYPE secplat_sqlite_commits_total counter\nsecplat_sqlite_commits_total %lld\n"
                    "# HELP secplat_sqlite_statements_prepared_total SQL statements compiled (statement cache misses).\n"
                    "# TYPE secplat_sqlite_statements_prepared_total counter\nsecplat_sqlite_statements_prepared_total %lld\n"
                    "# HELP secplat_sqlite_statement_cache_hits_total Statements reused from the cache.\n"
                    "# TYPE secplat_sqlite_statement_cache_hits_total counter\nsecplat_sqlite_statement_cache_hits_total %lld\n"
                    "# HELP secplat_sqlite_async_writes_queued Asynchronous writes (e.g. POST /findings/) waiting for their commit.\n"
                    "# TYPE secplat_sqlite_async_writes_queued gauge\nsecplat_sqlite_async_writes_queued %lld\n"
                    "# HELP secplat_sqlite_async_writes_refused_total Asynchronous writes refused with 503: the write queue was full or the store closing.\n"
                    "# TYPE secplat_sqlite_async_writes_refused_total counter\nsecplat_sqlite_async_writes_refused_total %lld\n"
                    "# HELP secplat_sqlite_checkpoints_total WAL checkpoints run by the store's checkpointer thread.\n"
                    "# TYPE secplat_sqlite_checkpoints_total counter\nsecplat_sqlite_checkpoints_total %lld\n"
                    "# HELP secplat_sqlite_commit_checkpoints_total Short WAL checkpoints a commit ran itself so the WAL could start over.\n"
                    "# TYPE secplat_sqlite_commit_checkpoints_total counter\nsecplat_sqlite_commit_checkpoints_total %lld\n"
                    "# HELP secplat_sqlite_group_reruns_total Groups of asynchronous writes run again, a savepoint per write, after one failed.\n"
                    "# TYPE secplat_sqlite_group_reruns_total counter\nsecplat_sqlite_group_reruns_total %lld\n",
                    static_cast<long long>(st.transactions), static_cast<long long>(st.commits),
                    static_cast<long long>(st.statements_prepared), static_cast<long long>(st.statement_cache_hits),
                    static_cast<long long>(st.async_queued), static_cast<long long>(st.async_refused),
                    static_cast<long long>(st.checkpoints), static_cast<long long>(st.inline_checkpoints),
                    static_cast<long long>(st.group_reruns));
      out += buf;
    });
  }
  metrics.add_collector([q](std::string& out) {
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                  "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %ld\n"
                  "# HELP process_uptime_seconds Seconds since the process started.\n"
                  "# TYPE process_uptime_seconds gauge\nprocess_uptime_seconds %.3f\n",
                  resident_bytes(), static_cast<double>(steady_ms() - g_started_ms) / 1000.0);
    out += buf;
    if (!q) return;
    std::string len = "# HELP secplat_queue_length Entries in the stream.\n# TYPE secplat_queue_length gauge\n";
    std::string dlq =
        "# HELP secplat_queue_dlq_length Entries in the stream's dead-letter stream.\n"
        "# TYPE secplat_queue_dlq_length gauge\n";
    std::string pend =
        "# HELP secplat_queue_pending Delivered but unacknowledged messages per group.\n"
        "# TYPE secplat_queue_pending gauge\n";
    std::string idle =
        "# HELP secplat_queue_oldest_pending_idle_seconds Age of the oldest unacknowledged delivery.\n"
        "# TYPE secplat_queue_oldest_pending_idle_seconds gauge\n";
    std::string lag =
        "# HELP secplat_queue_lag Entries not yet delivered to the consumer group.\n"
        "# TYPE secplat_queue_lag gauge\n";
    for (const auto& sg : queue::kStreams) {
      std::string name(sg.stream);
      auto st = q->stats(name);
      if (!st) continue;
      len += "secplat_queue_length{stream=\"" + name + "\"} " + std::to_string(st->length) + "\n";
      dlq += "secplat_queue_dlq_length{stream=\"" + name + "\"} " + std::to_string(st->dlq_length) + "\n";
      for (const auto& [g, p] : st->groups) {
        std::string labels = "{stream=\"" + name + "\",group=\"" + g + "\"} ";
        pend += "secplat_queue_pending" + labels + std::to_string(p.pending) + "\n";
        idle += "secplat_queue_oldest_pending_idle_seconds" + labels +
                std::to_string(static_cast<double>(p.oldest_idle_ms.value_or(0)) / 1000.0) + "\n";
        if (p.lag) lag += "secplat_queue_lag" + labels + std::to_string(*p.lag) + "\n";
      }
    }
    out += len + dlq + pend + idle + lag;
  });
}

}  // namespace secplat::api
