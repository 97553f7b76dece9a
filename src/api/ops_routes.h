// Operational routes: /health, /ready, /metrics, /queue/health, /openapi.json.
#pragma once

#include <functional>
#include <memory>
#include <utility>
#include <string>
#include <vector>

#include "http/route.h"

namespace secplat {
class Metrics;
namespace store {
class Db;
}
namespace queue {
class Queue;
}
}  // namespace secplat

namespace secplat::api {

struct OpsContext {
  store::Db* db = nullptr;  // null in a process without a database (its /ready checks no store)
  queue::Queue* queue = nullptr;
  Metrics* metrics = nullptr;
  bool metrics_public = false;
  // More /ready checks by name (e.g. "api" for a notifier whose ledger is the API).
  std::vector<std::pair<std::string, std::function<Status()>>> ready_checks;
  // Filled once the whole route table is known (the document describes every route, itself included).
  std::shared_ptr<const std::string> openapi;
};

std::vector<http::Route> ops_routes(std::shared_ptr<OpsContext> ctx);

// Adds process and queue gauges (and, on SQLite, the store's transaction and statement counters) to
// `metrics`, computed at scrape time.
void register_process_metrics(Metrics& metrics, queue::Queue* queue, const store::Db* db = nullptr);

}  // namespace secplat::api
