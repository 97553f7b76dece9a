// The one typed configuration of a secplat process.
// Sources, later ones winning: secplat.yaml (--config / SECPLAT_CONFIG), SECPLAT_* environment,
// command-line flags. Every key has an environment form: `http.max_body_bytes` is
// SECPLAT_HTTP_MAX_BODY_BYTES. load_config() validates everything once and names the bad key.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"

namespace secplat {

struct HttpConfig {
  std::size_t max_body_bytes = 1 << 20;      // larger bodies → 413
  std::size_t max_header_bytes = 16 << 10;   // larger header blocks → 431
  int read_timeout_s = 30;                   // whole request must arrive within this (slowloris)
  int idle_timeout_s = 75;                   // keep-alive connection with no request is closed
  int io_threads = 2;
  int worker_threads = 8;                    // bounded pool for handlers that touch the store
  int worker_queue = 4096;                   // queued handler tasks beyond this → 503
  int max_connections = 10000;
  int shutdown_grace_s = 10;                 // drain time for in-flight requests on SIGTERM
  bool metrics_public = false;
};

struct AuthConfig {
  std::string jwt_secret;                    // empty = generated once and kept in <data_dir>/jwt.key
  int access_token_minutes = 60;
  int refresh_token_minutes = 43200;
  int login_max_failures = 5;                // per user and per client address ...
  int login_window_s = 60;                   // ... within this window, then 429 until it passes
  int64_t user_check_ms = 1000;              // a token's user row is re-read at most this old (0 = every request)
};

struct QueueConfig {
  int max_attempts = 5;                      // deliveries before a message goes to <stream>.dlq
  int64_t visibility_timeout_ms = 120000;    // unacked for this long → reclaimable by another consumer
  int64_t backoff_base_ms = 1000;            // retry delay = base·2^(attempts-1), jittered, capped
  int64_t backoff_max_ms = 300000;
  int64_t max_len = 100000;                  // per stream; oldest acked entries trimmed beyond
  int64_t dlq_max_len = 10000;
  std::string redis_prefix;                  // prepended to every Redis key (several deployments, one Redis)
  int64_t consumer_prune_idle_ms = 3600000;  // Redis: consumers idle this long with nothing pending are removed (0 = keep)
};

struct StoreConfig {
  int readers = 4;                           // SQLite read connections
  int busy_timeout_ms = 5000;
};

struct AssuranceConfig {
  int max_concurrent_scans = 2;              // scan jobs running at once in this process
  int scan_timeout_s = 1800;                 // whole scan; a scan over it FAILs with "timed out"
  int step_timeout_s = 900;                  // one scanner / source step
  int64_t upload_max_bytes = 512ll << 20;    // upload-archive cap → 413
  int64_t archive_max_unpacked_bytes = 2ll << 30;
  int64_t archive_max_entries = 200000;
  int archive_max_ratio = 200;               // unpacked/packed size, against zip bombs
  std::vector<std::string> trusted_manifest_keys;  // PEM public key files for manifest signatures
  bool require_signed_manifest = false;      // true: every manifest source must carry a valid signature
  std::vector<std::string> manifest_http_hosts;    // allow-list for http(s) manifest_uri hosts
  bool manifest_allow_private = false;       // http(s) manifests may come from private addresses
  int manifest_fetch_timeout_s = 10;         // whole http(s) manifest or signature fetch
  std::vector<std::string> git_schemes = {"https", "ssh", "file"};  // allowed git_url schemes
  std::vector<std::string> manifest_s3_buckets;       // buckets s3:// manifest URIs may name (on s3.endpoint)
  std::vector<std::string> manifest_oci_repositories; // repositories oci:// manifest URIs may name (on oci.registry)
  // External tools run sandboxed (scanners/tools/child_process.h): no network unless listed here,
  // address-space and written-file limits (0 = unlimited).
  std::vector<std::string> tool_network_allow;
  int64_t tool_memory_mb = 8192;
  int64_t tool_file_mb = 2048;
  std::vector<std::string> tool_hidden_paths;  // besides the data and scratch directories
};

// S3-compatible object storage for published bundles (objects/s3_object_store.h).
struct S3Config {
  std::string endpoint;                      // http(s)://host:port; empty = no S3 publishing
  std::string region = "us-east-1";
  std::string access_key_id;
  std::string secret_access_key;             // never logged
  std::string raw_bucket = "raw";
  std::string golden_bucket = "golden";
  std::string raw_prefix = "security-scans";
  std::string golden_prefix = "security-scans";
  int64_t multipart_threshold_bytes = 16ll << 20;  // larger files go up in parts
  int64_t part_size_bytes = 8ll << 20;       // at least 5 MiB (S3's minimum part)
  int max_attempts = 4;                      // per request, on 5xx / transport errors
  int timeout_s = 300;                       // one request
};

// OCI registry for published bundles (objects/oci_registry.h).
struct OciConfig {
  std::string registry;                      // host:port; empty = no OCI publishing
  std::string repository = "secplat/scans";
  bool insecure = false;                     // true = plain HTTP
  std::string username;
  std::string password;                      // never logged
  int max_attempts = 4;
  int timeout_s = 300;
};

// The trust gate (trust/) and what it accepts.
struct TrustConfig {
  std::string url;                           // base URL of a `secplat trust` role; empty = in-process
  std::string api_key;                       // bearer key for `url` (never logged)
  std::vector<std::string> trusted_keys;     // extra PEM public keys accepted as bundle signers
  std::vector<std::string> verified_signers; // key ids (sha256 of SPKI) allowed for tier "verified"; empty = the instance key only
  int permit_ttl_s = 300;                    // a permit expires this long after it is issued
  bool auto_promote = false;                 // promote raw → golden right after a successful upload
};

// Outbound notification channels (notify/). A channel is configured when its required keys are set.
struct NotifyConfig {
  std::string slack_webhook_url;             // Slack incoming webhook; the URL itself is a secret
  std::string webhook_url;                   // generic JSON webhook
  std::string webhook_secret;                // HMAC-SHA256 key for X-SecPlat-Signature (never logged)
  std::string twilio_base_url = "https://api.twilio.com";
  std::string twilio_account_sid;
  std::string twilio_auth_token;             // never logged
  std::string twilio_from;                   // +E.164 or whatsapp:+E.164
  std::string twilio_to;
  std::string jira_base_url;
  std::string jira_email;
  std::string jira_api_token;                // never logged
  std::string jira_project_key;
  std::string smtp_url;                      // smtp://[user:pass@]host:port or smtps://...
  std::string alert_email_to;                // comma-separated recipients
  int64_t rate_limit_per_minute = 30;        // token bucket per channel
  bool digest = true;                        // over the limit: one digest per channel, not a retry each
  int64_t reminder_minutes = 240;            // still firing this long after the last message: remind (0 = off)
  std::string routes_json;                   // routing rules (notify/routing.h); empty = every channel
  // A `notifier` role process with api_url set keeps its delivery records through that API
  // (/internal/notify/..., with api_key, an API key of role service) and opens no database.
  std::string api_url;
  std::string api_key;                       // never logged
};

// Mirror of health events and asset status into OpenSearch (posture/index/), for dashboards that
// read the reference system's indices. Off unless `url` is set.
struct OpenSearchConfig {
  std::string url;                           // http(s)://host:port[/prefix]; empty = no mirror
  std::string username;                      // basic auth (optional)
  std::string password;                      // never logged
  int64_t batch_size = 500;                  // documents per _bulk request
  int64_t flush_interval_ms = 1000;          // a partial batch waits at most this long
  int64_t timeout_ms = 10000;                // one request
  int64_t status_refresh_s = 60;             // every status document re-sent (fresh @timestamp) this often
};

struct PostureConfig {
  bool probing = true;                       // run the prober (ingest role) in this process
  int stale_seconds = 300;                   // no result for longer (or 3 probe intervals) → stale
  int debounce_samples = 2;                  // consecutive disagreeing results before up↔down
  int flap_transitions = 4;                  // up/down transitions among the last 10 results → flapping
  int sweep_interval_s = 10;                 // deriver pass even without new events (staleness)
  int events_retention_days = 90;
  int latency_slo_ms = 200;
  int target_refresh_s = 5;                  // re-read probe targets from the inventory
  int probe_max_in_flight = 512;
};

// A `worker` role process with api_url set runs scans and posture jobs without database credentials:
// scan state, scan logs, job logs and findings go through that API (/internal/scans/...,
// /internal/jobs/..., with api_key, an API key of role service).
struct WorkerConfig {
  std::string api_url;
  std::string api_key;                       // never logged
};

struct Config {
  std::string listen = "127.0.0.1:8080";
  std::string host = "127.0.0.1";            // derived from listen
  uint16_t port = 8080;                      // derived from listen (0 = pick a free port)
  std::string data_dir = "./.secplat";
  std::string database_url;                  // empty = SQLite in data_dir
  std::string redis_url;                     // empty = local durable queue in the store; else Redis Streams
  std::string admin_password;                // empty = random, printed once on first start
  std::string log_level = "info";
  std::vector<std::string> allowed_source_roots;
  bool probe_allow_private = false;
  HttpConfig http;
  AuthConfig auth;
  QueueConfig queue;
  StoreConfig store;
  AssuranceConfig assurance;
  PostureConfig posture;
  S3Config s3;
  OciConfig oci;
  TrustConfig trust;
  NotifyConfig notify;
  WorkerConfig worker;
  OpenSearchConfig opensearch;
  // Config-as-code assets: the YAML `assets:` list (or SECPLAT_ASSETS, a JSON array) as JSON text,
  // each item an asset object as POST /assets/ takes it. Applied at start-up; the file wins.
  std::string declared_assets_json = "[]";
};

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// Reads the process environment.
EnvLookup process_env();

// file: YAML path or empty (then SECPLAT_CONFIG is consulted); flags: dotted key → value.
// Errors are Errc::bad_request with a message naming the key, e.g.
// "config key http.max_body_bytes: expected a positive integer, got 'abc'".
Result<Config> load_config(const std::string& file, const EnvLookup& env,
                           const std::map<std::string, std::string>& flags);

// The dotted names of every key load_config() understands (for docs and --help).
std::vector<std::string> config_keys();

// `http.max_body_bytes` → `SECPLAT_HTTP_MAX_BODY_BYTES`.
std::string env_name_for(const std::string& key);

}  // namespace secplat
