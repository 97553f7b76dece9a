// A client for OCI registries (distribution API v2: docker-registry, Harbor, GHCR, ...), enough to
// push and pull artifacts addressed by digest. Blocking, over http/client.h (libcurl).
//
// Authentication follows the registry: anonymous; HTTP basic when OciConfig::username is set; or
// the token flow (a 401 with `WWW-Authenticate: Bearer realm=..,service=..,scope=..` makes the
// client GET a token from the realm, with the basic credentials when set, cache it per scope until
// it expires, and retry once with `Authorization: Bearer`). Credentials and tokens are only sent to
// the registry's own host and the token realm; they never appear in errors or logs.
//
// Errors (Result/Status):
//   Errc::forbidden    401/403 after authenticating, naming the registry and repository;
//   Errc::not_found    no such repository, manifest, tag or blob;
//   Errc::unavailable  transport failures, 5xx and 429, once OciConfig::max_attempts attempts
//                      (exponential backoff with jitter) are used up; names the registry;
//   Errc::bad_request  other 4xx (with the registry's error code, e.g. "DIGEST_INVALID"),
//                      invalid names, tags or digests, and content whose digest is not the one
//                      asked for (a registry is never trusted to return the right bytes).
//
// Threading: every method is thread-safe (the token cache has its own mutex); all of them block
// for network I/O, so never call them on an I/O thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "http/client.h"

namespace secplat::objects {

inline constexpr const char* kOciManifestType = "application/vnd.oci.image.manifest.v1+json";
inline constexpr const char* kOciIndexType = "application/vnd.oci.image.index.v1+json";

// An OCI content descriptor. `digest` is "sha256:<64 lower-case hex>".
struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = 0;
  std::map<std::string, std::string> annotations;
};

// A manifest as the registry served it: `body` holds the exact bytes (their sha256 is `digest`).
struct FetchedManifest {
  std::string media_type;
  std::string digest;
  std::string body;
};

// Counters for tests and metrics.
struct OciStats {
  uint64_t blobs_uploaded = 0;
  uint64_t blobs_skipped = 0;  // already in the registry (HEAD said so)
  uint64_t requests = 0;       // HTTP requests sent, retries and token requests included
};

// The OCI distribution grammar for repository names: lower-case components
// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* joined by '/', at most 255 characters.
bool is_valid_repository(std::string_view repo);
// [A-Za-z0-9_][A-Za-z0-9._-]{0,127}
bool is_valid_tag(std::string_view tag);
// "sha256:" + 64 lower-case hex digits (the only algorithm this client speaks).
bool is_valid_digest(std::string_view digest);

// The sha256 digest and size of a file, read as a stream (never loaded whole).
// Errc::not_found when it cannot be opened.
Result<Descriptor> describe_file(const std::string& path, const std::string& media_type);

// An artifact reference `oci://host[:port]/repo[:tag][@sha256:<hex>]`:
//   * host is a DNS name, an IPv4 address or a bracketed IPv6 address ("[::1]:5000");
//   * repo follows is_valid_repository() ("scans/app", not "Scans");
//   * a tag follows is_valid_tag(); with neither tag nor digest the tag is "latest";
//   * with a digest the digest is what is fetched (a tag beside it is informative only).
// Errc::bad_request naming the part that is wrong otherwise.
struct OciUri {
  std::string registry;    // "host:port" as written
  std::string repository;
  std::string tag;         // "" when only a digest was given
  std::string digest;      // "" when none was given
  // The digest when there is one, else the tag: what to put after /manifests/.
  const std::string& reference() const { return digest.empty() ? tag : digest; }
};
Result<OciUri> parse_oci_uri(std::string_view uri);

class OciRegistry {
 public:
  // `config.registry` is "host[:port]"; `insecure` selects plain http (loopback test registries).
  explicit OciRegistry(const OciConfig& config);
  ~OciRegistry();
  OciRegistry(const OciRegistry&) = delete;
  OciRegistry& operator=(const OciRegistry&) = delete;

  // "host:port" as configured (for references such as host/repo@sha256:...).
  const std::string& host() const { return config_.registry; }

  // OK when the registry answers /v2/ with the configured credentials.
  Status ping();

  // True when the registry holds `digest` in `repo`.
  Result<bool> blob_exists(const std::string& repo, const std::string& digest);

  // Uploads a file as a blob (monolithic POST + PUT, the body streamed from disk). The digest is
  // computed by streaming the file unless `known_digest` is given; the registry verifies the
  // uploaded bytes against it either way. Nothing is sent when the blob is already there.
  Result<Descriptor> push_blob_file(const std::string& repo, const std::string& path,
                                    const std::string& media_type = "application/octet-stream",
                                    const std::string& known_digest = "");
  Result<Descriptor> push_blob(const std::string& repo, std::string_view bytes, const std::string& media_type);

  // Puts a manifest under a tag or a digest and returns its digest, after checking the registry's
  // Docker-Content-Digest equals the sha256 of `manifest_json` (Errc::internal otherwise).
  Result<std::string> put_manifest(const std::string& repo, const std::string& reference,
                                   const std::string& manifest_json, const std::string& media_type);

  // Fetches an OCI/Docker manifest or index by tag or digest. When `reference` is a digest, the
  // body must hash to it; for a tag, a Docker-Content-Digest that disagrees with the body is an error.
  Result<FetchedManifest> get_manifest(const std::string& repo, const std::string& reference);

  // A blob of at most `max_bytes` (more is Errc::too_large), verified against `digest`.
  Result<std::string> get_blob(const std::string& repo, const std::string& digest, std::size_t max_bytes);

  // Streams a blob to `sink` (return false to stop: Errc::internal) and checks its digest at the
  // end. The bytes a sink sees are unverified until this returns OK.
  Status read_blob(const std::string& repo, const std::string& digest,
                   const std::function<bool(std::string_view)>& sink);

  // Every tag of `repo` (following Link pagination). Errc::not_found for an unknown repository.
  Result<std::vector<std::string>> list_tags(const std::string& repo);

  OciStats stats() const;

 private:
  http::ClientRequest request(const std::string& method, const std::string& url) const;
  std::string url(const std::string& path) const;
  Status check_name(const std::string& repo) const;
  // One request with authentication (and one token round trip on a Bearer challenge); no retries.
  Result<http::ClientResponse> send_once(http::ClientRequest req, const std::string& scope);
  Status fetch_token(const std::string& challenge, const std::string& scope);
  Error status_error(const http::ClientResponse& r, const std::string& repo, const std::string& what) const;
  // Runs `fn` again while it fails with Errc::unavailable, up to max_attempts times.
  template <class T>
  Result<T> with_retries(const std::function<Result<T>()>& fn);
  Result<bool> head_blob(const std::string& repo, const std::string& digest, const std::string& scope);
  Result<Descriptor> upload_once(const std::string& repo, const Descriptor& desc, const http::ClientRequest& body);
  Status read_blob_once(const std::string& repo, const std::string& digest,
                        const std::function<bool(std::string_view)>& sink, bool& delivered);

  OciConfig config_;
  std::string base_;  // scheme://host:port
  mutable std::mutex mu_;
  struct CachedToken {
    std::string token;
    int64_t expires_at_ms = 0;
  };
  std::map<std::string, CachedToken> tokens_;  // guarded by mu_; key = scope
  bool bearer_ = false;                        // guarded by mu_; the registry asked for tokens
  std::atomic<uint64_t> blobs_uploaded_{0};
  std::atomic<uint64_t> blobs_skipped_{0};
  std::atomic<uint64_t> requests_{0};
};

}  // namespace secplat::objects
