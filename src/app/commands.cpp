#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/audit_routes.h"
#include "api/notify_routes.h"
#include "api/alert_send_route.h"
#include "api/alerts_routes.h"
#include "api/incidents_routes.h"
#include "api/suppression_routes.h"
#include "incidents/alert_book.h"
#include "incidents/correlator.h"
#include "incidents/incident_service.h"
#include "incidents/suppression.h"
#include "notify/channels.h"
#include "api/trust_routes.h"
#include "api/assets_routes.h"
#include "api/auth_routes.h"
#include "api/findings_routes.h"
#include "api/scans_routes.h"
#include "api/jobs_routes.h"
#include "api/ops_routes.h"
#include "api/posture_routes.h"
#include "api/web_routes.h"
#include "app/commands.h"
#include "app/platform.h"
#include "notify/notifier.h"
#include "assurance/scan_event_relay.h"
#include "auth/bootstrap.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/scratch.h"
#include "http/client.h"
#include "http/openapi.h"
#include "http/server.h"
#include "posture/index/opensearch_mirror.h"
#include "posture/verification.h"

namespace secplat::app {
namespace {

// Loads the config with the flags on top; prints the error and returns nullopt on failure.
std::optional<Config> load(const CommonFlags& f) {
  std::map<std::string, std::string> flags;
  if (!f.listen.empty()) flags["listen"] = f.listen;
  if (!f.data_dir.empty()) flags["data_dir"] = f.data_dir;
  if (!f.log_level.empty()) flags["log_level"] = f.log_level;
  auto c = load_config(f.config_file, process_env(), flags);
  if (!c) {
    std::fprintf(stderr, "secplat: %s\n", c.error().message.c_str());
    return std::nullopt;
  }
  log::Level lvl = log::Level::info;
  log::parse_level(c->log_level, lvl);
  log::set_level(lvl);
  return std::move(*c);
}

// SIGINT/SIGTERM are blocked in every thread and taken synchronously by the main thread.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

std::string read_new_password() {
  if (const char* p = std::getenv("SECPLAT_NEW_PASSWORD"); p && *p) return p;
  std::string line;
  std::getline(std::cin, line);
  return line;
}

// http.max_connections (10,000 by default) WebSocket and keep-alive clients need more descriptors
// than the usual soft limit of 1,024: take what the hard limit allows.
void raise_open_file_limit() {
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) != 0 || nofile.rlim_cur >= nofile.rlim_max) return;
  nofile.rlim_cur = nofile.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &nofile) != 0)
    log::warn("could not raise the open-file limit", {log::integer("limit", static_cast<int64_t>(nofile.rlim_max))});
}

// Every route of the API, on the platform's services.
// trust_only: the `trust` role's table (health, auth, the gate and the transparency log).
// POST /incidents/{id}/jira goes through the notifier's Jira channel: if the notifier already opened
// an issue for the incident, that one is returned; otherwise one is created now.
api::JiraHook jira_hook(const Config& config, notify::Notifier& notifier) {
  const auto& n = config.notify;
  if (n.jira_base_url.empty() || n.jira_email.empty() || n.jira_api_token.empty()) return {};
  return [n, &notifier](const incidents::Incident& inc, const std::string& project) {
    api::JiraResult out;
    std::string base = n.jira_base_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    auto existing = notifier.remote_id_for("jira", std::to_string(inc.id));
    if (existing.ok() && *existing) {
      out.ok = true;
      out.issue_key = **existing;
      out.url = base + "/browse/" + out.issue_key;
      return out;
    }
    notify::JiraSettings js{n.jira_base_url, n.jira_email, n.jira_api_token,
                            project.empty() ? n.jira_project_key : project};
    if (js.project_key.empty()) {
      out.needs_project_key = true;
      return out;
    }
    notify::ChannelOptions co;
    co.timeout_ms = 15000;
    notify::JiraChannel channel(js, co);
    notify::Notification note;
    note.event_type = "incident.created";
    note.severity = inc.severity;
    note.title = inc.title;
    note.text = "SecPlat incident #" + std::to_string(inc.id) + "\nSeverity: " + inc.severity + "\nStatus: " +
                inc.status + "\nLinked assets: " + (inc.asset_key.empty() ? std::string("None") : inc.asset_key);
    note.asset_key = inc.asset_key;
    note.incident_key = inc.incident_key;
    note.status = "firing";
    const auto d = channel.send(note);
    out.ok = d.ok && !d.remote_id.empty();
    out.issue_key = d.remote_id;
    out.url = out.ok ? base + "/browse/" + d.remote_id : std::string();
    out.error = d.ok ? std::string("no issue key in the reply") : d.error;
    return out;
  };
}

// The incident detail's `linked_risk`: the findings of the incident's assets, riskiest first.
api::LinkedRiskHook linked_risk(findings::FindingsService& findings) {
  return [&findings](const std::vector<std::string>& asset_keys) -> Result<Json> {
    std::vector<findings::Finding> all;
    for (const auto& key : asset_keys) {
      findings::FindingFilter f;
      f.asset_key = key;
      f.limit = 1000;
      auto page = findings.list(f);
      if (!page.ok()) return std::move(page).take_error();
      for (auto& x : page->items) all.push_back(std::move(x));
    }
    std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.risk_score > b.risk_score; });
    int64_t active = 0;
    for (const auto& x : all) active += (x.status == "open" || x.status == "in_progress") ? 1 : 0;
    Json items = Json::array();
    for (std::size_t i = 0; i < all.size() && i < 5; ++i)
      items.push_back({{"finding_id", all[i].finding_id}, {"asset_key", all[i].asset_key}, {"title", all[i].title},
                       {"severity", all[i].severity}, {"status", all[i].status}, {"risk_score", all[i].risk_score},
                       {"risk_level", all[i].risk_level}});
    return Json{{"asset_count", asset_keys.size()},
                {"finding_count", all.size()},
                {"active_finding_count", active},
                {"top_risk_score", all.empty() ? Json(nullptr) : Json(all[0].risk_score)},
                {"top_risk_level", all.empty() ? Json(nullptr) : Json(all[0].risk_level)},
                {"items", items}};
  };
}

std::vector<http::Route> build_routes(Platform& p, bool trust_only) {
  const Config* config = &p.config;
  auto ops = std::make_shared<api::OpsContext>();
  ops->db = p.db.get();
  ops->queue = p.queue.get();
  ops->metrics = &p.metrics;
  ops->metrics_public = config->http.metrics_public;
  api::register_process_metrics(p.metrics, p.queue.get(), p.db.get());

  std::vector<http::Route> routes = api::ops_routes(ops);
  for (auto& r : api::auth_routes({p.users.get(), p.accounts.get(), p.logins.get(), p.api_keys.get(), p.grants.get()}))
    routes.push_back(std::move(r));
  for (auto& r : api::audit_routes(*p.audit)) routes.push_back(std::move(r));
  for (auto& r : api::trust_routes(*p.trust_gate, *p.transparency)) routes.push_back(std::move(r));
  for (auto& r : api::trust_internal_routes(*p.trust_gate, *p.transparency)) routes.push_back(std::move(r));
  if (trust_only) {
    ops->openapi = std::make_shared<const std::string>(http::openapi_document(routes, "SecPlat trust", kVersion));
    return routes;
  }
  NetPolicy net{config->probe_allow_private};
  api::AssetVerifier verifier = [net](const posture::Asset& a,
                                      const std::string& method) -> Result<api::VerificationResult> {
    auto r = posture::verify_ownership(a, method, net);
    if (!r.ok()) return std::move(r).take_error();
    return api::VerificationResult{r->verified, r->details};
  };
  for (auto& r : api::asset_routes(*p.assets, *p.findings, *p.audit, verifier)) routes.push_back(std::move(r));
  for (auto& r : api::findings_routes(*p.findings)) routes.push_back(std::move(r));
  for (auto& r : api::posture_routes({*p.posture_view, *p.events, *p.reports, *p.audit, p.clock,
                                      config->posture.latency_slo_ms}))
    routes.push_back(std::move(r));
  for (auto& r : api::jobs_routes(*p.jobs, *p.audit)) routes.push_back(std::move(r));
  for (auto& r : api::notify_routes(*p.notifier)) routes.push_back(std::move(r));
  for (auto& r : api::notify_internal_routes(*p.notify_ledger, notify_asset_lookup(*p.assets)))
    routes.push_back(std::move(r));
  for (auto& r : api::jobs_internal_routes(*p.job_ledger)) routes.push_back(std::move(r));
  for (auto& r : api::scan_internal_routes(*p.scans, p.sarif_import)) routes.push_back(std::move(r));
  for (auto& r : api::incidents_routes(*p.incidents, jira_hook(*config, *p.notifier), linked_risk(*p.findings)))
    routes.push_back(std::move(r));
  for (auto& r : api::alerts_routes(*p.alert_book, *p.suppression, *p.posture_view,
                                    [incidents = p.incidents.get()](const std::string& asset_key) {
                                      std::vector<incidents::OpenIncidentRef> refs;
                                      auto open = incidents->open_for_asset(asset_key);
                                      if (open.ok())
                                        for (const auto& i : *open) refs.push_back({i.id, i.severity});
                                      return refs;
                                    }))
    routes.push_back(std::move(r));
  for (auto& r : api::suppression_routes(*p.suppression)) routes.push_back(std::move(r));
  routes.push_back(api::alert_send_route({*p.posture_view, *p.suppression, *p.queue, *p.audit, p.clock}));
  for (auto& r : api::scan_routes({*p.scan_service, p.signing_key.public_pem,
                                   static_cast<std::size_t>(config->assurance.upload_max_bytes), p.grants.get()}))
    routes.push_back(std::move(r));
  ops->openapi = std::make_shared<const std::string>(http::openapi_document(routes, "SecPlat", kVersion));
  // The web dashboard's static files (public): served, but not part of the API document.
  for (auto& r : api::web_routes()) routes.push_back(std::move(r));

  return routes;
}

}  // namespace

namespace {

// Role processes without the API (worker, ingest, deriver, notifier, correlator) serve only
// /health, /ready and /metrics on their own listen address, with the API's auth rules.
std::vector<http::Route> role_routes(Platform& p) {
  auto ops = std::make_shared<api::OpsContext>();
  ops->db = p.db.get();
  ops->queue = p.queue.get();
  ops->metrics = &p.metrics;
  ops->metrics_public = p.config.http.metrics_public;
  api::register_process_metrics(p.metrics, p.queue.get(), p.db.get());
  std::vector<http::Route> routes = api::ops_routes(ops);
  std::erase_if(routes, [](const http::Route& r) {
    return r.path != "/health" && r.path != "/ready" && r.path != "/metrics";
  });
  return routes;
}

// Raises the open-file limit and makes this process's scratch space (scan checkouts, tool work
// dirs, upload spools), removing what killed processes left behind. False (logged) on failure.
bool prepare_scanning_process() {
  raise_open_file_limit();
  if (auto scratch_dir = scratch::init(); !scratch_dir) {
    log::error("start-up failed", {log::str("error", scratch_dir.error().message)});
    return false;
  }
  return true;
}

// A role process without database credentials (the notifier with notify.api_url, a worker with
// worker.api_url): Redis for its input, the API for everything it records. It serves /health,
// /ready (Redis and the API) and /metrics (only with http.metrics_public: no user store here
// answers tokens); nothing else, and no route spools a body.
struct RemoteRole {
  std::string name;
  std::string instance_id;
  std::string api_url;                  // logged by host only
  Metrics* metrics = nullptr;
  queue::Queue* queue = nullptr;
  std::function<Status()> api_check;    // one cheap call to the API
  std::function<Status()> start;
  std::function<void()> stop;
};

int run_remote_role(const Config& config, RemoteRole role, const sigset_t& stop_signals, int64_t t0) {
  role.metrics->gauge("secplat_build_info", "Build of this process (always 1) and the role it runs",
                      {{"version", kVersion}, {"role", role.name}})
      .set(1);
  auto ops = std::make_shared<api::OpsContext>();
  ops->queue = role.queue;
  ops->metrics = role.metrics;
  ops->metrics_public = config.http.metrics_public;
  ops->ready_checks.emplace_back("api", role.api_check);
  api::register_process_metrics(*role.metrics, role.queue, nullptr);
  std::vector<http::Route> routes = api::ops_routes(ops);
  std::erase_if(routes, [](const http::Route& r) {
    return r.path != "/health" && r.path != "/ready" && r.path != "/metrics";
  });
  if (auto s = role.start(); !s.ok()) {
    log::error("start-up failed", {log::str("error", role.name + ": " + s.error().message)});
    return 1;
  }
  HttpConfig limits = config.http;
  limits.io_threads = 1;
  limits.worker_threads = std::min(limits.worker_threads, 2);
  http::Server server(http::ServerOptions{config.host, config.port, limits, ""}, std::move(routes), nullptr,
                      role.metrics);
  auto port = server.start();
  if (!port) {
    log::error("start-up failed", {log::str("error", "listen " + config.listen + ": " + port.error().message)});
    role.stop();
    return 1;
  }
  const std::string url = "http://" + config.host + ":" + std::to_string(*port);
  std::printf("SecPlat %s metrics at %s/metrics\n", role.name.c_str(), url.c_str());
  log::info("role running", {log::str("role", role.name), log::str("instance", role.instance_id),
                             log::str("api", http::url_host(role.api_url)),
                             log::integer("startup_ms", steady_ms() - t0)});
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  log::info("shutting down", {log::str("signal", sig == SIGINT ? "SIGINT" : "SIGTERM")});
  server.shutdown();
  server.wait();
  role.stop();
  log::info("stopped");
  return 0;
}

// The `notifier` role with notify.api_url: Redis for the events, the API for its delivery records
// and asset lookups; no database is opened (its credentials need not be on this machine).
int run_remote_notifier(const Config& config, int64_t t0) {
  if (config.redis_url.empty()) {
    std::fprintf(stderr, "secplat notifier: set SECPLAT_REDIS_URL (the events come from Redis Streams)\n");
    return 2;
  }
  sigset_t stop_signals = block_stop_signals();  // before any thread starts
  auto remote = open_remote_notifier(config);
  if (!remote) {
    log::error("start-up failed", {log::str("error", remote.error().message)});
    return 1;
  }
  RemoteNotifier& n = **remote;
  RemoteRole role;
  role.name = "notifier";
  role.instance_id = n.instance_id;
  role.api_url = config.notify.api_url;
  role.metrics = &n.metrics;
  role.queue = n.queue.get();
  role.api_check = [ledger = n.ledger.get()]() -> Status {
    auto s = ledger->status_of("ready-check", "-");
    if (!s.ok()) return std::move(s).take_error();
    return ok_status();
  };
  role.start = [&n] { return n.notifier->start(); };
  role.stop = [&n] { n.notifier->stop(); };
  return run_remote_role(config, std::move(role), stop_signals, t0);
}

// The `worker` role with worker.api_url: scan and job messages from Redis, scan state, logs,
// findings, job logs and upload permits through the API; no database is opened. Scan events are
// also published to Redis for the API replicas' WebSocket followers, as from any worker.
int run_remote_worker(const Config& config, int64_t t0) {
  if (config.redis_url.empty()) {
    std::fprintf(stderr, "secplat worker: set SECPLAT_REDIS_URL (the jobs come from Redis Streams)\n");
    return 2;
  }
  if (!prepare_scanning_process()) return 1;
  scratch::ReleaseAtExit scratch_release;  // after everything below is gone
  sigset_t stop_signals = block_stop_signals();  // before any thread starts
  auto remote = open_remote_worker(config);
  if (!remote) {
    log::error("start-up failed", {log::str("error", remote.error().message)});
    return 1;
  }
  RemoteWorker& w = **remote;
  assurance::ScanEventRelay relay(*w.queue, *w.scan_events, {w.instance_id});
  relay.attach_publisher();
  RemoteRole role;
  role.name = "worker";
  role.instance_id = w.instance_id;
  role.api_url = config.worker.api_url;
  role.metrics = &w.metrics;
  role.queue = w.queue.get();
  role.api_check = [ledger = w.scans.get()]() -> Status {
    auto s = ledger->status_of("test_readycheck00");
    if (!s.ok()) return std::move(s).take_error();
    return ok_status();
  };
  role.start = [&w, &config] { return w.scan_worker->start(config.assurance.max_concurrent_scans); };
  // Running scans finish (a SIGKILL instead leaves them to another worker, through their leases).
  role.stop = [&w] { w.scan_worker->stop(); };
  return run_remote_role(config, std::move(role), stop_signals, t0);
}

// `serve` (every role, one process, embedded backends or not) and the role processes share this:
// load the config, open the platform, start the parts of the roles asked for, wait for SIGTERM.
int run_roles(const CommonFlags& flags, const std::vector<Role>& roles, bool single_process) {
  const int64_t t0 = steady_ms();
  auto config = load(flags);
  if (!config) return 2;
  auto has = [&roles](Role r) { return std::find(roles.begin(), roles.end(), r) != roles.end(); };
  const std::string name = single_process ? "serve" : role_name(roles.front());
  log::set_service(single_process ? std::string("secplat") : "secplat-" + name);
  if (!single_process && roles == std::vector<Role>{Role::notifier} && !config->notify.api_url.empty())
    return run_remote_notifier(*config, t0);
  if (!single_process && roles == std::vector<Role>{Role::worker} && !config->worker.api_url.empty())
    return run_remote_worker(*config, t0);
  if (!single_process && (config->database_url.empty() || config->redis_url.empty())) {
    std::fprintf(stderr,
                 "secplat %s: a role process needs PostgreSQL and Redis shared with the other roles: set "
                 "SECPLAT_DATABASE_URL and SECPLAT_REDIS_URL (or run every role in one process with `secplat serve`)\n",
                 name.c_str());
    return 2;
  }
  if (!prepare_scanning_process()) return 1;
  scratch::ReleaseAtExit scratch_release;  // after everything below is gone
  sigset_t stop_signals = block_stop_signals();  // before any thread starts

  // Migrations run here (under the store's advisory lock, so processes may start in any order).
  auto platform = open_platform(*config);
  if (!platform) {
    log::error("start-up failed", {log::str("error", platform.error().message)});
    return 1;
  }
  Platform& p = **platform;
  p.metrics.gauge("secplat_build_info", "Build of this process (always 1) and the role it runs",
                  {{"version", kVersion}, {"role", name}})
      .set(1);
  auto fail = [](const std::string& what, const Error& e) {
    log::error("start-up failed", {log::str("error", what + ": " + e.message)});
    return 1;
  };

  std::optional<std::string> admin_password;  // printed once, on the start that created the account
  if (has(Role::api)) {
    auto admin = auth::bootstrap_admin(*p.users, *p.audit, config->admin_password);
    if (!admin) return fail("admin bootstrap", admin.error());
    if (*admin) admin_password = **admin;
    // Config-as-code assets: the file wins for the assets it declares.
    if (auto s = api::apply_declared_assets(*p.assets, *p.findings, *p.audit, config->declared_assets_json); !s.ok()) {
      log::error("start-up failed", {log::str("error", s.error().message)});
      std::fprintf(stderr, "secplat: %s\n", s.error().message.c_str());
      return 2;
    }
  }

  // Several processes: scan events cross them through the queue (workers and the api publish,
  // the api follows). One process needs none of it.
  assurance::ScanEventRelay relay(*p.queue, *p.scan_events, {p.instance_id});
  if (!single_process && (has(Role::api) || has(Role::worker))) relay.attach_publisher();
  if (!single_process && has(Role::api)) {
    if (auto s = relay.start(); !s.ok()) return fail("scan event relay", s.error());
  }

  if (has(Role::worker)) {
    if (single_process) {
      // This process is the only worker: scans its predecessor left RUNNING are failed
      // ("interrupted"), posture jobs it left running go back to the queue. Role processes never
      // do this (a RUNNING scan may be another worker's; leases hand it over instead).
      if (auto s = p.scan_worker->recover(); !s.ok()) return fail("scan recovery", s.error());
      if (auto n = p.jobs->recover(); !n.ok()) return fail("job recovery", n.error());
    }
    if (auto s = p.scan_worker->start(config->assurance.max_concurrent_scans); !s.ok())
      return fail("scan worker", s.error());
  }
  // Posture: the deriver folds health events into asset_status; the prober feeds it.
  if (has(Role::deriver)) {
    if (auto s = p.deriver->start(); !s.ok()) return fail("deriver", s.error());
    // The OpenSearch mirror copies the deriver's input (events) and output (status), on its own thread.
    if (p.opensearch)
      if (auto s = p.opensearch->start(); !s.ok()) return fail("opensearch mirror", s.error());
  }
  if (has(Role::notifier)) {
    if (auto s = p.notifier->start(); !s.ok()) return fail("notifier", s.error());
  }
  if (has(Role::correlator)) {
    if (auto s = p.correlator->start(); !s.ok()) return fail("correlator", s.error());
  }
  if (has(Role::ingest) && config->posture.probing) {
    if (auto s = p.ingest->start(); !s.ok()) return fail("prober", s.error());
  }

  std::unique_ptr<http::Server> server;
  if (has(Role::api) || has(Role::trust)) {
    server = std::make_unique<http::Server>(
        http::ServerOptions{config->host, config->port, config->http, config->data_dir + "/tmp"},
        build_routes(p, !has(Role::api)),
        p.authenticator.get(), &p.metrics);
    auto port = server->start();
    if (!port) return fail("listen " + config->listen, port.error());
    std::string url = "http://" + config->host + ":" + std::to_string(*port);
    log::info(single_process ? "secplat serving" : "secplat " + name + " serving",
              {log::str("url", url), log::str("data_dir", config->data_dir),
               log::integer("startup_ms", steady_ms() - t0)});
    std::printf(single_process          ? "SecPlat is running at %s\n"
                : has(Role::api)        ? "SecPlat API is running at %s\n"
                                        : "SecPlat trust gate is running at %s\n",
                url.c_str());
    if (admin_password) {
      // Never logged.
      std::printf("Created user 'admin' with password: %s\n(set SECPLAT_ADMIN_PASSWORD to choose it)\n",
                  admin_password->c_str());
    }
  } else {
    // Health and metrics only: a small pool is plenty.
    HttpConfig limits = config->http;
    limits.io_threads = 1;
    limits.worker_threads = std::min(limits.worker_threads, 2);
    server = std::make_unique<http::Server>(
        http::ServerOptions{config->host, config->port, limits, config->data_dir + "/tmp"}, role_routes(p),
        p.authenticator.get(), &p.metrics);
    auto port = server->start();
    if (!port) return fail("listen " + config->listen, port.error());
    std::string url = "http://" + config->host + ":" + std::to_string(*port);
    log::info("secplat " + name + " serving metrics", {log::str("url", url)});
    std::printf("SecPlat %s metrics at %s/metrics\n", name.c_str(), url.c_str());
  }
  if (!single_process)
    log::info("role running", {log::str("role", name), log::str("instance", p.instance_id),
                               log::integer("startup_ms", steady_ms() - t0)});
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log::info("shutting down", {log::str("signal", sig == SIGINT ? "SIGINT" : "SIGTERM")});
  if (server) {
    server->shutdown();
    server->wait();
  }
  relay.stop();
  p.correlator->stop();
  p.notifier->stop();
  p.ingest->stop();
  p.deriver->stop();
  if (p.opensearch) p.opensearch->stop();
  p.scan_worker->stop();  // running scans finish (a SIGKILL instead leaves them to another worker)
  log::info("stopped");
  return 0;
}

}  // namespace

int run_serve(const CommonFlags& flags) {
  return run_roles(flags, {Role::api, Role::worker, Role::ingest, Role::deriver, Role::notifier, Role::correlator},
                   /*single_process=*/true);
}

const char* role_name(Role role) {
  switch (role) {
    case Role::api: return "api";
    case Role::worker: return "worker";
    case Role::ingest: return "ingest";
    case Role::deriver: return "deriver";
    case Role::trust: return "trust";
    case Role::notifier: return "notifier";
    case Role::correlator: return "correlator";
  }
  return "?";
}

int run_role(const CommonFlags& flags, Role role) { return run_roles(flags, {role}, /*single_process=*/false); }

int run_migrate(const CommonFlags& flags) {
  auto config = load(flags);
  if (!config) return 2;
  auto platform = open_platform(*config);  // opening applies the migrations
  if (!platform) {
    std::fprintf(stderr, "secplat: %s\n", platform.error().message.c_str());
    return 1;
  }
  auto applied = store::applied_migrations(*(*platform)->db);
  if (!applied) {
    std::fprintf(stderr, "secplat: %s\n", applied.error().message.c_str());
    return 1;
  }
  std::printf("schema up to date: %zu migrations applied\n", applied->size());
  return 0;
}

int run_user_password(const CommonFlags& flags, const std::string& username,
                      const std::optional<std::string>& create_role) {
  auto config = load(flags);
  if (!config) return 2;
  auto platform = open_platform(*config);
  if (!platform) {
    std::fprintf(stderr, "secplat: %s\n", platform.error().message.c_str());
    return 1;
  }
  Platform& p = **platform;
  std::string password = read_new_password();
  auth::Actor actor{"cli", ""};
  if (create_role) {
    auth::NewUser nu;
    nu.username = username;
    nu.role = *auth::role_from_string(*create_role);
    nu.password = password;
    auto u = p.accounts->create(nu, actor);
    if (!u) {
      std::fprintf(stderr, "secplat: %s\n", u.error().message.c_str());
      return u.error().code == Errc::bad_request || u.error().code == Errc::conflict ? 2 : 1;
    }
    std::printf("created user %s (%s)\n", username.c_str(), create_role->c_str());
    return 0;
  }
  auto u = p.accounts->reset_password(username, password, actor);
  if (!u) {
    std::fprintf(stderr, "secplat: %s\n", u.error().message.c_str());
    return u.error().code == Errc::internal || u.error().code == Errc::unavailable ? 1 : 2;
  }
  std::printf("password of %s reset; the user is enabled\n", username.c_str());
  return 0;
}

}  // namespace secplat::app
