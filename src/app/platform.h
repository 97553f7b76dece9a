// The composition root: opens the adapters chosen by the config and builds the domain services
// on them. Only app/ knows which adapters exist.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "assurance/bundle_publisher.h"
#include "assurance/pipeline.h"
#include "assurance/upload_gate.h"
#include "assurance/scan_events.h"
#include "assurance/scan_service.h"
#include "assurance/scan_store.h"
#include "assurance/scan_worker.h"
#include "auth/access_tokens.h"
#include "auth/api_keys.h"
#include "auth/audit_log.h"
#include "auth/auth_service.h"
#include "auth/login_limiter.h"
#include "auth/login_service.h"
#include "auth/refresh_tokens.h"
#include "auth/user_accounts.h"
#include "auth/workspace_grants.h"
#include "auth/user_repo.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/metrics.h"
#include "crypto/ecdsa.h"
#include "notify/routing.h"
#include "findings/findings_service.h"
#include "posture/asset_repo.h"
#include "posture/deriver.h"
#include "posture/events.h"
#include "posture/ingest.h"
#include "posture/job_runner.h"
#include "posture/jobs.h"
#include "posture/posture_view.h"
#include "posture/reports.h"
#include "queue/queue.h"
#include "store/db.h"
#include "trust/transparency_log.h"
#include "trust/trust_gate.h"

namespace secplat::objects {
class ObjectStore;
class OciRegistry;
}  // namespace secplat::objects
namespace secplat::notify {
class Notifier;
class DeliveryLedger;
}  // namespace secplat::notify
namespace secplat::posture::opensearch {
class Mirror;
}  // namespace secplat::posture::opensearch
namespace secplat::incidents {
class IncidentService;
class Suppression;
class AlertBook;
class Correlator;
}  // namespace secplat::incidents

namespace secplat::app {

// Members are declared in dependency order, so destruction runs services first, store last.
struct Platform {
  Platform();
  ~Platform();
  Config config;
  std::string instance_id;  // <host>-<pid>-<random>: queue consumer and scan lease owner names
  SystemClock clock;
  Metrics metrics;
  std::unique_ptr<store::Db> db;
  std::unique_ptr<queue::Queue> queue;

  std::unique_ptr<auth::AuditLog> audit;
  std::unique_ptr<auth::UserRepo> users;
  std::unique_ptr<auth::RefreshTokens> refresh_tokens;
  std::unique_ptr<auth::ApiKeys> api_keys;
  std::unique_ptr<auth::LoginLimiter> login_limiter;
  std::unique_ptr<auth::AccessTokens> access_tokens;
  std::unique_ptr<auth::LoginService> logins;
  std::unique_ptr<auth::UserAccounts> accounts;
  std::unique_ptr<auth::WorkspaceGrants> grants;
  std::unique_ptr<auth::AuthService> authenticator;

  std::unique_ptr<posture::AssetRepo> assets;
  std::unique_ptr<findings::FindingsService> findings;
  std::unique_ptr<posture::EventStore> events;
  std::unique_ptr<posture::PostureView> posture_view;
  std::unique_ptr<posture::Reports> reports;
  std::unique_ptr<posture::Deriver> deriver;  // started by the roles that derive (serve, deriver)
  std::unique_ptr<posture::Ingest> ingest;    // started by the roles that probe (serve, ingest)
  std::unique_ptr<posture::JobService> jobs;
  std::unique_ptr<posture::JobLedger> job_ledger;  // the job runner's (the store's here)
  std::unique_ptr<posture::JobRunner> job_runner;  // runs on the scan worker's threads
  // Health events and asset status → OpenSearch, when opensearch.url is set (started by the roles
  // that derive).
  std::unique_ptr<posture::opensearch::Mirror> opensearch;

  crypto::EcKeyPair signing_key;  // the instance key: bundles, attestations, manifest.sig
  std::unique_ptr<assurance::ScanStore> scans;
  std::unique_ptr<assurance::ScanEventLog> scan_events;
  assurance::SarifImporter sarif_import;  // a scan's SARIF → findings on the component's asset
  std::unique_ptr<assurance::ScanPipeline> scan_pipeline;
  std::unique_ptr<assurance::ScanService> scan_service;

  // Trust gate and publishing. The gate runs in this process unless trust.url names a trust role.
  std::unique_ptr<trust::TransparencyLog> transparency;
  std::unique_ptr<trust::TrustGate> trust_gate;
  std::unique_ptr<assurance::UploadGate> upload_gate;  // in-process adapter or HTTP client
  std::unique_ptr<objects::ObjectStore> object_store;  // S3 when s3.endpoint is set
  std::unique_ptr<objects::OciRegistry> oci;           // when oci.registry is set
  std::unique_ptr<assurance::BundlePublisher> publisher;
  std::unique_ptr<assurance::RemoteManifestSource> remote_manifests;  // s3:// and oci:// manifest URIs

  // Delivers secplat.events.notify to the configured channels (started by serve and `notifier`),
  // recording deliveries in the store's ledger (also served to remote notifiers at /internal/notify).
  std::unique_ptr<notify::DeliveryLedger> notify_ledger;
  std::unique_ptr<notify::Notifier> notifier;
  // Incidents, suppression and legacy alert states; the correlator (started by serve and
  // `correlator`) turns secplat.events.correlation into incidents.
  std::unique_ptr<incidents::IncidentService> incidents;
  std::unique_ptr<incidents::Suppression> suppression;
  std::unique_ptr<incidents::AlertBook> alert_book;
  std::unique_ptr<incidents::Correlator> correlator;
  // Last: destroyed (and so stopped) first, before anything it uses.
  std::unique_ptr<assurance::ScanWorker> scan_worker;
};

// Every migration of every module, in one list (versions are unique across modules).
std::vector<store::Migration> all_migrations();

// Creates the data dir (0700), opens and migrates the store, opens the queue and builds the
// services. Errors name what failed ("store: ...").
Result<std::unique_ptr<Platform>> open_platform(const Config& config);

// The environment and owner of an asset, for the notifier's routing rules.
notify::AssetLookup notify_asset_lookup(posture::AssetRepo& assets);

// A `notifier` role process without database credentials (notify.api_url set): the queue (Redis),
// the channels, and the delivery ledger and asset lookup over the API.
struct RemoteNotifier {
  RemoteNotifier();
  ~RemoteNotifier();
  Config config;
  std::string instance_id;
  SystemClock clock;
  Metrics metrics;
  std::unique_ptr<queue::Queue> queue;
  std::unique_ptr<notify::DeliveryLedger> ledger;
  std::unique_ptr<notify::Notifier> notifier;
};
Result<std::unique_ptr<RemoteNotifier>> open_remote_notifier(const Config& config);

// A `worker` role process without database credentials (worker.api_url set): the queue (Redis),
// the scanners and the publisher, with the scan ledger, the SARIF import and the posture job ledger
// over the API. Bundles are written to its data dir (shared with the API's on one host, or a
// volume both mount), and it signs with the instance key from there.
struct RemoteWorker {
  RemoteWorker();
  ~RemoteWorker();
  Config config;
  std::string instance_id;
  SystemClock clock;
  Metrics metrics;
  std::unique_ptr<queue::Queue> queue;
  crypto::EcKeyPair signing_key;
  std::unique_ptr<assurance::ScanLedger> scans;  // HttpScanLedger
  std::unique_ptr<assurance::ScanEventLog> scan_events;
  std::unique_ptr<objects::ObjectStore> object_store;
  std::unique_ptr<objects::OciRegistry> oci;
  std::unique_ptr<assurance::RemoteManifestSource> remote_manifests;
  std::unique_ptr<assurance::ScanPipeline> scan_pipeline;
  std::unique_ptr<assurance::UploadGate> upload_gate;  // trust.url's, else the API's /internal/trust
  std::unique_ptr<assurance::BundlePublisher> publisher;
  std::unique_ptr<posture::JobLedger> job_ledger;    // HttpJobLedger
  std::unique_ptr<posture::JobRunner> job_runner;
  // Last: destroyed (and so stopped) first.
  std::unique_ptr<assurance::ScanWorker> scan_worker;
};
Result<std::unique_ptr<RemoteWorker>> open_remote_worker(const Config& config);

}  // namespace secplat::app
