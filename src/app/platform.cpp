#include "app/platform.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include "assurance/http_scan_ledger.h"
#include "assurance/http_upload_gate.h"
#include "assurance/remote_manifest.h"
#include "notify/channel.h"
#include "notify/http_delivery_ledger.h"
#include "notify/notifier.h"
#include "notify/sql_delivery_ledger.h"
#include "api/alerts_routes.h"
#include "incidents/alert_book.h"
#include "incidents/correlator.h"
#include "incidents/incident_service.h"
#include "incidents/suppression.h"
#include "assurance/signing_key.h"
#include "objects/object_store.h"
#include "objects/oci_registry.h"
#include "auth/migrations.h"
#include "findings/migrations.h"
#include "posture/index/opensearch_mirror.h"
#include "posture/migrations.h"
#include "posture/http_job_ledger.h"
#include "posture/sql_job_ledger.h"
#include "auth/bootstrap.h"
#include "core/ids.h"
#include "core/log.h"
#include "queue/envelope.h"
#include "queue/local_queue.h"
#include "queue/redis_queue.h"
#include "queue/streams.h"
#include "scanners/tools/external_scanners.h"
#include "scanners/sbom/sbom_scanner.h"
#include "scanners/secrets/secrets_scanner.h"
#include "store/postgres_db.h"
#include "store/sqlite_db.h"

namespace secplat::app {

std::vector<store::Migration> all_migrations() {
  std::vector<store::Migration> all = auth::auth_migrations();
  for (auto& m : queue::local_queue_migrations()) all.push_back(std::move(m));
  for (auto& m : findings::findings_migrations()) all.push_back(std::move(m));
  for (auto& m : assurance::scan_migrations()) all.push_back(std::move(m));
  for (auto& m : posture::posture_migrations()) all.push_back(std::move(m));
  for (auto& m : trust::transparency_log_migrations()) all.push_back(std::move(m));
  for (auto& m : trust::trust_gate_migrations()) all.push_back(std::move(m));
  for (auto& m : notify::notify_migrations()) all.push_back(std::move(m));
  for (auto& m : incidents::incident_migrations()) all.push_back(std::move(m));
  for (auto& m : incidents::suppression_migrations()) all.push_back(std::move(m));
  for (auto& m : incidents::correlator_migrations()) all.push_back(std::move(m));
  return all;
}

static Status make_data_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error::internal("data_dir " + dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);  // keys and the database live here
  // Request bodies of spooled routes (uploads) land here: same filesystem as the upload store,
  // so keeping one is a rename.
  std::filesystem::create_directories(dir + "/tmp", ec);
  if (ec) return Error::internal("data_dir " + dir + "/tmp: " + ec.message());
  return {};
}

namespace {

// The in-process trust gate behind the publisher's port.
class LocalUploadGate final : public assurance::UploadGate {
 public:
  explicit LocalUploadGate(trust::TrustGate& gate) : gate_(gate) {}
  Result<Json> verify_and_permit(const Json& request) override { return gate_.verify_and_permit(request); }
  Status redeem(const std::string& permit, const std::string& scan_id,
                const std::map<std::string, std::string>& digests, const std::string& redeemed_by) override {
    auto c = gate_.redeem(permit, scan_id, digests, redeemed_by);
    if (!c) return std::move(c).take_error();
    return ok_status();
  }

 private:
  trust::TrustGate& gate_;
};

}  // namespace

namespace {

Result<std::unique_ptr<queue::Queue>> open_queue(const Config& config, const Clock& clock, store::Db* db) {
  const auto& qc = config.queue;
  const queue::RetryPolicy retry{qc.max_attempts, qc.backoff_base_ms, qc.backoff_max_ms};
  if (!config.redis_url.empty()) {
    queue::RedisQueueOptions ro;
    ro.url = config.redis_url;
    ro.retry = retry;
    ro.visibility_timeout_ms = qc.visibility_timeout_ms;
    ro.max_len = qc.max_len;
    ro.dlq_max_len = qc.dlq_max_len;
    ro.key_prefix = qc.redis_prefix;
    ro.consumer_prune_idle_ms = qc.consumer_prune_idle_ms;
    ro.clock = &clock;
    return queue::open_redis_queue(ro);
  }
  if (!db) return Error::internal("no queue: set redis_url");
  queue::LocalQueueOptions qo;
  qo.retry = retry;
  qo.visibility_timeout_ms = qc.visibility_timeout_ms;
  qo.max_len = qc.max_len;
  qo.dlq_max_len = qc.dlq_max_len;
  qo.clock = &clock;
  return queue::open_local_queue(*db, qo);
}

Result<std::unique_ptr<notify::Notifier>> make_notifier(const Config& config, notify::DeliveryLedger& ledger,
                                                        queue::Queue& queue, notify::AssetLookup assets,
                                                        const std::string& instance_id, Metrics* metrics,
                                                        const Clock& clock) {
  notify::NotifierOptions nopt;
  nopt.consumer = "notifier-" + instance_id;
  nopt.rate_limit = config.notify.rate_limit_per_minute;
  nopt.digest = config.notify.digest;
  nopt.reminder_after_s = config.notify.reminder_minutes * 60;
  nopt.metrics = metrics;
  auto channels = notify::make_channels(config.notify);
  std::set<std::string> channel_names;
  for (const auto& c : channels) channel_names.insert(c->name());
  auto routes = notify::parse_routes(config.notify.routes_json, channel_names);
  if (!routes.ok()) return std::move(routes).take_error();
  nopt.routes = std::move(*routes);
  nopt.asset_lookup = std::move(assets);
  return std::make_unique<notify::Notifier>(ledger, queue, std::move(channels), std::move(nopt), clock);
}

std::string new_instance_id() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || !*host) std::snprintf(host, sizeof host, "host");
  // Unique even across containers that all run as pid 1, and across restarts of one process.
  return std::string(host) + "-" + std::to_string(::getpid()) + "-" + random_hex(3);
}


// What every worker runs scans with, whichever ledger it has: the scanners, the pipeline's options,
// the publisher's settings, the lease, and the posture jobs on the same worker threads.
std::vector<std::shared_ptr<scanners::Scanner>> scan_tools(const Config& config) {
  std::vector<std::shared_ptr<scanners::Scanner>> tools;
  tools.push_back(scanners::make_secrets_scanner());
  tools.push_back(scanners::make_sbom_scanner());
  scanners::ToolSandbox tool_box = scanners::tool_sandbox_from(config.assurance);
  tool_box.hidden_paths.push_back(std::filesystem::absolute(config.data_dir).string());  // keys, database, bundles
  for (auto& s : scanners::make_external_scanners(scanners::ToolLocator::from_environment(), tool_box))
    tools.push_back(std::move(s));
  return tools;
}

assurance::PipelineOptions pipeline_options(const Config& config, const crypto::EcKeyPair& key,
                                            assurance::RemoteManifestSource* manifests, Metrics* metrics) {
  assurance::PipelineOptions po{config.data_dir, config.allowed_source_roots, config.assurance,
                                key.private_pem, key.public_pem, ""};
  po.remote_manifests = manifests;
  po.metrics = metrics;
  return po;
}

// Storage the bundles are published to, also the source of s3:// and oci:// manifests.
void open_object_storage(const Config& config, std::unique_ptr<objects::ObjectStore>& s3,
                         std::unique_ptr<objects::OciRegistry>& oci,
                         std::unique_ptr<assurance::RemoteManifestSource>& manifests) {
  if (!config.s3.endpoint.empty()) s3 = objects::make_s3_object_store(config.s3);
  if (!config.oci.registry.empty()) oci = std::make_unique<objects::OciRegistry>(config.oci);
  manifests = std::make_unique<assurance::ObjectManifestSource>(
      s3.get(), oci.get(), config.oci.registry, config.assurance.manifest_s3_buckets,
      config.assurance.manifest_oci_repositories);
}

assurance::PublishSettings publish_settings(const Config& config, const std::string& instance_id) {
  assurance::PublishSettings ps;
  ps.bundles_dir = config.data_dir + "/bundles";
  ps.raw_bucket = config.s3.raw_bucket;
  ps.raw_prefix = config.s3.raw_prefix;
  ps.golden_bucket = config.s3.golden_bucket;
  ps.golden_prefix = config.s3.golden_prefix;
  ps.oci_registry = config.oci.registry;
  ps.oci_repository = config.oci.repository;
  ps.auto_promote = config.trust.auto_promote;
  ps.instance = instance_id;
  return ps;
}

// The lease fits inside the visibility timeout: a reclaimed scan message finds it expired.
int64_t scan_lease_ms(const Config& config) { return std::min<int64_t>(30000, config.queue.visibility_timeout_ms); }

posture::JobRunnerOptions job_runner_options(const Config& config, Metrics* metrics) {
  posture::JobRunnerOptions ropt;
  ropt.net.allow_private = config.probe_allow_private;
  ropt.max_attempts = config.queue.max_attempts;
  ropt.metrics = metrics;
  return ropt;
}

// The same worker pool runs the posture platform's scan jobs (messages with a job_id).
void run_posture_jobs_on(assurance::ScanWorker& worker, posture::JobRunner& runner) {
  worker.set_other_job_handler([&runner](const queue::Message& m) {
    using Kind = assurance::ScanWorker::OtherJobResult::Kind;
    auto r = runner.handle(m);
    Kind k = r.outcome == posture::JobRunner::Outcome::ack     ? Kind::ack
             : r.outcome == posture::JobRunner::Outcome::retry ? Kind::retry
                                                               : Kind::dead_letter;
    return assurance::ScanWorker::OtherJobResult{k, r.error};
  });
}

}  // namespace

notify::AssetLookup notify_asset_lookup(posture::AssetRepo& assets) {
  return [&assets](const std::string& key) -> std::optional<notify::AssetMeta> {
    auto a = assets.get_by_key(key);
    if (!a.ok()) return std::nullopt;
    return notify::AssetMeta{a->environment, a->owner.value_or(""), a->owner_team.value_or("")};
  };
}

RemoteNotifier::RemoteNotifier() = default;
RemoteNotifier::~RemoteNotifier() = default;

Result<std::unique_ptr<RemoteNotifier>> open_remote_notifier(const Config& config) {
  if (config.notify.api_url.empty() || config.redis_url.empty())
    return Error::bad_request("a notifier without a database needs notify.api_url and redis_url");
  auto n = std::make_unique<RemoteNotifier>();
  n->config = config;
  n->instance_id = new_instance_id();
  auto q = open_queue(config, n->clock, nullptr);
  if (!q) return Error::internal("queue: " + q.error().message);
  n->queue = std::move(*q);
  auto ledger = std::make_unique<notify::HttpDeliveryLedger>(config.notify.api_url, config.notify.api_key);
  notify::AssetLookup assets = ledger->asset_lookup();
  n->ledger = std::move(ledger);
  auto notifier = make_notifier(config, *n->ledger, *n->queue, std::move(assets), n->instance_id, &n->metrics, n->clock);
  if (!notifier.ok()) return std::move(notifier).take_error();
  n->notifier = std::move(*notifier);
  return n;
}

RemoteWorker::RemoteWorker() = default;
RemoteWorker::~RemoteWorker() = default;

Result<std::unique_ptr<RemoteWorker>> open_remote_worker(const Config& config) {
  if (config.worker.api_url.empty() || config.redis_url.empty())
    return Error::bad_request("a worker without a database needs worker.api_url and redis_url");
  auto w = std::make_unique<RemoteWorker>();
  w->config = config;
  w->instance_id = new_instance_id();
  SECPLAT_TRY(make_data_dir(config.data_dir));
  auto q = open_queue(config, w->clock, nullptr);
  if (!q) return Error::internal("queue: " + q.error().message);
  w->queue = std::move(*q);
  for (const auto& sg : queue::kStreams)
    if (auto s = w->queue->ensure_group(std::string(sg.stream), std::string(sg.group)); !s.ok())
      return Error::internal("queue: " + s.error().message);
  auto key = assurance::load_or_create_signing_key(config.data_dir);
  if (!key) return Error::internal("signing key: " + key.error().message);
  w->signing_key = std::move(*key);

  auto scans = std::make_unique<assurance::HttpScanLedger>(config.worker.api_url, config.worker.api_key);
  assurance::SarifImporter import = scans->sarif_importer();
  w->scans = std::move(scans);
  w->scan_events = std::make_unique<assurance::ScanEventLog>(*w->scans, w->clock);
  open_object_storage(config, w->object_store, w->oci, w->remote_manifests);
  w->scan_pipeline = std::make_unique<assurance::ScanPipeline>(
      *w->scans, *w->scan_events, w->clock,
      pipeline_options(config, w->signing_key, w->remote_manifests.get(), &w->metrics), scan_tools(config),
      std::move(import));
  w->scan_worker = std::make_unique<assurance::ScanWorker>(*w->queue, *w->scan_pipeline, *w->scans, *w->scan_events,
                                                           "worker-" + w->instance_id, scan_lease_ms(config));
  // Publishing: the trust role's gate when trust.url names one (with trust.api_key), else the API's
  // (its /internal/trust routes, with the worker's service key).
  if (!config.trust.url.empty())
    w->upload_gate = std::make_unique<assurance::HttpUploadGate>(config.trust.url, config.trust.api_key);
  else
    w->upload_gate = std::make_unique<assurance::HttpUploadGate>(config.worker.api_url + "/internal/trust",
                                                                 config.worker.api_key);
  w->publisher = std::make_unique<assurance::BundlePublisher>(*w->scans, *w->upload_gate, w->object_store.get(),
                                                              w->oci.get(), w->signing_key,
                                                              publish_settings(config, w->instance_id), w->clock);
  w->scan_worker->set_publisher(w->publisher.get());
  w->job_ledger = std::make_unique<posture::HttpJobLedger>(config.worker.api_url, config.worker.api_key);
  w->job_runner = std::make_unique<posture::JobRunner>(*w->job_ledger, job_runner_options(config, &w->metrics));
  run_posture_jobs_on(*w->scan_worker, *w->job_runner);
  return w;
}

Platform::Platform() = default;
Platform::~Platform() = default;

Result<std::unique_ptr<Platform>> open_platform(const Config& config) {
  auto p = std::make_unique<Platform>();
  p->config = config;
  p->instance_id = new_instance_id();
  SECPLAT_TRY(make_data_dir(config.data_dir));

  // PostgreSQL when database_url is set, else the embedded SQLite file in data_dir.
  auto db = config.database_url.empty()
                ? store::open_sqlite({config.data_dir + "/secplat.db", config.store.readers, config.store.busy_timeout_ms})
                : store::open_postgres({config.database_url, config.store.readers + 4});
  if (!db) return Error::internal("store: " + db.error().message);
  p->db = std::move(*db);
  if (auto s = store::migrate(*p->db, all_migrations()); !s.ok())
    return Error::internal("store migration: " + s.error().message);

  // Redis Streams when redis_url is set, else the durable local queue in the store.
  auto q = open_queue(config, p->clock, p->db.get());
  if (!q) return Error::internal("queue: " + q.error().message);
  p->queue = std::move(*q);
  for (const auto& sg : queue::kStreams)
    if (auto s = p->queue->ensure_group(std::string(sg.stream), std::string(sg.group)); !s.ok())
      return Error::internal("queue: " + s.error().message);

  auto secret = auth::load_or_create_jwt_secret(config.data_dir, config.auth.jwt_secret);
  if (!secret) return Error::internal("auth.jwt_secret: " + secret.error().message);

  const auto& a = config.auth;
  p->audit = std::make_unique<auth::AuditLog>(*p->db, p->clock);
  p->users = std::make_unique<auth::UserRepo>(*p->db, p->clock);
  p->refresh_tokens =
      std::make_unique<auth::RefreshTokens>(*p->db, p->clock, int64_t{a.refresh_token_minutes} * 60 * 1000);
  p->api_keys = std::make_unique<auth::ApiKeys>(*p->db, p->clock, *p->audit);
  p->login_limiter = std::make_unique<auth::LoginLimiter>(p->clock, a.login_max_failures, a.login_window_s);
  p->access_tokens = std::make_unique<auth::AccessTokens>(*secret, p->clock, a.access_token_minutes);
  p->logins = std::make_unique<auth::LoginService>(*p->users, *p->refresh_tokens, *p->login_limiter,
                                                   *p->access_tokens, *p->audit);
  p->accounts = std::make_unique<auth::UserAccounts>(*p->db, *p->users, *p->refresh_tokens, *p->audit);
  p->grants = std::make_unique<auth::WorkspaceGrants>(*p->db, p->clock, *p->audit);
  p->authenticator =
      std::make_unique<auth::AuthService>(*p->access_tokens, *p->users, *p->api_keys, config.auth.user_check_ms);

  p->assets = std::make_unique<posture::AssetRepo>(*p->db, p->clock);
  p->findings = std::make_unique<findings::FindingsService>(*p->db, p->clock, *p->audit);
  // New serious findings open incidents and remediation resolves them: the changes go to the
  // correlator's stream once committed. A failed publish is logged, not retried (the finding itself
  // is stored; the next change of it is published again).
  auto sink = [q = p->queue.get(), clock = &p->clock](const std::vector<findings::FindingEvent>& events) {
    std::vector<queue::Fields> batch;
    batch.reserve(events.size());
    for (const auto& e : events) {
      Json payload{{"finding_id", e.finding_id}, {"finding_key", e.finding_key}, {"title", e.title},
                   {"severity", e.severity}, {"status", e.status}, {"source", e.source}};
      batch.push_back(queue::make_envelope(e.type, e.asset_key, e.severity, payload, "", clock->now_ms()));
    }
    auto r = q->publish_batch(std::string(queue::kCorrelationEvents), batch);
    if (!r.ok())
      log::warn("finding events not published", {log::str("error", r.error().message),
                                                 log::integer("events", static_cast<int64_t>(events.size()))});
  };
  p->findings->set_event_sink(std::move(sink), [](const findings::FindingEvent& e) {
    return incidents::Correlator::acts_on_finding_event(e.type, e.severity, e.status);
  });

  const auto& pc = config.posture;
  p->events = std::make_unique<posture::EventStore>(*p->db);
  p->posture_view = std::make_unique<posture::PostureView>(*p->db, p->clock);
  p->reports = std::make_unique<posture::Reports>(*p->db, *p->events, *p->posture_view, p->clock);
  posture::DeriverOptions dopt;
  dopt.rules.stale_ms = int64_t{pc.stale_seconds} * 1000;
  dopt.rules.debounce_samples = pc.debounce_samples;
  dopt.rules.flap_transitions = pc.flap_transitions;
  dopt.sweep_interval_ms = int64_t{pc.sweep_interval_s} * 1000;
  dopt.retention_ms = int64_t{pc.events_retention_days} * 86400 * 1000;
  dopt.consumer = "deriver-" + p->instance_id;
  dopt.metrics = &p->metrics;
  p->deriver = std::make_unique<posture::Deriver>(*p->db, p->queue.get(), p->clock, dopt);
  p->deriver->set_on_change([view = p->posture_view.get()] { view->invalidate(); });
  p->deriver->set_housekeeping([f = p->findings.get()](int64_t now) {
    auto n = f->expire_accepted_risks(now);
    if (!n.ok()) log::warn("accepted-risk expiry failed", {log::str("error", n.error().message)});
    else if (*n > 0) log::info("accepted risks expired", {log::integer("findings", *n)});
  });
  if (!config.opensearch.url.empty()) {
    const auto& oc = config.opensearch;
    posture::opensearch::MirrorOptions mo;
    mo.url = oc.url;
    mo.username = oc.username;
    mo.password = oc.password;
    mo.batch_size = oc.batch_size;
    mo.flush_interval_ms = oc.flush_interval_ms;
    mo.timeout_ms = oc.timeout_ms;
    mo.status_refresh_ms = oc.status_refresh_s * 1000;
    mo.metrics = &p->metrics;
    p->opensearch = std::make_unique<posture::opensearch::Mirror>(*p->db, p->clock, mo);
  }
  posture::IngestOptions iopt;
  iopt.net.allow_private = config.probe_allow_private;
  iopt.refresh_ms = int64_t{pc.target_refresh_s} * 1000;
  iopt.max_in_flight = pc.probe_max_in_flight;
  iopt.metrics = &p->metrics;
  p->ingest = std::make_unique<posture::Ingest>(*p->assets, *p->events, p->queue.get(), iopt);
  p->jobs = std::make_unique<posture::JobService>(*p->db, *p->queue, p->clock);
  p->job_ledger = std::make_unique<posture::SqlJobLedger>(*p->jobs, *p->assets, *p->findings);
  p->job_runner = std::make_unique<posture::JobRunner>(*p->job_ledger, job_runner_options(config, &p->metrics));

  auto key = assurance::load_or_create_signing_key(config.data_dir);
  if (!key) return Error::internal("signing key: " + key.error().message);
  p->signing_key = std::move(*key);
  p->scans = std::make_unique<assurance::ScanStore>(*p->db, p->clock);
  p->scan_events = std::make_unique<assurance::ScanEventLog>(*p->scans, p->clock);
  // A repository scan's SARIF becomes findings on the component's asset (also for workers that
  // import through /internal/scans/import-sarif).
  Platform* raw = p.get();
  p->sarif_import = [raw](const std::string& component, const Json& sarif, const std::string& tool,
                          const std::string& test_id) -> Status {
    auto asset = raw->assets->ensure(component, "repository", component);
    if (!asset) return std::move(asset).take_error();
    auto r = raw->findings->import_sarif(component, sarif, tool, auth::Actor{"scan:" + test_id, test_id});
    if (!r) return std::move(r).take_error();
    return {};
  };
  open_object_storage(config, p->object_store, p->oci, p->remote_manifests);
  p->scan_pipeline = std::make_unique<assurance::ScanPipeline>(
      *p->scans, *p->scan_events, p->clock,
      pipeline_options(config, p->signing_key, p->remote_manifests.get(), &p->metrics), scan_tools(config),
      p->sarif_import);
  p->scan_service = std::make_unique<assurance::ScanService>(*p->scans, *p->scan_events, *p->queue, *p->audit,
                                                             p->clock, p->scan_pipeline.get(), config);
  // Trust gate, transparency log and publishing.
  trust::GateSettings gs;
  gs.trusted_keys.push_back(p->signing_key.public_pem);
  for (const auto& path : config.trust.trusted_keys) {
    auto pem = assurance::read_small_file(path, 64 * 1024);
    if (!pem) return Error::bad_request("trust.trusted_keys: " + path + ": " + pem.error().message);
    gs.trusted_keys.push_back(*pem);
  }
  gs.verified_signers = config.trust.verified_signers;
  gs.permit_ttl_s = config.trust.permit_ttl_s;
  gs.raw_bucket = config.s3.raw_bucket;
  gs.raw_prefix = config.s3.raw_prefix;
  gs.oci_registry = config.oci.registry;
  gs.oci_repository = config.oci.repository;
  p->transparency = std::make_unique<trust::TransparencyLog>(
      *p->db, p->signing_key, "secplat/" + crypto::ec_key_id(p->signing_key.public_pem).substr(0, 16), p->clock);
  p->trust_gate = std::make_unique<trust::TrustGate>(*p->db, *p->transparency, p->signing_key, gs, p->clock);
  if (config.trust.url.empty()) {
    p->upload_gate = std::make_unique<LocalUploadGate>(*p->trust_gate);
  } else {
    p->upload_gate = std::make_unique<assurance::HttpUploadGate>(config.trust.url, config.trust.api_key);
  }
  p->publisher = std::make_unique<assurance::BundlePublisher>(*p->scans, *p->upload_gate, p->object_store.get(),
                                                              p->oci.get(), p->signing_key,
                                                              publish_settings(config, p->instance_id), p->clock);
  p->scan_service->set_remote_manifests(p->remote_manifests.get());

  p->scan_worker = std::make_unique<assurance::ScanWorker>(*p->queue, *p->scan_pipeline, *p->scans, *p->scan_events,
                                                           "worker-" + p->instance_id, scan_lease_ms(config));
  p->scan_worker->set_publisher(p->publisher.get());

  p->notify_ledger = std::make_unique<notify::SqlDeliveryLedger>(*p->db);
  auto notifier = make_notifier(config, *p->notify_ledger, *p->queue, notify_asset_lookup(*p->assets),
                                p->instance_id, &p->metrics, p->clock);
  if (!notifier.ok()) return std::move(notifier).take_error();
  p->notifier = std::move(*notifier);
  // Incidents: lifecycle, suppression, legacy alert states and the correlator. The correlator asks
  // the posture read side whether an asset is still down when a suppression ends.
  p->incidents = std::make_unique<incidents::IncidentService>(*p->db, p->clock, *p->audit);
  p->suppression = std::make_unique<incidents::Suppression>(*p->db, p->clock, *p->audit);
  incidents::HealthLookup health = api::posture_health_lookup(*p->posture_view);
  p->suppression->set_health_lookup(health);
  p->alert_book = std::make_unique<incidents::AlertBook>(*p->db, p->clock, *p->audit);
  incidents::CorrelatorOptions copt;
  copt.consumer = "correlator-" + p->instance_id;
  p->correlator = std::make_unique<incidents::Correlator>(*p->db, *p->queue, *p->incidents, *p->suppression, health,
                                                          copt, p->clock);

  run_posture_jobs_on(*p->scan_worker, *p->job_runner);
  return p;
}

}  // namespace secplat::app
