#include "objects/oci_bundle.h"

#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <set>

#include "core/encoding.h"
#include "core/json.h"
#include "crypto/dsse.h"
#include "crypto/ecdsa.h"

namespace secplat::objects {

namespace {

namespace fs = std::filesystem;
using OJson = nlohmann::ordered_json;

constexpr const char* kSimpleSigningType = "application/vnd.dev.cosign.simplesigning.v1+json";
constexpr const char* kSignatureAnnotation = "dev.cosignproject.cosign/signature";
constexpr const char* kDsseType = "application/vnd.dsse.envelope.v1+json";
constexpr const char* kImageConfigType = "application/vnd.oci.image.config.v1+json";
constexpr const char* kCreatedAnnotation = "org.opencontainers.image.created";
constexpr const char* kTestIdAnnotation = "dev.secplat.scan.test_id";
constexpr std::size_t kMaxSmallBlob = 1u << 20;  // configs, signature payloads
constexpr std::size_t kMaxAttestation = 16u << 20;

OJson descriptor_json(const Descriptor& d) {
  OJson j;
  j["mediaType"] = d.media_type;
  j["digest"] = d.digest;
  j["size"] = d.size;
  if (!d.annotations.empty()) {
    OJson a = OJson::object();
    for (const auto& [k, v] : d.annotations) a[k] = v;
    j["annotations"] = std::move(a);
  }
  return j;
}

// A descriptor from manifest JSON, or an error naming what is malformed.
Result<Descriptor> descriptor_from(const Json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("mediaType") || !j["mediaType"].is_string() || !j.contains("digest") ||
      !j["digest"].is_string() || !j.contains("size") || !j["size"].is_number_integer())
    return Error::bad_request(where + " is not a valid descriptor");
  Descriptor d;
  d.media_type = j["mediaType"].get<std::string>();
  d.digest = j["digest"].get<std::string>();
  d.size = j["size"].get<int64_t>();
  if (!is_valid_digest(d.digest) || d.size < 0) return Error::bad_request(where + " has an invalid digest or size");
  if (j.contains("annotations") && j["annotations"].is_object())
    for (const auto& [k, v] : j["annotations"].items())
      if (v.is_string()) d.annotations[k] = v.get<std::string>();
  return d;
}

struct ParsedManifest {
  Json json;
  std::vector<Descriptor> layers;
};

Result<ParsedManifest> parse_image_manifest(const FetchedManifest& m, const std::string& what) {
  ParsedManifest out;
  out.json = Json::parse(m.body, nullptr, false);
  if (!out.json.is_object() || out.json.value("schemaVersion", 0) != 2)
    return Error::bad_request(what + " is not a schemaVersion 2 manifest");
  if (m.media_type != kOciManifestType && m.media_type != "application/vnd.docker.distribution.manifest.v2+json")
    return Error::bad_request(what + " is a " + m.media_type + ", not an image manifest");
  if (!out.json.contains("layers") || !out.json["layers"].is_array())
    return Error::bad_request(what + " has no layers");
  std::size_t i = 0;
  for (const auto& l : out.json["layers"]) {
    auto d = descriptor_from(l, what + " layer " + std::to_string(i++));
    if (!d) return std::move(d).take_error();
    out.layers.push_back(std::move(d).value());
  }
  return out;
}

std::string rfc3339(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::time_t mtime_of(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? st.st_mtime : 0;
}

// The cosign-style config of a signature/attestation image: empty platform, one diff_id per layer.
std::string attachment_config(const std::vector<Descriptor>& layers) {
  OJson diff_ids = OJson::array();
  for (const auto& l : layers) diff_ids.push_back(l.digest);
  OJson c;
  c["architecture"] = "";
  c["created"] = "0001-01-01T00:00:00Z";
  c["history"] = OJson::array({OJson{{"created", "0001-01-01T00:00:00Z"}}});
  c["os"] = "";
  c["rootfs"] = OJson{{"type", "layers"}, {"diff_ids", diff_ids}};
  c["config"] = OJson::object();
  return c.dump();
}

// Existing layers of an attachment image at `tag`, or none when the tag does not exist yet.
Result<std::vector<Descriptor>> existing_attachment(OciRegistry& reg, const std::string& repo, const std::string& tag) {
  auto m = reg.get_manifest(repo, tag);
  if (!m) {
    if (m.error().code == Errc::not_found) return std::vector<Descriptor>{};
    return std::move(m).take_error();
  }
  auto parsed = parse_image_manifest(*m, "attachment " + tag);
  if (!parsed) return std::move(parsed).take_error();
  return std::move(parsed->layers);
}

// Pushes an attachment image (config + layers whose blobs are already in the registry) to `tag`.
Status put_attachment(OciRegistry& reg, const std::string& repo, const std::string& tag,
                      const std::vector<Descriptor>& layers) {
  auto config = reg.push_blob(repo, attachment_config(layers), kImageConfigType);
  if (!config) return std::move(config).take_error();
  OJson m;
  m["schemaVersion"] = 2;
  m["mediaType"] = kOciManifestType;
  m["config"] = descriptor_json(*config);
  m["layers"] = OJson::array();
  for (const auto& l : layers) m["layers"].push_back(descriptor_json(l));
  auto put = reg.put_manifest(repo, tag, m.dump(), kOciManifestType);
  if (!put) return std::move(put).take_error();
  return ok_status();
}

// True when `sig_layer` is a simple-signing payload for `reference`@`digest` whose signature
// verifies with `public_pem`.
Status check_signature_layer(OciRegistry& reg, const std::string& repo, const Descriptor& sig_layer,
                             const std::string& docker_reference, const std::string& digest,
                             const std::string& public_pem) {
  if (sig_layer.media_type != kSimpleSigningType) return Error::bad_request("not a simple-signing layer");
  auto it = sig_layer.annotations.find(kSignatureAnnotation);
  if (it == sig_layer.annotations.end()) return Error::bad_request("signature layer has no signature annotation");
  auto payload = reg.get_blob(repo, sig_layer.digest, kMaxSmallBlob);
  if (!payload) return std::move(payload).take_error();
  Json p = Json::parse(*payload, nullptr, false);
  if (!p.is_object() || !p.contains("critical") || !p["critical"].is_object())
    return Error::bad_request("signature payload is not a simple-signing document");
  const Json& c = p["critical"];
  auto str_at = [&](const char* a, const char* b) -> std::string {
    if (!c.contains(a) || !c[a].is_object() || !c[a].contains(b) || !c[a][b].is_string()) return "";
    return c[a][b].get<std::string>();
  };
  if (str_at("image", "docker-manifest-digest") != digest)
    return Error::bad_request("signature payload names another manifest digest");
  if (str_at("identity", "docker-reference") != docker_reference)
    return Error::bad_request("signature payload names another repository");
  if (!c.contains("type") || c["type"] != "cosign container image signature")
    return Error::bad_request("signature payload has the wrong type");
  return crypto::ec_verify_b64(public_pem, *payload, it->second);
}

std::string predicate_type_of(const Json& envelope) {
  if (!envelope.contains("payload") || !envelope["payload"].is_string()) return "";
  auto raw = base64_decode(envelope["payload"].get<std::string>());
  if (!raw) return "";
  Json st = Json::parse(*raw, nullptr, false);
  if (st.is_object() && st.contains("predicateType") && st["predicateType"].is_string())
    return st["predicateType"].get<std::string>();
  return "";
}

std::string digest_hex(const std::string& digest) { return digest.substr(digest.find(':') + 1); }

}  // namespace

std::string cosign_signature_tag(const std::string& digest) { return "sha256-" + digest_hex(digest) + ".sig"; }
std::string cosign_attestation_tag(const std::string& digest) { return "sha256-" + digest_hex(digest) + ".att"; }

std::string simple_signing_payload(const std::string& docker_reference, const std::string& digest) {
  OJson p;
  p["critical"]["identity"]["docker-reference"] = docker_reference;
  p["critical"]["image"]["docker-manifest-digest"] = digest;
  p["critical"]["type"] = "cosign container image signature";
  p["optional"] = nullptr;
  return p.dump();
}

Result<PushedBundle> push_bundle(OciRegistry& reg, const std::string& repo, const std::string& tag,
                                 const std::string& bundle_dir, const std::vector<BundleLayer>& files,
                                 const BundleSigning& signing, const BundleInfo& info) {
  // 1. Everything that can be checked locally, before the registry hears from us.
  if (!is_valid_repository(repo)) return Error::bad_request("OCI repository name '" + repo + "' is invalid");
  if (!is_valid_tag(tag)) return Error::bad_request("OCI tag '" + tag + "' is invalid");
  if (files.empty()) return Error::bad_request("bundle has no files to push");
  auto public_pem = crypto::ec_public_from_private(signing.private_pem);
  if (!public_pem) return Error::bad_request("bundle signing key: " + public_pem.error().message);

  Json envelope;
  std::string predicate_type;
  if (!signing.attestation_dsse_json.empty()) {
    envelope = Json::parse(signing.attestation_dsse_json, nullptr, false);
    if (!envelope.is_object() || !envelope.contains("payloadType") || !envelope.contains("payload") ||
        !envelope.contains("signatures"))
      return Error::bad_request("bundle attestation is not a DSSE envelope");
    predicate_type = predicate_type_of(envelope);
  }

  std::set<std::string> seen;
  std::vector<std::string> mismatches;
  std::time_t newest = 0;
  std::vector<Descriptor> layers;
  for (const BundleLayer& f : files) {
    if (!is_clean_relative_path(f.path)) return Error::bad_request("bundle file path '" + f.path + "' is not a safe relative path");
    if (!seen.insert(f.path).second) return Error::bad_request("bundle file '" + f.path + "' is listed twice");
    if (!is_sha256_hex(f.sha256_hex))
      return Error::bad_request("bundle file '" + f.path + "': sha256 must be 64 lower-case hex digits");
    const fs::path full = fs::path(bundle_dir) / f.path;
    std::error_code ec;
    auto st = fs::symlink_status(full, ec);
    if (ec || !fs::exists(st)) return Error::not_found("bundle file '" + f.path + "' does not exist");
    if (!fs::is_regular_file(st)) return Error::bad_request("bundle file '" + f.path + "' is not a regular file");
    auto d = describe_file(full.string(), f.media_type.empty() ? "application/octet-stream" : f.media_type);
    if (!d) return std::move(d).take_error();
    if (d->digest != "sha256:" + f.sha256_hex || d->size != f.size) {
      mismatches.push_back(f.path + " (verified sha256 " + f.sha256_hex + ", " + std::to_string(f.size) +
                           " bytes; now " + digest_hex(d->digest) + ", " + std::to_string(d->size) + " bytes)");
      continue;
    }
    d->annotations[kTitleAnnotation] = f.path;
    layers.push_back(std::move(d).value());
    newest = std::max(newest, mtime_of(full));
  }
  if (!mismatches.empty()) {
    std::string msg = "bundle changed after verification, nothing was pushed: ";
    for (std::size_t i = 0; i < mismatches.size(); ++i) msg += (i ? "; " : "") + mismatches[i];
    return Error::conflict(msg);
  }

  // 2. Blobs: config, then each file (the registry re-checks each digest on upload).
  const std::string created = info.created.empty() ? rfc3339(newest) : info.created;
  OJson cfg;
  cfg["test_id"] = info.test_id;
  cfg["created"] = created;
  cfg["files"] = files.size();
  auto config = reg.push_blob(repo, cfg.dump(), kBundleConfigType);
  if (!config) return std::move(config).take_error();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    auto pushed = reg.push_blob_file(repo, (fs::path(bundle_dir) / files[i].path).string(), layers[i].media_type,
                                     layers[i].digest);
    if (!pushed) return std::move(pushed).take_error();
  }

  // 3. The manifest, by digest only for now.
  OJson m;
  m["schemaVersion"] = 2;
  m["mediaType"] = kOciManifestType;
  m["artifactType"] = kBundleArtifactType;
  m["config"] = descriptor_json(*config);
  m["layers"] = OJson::array();
  for (const auto& l : layers) m["layers"].push_back(descriptor_json(l));
  OJson ann;
  ann[kCreatedAnnotation] = created;
  if (!info.test_id.empty()) ann[kTestIdAnnotation] = info.test_id;
  m["annotations"] = std::move(ann);
  const std::string manifest = m.dump();
  const std::string digest = "sha256:" + sha256_hex(manifest);
  auto put = reg.put_manifest(repo, digest, manifest, kOciManifestType);
  if (!put) return std::move(put).take_error();

  PushedBundle out;
  const std::string docker_reference = reg.host() + "/" + repo;
  out.reference = docker_reference + "@" + digest;
  out.manifest_digest = digest;
  out.signature_tag = cosign_signature_tag(digest);

  // 4. Signature: keep a verifying one by this key; otherwise sign and append a layer.
  auto sig_layers = existing_attachment(reg, repo, out.signature_tag);
  if (!sig_layers) return std::move(sig_layers).take_error();
  bool signed_already = false;
  for (const auto& l : *sig_layers)
    if (check_signature_layer(reg, repo, l, docker_reference, digest, *public_pem).ok()) signed_already = true;
  if (!signed_already) {
    const std::string payload = simple_signing_payload(docker_reference, digest);
    auto sig = crypto::ec_sign_b64(signing.private_pem, payload);
    if (!sig) return std::move(sig).take_error();
    auto blob = reg.push_blob(repo, payload, kSimpleSigningType);
    if (!blob) return std::move(blob).take_error();
    blob->annotations[kSignatureAnnotation] = *sig;
    sig_layers->push_back(std::move(blob).value());
    SECPLAT_TRY(put_attachment(reg, repo, out.signature_tag, *sig_layers));
  }

  // 5. Attestation: the DSSE envelope bytes as given.
  if (!signing.attestation_dsse_json.empty()) {
    out.attestation_tag = cosign_attestation_tag(digest);
    auto att_layers = existing_attachment(reg, repo, out.attestation_tag);
    if (!att_layers) return std::move(att_layers).take_error();
    const std::string att_digest = "sha256:" + sha256_hex(signing.attestation_dsse_json);
    bool present = false;
    for (const auto& l : *att_layers) present = present || l.digest == att_digest;
    if (!present) {
      auto blob = reg.push_blob(repo, signing.attestation_dsse_json, kDsseType);
      if (!blob) return std::move(blob).take_error();
      if (!predicate_type.empty()) blob->annotations["predicateType"] = predicate_type;
      att_layers->push_back(std::move(blob).value());
      SECPLAT_TRY(put_attachment(reg, repo, out.attestation_tag, *att_layers));
    }
  }

  // 6. Only now does the tag point at the (signed) digest.
  auto tagged = reg.put_manifest(repo, tag, manifest, kOciManifestType);
  if (!tagged) return std::move(tagged).take_error();
  return out;
}

Result<VerifiedBundle> verify_pushed_bundle(OciRegistry& reg, const std::string& repo,
                                            const std::string& manifest_digest, const std::string& public_pem) {
  if (!is_valid_digest(manifest_digest)) return Error::bad_request("bundle digest must be sha256:<64 lower-case hex>");
  auto fetched = reg.get_manifest(repo, manifest_digest);  // the body is checked against the digest
  if (!fetched) return std::move(fetched).take_error();
  auto parsed = parse_image_manifest(*fetched, "bundle manifest " + manifest_digest);
  if (!parsed) return std::move(parsed).take_error();
  const Json& mj = parsed->json;
  if (mj.value("artifactType", "") != kBundleArtifactType)
    return Error::bad_request("manifest " + manifest_digest + " is not a SecPlat scan bundle");
  auto config = descriptor_from(mj.value("config", Json()), "bundle config");
  if (!config) return std::move(config).take_error();
  if (config->media_type != kBundleConfigType) return Error::bad_request("bundle config has media type " + config->media_type);

  VerifiedBundle out;
  auto cfg_text = reg.get_blob(repo, config->digest, kMaxSmallBlob);
  if (!cfg_text) return std::move(cfg_text).take_error();
  Json cfg = Json::parse(*cfg_text, nullptr, false);
  if (!cfg.is_object()) return Error::bad_request("bundle config is not a JSON object");
  out.test_id = cfg.value("test_id", "");

  for (const Descriptor& l : parsed->layers) {
    auto title = l.annotations.find(kTitleAnnotation);
    if (title == l.annotations.end() || !is_clean_relative_path(title->second))
      return Error::bad_request("bundle layer " + l.digest + " has no safe title");
    int64_t size = 0;
    SECPLAT_TRY(reg.read_blob(repo, l.digest, [&](std::string_view chunk) {
      size += static_cast<int64_t>(chunk.size());
      return size <= l.size;
    }));
    if (size != l.size) return Error::bad_request("bundle file " + title->second + " has the wrong size");
    out.layers.push_back(l);
  }

  const std::string docker_reference = reg.host() + "/" + repo;
  out.bundle.reference = docker_reference + "@" + manifest_digest;
  out.bundle.manifest_digest = manifest_digest;
  out.bundle.signature_tag = cosign_signature_tag(manifest_digest);
  auto sig = reg.get_manifest(repo, out.bundle.signature_tag);
  if (!sig) {
    Error e = std::move(sig).take_error();
    if (e.code == Errc::not_found) e.message = "bundle " + manifest_digest + " has no signature (" + e.message + ")";
    return e;
  }
  auto sig_parsed = parse_image_manifest(*sig, "signature " + out.bundle.signature_tag);
  if (!sig_parsed) return std::move(sig_parsed).take_error();
  std::string why = "no signature layer";
  bool verified = false;
  for (const auto& l : sig_parsed->layers) {
    Status s = check_signature_layer(reg, repo, l, docker_reference, manifest_digest, public_pem);
    if (s.ok()) {
      verified = true;
      break;
    }
    if (s.error().code == Errc::unavailable) return std::move(s).take_error();
    why = s.error().message;
  }
  if (!verified) return Error::bad_request("bundle " + manifest_digest + " signature does not verify: " + why);

  const std::string att_tag = cosign_attestation_tag(manifest_digest);
  auto att = reg.get_manifest(repo, att_tag);
  if (att) {
    auto att_parsed = parse_image_manifest(*att, "attestation " + att_tag);
    if (!att_parsed) return std::move(att_parsed).take_error();
    out.bundle.attestation_tag = att_tag;
    for (const auto& l : att_parsed->layers) {
      if (l.media_type != kDsseType) continue;
      auto body = reg.get_blob(repo, l.digest, kMaxAttestation);
      if (!body) return std::move(body).take_error();
      Json env = Json::parse(*body, nullptr, false);
      if (!env.is_object()) return Error::bad_request("attestation layer " + l.digest + " is not JSON");
      out.predicate_type = predicate_type_of(env);
      if (crypto::dsse_verify(env, public_pem).ok()) out.attestation_verified = true;
    }
  } else if (att.error().code != Errc::not_found) {
    return std::move(att).take_error();
  }
  return out;
}

Result<PushedBundle> find_bundle(OciRegistry& reg, const std::string& repo, const std::string& tag) {
  auto m = reg.get_manifest(repo, tag);
  if (!m) return std::move(m).take_error();
  PushedBundle out;
  out.manifest_digest = m->digest;
  out.reference = reg.host() + "/" + repo + "@" + m->digest;
  for (auto [name, field] : {std::pair{cosign_signature_tag(m->digest), &out.signature_tag},
                             std::pair{cosign_attestation_tag(m->digest), &out.attestation_tag}}) {
    auto a = reg.get_manifest(repo, name);
    if (a) {
      *field = name;
    } else if (a.error().code != Errc::not_found) {
      return std::move(a).take_error();
    }
  }
  return out;
}

Result<std::string> pull_file_artifact(OciRegistry& reg, const std::string& repo, const std::string& reference,
                                       const std::string& title, std::size_t max_bytes) {
  auto m = reg.get_manifest(repo, reference);
  if (!m) return std::move(m).take_error();
  auto parsed = parse_image_manifest(*m, "manifest " + reference);
  if (!parsed) return std::move(parsed).take_error();
  for (const auto& l : parsed->layers) {
    auto t = l.annotations.find(kTitleAnnotation);
    if (t == l.annotations.end() || t->second != title) continue;
    if (l.size > static_cast<int64_t>(max_bytes))
      return Error::too_large("file " + title + " in " + repo + ":" + reference + " is larger than " +
                              std::to_string(max_bytes) + " bytes");
    return reg.get_blob(repo, l.digest, max_bytes);
  }
  return Error::not_found("no file titled '" + title + "' in " + reg.host() + "/" + repo + " " + reference);
}

}  // namespace secplat::objects
