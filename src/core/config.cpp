#include "core/config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <limits>

#include "core/json.h"

namespace secplat {
namespace {

Error bad_key(const std::string& key, const std::string& what) {
  return Error::bad_request("config key " + key + ": " + what);
}

Result<int64_t> parse_int(const std::string& key, const std::string& v, int64_t lo, int64_t hi) {
  if (v.empty()) return bad_key(key, "expected an integer, got an empty value");
  std::size_t pos = 0;
  long long n = 0;
  try {
    n = std::stoll(v, &pos, 10);
  } catch (...) {
    return bad_key(key, "expected an integer, got '" + v + "'");
  }
  if (pos != v.size()) return bad_key(key, "expected an integer, got '" + v + "'");
  if (n < lo || n > hi)
    return bad_key(key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " + v);
  return static_cast<int64_t>(n);
}

Result<bool> parse_bool(const std::string& key, const std::string& v) {
  std::string l;
  for (char c : v) l.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (l == "true" || l == "1" || l == "yes" || l == "on") return true;
  if (l == "false" || l == "0" || l == "no" || l == "off") return false;
  return bad_key(key, "expected true or false, got '" + v + "'");
}

std::vector<std::string> split_colon(const std::string& v) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : v) {
    if (c == ':') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

struct Key {
  const char* name;
  std::function<Status(Config&, const std::string& key, const std::string& value)> set;
};

Key int_key(const char* name, int64_t lo, int64_t hi, std::function<void(Config&, int64_t)> assign) {
  return Key{name, [lo, hi, assign](Config& c, const std::string& k, const std::string& v) -> Status {
               auto n = parse_int(k, v, lo, hi);
               if (!n) return std::move(n).take_error();
               assign(c, *n);
               return {};
             }};
}

Key str_key(const char* name, std::function<void(Config&, const std::string&)> assign) {
  return Key{name, [assign](Config& c, const std::string&, const std::string& v) -> Status {
               assign(c, v);
               return {};
             }};
}

Key bool_key(const char* name, std::function<void(Config&, bool)> assign) {
  return Key{name, [assign](Config& c, const std::string& k, const std::string& v) -> Status {
               auto b = parse_bool(k, v);
               if (!b) return std::move(b).take_error();
               assign(c, *b);
               return {};
             }};
}

const std::vector<Key>& keys() {
  constexpr int64_t kMaxI = std::numeric_limits<int32_t>::max();
  static const std::vector<Key> k = {
      str_key("listen", [](Config& c, const std::string& v) { c.listen = v; }),
      str_key("data_dir", [](Config& c, const std::string& v) { c.data_dir = v; }),
      str_key("database_url", [](Config& c, const std::string& v) { c.database_url = v; }),
      str_key("redis_url", [](Config& c, const std::string& v) { c.redis_url = v; }),
      str_key("admin_password", [](Config& c, const std::string& v) { c.admin_password = v; }),
      str_key("log_level", [](Config& c, const std::string& v) { c.log_level = v; }),
      str_key("allowed_source_roots",
              [](Config& c, const std::string& v) { c.allowed_source_roots = split_colon(v); }),
      bool_key("probe_allow_private", [](Config& c, bool v) { c.probe_allow_private = v; }),
      int_key("http.max_body_bytes", 1, int64_t{1} << 34,
              [](Config& c, int64_t v) { c.http.max_body_bytes = static_cast<std::size_t>(v); }),
      int_key("http.max_header_bytes", 1024, 1 << 20,
              [](Config& c, int64_t v) { c.http.max_header_bytes = static_cast<std::size_t>(v); }),
      int_key("http.read_timeout_s", 1, 3600, [](Config& c, int64_t v) { c.http.read_timeout_s = int(v); }),
      int_key("http.idle_timeout_s", 1, 3600, [](Config& c, int64_t v) { c.http.idle_timeout_s = int(v); }),
      int_key("http.io_threads", 1, 256, [](Config& c, int64_t v) { c.http.io_threads = int(v); }),
      int_key("http.worker_threads", 1, 1024, [](Config& c, int64_t v) { c.http.worker_threads = int(v); }),
      int_key("http.worker_queue", 1, kMaxI, [](Config& c, int64_t v) { c.http.worker_queue = int(v); }),
      int_key("http.max_connections", 1, kMaxI, [](Config& c, int64_t v) { c.http.max_connections = int(v); }),
      int_key("http.shutdown_grace_s", 0, 3600, [](Config& c, int64_t v) { c.http.shutdown_grace_s = int(v); }),
      bool_key("http.metrics_public", [](Config& c, bool v) { c.http.metrics_public = v; }),
      str_key("auth.jwt_secret", [](Config& c, const std::string& v) { c.auth.jwt_secret = v; }),
      int_key("auth.access_token_minutes", 1, 10080,
              [](Config& c, int64_t v) { c.auth.access_token_minutes = int(v); }),
      int_key("auth.refresh_token_minutes", 1, 525600,
              [](Config& c, int64_t v) { c.auth.refresh_token_minutes = int(v); }),
      int_key("auth.login_max_failures", 1, 1000, [](Config& c, int64_t v) { c.auth.login_max_failures = int(v); }),
      int_key("auth.login_window_s", 1, 86400, [](Config& c, int64_t v) { c.auth.login_window_s = int(v); }),
      int_key("auth.user_check_ms", 0, 60000, [](Config& c, int64_t v) { c.auth.user_check_ms = v; }),
      bool_key("posture.probing", [](Config& c, bool v) { c.posture.probing = v; }),
      int_key("posture.stale_seconds", 1, 86400 * 30, [](Config& c, int64_t v) { c.posture.stale_seconds = int(v); }),
      int_key("posture.debounce_samples", 1, 100, [](Config& c, int64_t v) { c.posture.debounce_samples = int(v); }),
      int_key("posture.flap_transitions", 2, 9, [](Config& c, int64_t v) { c.posture.flap_transitions = int(v); }),
      int_key("posture.sweep_interval_s", 1, 3600, [](Config& c, int64_t v) { c.posture.sweep_interval_s = int(v); }),
      int_key("posture.events_retention_days", 1, 3650,
              [](Config& c, int64_t v) { c.posture.events_retention_days = int(v); }),
      int_key("posture.latency_slo_ms", 1, 600000, [](Config& c, int64_t v) { c.posture.latency_slo_ms = int(v); }),
      int_key("posture.target_refresh_s", 1, 3600, [](Config& c, int64_t v) { c.posture.target_refresh_s = int(v); }),
      int_key("posture.probe_max_in_flight", 1, 100000,
              [](Config& c, int64_t v) { c.posture.probe_max_in_flight = int(v); }),
      int_key("queue.max_attempts", 1, 1000, [](Config& c, int64_t v) { c.queue.max_attempts = int(v); }),
      int_key("queue.visibility_timeout_ms", 10, kMaxI,
              [](Config& c, int64_t v) { c.queue.visibility_timeout_ms = v; }),
      int_key("queue.backoff_base_ms", 0, kMaxI, [](Config& c, int64_t v) { c.queue.backoff_base_ms = v; }),
      int_key("queue.backoff_max_ms", 0, kMaxI, [](Config& c, int64_t v) { c.queue.backoff_max_ms = v; }),
      int_key("queue.max_len", 1, kMaxI, [](Config& c, int64_t v) { c.queue.max_len = v; }),
      int_key("queue.dlq_max_len", 1, kMaxI, [](Config& c, int64_t v) { c.queue.dlq_max_len = v; }),
      str_key("queue.redis_prefix", [](Config& c, const std::string& v) { c.queue.redis_prefix = v; }),
      int_key("queue.consumer_prune_idle_ms", 0, kMaxI,
              [](Config& c, int64_t v) { c.queue.consumer_prune_idle_ms = v; }),
      int_key("assurance.max_concurrent_scans", 1, 256,
              [](Config& c, int64_t v) { c.assurance.max_concurrent_scans = int(v); }),
      int_key("assurance.scan_timeout_s", 1, 86400, [](Config& c, int64_t v) { c.assurance.scan_timeout_s = int(v); }),
      int_key("assurance.step_timeout_s", 1, 86400, [](Config& c, int64_t v) { c.assurance.step_timeout_s = int(v); }),
      int_key("assurance.upload_max_bytes", 1, int64_t{1} << 40,
              [](Config& c, int64_t v) { c.assurance.upload_max_bytes = v; }),
      int_key("assurance.archive_max_unpacked_bytes", 1, int64_t{1} << 42,
              [](Config& c, int64_t v) { c.assurance.archive_max_unpacked_bytes = v; }),
      int_key("assurance.archive_max_entries", 1, int64_t{1} << 32,
              [](Config& c, int64_t v) { c.assurance.archive_max_entries = v; }),
      int_key("assurance.archive_max_ratio", 1, 100000,
              [](Config& c, int64_t v) { c.assurance.archive_max_ratio = int(v); }),
      str_key("assurance.trusted_manifest_keys",
              [](Config& c, const std::string& v) { c.assurance.trusted_manifest_keys = split_colon(v); }),
      bool_key("assurance.require_signed_manifest",
               [](Config& c, bool v) { c.assurance.require_signed_manifest = v; }),
      str_key("assurance.manifest_http_hosts",
              [](Config& c, const std::string& v) { c.assurance.manifest_http_hosts = split_colon(v); }),
      bool_key("assurance.manifest_allow_private",
               [](Config& c, bool v) { c.assurance.manifest_allow_private = v; }),
      int_key("assurance.manifest_fetch_timeout_s", 1, 300,
              [](Config& c, int64_t v) { c.assurance.manifest_fetch_timeout_s = int(v); }),
      str_key("assurance.tool_network_allow",
              [](Config& c, const std::string& v) { c.assurance.tool_network_allow = split_colon(v); }),
      int_key("assurance.tool_memory_mb", 0, int64_t{1} << 30, [](Config& c, int64_t v) { c.assurance.tool_memory_mb = v; }),
      int_key("assurance.tool_file_mb", 0, int64_t{1} << 30, [](Config& c, int64_t v) { c.assurance.tool_file_mb = v; }),
      str_key("assurance.tool_hidden_paths",
              [](Config& c, const std::string& v) { c.assurance.tool_hidden_paths = split_colon(v); }),
      str_key("assurance.manifest_s3_buckets",
              [](Config& c, const std::string& v) { c.assurance.manifest_s3_buckets = split_colon(v); }),
      str_key("assurance.manifest_oci_repositories",
              [](Config& c, const std::string& v) { c.assurance.manifest_oci_repositories = split_colon(v); }),
      str_key("assurance.git_schemes",
              [](Config& c, const std::string& v) { c.assurance.git_schemes = split_colon(v); }),
      str_key("s3.endpoint", [](Config& c, const std::string& v) { c.s3.endpoint = v; }),
      str_key("s3.region", [](Config& c, const std::string& v) { c.s3.region = v; }),
      str_key("s3.access_key_id", [](Config& c, const std::string& v) { c.s3.access_key_id = v; }),
      str_key("s3.secret_access_key", [](Config& c, const std::string& v) { c.s3.secret_access_key = v; }),
      str_key("s3.raw_bucket", [](Config& c, const std::string& v) { c.s3.raw_bucket = v; }),
      str_key("s3.golden_bucket", [](Config& c, const std::string& v) { c.s3.golden_bucket = v; }),
      str_key("s3.raw_prefix", [](Config& c, const std::string& v) { c.s3.raw_prefix = v; }),
      str_key("s3.golden_prefix", [](Config& c, const std::string& v) { c.s3.golden_prefix = v; }),
      int_key("s3.multipart_threshold_bytes", 5ll << 20, int64_t{5} << 30,
              [](Config& c, int64_t v) { c.s3.multipart_threshold_bytes = v; }),
      int_key("s3.part_size_bytes", 5ll << 20, int64_t{5} << 30, [](Config& c, int64_t v) { c.s3.part_size_bytes = v; }),
      int_key("s3.max_attempts", 1, 20, [](Config& c, int64_t v) { c.s3.max_attempts = int(v); }),
      int_key("s3.timeout_s", 1, 86400, [](Config& c, int64_t v) { c.s3.timeout_s = int(v); }),
      str_key("slack.webhook_url", [](Config& c, const std::string& v) { c.notify.slack_webhook_url = v; }),
      str_key("webhook.url", [](Config& c, const std::string& v) { c.notify.webhook_url = v; }),
      str_key("webhook.secret", [](Config& c, const std::string& v) { c.notify.webhook_secret = v; }),
      str_key("twilio.base_url", [](Config& c, const std::string& v) { c.notify.twilio_base_url = v; }),
      str_key("twilio.account_sid", [](Config& c, const std::string& v) { c.notify.twilio_account_sid = v; }),
      str_key("twilio.auth_token", [](Config& c, const std::string& v) { c.notify.twilio_auth_token = v; }),
      str_key("twilio.from", [](Config& c, const std::string& v) { c.notify.twilio_from = v; }),
      str_key("twilio.to", [](Config& c, const std::string& v) { c.notify.twilio_to = v; }),
      str_key("jira.base_url", [](Config& c, const std::string& v) { c.notify.jira_base_url = v; }),
      str_key("jira.email", [](Config& c, const std::string& v) { c.notify.jira_email = v; }),
      str_key("jira.api_token", [](Config& c, const std::string& v) { c.notify.jira_api_token = v; }),
      str_key("jira.project_key", [](Config& c, const std::string& v) { c.notify.jira_project_key = v; }),
      str_key("smtp.url", [](Config& c, const std::string& v) { c.notify.smtp_url = v; }),
      str_key("alert.email_to", [](Config& c, const std::string& v) { c.notify.alert_email_to = v; }),
      int_key("notify.rate_limit_per_minute", 1, 100000,
              [](Config& c, int64_t v) { c.notify.rate_limit_per_minute = v; }),
      bool_key("notify.digest", [](Config& c, bool v) { c.notify.digest = v; }),
      str_key("notify.routes", [](Config& c, const std::string& v) { c.notify.routes_json = v; }),
      str_key("notify.api_url", [](Config& c, const std::string& v) { c.notify.api_url = v; }),
      str_key("notify.api_key", [](Config& c, const std::string& v) { c.notify.api_key = v; }),
      str_key("worker.api_url", [](Config& c, const std::string& v) { c.worker.api_url = v; }),
      str_key("worker.api_key", [](Config& c, const std::string& v) { c.worker.api_key = v; }),
      int_key("notify.reminder_minutes", 0, 7 * 24 * 60,
              [](Config& c, int64_t v) { c.notify.reminder_minutes = v; }),
      str_key("opensearch.url", [](Config& c, const std::string& v) { c.opensearch.url = v; }),
      str_key("opensearch.username", [](Config& c, const std::string& v) { c.opensearch.username = v; }),
      str_key("opensearch.password", [](Config& c, const std::string& v) { c.opensearch.password = v; }),
      int_key("opensearch.batch_size", 1, 10000, [](Config& c, int64_t v) { c.opensearch.batch_size = v; }),
      int_key("opensearch.flush_interval_ms", 10, 600000,
              [](Config& c, int64_t v) { c.opensearch.flush_interval_ms = v; }),
      int_key("opensearch.timeout_ms", 100, 600000, [](Config& c, int64_t v) { c.opensearch.timeout_ms = v; }),
      int_key("opensearch.status_refresh_s", 1, 86400,
              [](Config& c, int64_t v) { c.opensearch.status_refresh_s = v; }),
      str_key("oci.registry", [](Config& c, const std::string& v) { c.oci.registry = v; }),
      str_key("oci.repository", [](Config& c, const std::string& v) { c.oci.repository = v; }),
      bool_key("oci.insecure", [](Config& c, bool v) { c.oci.insecure = v; }),
      str_key("oci.username", [](Config& c, const std::string& v) { c.oci.username = v; }),
      str_key("oci.password", [](Config& c, const std::string& v) { c.oci.password = v; }),
      int_key("oci.max_attempts", 1, 20, [](Config& c, int64_t v) { c.oci.max_attempts = int(v); }),
      int_key("oci.timeout_s", 1, 86400, [](Config& c, int64_t v) { c.oci.timeout_s = int(v); }),
      str_key("trust.url", [](Config& c, const std::string& v) { c.trust.url = v; }),
      str_key("trust.api_key", [](Config& c, const std::string& v) { c.trust.api_key = v; }),
      str_key("trust.trusted_keys", [](Config& c, const std::string& v) { c.trust.trusted_keys = split_colon(v); }),
      str_key("trust.verified_signers",
              [](Config& c, const std::string& v) { c.trust.verified_signers = split_colon(v); }),
      int_key("trust.permit_ttl_s", 10, 86400, [](Config& c, int64_t v) { c.trust.permit_ttl_s = int(v); }),
      bool_key("trust.auto_promote", [](Config& c, bool v) { c.trust.auto_promote = v; }),
      int_key("store.readers", 1, 64, [](Config& c, int64_t v) { c.store.readers = int(v); }),
      int_key("store.busy_timeout_ms", 0, 600000, [](Config& c, int64_t v) { c.store.busy_timeout_ms = int(v); }),
  };
  return k;
}

const Key* find_key(const std::string& name) {
  for (const auto& k : keys())
    if (name == k.name) return &k;
  return nullptr;
}

// Flattens a YAML mapping into dotted keys. Sequences are joined with ':' (used by
// allowed_source_roots); nested sequences or maps inside sequences are refused.
Status flatten(const YAML::Node& node, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string k = it->first.as<std::string>();
      std::string full = prefix.empty() ? k : prefix + "." + k;
      SECPLAT_TRY(flatten(it->second, full, out));
    }
    return {};
  }
  if (node.IsSequence()) {
    std::string joined;
    for (const auto& item : node) {
      if (!item.IsScalar()) return bad_key(prefix, "expected a list of strings");
      if (!joined.empty()) joined.push_back(':');
      joined += item.as<std::string>();
    }
    out[prefix] = joined;
    return {};
  }
  if (node.IsNull()) {
    out[prefix] = "";
    return {};
  }
  out[prefix] = node.as<std::string>();
  return {};
}

// YAML → JSON for config-as-code values: plain scalars that read as integers, numbers, booleans
// or null become those; quoted scalars stay strings.
Json yaml_to_json(const YAML::Node& n) {
  if (n.IsMap()) {
    Json o = Json::object();
    for (auto it = n.begin(); it != n.end(); ++it) o[it->first.as<std::string>()] = yaml_to_json(it->second);
    return o;
  }
  if (n.IsSequence()) {
    Json a = Json::array();
    for (const auto& item : n) a.push_back(yaml_to_json(item));
    return a;
  }
  if (n.IsNull()) return nullptr;
  const std::string v = n.as<std::string>();
  if (n.Tag() == "!") return v;  // quoted
  if (v == "true" || v == "false") return v == "true";
  if (v == "null" || v == "~") return nullptr;
  int64_t i = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), i);
  if (ec == std::errc() && p == v.data() + v.size() && !v.empty()) return i;
  return v;
}

// Each declared asset is an object with a string asset_key (the rest is checked when applied).
Status check_declared_assets(const Json& list, const std::string& where) {
  if (!list.is_array()) return bad_key("assets", "expected a list of asset objects in " + where);
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& a = list[i];
    if (!a.is_object() || !a.contains("asset_key") || !a["asset_key"].is_string() ||
        a["asset_key"].get<std::string>().empty())
      return bad_key("assets[" + std::to_string(i) + "]", "expected an object with a non-empty asset_key in " + where);
  }
  return {};
}

Status parse_listen(Config& c) {
  auto colon = c.listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad_key("listen", "expected HOST:PORT, got '" + c.listen + "'");
  std::string host = c.listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  auto port = parse_int("listen", c.listen.substr(colon + 1), 0, 65535);
  if (!port) return bad_key("listen", "expected HOST:PORT with a port 0..65535, got '" + c.listen + "'");
  c.host = host;
  c.port = static_cast<uint16_t>(*port);
  return {};
}

// opensearch.url: an http(s) base URL with a host and no credentials, query or fragment (the URL
// appears in logs; credentials go in opensearch.username / opensearch.password).
Status check_opensearch(const OpenSearchConfig& o) {
  if (o.url.empty()) {
    if (!o.username.empty() || !o.password.empty())
      return bad_key("opensearch.username", "set without opensearch.url");
    return {};
  }
  const std::string& u = o.url;
  std::size_t scheme_end = u.rfind("http://", 0) == 0 ? 7 : u.rfind("https://", 0) == 0 ? 8 : 0;
  if (scheme_end == 0) return bad_key("opensearch.url", "expected an http:// or https:// URL");
  const std::size_t auth_end = u.find('/', scheme_end);
  const std::string authority = u.substr(scheme_end, auth_end == std::string::npos ? std::string::npos : auth_end - scheme_end);
  if (authority.empty() || authority.front() == ':')
    return bad_key("opensearch.url", "expected http(s)://HOST[:PORT][/PATH]");
  if (authority.find('@') != std::string::npos)
    return bad_key("opensearch.url", "must not carry credentials; use opensearch.username and opensearch.password");
  const std::size_t colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
    const std::string port = authority.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(port) < 1 || std::stoi(port) > 65535)
      return bad_key("opensearch.url", "expected a port 1..65535 after the host");
  }
  if (u.find_first_of("?# \t") != std::string::npos)
    return bad_key("opensearch.url", "expected http(s)://HOST[:PORT][/PATH] without query, fragment or spaces");
  if (!o.password.empty() && o.username.empty())
    return bad_key("opensearch.username", "must be set when opensearch.password is");
  return {};
}

}  // namespace

std::string env_name_for(const std::string& key) {
  std::string out = "SECPLAT_";
  for (char ch : key) out.push_back(ch == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
  return out;
}

std::vector<std::string> config_keys() {
  std::vector<std::string> out;
  for (const auto& k : keys()) out.emplace_back(k.name);
  return out;
}

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

Result<Config> load_config(const std::string& file_arg, const EnvLookup& env,
                           const std::map<std::string, std::string>& flags) {
  Config c;
  std::string file = file_arg;
  if (file.empty()) {
    if (auto f = env("SECPLAT_CONFIG")) file = *f;
  }
  if (!file.empty()) {
    std::map<std::string, std::string> flat;
    try {
      YAML::Node root = YAML::LoadFile(file);
      if (!root.IsNull() && !root.IsMap()) return Error::bad_request("config file " + file + ": expected a mapping");
      if (root.IsMap() && root["assets"]) {
        Json declared = yaml_to_json(root["assets"]);
        SECPLAT_TRY(check_declared_assets(declared, file));
        c.declared_assets_json = declared.dump();
        root.remove("assets");
      }
      if (root.IsMap()) SECPLAT_TRY(flatten(root, "", flat));
    } catch (const YAML::BadFile&) {
      return Error::bad_request("config file " + file + ": cannot be read");
    } catch (const YAML::Exception& e) {
      return Error::bad_request("config file " + file + ": " + e.what());
    }
    for (const auto& [k, v] : flat) {
      const Key* key = find_key(k);
      if (!key) return bad_key(k, "unknown key in " + file);
      SECPLAT_TRY(key->set(c, k, v));
    }
  }
  for (const auto& k : keys()) {
    if (auto v = env(env_name_for(k.name))) SECPLAT_TRY(k.set(c, k.name, *v));
  }
  if (auto v = env("SECPLAT_ASSETS")) {
    Json declared = Json::parse(*v, nullptr, false);
    if (declared.is_discarded()) return bad_key("assets", "SECPLAT_ASSETS is not valid JSON");
    SECPLAT_TRY(check_declared_assets(declared, "SECPLAT_ASSETS"));
    c.declared_assets_json = declared.dump();
  }
  for (const auto& [k, v] : flags) {
    const Key* key = find_key(k);
    if (!key) return bad_key(k, "unknown flag");
    SECPLAT_TRY(key->set(c, k, v));
  }
  SECPLAT_TRY(parse_listen(c));
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" && c.log_level != "warning" &&
      c.log_level != "error")
    return bad_key("log_level", "expected debug, info, warn or error, got '" + c.log_level + "'");
  if (c.data_dir.empty()) return bad_key("data_dir", "must not be empty");
  if (!c.database_url.empty() && c.database_url.rfind("postgresql://", 0) != 0 &&
      c.database_url.rfind("postgres://", 0) != 0)
    return bad_key("database_url", "expected a postgresql:// URL");
  if (!c.redis_url.empty() && c.redis_url.rfind("redis://", 0) != 0)
    return bad_key("redis_url", "expected a redis:// URL (rediss:// is not supported)");
  if (!c.auth.jwt_secret.empty() && c.auth.jwt_secret.size() < 32)
    return bad_key("auth.jwt_secret", "must be at least 32 characters");
  if (c.auth.jwt_secret == "change_me") return bad_key("auth.jwt_secret", "the literal default is refused");
  if (c.queue.backoff_max_ms < c.queue.backoff_base_ms)
    return bad_key("queue.backoff_max_ms", "must not be smaller than queue.backoff_base_ms");
  if (!c.s3.endpoint.empty() && c.s3.endpoint.rfind("http://", 0) != 0 && c.s3.endpoint.rfind("https://", 0) != 0)
    return bad_key("s3.endpoint", "expected an http:// or https:// URL");
  if (!c.s3.endpoint.empty() && (c.s3.access_key_id.empty() || c.s3.secret_access_key.empty()))
    return bad_key("s3.access_key_id", "s3.endpoint is set but the access key id or secret access key is missing");
  if (c.s3.part_size_bytes > c.s3.multipart_threshold_bytes)
    return bad_key("s3.part_size_bytes", "must not be larger than s3.multipart_threshold_bytes");
  if (!c.oci.registry.empty() && (c.oci.registry.find('/') != std::string::npos || c.oci.registry.find(':') == 0))
    return bad_key("oci.registry", "expected host[:port], got '" + c.oci.registry + "'");
  if (!c.oci.registry.empty() && c.oci.repository.empty()) return bad_key("oci.repository", "must not be empty");
  if (!c.trust.url.empty() && c.trust.url.rfind("http://", 0) != 0 && c.trust.url.rfind("https://", 0) != 0)
    return bad_key("trust.url", "expected an http:// or https:// URL");
  if (!c.notify.api_url.empty() && c.notify.api_url.rfind("http://", 0) != 0 &&
      c.notify.api_url.rfind("https://", 0) != 0)
    return bad_key("notify.api_url", "expected an http:// or https:// URL");
  if (!c.notify.api_url.empty() && c.notify.api_key.empty())
    return bad_key("notify.api_key", "notify.api_url is set but no API key (role service) to call it with");
  if (!c.worker.api_url.empty() && c.worker.api_url.rfind("http://", 0) != 0 &&
      c.worker.api_url.rfind("https://", 0) != 0)
    return bad_key("worker.api_url", "expected an http:// or https:// URL");
  if (!c.worker.api_url.empty() && c.worker.api_key.empty())
    return bad_key("worker.api_key", "worker.api_url is set but no API key (role service) to call it with");
  SECPLAT_TRY(check_opensearch(c.opensearch));
  for (const auto& root : c.allowed_source_roots)
    if (root.empty() || root.front() != '/')
      return bad_key("allowed_source_roots", "every root must be an absolute path, got '" + root + "'");
  for (const auto& dir : c.assurance.tool_hidden_paths)
    if (dir.empty() || dir.front() != '/')
      return bad_key("assurance.tool_hidden_paths", "every path must be absolute, got '" + dir + "'");
  return c;
}

}  // namespace secplat
