#include "assurance/remote_manifest.h"

#include <algorithm>

#include "objects/object_store.h"
#include "objects/oci_bundle.h"
#include "objects/oci_registry.h"

namespace secplat::assurance {

namespace {

bool contains(const std::vector<std::string>& list, const std::string& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

struct S3Uri {
  std::string bucket, key;
};

std::optional<S3Uri> parse_s3(const std::string& uri) {
  if (uri.rfind("s3://", 0) != 0) return std::nullopt;
  std::string rest = uri.substr(5);
  auto slash = rest.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 >= rest.size()) return std::nullopt;
  return S3Uri{rest.substr(0, slash), rest.substr(slash + 1)};
}

// oci://… minus an optional "#title".
std::pair<std::string, std::string> split_title(const std::string& uri) {
  auto hash = uri.find('#');
  if (hash == std::string::npos) return {uri, ""};
  return {uri.substr(0, hash), uri.substr(hash + 1)};
}

}  // namespace

ObjectManifestSource::ObjectManifestSource(objects::ObjectStore* s3, objects::OciRegistry* oci, std::string oci_registry,
                                           std::vector<std::string> s3_buckets,
                                           std::vector<std::string> oci_repositories)
    : s3_(s3),
      oci_(oci),
      registry_(std::move(oci_registry)),
      buckets_(std::move(s3_buckets)),
      repositories_(std::move(oci_repositories)) {}

std::string ObjectManifestSource::refusal(const std::string& field, const std::string& uri) const {
  if (uri.rfind("s3://", 0) == 0) {
    if (s3_ == nullptr) return field + ": s3:// manifests need s3.endpoint to be configured";
    auto u = parse_s3(uri);
    if (!u) return field + ": expected s3://BUCKET/KEY";
    if (!contains(buckets_, u->bucket))
      return field + ": bucket '" + u->bucket + "' is not in assurance.manifest_s3_buckets";
    return "";
  }
  if (uri.rfind("oci://", 0) == 0) {
    if (oci_ == nullptr) return field + ": oci:// manifests need oci.registry to be configured";
    auto [ref, title] = split_title(uri);
    auto u = objects::parse_oci_uri(ref);
    if (!u) return field + ": " + u.error().message;
    if (u->registry != registry_) return field + ": registry '" + u->registry + "' is not oci.registry";
    if (!contains(repositories_, u->repository))
      return field + ": repository '" + u->repository + "' is not in assurance.manifest_oci_repositories";
    if (uri.find('#') != std::string::npos && title.empty()) return field + ": empty file name after '#'";
    return "";
  }
  return field + ": not an s3:// or oci:// URI";
}

Result<std::string> ObjectManifestSource::fetch(const std::string& uri, bool signature, std::size_t max_bytes) {
  const char* what = signature ? "manifest signature" : "manifest";
  if (uri.rfind("s3://", 0) == 0 && s3_ != nullptr) {
    auto u = parse_s3(uri);
    if (!u) return Error::bad_request(std::string(what) + " " + uri + ": expected s3://BUCKET/KEY");
    auto text = s3_->get(u->bucket, u->key, max_bytes);
    if (!text) return Error::bad_request(std::string(what) + " " + uri + ": " + text.error().message);
    return text;
  }
  if (uri.rfind("oci://", 0) == 0 && oci_ != nullptr) {
    auto [ref, title] = split_title(uri);
    auto u = objects::parse_oci_uri(ref);
    if (!u) return Error::bad_request(std::string(what) + " " + uri + ": " + u.error().message);
    if (title.empty()) title = signature ? "manifest.sig" : "manifest.json";
    auto text = objects::pull_file_artifact(*oci_, u->repository, u->reference(), title, max_bytes);
    if (!text) return Error::bad_request(std::string(what) + " " + uri + ": " + text.error().message);
    return text;
  }
  return Error::bad_request(std::string(what) + " " + uri + ": scheme not configured");
}

}  // namespace secplat::assurance
