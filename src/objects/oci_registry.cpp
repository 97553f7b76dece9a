#include "objects/oci_registry.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <thread>

#include "core/encoding.h"
#include "core/json.h"

namespace secplat::objects {

namespace {

constexpr std::size_t kMaxManifestBytes = 4u << 20;
constexpr const char* kManifestAccept =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Incremental SHA-256 for streamed uploads and downloads.
class Sha256Stream {
 public:
  Sha256Stream() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }
  void update(std::string_view d) { EVP_DigestUpdate(ctx_.get(), d.data(), d.size()); }
  std::string digest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &n);
    return "sha256:" + hex_encode(std::string_view(reinterpret_cast<const char*>(md), n));
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

// key="value" pairs of a WWW-Authenticate challenge after its scheme ("Bearer realm=..,...").
std::map<std::string, std::string> challenge_params(std::string_view header) {
  std::map<std::string, std::string> out;
  std::size_t i = header.find(' ');
  if (i == std::string_view::npos) return out;
  while (i < header.size()) {
    while (i < header.size() && (header[i] == ' ' || header[i] == ',')) ++i;
    std::size_t eq = header.find('=', i);
    if (eq == std::string_view::npos) break;
    std::string key(header.substr(i, eq - i));
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    i = eq + 1;
    std::string value;
    if (i < header.size() && header[i] == '"') {
      ++i;
      while (i < header.size() && header[i] != '"') {
        if (header[i] == '\\' && i + 1 < header.size()) ++i;
        value.push_back(header[i++]);
      }
      ++i;
    } else {
      while (i < header.size() && header[i] != ',') value.push_back(header[i++]);
    }
    out[key] = value;
  }
  return out;
}

// "CODE: message" from an OCI error document ({"errors":[{"code","message"}]}), or "".
std::string registry_error_code(const std::string& body) {
  Json j = Json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("errors") || !j["errors"].is_array() || j["errors"].empty()) return "";
  const Json& e = j["errors"][0];
  std::string out = e.contains("code") && e["code"].is_string() ? e["code"].get<std::string>() : "";
  if (e.contains("message") && e["message"].is_string()) {
    std::string m = e["message"].get<std::string>();
    if (m.size() > 200) m = m.substr(0, 200) + "...";
    out += (out.empty() ? "" : ": ") + m;
  }
  return out;
}

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component of a repository name: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool valid_component(std::string_view c) {
  if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
  std::size_t i = 0;
  while (i < c.size()) {
    if (is_lower_alnum(c[i])) {
      ++i;
      continue;
    }
    // A separator run: ".", "_", "__" or "-+", then alnum again (guaranteed by the back() check).
    std::size_t j = i;
    while (j < c.size() && !is_lower_alnum(c[j])) ++j;
    std::string_view sep = c.substr(i, j - i);
    bool ok = sep == "." || sep == "_" || sep == "__" || sep.find_first_not_of('-') == std::string_view::npos;
    if (!ok) return false;
    i = j;
  }
  return true;
}

bool is_redirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// Sleeps before attempt `attempt` + 1: 250 ms doubling per attempt, capped at 8 s, plus up to 50 %
// jitter so clients that failed together do not retry together; at least Retry-After (capped).
void backoff(int attempt, int retry_after_s) {
  thread_local std::mt19937 rng{std::random_device{}()};
  int64_t base = std::min<int64_t>(int64_t{250} << std::min(attempt - 1, 5), 8000);
  int64_t ms = base + std::uniform_int_distribution<int64_t>(0, base / 2)(rng);
  if (retry_after_s > 0) ms = std::max<int64_t>(ms, std::min(retry_after_s, 30) * int64_t{1000});
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

std::string pull_scope(const std::string& repo) { return "repository:" + repo + ":pull"; }
std::string push_scope(const std::string& repo) { return "repository:" + repo + ":pull,push"; }

}  // namespace

Result<Descriptor> describe_file(const std::string& path, const std::string& media_type) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) return Error::not_found("cannot read " + path);
  Sha256Stream h;
  std::string buf(1u << 16, '\0');
  Descriptor d;
  d.media_type = media_type;
  for (;;) {
    std::size_t n = std::fread(buf.data(), 1, buf.size(), f.get());
    if (n == 0) break;
    h.update(std::string_view(buf.data(), n));
    d.size += static_cast<int64_t>(n);
  }
  if (std::ferror(f.get())) return Error::internal("cannot read " + path);
  d.digest = h.digest();
  return d;
}

bool is_valid_repository(std::string_view repo) {
  if (repo.empty() || repo.size() > 255) return false;
  std::size_t start = 0;
  for (;;) {
    std::size_t slash = repo.find('/', start);
    if (!valid_component(repo.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start)))
      return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

bool is_valid_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) return false;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(tag[0])) return false;
  return std::all_of(tag.begin() + 1, tag.end(), [&](char c) { return word(c) || c == '.' || c == '-'; });
}

bool is_valid_digest(std::string_view digest) {
  if (digest.size() != 71 || !digest.starts_with("sha256:")) return false;
  return std::all_of(digest.begin() + 7, digest.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Result<OciUri> parse_oci_uri(std::string_view uri) {
  constexpr std::string_view kScheme = "oci://";
  if (!uri.starts_with(kScheme)) return Error::bad_request("OCI reference must start with oci://");
  std::string_view rest = uri.substr(kScheme.size());
  std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0)
    return Error::bad_request("OCI reference needs a host and a repository: oci://host[:port]/repo[:tag]");
  std::string_view host = rest.substr(0, slash);
  std::string_view path = rest.substr(slash + 1);

  // host: name or IPv4 ([A-Za-z0-9.-]+) or [IPv6], then an optional :port.
  std::string_view name = host;
  std::string_view port;
  if (host.front() == '[') {
    std::size_t close = host.find(']');
    if (close == std::string_view::npos) return Error::bad_request("OCI reference host: unterminated [IPv6] address");
    name = host.substr(1, close - 1);
    std::string_view after = host.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Error::bad_request("OCI reference host: junk after ]");
      port = after.substr(1);
      if (port.empty()) return Error::bad_request("OCI reference host: empty port");
    }
    if (name.empty() || name.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos)
      return Error::bad_request("OCI reference host: bad IPv6 address");
  } else {
    if (std::size_t colon = host.find(':'); colon != std::string_view::npos) {
      name = host.substr(0, colon);
      port = host.substr(colon + 1);
      if (port.empty()) return Error::bad_request("OCI reference host: empty port");
    }
    if (name.empty() || name.front() == '-' || name.front() == '.' ||
        name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
            std::string_view::npos)
      return Error::bad_request("OCI reference host: '" + std::string(name) + "' is not a host name");
  }
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
        std::stoi(std::string(port)) < 1 || std::stoi(std::string(port)) > 65535)
      return Error::bad_request("OCI reference host: port must be 1-65535");
  }

  OciUri out;
  out.registry = std::string(host);
  if (std::size_t at = path.find('@'); at != std::string_view::npos) {
    out.digest = std::string(path.substr(at + 1));
    path = path.substr(0, at);
    if (!is_valid_digest(out.digest))
      return Error::bad_request("OCI reference digest must be sha256:<64 lower-case hex>");
  }
  std::size_t last_slash = path.rfind('/');
  std::size_t colon = path.find(':', last_slash == std::string_view::npos ? 0 : last_slash);
  if (colon != std::string_view::npos) {
    out.tag = std::string(path.substr(colon + 1));
    path = path.substr(0, colon);
    if (!is_valid_tag(out.tag)) return Error::bad_request("OCI reference tag '" + out.tag + "' is not a valid tag");
  } else if (out.digest.empty()) {
    out.tag = "latest";
  }
  out.repository = std::string(path);
  if (!is_valid_repository(out.repository))
    return Error::bad_request("OCI reference repository '" + out.repository +
                              "' is not a valid name (lower-case [a-z0-9] components separated by . _ __ - /)");
  return out;
}

OciRegistry::OciRegistry(const OciConfig& config)
    : config_(config), base_(std::string(config.insecure ? "http://" : "https://") + config.registry) {}

OciRegistry::~OciRegistry() = default;

OciStats OciRegistry::stats() const { return {blobs_uploaded_.load(), blobs_skipped_.load(), requests_.load()}; }

std::string OciRegistry::url(const std::string& path) const { return base_ + path; }

http::ClientRequest OciRegistry::request(const std::string& method, const std::string& url) const {
  http::ClientRequest req;
  req.method = method;
  req.url = url;
  req.timeout_ms = std::max(1, config_.timeout_s) * 1000L;
  req.verify_tls = true;
  return req;
}

Status OciRegistry::check_name(const std::string& repo) const {
  if (!is_valid_repository(repo))
    return Error::bad_request("OCI repository name '" + repo +
                              "' is invalid (lower-case [a-z0-9] components separated by . _ __ - /)");
  return ok_status();
}

Result<http::ClientResponse> OciRegistry::send_once(http::ClientRequest req, const std::string& scope) {
  // Credentials go to the registry's own host only (not to a storage backend it redirects to).
  const bool own_host = http::url_host(req.url) == config_.registry;
  const auto base_headers = req.headers;
  bool fresh_token = false;
  for (;;) {
    req.headers = base_headers;
    req.userpwd.clear();
    if (own_host) {
      std::string token;
      bool bearer = false;
      {
        std::lock_guard lock(mu_);
        bearer = bearer_;
        // A push token (pull,push) serves pulls of the same repository too.
        for (const std::string& key : {scope, scope.ends_with(":pull") ? scope + ",push" : std::string()}) {
          auto it = key.empty() ? tokens_.end() : tokens_.find(key);
          if (it != tokens_.end() && it->second.expires_at_ms > now_ms()) {
            token = it->second.token;
            break;
          }
        }
      }
      if (!token.empty()) {
        req.headers.emplace_back("Authorization", "Bearer " + token);
      } else if (!bearer && !config_.username.empty()) {
        req.userpwd = config_.username + ":" + config_.password;
      }
    }
    ++requests_;
    auto r = http::perform(req);
    if (!r) return r;
    if (r->status != 401 || !own_host || fresh_token) return r;
    std::string challenge = r->header("www-authenticate");
    if (!starts_with_ci(challenge, "bearer ")) return r;
    {
      std::lock_guard lock(mu_);
      bearer_ = true;
      tokens_.erase(scope);
    }
    SECPLAT_TRY(fetch_token(challenge, scope));
    fresh_token = true;
  }
}

Status OciRegistry::fetch_token(const std::string& challenge, const std::string& scope) {
  auto params = challenge_params(challenge);
  const std::string realm = params["realm"];
  const bool https = realm.starts_with("https://");
  if (!https && !(config_.insecure && realm.starts_with("http://")))
    return Error::forbidden("registry " + config_.registry + " named a token service that is not https");
  std::string u = realm + (realm.find('?') == std::string::npos ? "?" : "&");
  bool first = true;
  auto add = [&](const std::string& k, const std::string& v) {
    if (v.empty()) return;
    u += (first ? "" : "&") + k + "=" + http::percent_encode(v, false);
    first = false;
  };
  add("service", params["service"]);
  // Ask for what this operation needs and what the registry asked for (a HEAD before a push is
  // challenged for pull only; the token must also allow the POST and PUT that follow).
  add("scope", scope);
  if (params["scope"] != scope) add("scope", params["scope"]);
  if (first) u.pop_back();

  http::ClientRequest req = request("GET", u);
  req.max_response_bytes = 1u << 20;
  if (!config_.username.empty()) req.userpwd = config_.username + ":" + config_.password;
  ++requests_;
  auto r = http::perform(req);
  if (!r) return std::move(r).take_error();
  const std::string svc = "token service of registry " + config_.registry;
  if (r->status == 401 || r->status == 403)
    return Error::forbidden(svc + " refused the credentials for " + (scope.empty() ? "the registry" : scope) +
                            " (HTTP " + std::to_string(r->status) + ")");
  if (r->status == 429 || r->status >= 500)
    return Error::unavailable(svc + " answered HTTP " + std::to_string(r->status));
  if (r->status != 200) return Error::bad_request(svc + " answered HTTP " + std::to_string(r->status));
  Json j = Json::parse(r->body, nullptr, false);
  std::string token;
  if (j.is_object()) {
    if (j.contains("token") && j["token"].is_string()) token = j["token"].get<std::string>();
    if (token.empty() && j.contains("access_token") && j["access_token"].is_string())
      token = j["access_token"].get<std::string>();
  }
  if (token.empty()) return Error::bad_request(svc + " returned no token");
  int64_t ttl_s = 60;
  if (j.contains("expires_in") && j["expires_in"].is_number_integer()) ttl_s = j["expires_in"].get<int64_t>();
  ttl_s = std::max<int64_t>(ttl_s - 10, 5);  // renew a little early
  std::lock_guard lock(mu_);
  tokens_[scope] = {std::move(token), now_ms() + ttl_s * 1000};
  return ok_status();
}

Error OciRegistry::status_error(const http::ClientResponse& r, const std::string& repo, const std::string& what) const {
  const std::string reg = "registry " + config_.registry;
  const std::string code = registry_error_code(r.body);
  const std::string status = "HTTP " + std::to_string(r.status) + (code.empty() ? "" : " " + code);
  if (r.status == 401 || r.status == 403)
    return Error::forbidden(reg + " refused access to repository " + repo + " (" + status + ")");
  if (r.status == 404) return Error::not_found(reg + ": " + what + " not found in repository " + repo + " (" + status + ")");
  if (r.status == 429 || r.status >= 500) {
    Error e = Error::unavailable(reg + " answered " + status + " to " + what);
    if (std::string ra = r.header("retry-after"); !ra.empty() && ra.find_first_not_of("0123456789") == std::string::npos &&
                                                  ra.size() < 6)
      e.retry_after_s = std::stoi(ra);
    return e;
  }
  return Error::bad_request(reg + " rejected " + what + " for repository " + repo + " (" + status + ")");
}

template <class T>
Result<T> OciRegistry::with_retries(const std::function<Result<T>()>& fn) {
  const int attempts = std::max(1, config_.max_attempts);
  for (int attempt = 1;; ++attempt) {
    Result<T> r = fn();
    if (r.ok() || r.error().code != Errc::unavailable) return r;
    if (attempt >= attempts) {
      Error e = std::move(r).take_error();
      e.message = "registry " + config_.registry + " unavailable after " + std::to_string(attempts) +
                  (attempts == 1 ? " attempt: " : " attempts: ") + e.message;
      return e;
    }
    backoff(attempt, r.error().retry_after_s);
  }
}

Status OciRegistry::ping() {
  auto r = with_retries<bool>([&]() -> Result<bool> {
    auto resp = send_once(request("GET", url("/v2/")), "");
    if (!resp) return std::move(resp).take_error();
    if (resp->status != 200) return status_error(*resp, "(none)", "API version check");
    return true;
  });
  if (!r) return std::move(r).take_error();
  return ok_status();
}

Result<bool> OciRegistry::head_blob(const std::string& repo, const std::string& digest, const std::string& scope) {
  auto resp = send_once(request("HEAD", url("/v2/" + repo + "/blobs/" + digest)), scope);
  if (!resp) return std::move(resp).take_error();
  if (resp->status == 200) return true;
  if (resp->status == 404) return false;
  if (is_redirect(resp->status)) return true;  // served from a storage backend: it exists
  return status_error(*resp, repo, "blob " + digest);
}

Result<bool> OciRegistry::blob_exists(const std::string& repo, const std::string& digest) {
  SECPLAT_TRY(check_name(repo));
  if (!is_valid_digest(digest)) return Error::bad_request("blob digest must be sha256:<64 lower-case hex>");
  return with_retries<bool>([&] { return head_blob(repo, digest, pull_scope(repo)); });
}

// One monolithic upload: POST opens a session, PUT <location>&digest= sends the whole body.
Result<Descriptor> OciRegistry::upload_once(const std::string& repo, const Descriptor& desc,
                                            const http::ClientRequest& body) {
  const std::string scope = push_scope(repo);
  auto exists = head_blob(repo, desc.digest, scope);
  if (!exists) return std::move(exists).take_error();
  if (*exists) {
    ++blobs_skipped_;
    return desc;
  }
  auto post = send_once(request("POST", url("/v2/" + repo + "/blobs/uploads/")), scope);
  if (!post) return std::move(post).take_error();
  if (post->status != 202) return status_error(*post, repo, "blob upload " + desc.digest);
  std::string location = post->header("location");
  if (location.empty()) return Error::bad_request("registry " + config_.registry + " opened an upload without a Location");
  if (location.front() == '/') location = base_ + location;
  if (!location.starts_with("https://") && !(config_.insecure && location.starts_with("http://")))
    return Error::bad_request("registry " + config_.registry + " returned an upload location that is not https");
  location += (location.find('?') == std::string::npos ? "?digest=" : "&digest=") + http::percent_encode(desc.digest, false);

  http::ClientRequest put = body;
  put.method = "PUT";
  put.url = location;
  put.timeout_ms = std::max(1, config_.timeout_s) * 1000L;
  put.headers = {{"Content-Type", "application/octet-stream"}};
  auto r = send_once(put, scope);
  if (!r) return std::move(r).take_error();
  if (r->status != 201) return status_error(*r, repo, "blob " + desc.digest);
  if (std::string got = r->header("docker-content-digest"); !got.empty() && got != desc.digest)
    return Error::internal("registry " + config_.registry + " stored blob " + desc.digest + " as " + got);
  ++blobs_uploaded_;
  return desc;
}

Result<Descriptor> OciRegistry::push_blob_file(const std::string& repo, const std::string& path,
                                               const std::string& media_type, const std::string& known_digest) {
  SECPLAT_TRY(check_name(repo));
  Descriptor desc;
  desc.media_type = media_type;
  std::error_code ec;
  if (!known_digest.empty()) {
    if (!is_valid_digest(known_digest)) return Error::bad_request("blob digest must be sha256:<64 lower-case hex>");
    auto size = std::filesystem::file_size(path, ec);
    if (ec) return Error::not_found("cannot read " + path);
    desc.digest = known_digest;
    desc.size = static_cast<int64_t>(size);
  } else {
    auto d = describe_file(path, media_type);
    if (!d) return std::move(d).take_error();
    desc = std::move(d).value();
  }
  http::ClientRequest body;
  body.body_file = path;
  body.body_length = desc.size;  // a file that grows meanwhile still sends what was hashed
  return with_retries<Descriptor>([&] { return upload_once(repo, desc, body); });
}

Result<Descriptor> OciRegistry::push_blob(const std::string& repo, std::string_view bytes, const std::string& media_type) {
  SECPLAT_TRY(check_name(repo));
  Descriptor desc;
  desc.media_type = media_type;
  desc.digest = "sha256:" + sha256_hex(bytes);
  desc.size = static_cast<int64_t>(bytes.size());
  http::ClientRequest body;
  body.body = std::string(bytes);
  return with_retries<Descriptor>([&] { return upload_once(repo, desc, body); });
}

Result<std::string> OciRegistry::put_manifest(const std::string& repo, const std::string& reference,
                                              const std::string& manifest_json, const std::string& media_type) {
  SECPLAT_TRY(check_name(repo));
  if (!is_valid_tag(reference) && !is_valid_digest(reference))
    return Error::bad_request("manifest reference '" + reference + "' is neither a valid tag nor a sha256 digest");
  const std::string digest = "sha256:" + sha256_hex(manifest_json);
  if (is_valid_digest(reference) && reference != digest)
    return Error::bad_request("manifest does not hash to " + reference);
  return with_retries<std::string>([&]() -> Result<std::string> {
    http::ClientRequest req = request("PUT", url("/v2/" + repo + "/manifests/" + reference));
    req.headers = {{"Content-Type", media_type}};
    req.body = manifest_json;
    auto r = send_once(req, push_scope(repo));
    if (!r) return std::move(r).take_error();
    if (r->status != 201 && r->status != 200) return status_error(*r, repo, "manifest " + reference);
    if (std::string got = r->header("docker-content-digest"); !got.empty() && got != digest)
      return Error::internal("registry " + config_.registry + " stored manifest " + digest + " as " + got);
    return digest;
  });
}

Result<FetchedManifest> OciRegistry::get_manifest(const std::string& repo, const std::string& reference) {
  SECPLAT_TRY(check_name(repo));
  const bool by_digest = is_valid_digest(reference);
  if (!by_digest && !is_valid_tag(reference))
    return Error::bad_request("manifest reference '" + reference + "' is neither a valid tag nor a sha256 digest");
  return with_retries<FetchedManifest>([&]() -> Result<FetchedManifest> {
    http::ClientRequest req = request("GET", url("/v2/" + repo + "/manifests/" + reference));
    req.headers = {{"Accept", kManifestAccept}};
    req.max_response_bytes = kMaxManifestBytes;
    auto r = send_once(req, pull_scope(repo));
    if (!r) return std::move(r).take_error();
    if (r->status != 200) return status_error(*r, repo, "manifest " + reference);
    FetchedManifest m;
    m.body = std::move(r->body);
    m.digest = "sha256:" + sha256_hex(m.body);
    m.media_type = r->header("content-type");
    if (auto semi = m.media_type.find(';'); semi != std::string::npos) m.media_type.resize(semi);
    const std::string claimed = by_digest ? reference : r->header("docker-content-digest");
    if (!claimed.empty() && claimed != m.digest)
      return Error::bad_request("registry " + config_.registry + " served manifest " + reference + " of repository " +
                                repo + " with content that hashes to " + m.digest);
    // The body's own mediaType wins over a generic Content-Type.
    Json j = Json::parse(m.body, nullptr, false);
    if (j.is_object() && j.contains("mediaType") && j["mediaType"].is_string())
      m.media_type = j["mediaType"].get<std::string>();
    return m;
  });
}

Status OciRegistry::read_blob_once(const std::string& repo, const std::string& digest,
                                   const std::function<bool(std::string_view)>& sink, bool& delivered) {
  Sha256Stream h;
  std::string u = url("/v2/" + repo + "/blobs/" + digest);
  for (int hop = 0;; ++hop) {
    http::ClientRequest req = request("GET", u);
    req.sink = [&](std::string_view chunk) {
      delivered = true;
      h.update(chunk);
      return sink(chunk);
    };
    auto r = send_once(req, pull_scope(repo));
    if (!r) return std::move(r).take_error();
    if (is_redirect(r->status) && hop < 3) {
      std::string loc = r->header("location");
      if (loc.empty()) return Error::bad_request("registry " + config_.registry + " redirected without a Location");
      if (loc.front() == '/') loc = base_ + loc;
      if (!loc.starts_with("https://") && !(config_.insecure && loc.starts_with("http://")))
        return Error::bad_request("registry " + config_.registry + " redirected a blob to a non-https URL");
      u = loc;
      continue;
    }
    if (r->status != 200) return status_error(*r, repo, "blob " + digest);
    break;
  }
  if (std::string got = h.digest(); got != digest)
    return Error::bad_request("registry " + config_.registry + " served blob " + digest + " of repository " + repo +
                              " with content that hashes to " + got);
  return ok_status();
}

Status OciRegistry::read_blob(const std::string& repo, const std::string& digest,
                              const std::function<bool(std::string_view)>& sink) {
  SECPLAT_TRY(check_name(repo));
  if (!is_valid_digest(digest)) return Error::bad_request("blob digest must be sha256:<64 lower-case hex>");
  auto r = with_retries<bool>([&]() -> Result<bool> {
    bool delivered = false;
    Status s = read_blob_once(repo, digest, sink, delivered);
    if (!s.ok()) {
      Error e = std::move(s).take_error();
      // Bytes already handed to the caller cannot be taken back, so no retry after them.
      if (delivered && e.code == Errc::unavailable) e.code = Errc::internal;
      return e;
    }
    return true;
  });
  if (!r) return std::move(r).take_error();
  return ok_status();
}

Result<std::string> OciRegistry::get_blob(const std::string& repo, const std::string& digest, std::size_t max_bytes) {
  SECPLAT_TRY(check_name(repo));
  if (!is_valid_digest(digest)) return Error::bad_request("blob digest must be sha256:<64 lower-case hex>");
  return with_retries<std::string>([&]() -> Result<std::string> {
    std::string out;
    bool too_large = false;
    bool delivered = false;
    Status s = read_blob_once(repo, digest,
                              [&](std::string_view chunk) {
                                if (out.size() + chunk.size() > max_bytes) {
                                  too_large = true;
                                  return false;
                                }
                                out.append(chunk);
                                return true;
                              },
                              delivered);
    if (too_large)
      return Error::too_large("blob " + digest + " of repository " + repo + " is larger than " +
                              std::to_string(max_bytes) + " bytes");
    if (!s.ok()) return std::move(s).take_error();
    return out;
  });
}

Result<std::vector<std::string>> OciRegistry::list_tags(const std::string& repo) {
  SECPLAT_TRY(check_name(repo));
  std::vector<std::string> tags;
  std::string next = "/v2/" + repo + "/tags/list?n=1000";
  for (int page = 0; page < 1000 && !next.empty(); ++page) {
    auto r = with_retries<http::ClientResponse>([&]() -> Result<http::ClientResponse> {
      auto resp = send_once(request("GET", url(next)), pull_scope(repo));
      if (!resp) return std::move(resp).take_error();
      if (resp->status != 200) return status_error(*resp, repo, "tag list");
      return resp;
    });
    if (!r) return std::move(r).take_error();
    Json j = Json::parse(r->body, nullptr, false);
    if (!j.is_object()) return Error::bad_request("registry " + config_.registry + " sent a tag list that is not JSON");
    if (j.contains("tags") && j["tags"].is_array())
      for (const auto& t : j["tags"])
        if (t.is_string()) tags.push_back(t.get<std::string>());
    // Link: </v2/<repo>/tags/list?last=x&n=1000>; rel="next"
    next.clear();
    std::string link = r->header("link");
    if (auto lt = link.find('<'), gt = link.find('>'); lt != std::string::npos && gt != std::string::npos && gt > lt &&
                                                       link.find("rel=\"next\"") != std::string::npos) {
      std::string target = link.substr(lt + 1, gt - lt - 1);
      if (target.starts_with("/v2/" + repo + "/tags/list")) next = target;
    }
  }
  return tags;
}

}  // namespace secplat::objects
