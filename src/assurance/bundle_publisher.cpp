#include "assurance/bundle_publisher.h"

#include <filesystem>
#include <functional>
#include <map>

#include "assurance/attestation.h"
#include "assurance/signing_key.h"
#include "core/encoding.h"
#include "core/log.h"
#include "crypto/dsse.h"
#include "objects/object_store.h"
#include "objects/oci_bundle.h"
#include "objects/oci_registry.h"

namespace secplat::assurance {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxDocumentBytes = 8u << 20;
constexpr const char* kProofFile = "verification-proof.json";
constexpr const char* kVsaFile = "vsa.intoto.json";

std::string content_type_of(const std::string& path) {
  auto ends = [&](const char* s) {
    std::string_view sv(s);
    return path.size() >= sv.size() && path.compare(path.size() - sv.size(), sv.size(), sv) == 0;
  };
  if (ends(".sarif.json")) return "application/sarif+json";
  if (ends(".intoto.json")) return "application/vnd.dsse.envelope.v1+json";
  if (ends(".json")) return "application/json";
  if (ends(".jsonl")) return "application/x-ndjson";
  if (ends(".log") || ends(".txt") || ends(".sig")) return "text/plain";
  if (ends(".html")) return "text/html";
  return "application/octet-stream";
}

std::string join_key(const std::string& prefix, const std::string& test_id, const std::string& stage,
                     const std::string& path) {
  std::string key;
  auto add = [&](std::string part) {
    while (!part.empty() && part.front() == '/') part.erase(0, 1);
    while (!part.empty() && part.back() == '/') part.pop_back();
    if (part.empty()) return;
    if (!key.empty()) key += '/';
    key += part;
  };
  add(prefix);
  add(test_id);
  add(stage);
  add(path);
  return key;
}

Json opt_json(const std::optional<std::string>& s) { return s ? Json(*s) : Json(nullptr); }

}  // namespace

BundlePublisher::BundlePublisher(ScanLedger& store, UploadGate& gate, objects::ObjectStore* s3,
                                 objects::OciRegistry* oci, crypto::EcKeyPair key, PublishSettings settings,
                                 const Clock& clock)
    : store_(store),
      gate_(gate),
      s3_(s3),
      oci_(oci),
      key_(std::move(key)),
      settings_(std::move(settings)),
      clock_(clock) {}

Status BundlePublisher::fail(const ScanRecord& rec, const std::string& from, const std::string& to,
                             const std::string& reason, const std::string& detail) {
  Json up = rec.upload;
  up["error"] = {{"reason", reason}, {"detail", detail}, {"at", format_rfc3339(clock_.now_ms())}};
  log::warn("bundle upload stopped", {log::str("test_id", rec.test_id), log::str("upload_status", to),
                                      log::str("reason", reason), log::str("detail", detail)});
  auto moved = store_.set_upload(rec.test_id, from, to, up);
  if (!moved) return std::move(moved).take_error();
  return ok_status();
}

Status BundlePublisher::abandon(const std::string& test_id, const std::string& detail) {
  auto rec = store_.get(test_id);
  if (!rec) return std::move(rec).take_error();
  if (!*rec) return ok_status();
  const ScanRecord& r = **rec;
  if (r.upload_status != "requested" && r.upload_status != "permitted") return ok_status();
  return fail(r, r.upload_status, "upload_failed", "undeliverable", detail);
}

Status BundlePublisher::run(const std::string& test_id) {
  for (int step = 0; step < 4; ++step) {
    auto rec = store_.get(test_id);
    if (!rec) return std::move(rec).take_error();
    if (!*rec) return ok_status();
    const ScanRecord& r = **rec;
    if (r.upload_status == "requested") {
      SECPLAT_TRY(request_permit(r));
    } else if (r.upload_status == "permitted") {
      if (!has_destinations()) {
        log::warn("upload permitted but no S3 or OCI destination is configured; the bundle stays local",
                  {log::str("test_id", test_id)});
        return ok_status();
      }
      SECPLAT_TRY(upload(r));
    } else if (r.upload_status == "uploading") {
      // A worker died half-way: its permit is spent, so this upload cannot go on.
      return fail(r, "uploading", "upload_failed", "interrupted",
                  "the upload was interrupted; request it again for a new permit");
    } else if (r.upload_status == "uploaded") {
      const std::string state = r.upload.contains("promotion") ? r.upload["promotion"].value("status", "") : "";
      const bool wanted = state == "requested" || (state.empty() && settings_.auto_promote);
      if (!wanted || s3_ == nullptr || !r.upload.contains("remote_artifacts") || !r.upload["remote_artifacts"].contains("raw"))
        return ok_status();
      auto p = promote(test_id);
      if (!p) {
        if (p.error().code == Errc::unavailable) return std::move(p).take_error();  // S3 down: retried later
        log::warn("promotion failed", {log::str("test_id", test_id), log::str("error", p.error().message)});
        Json up = r.upload;
        up["promotion"] = {{"status", "failed"}, {"detail", p.error().message}, {"at", format_rfc3339(clock_.now_ms())}};
        auto saved = store_.set_upload(test_id, "uploaded", "uploaded", up);
        if (!saved) return std::move(saved).take_error();
      }
      return ok_status();
    } else {
      return ok_status();
    }
  }
  return ok_status();
}

Status BundlePublisher::request_permit(const ScanRecord& rec) {
  const std::string dir = (fs::path(settings_.bundles_dir) / rec.test_id).string();
  auto listing = list_bundle_files(dir);
  if (!listing) return fail(rec, "requested", "upload_failed", "bundle_missing", listing.error().message);
  if (!listing->refused.empty()) return fail(rec, "requested", "denied", "invalid_bundle", listing->refused.front());
  auto att_text = read_small_file((fs::path(dir) / kAttestationPath).string(), 32u << 20);
  if (!att_text) return fail(rec, "requested", "denied", "unsigned_bundle", std::string(kAttestationPath) + ": " + att_text.error().message);
  Json envelope = Json::parse(*att_text, nullptr, false);
  if (!envelope.is_object() || !envelope.contains("signatures") || !envelope["signatures"].is_array() ||
      envelope["signatures"].empty() || !envelope["signatures"][0].is_object())
    return fail(rec, "requested", "denied", "unsigned_bundle", std::string(kAttestationPath) + " is not a signed DSSE envelope");

  Json artifacts = Json::array();
  for (const auto& f : listing->files)
    artifacts.push_back({{"name", f.path}, {"hash", "sha256:" + f.sha256_hex}, {"size", f.size}});
  Json documents = Json::object();
  for (const char* name : {"manifest.json", "manifest.sig", "policy-result.json"}) {
    auto text = read_small_file((fs::path(dir) / name).string(), kMaxDocumentBytes);
    if (text) documents[name] = *text;
  }
  const Json& req = rec.upload.contains("request") ? rec.upload["request"] : Json::object();
  const ScanRequest& q = rec.request;
  Json body = {
      {"scan_id", rec.test_id},
      {"tier", req.value("tier", "verified")},
      {"inner_signature",
       {{"signer", req.value("signer", Json(nullptr)).is_string() ? req["signer"].get<std::string>()
                                                                   : "secplat:" + crypto::ec_key_id(key_.public_pem)},
        {"timestamp", format_rfc3339(clock_.now_ms())},
        {"signature", envelope["signatures"][0].value("sig", "")},
        {"algorithm", "ECDSA-P256-SHA256"},
        {"certificate", key_.public_pem}}},
      {"artifacts", artifacts},
      {"metadata",
       {{"git_url", opt_json(q.git_url)},
        {"branch", q.branch ? *q.branch : "main"},
        {"commit", q.commit ? *q.commit : "HEAD"},
        {"requested_by", req.value("requested_by", Json(nullptr))}}},
      {"storage_destinations", {{"raw_s3", s3_ != nullptr}, {"oci_registry", oci_ != nullptr}}},
      {"attestation", envelope},
      {"documents", documents}};

  auto reply = gate_.verify_and_permit(body);
  if (!reply) {
    if (reply.error().code == Errc::unavailable)
      return fail(rec, "requested", "trust_unavailable", "trust_unavailable", reply.error().message);
    return fail(rec, "requested", "denied", "gate_refused", reply.error().message);
  }
  Json up = rec.upload;
  up["upload_permission_id"] = reply->value("upload_permission_id", Json(nullptr));
  up["verification_proof"] = reply->value("verification_proof", Json(nullptr));
  if (!reply->value("permitted", false)) {
    return fail(rec, "requested", "denied", reply->value("reason", Json("denied")).is_string() ? (*reply)["reason"].get<std::string>() : "denied",
                reply->value("detail", Json("")).is_string() ? (*reply)["detail"].get<std::string>() : "");
  }
  up["permit"] = reply->value("permit", "");
  up["permit_expires_at"] = reply->value("expires_at", Json(nullptr));
  Json digests = Json::object(), sizes = Json::object();
  for (const auto& f : listing->files) {
    digests[f.path] = f.sha256_hex;
    sizes[f.path] = f.size;
  }
  up["digests"] = digests;
  up["sizes"] = sizes;
  up["attestation_sha256"] = sha256_hex(*att_text);
  up.erase("error");
  auto moved = store_.set_upload(rec.test_id, "requested", "permitted", up);
  if (!moved) return std::move(moved).take_error();
  return ok_status();
}

Status BundlePublisher::upload(const ScanRecord& rec) {
  auto moved = store_.set_upload(rec.test_id, "permitted", "uploading", rec.upload);
  if (!moved) return std::move(moved).take_error();
  if (!*moved) return ok_status();  // someone else took this step
  const std::string dir = (fs::path(settings_.bundles_dir) / rec.test_id).string();
  std::map<std::string, std::string> digests;
  std::map<std::string, int64_t> sizes;
  const Json permitted = rec.upload.contains("digests") ? rec.upload["digests"] : Json::object();
  const Json permitted_sizes = rec.upload.contains("sizes") ? rec.upload["sizes"] : Json::object();
  for (auto it = permitted.begin(); it != permitted.end(); ++it) digests[it.key()] = it->get<std::string>();
  for (auto it = permitted_sizes.begin(); it != permitted_sizes.end(); ++it) sizes[it.key()] = it->get<int64_t>();

  // 1. Spend the permit: the gate checks signature, expiry, scan, digests and single use.
  Status redeemed = gate_.redeem(rec.upload.value("permit", ""), rec.test_id, digests, settings_.instance);
  if (!redeemed) {
    const bool down = redeemed.error().code == Errc::unavailable;
    return fail(rec, "uploading", down ? "trust_unavailable" : "upload_failed", down ? "trust_unavailable" : "permit_refused",
                redeemed.error().message);
  }
  // 2. The files must still be the ones permitted (all checked before the first write).
  for (const auto& [path, digest] : digests) {
    const std::string file = (fs::path(dir) / path).string();
    std::error_code ec;
    auto size = static_cast<int64_t>(fs::file_size(file, ec));
    auto now = sha256_file_hex(file);
    if (ec || !now || *now != digest || size != sizes[path])
      return fail(rec, "uploading", "upload_failed", "bundle_changed", path + " changed after the upload was permitted");
  }
  auto attestation = read_small_file((fs::path(dir) / kAttestationPath).string(), 32u << 20);
  if (!attestation || sha256_hex(*attestation) != rec.upload.value("attestation_sha256", ""))
    return fail(rec, "uploading", "upload_failed", "bundle_changed", std::string(kAttestationPath) + " changed after the upload was permitted");

  Json up = rec.upload;
  up.erase("permit");  // spent; no reason to keep a bearer token around
  Json remote = Json::object();
  std::vector<std::string> written;  // raw keys, removed again when a later write fails
  auto undo = [&] {
    for (const auto& key : written) (void)s3_->remove(settings_.raw_bucket, key);
  };
  // 3. S3 raw: every permitted file, then the attestation and the gate's proof (not subjects).
  if (s3_ != nullptr) {
    const ScanRequest& q = rec.request;
    objects::Metadata meta = {{"test_id", rec.test_id},
                              {"workspace_id", q.workspace_id},
                              {"component_id", q.component_id},
                              {"assessment_id", q.assessment_id},
                              {"upload_permission_id", up.value("upload_permission_id", "")}};
    if (rec.manifest_digest) meta["manifest_digest"] = *rec.manifest_digest;
    Json raw = Json::object();
    auto put = [&](const std::string& path, const std::function<Status(const std::string&)>& write) -> Status {
      const std::string key = join_key(settings_.raw_prefix, rec.test_id, "incoming", path);
      SECPLAT_TRY(write(key));
      written.push_back(key);
      raw[path] = s3_->uri(settings_.raw_bucket, key);
      return ok_status();
    };
    Status st = ok_status();
    for (const auto& [path, digest] : digests) {
      objects::Metadata m = meta;
      m["sha256"] = digest;
      const std::string file = (fs::path(dir) / path).string();
      st = put(path, [&](const std::string& key) {
        return s3_->put_file(settings_.raw_bucket, key, file, content_type_of(path), m);
      });
      if (!st) break;
    }
    if (st) {
      st = put(kAttestationPath, [&](const std::string& key) {
        return s3_->put_bytes(settings_.raw_bucket, key, *attestation, content_type_of(kAttestationPath), meta);
      });
    }
    if (st) {
      st = put(kProofFile, [&](const std::string& key) {
        return s3_->put_bytes(settings_.raw_bucket, key, up.value("verification_proof", Json(nullptr)).dump(2),
                              "application/json", meta);
      });
    }
    if (!st) {
      undo();
      return fail(rec, "uploading", "upload_failed", "s3_failed", st.error().message);
    }
    remote["raw"] = raw;
  }
  // 4. OCI: the bundle as an artifact, with signature and attestation, by digest.
  if (oci_ != nullptr) {
    std::vector<objects::BundleLayer> layers;
    for (const auto& [path, digest] : digests) {
      objects::BundleLayer l;
      l.path = path;
      l.sha256_hex = digest;
      l.size = sizes[path];
      l.media_type = content_type_of(path);
      layers.push_back(std::move(l));
    }
    objects::BundleSigning signing;
    signing.private_pem = key_.private_pem;
    signing.attestation_dsse_json = *attestation;
    objects::BundleInfo info;
    info.test_id = rec.test_id;
    auto pushed = objects::push_bundle(*oci_, settings_.oci_repository, rec.test_id, dir, layers, signing, info);
    if (!pushed) {
      undo();
      return fail(rec, "uploading", "upload_failed", "oci_failed", pushed.error().message);
    }
    up["oci"] = {{"registry", settings_.oci_registry},
                 {"repository", settings_.oci_repository},
                 {"reference", pushed->reference},
                 {"digest", pushed->manifest_digest},
                 {"tag", rec.test_id},
                 {"signature_tag", pushed->signature_tag},
                 {"attestation_tag", pushed->attestation_tag}};
  }
  up["remote_artifacts"] = remote;
  up["uploaded_at"] = format_rfc3339(clock_.now_ms());
  auto done = store_.set_upload(rec.test_id, "uploading", "uploaded", up);
  if (!done) return std::move(done).take_error();
  log::info("bundle uploaded", {log::str("test_id", rec.test_id)});
  return ok_status();
}

Result<Json> BundlePublisher::promote(const std::string& test_id) {
  auto got = store_.get(test_id);
  if (!got) return std::move(got).take_error();
  if (!*got) return Error::not_found("Scan not found");
  const ScanRecord& rec = **got;
  if (rec.upload_status != "uploaded" || s3_ == nullptr || !rec.upload.contains("remote_artifacts") ||
      !rec.upload["remote_artifacts"].contains("raw"))
    return Error::conflict("only a bundle uploaded to S3 can be promoted (upload_status is " + rec.upload_status + ")");
  if (rec.upload.contains("promotion") && rec.upload["promotion"].value("status", "") == "promoted")
    return rec.upload;

  const Json digests = rec.upload.contains("digests") ? rec.upload["digests"] : Json::object();
  // 1. Re-verify every raw object against its permitted digest before copying anything.
  std::map<std::string, std::string> expect;
  for (auto it = digests.begin(); it != digests.end(); ++it) expect[it.key()] = it->get<std::string>();
  expect[kAttestationPath] = rec.upload.value("attestation_sha256", "");
  for (const auto& [path, digest] : expect) {
    const std::string key = join_key(settings_.raw_prefix, test_id, "incoming", path);
    auto h = objects::sha256_hex_of(*s3_, settings_.raw_bucket, key);
    if (!h) {
      if (h.error().code == Errc::not_found) return Error::bad_request("raw object " + s3_->uri(settings_.raw_bucket, key) + " is missing");
      return h.error();
    }
    if (*h != digest)
      return Error::bad_request("raw object " + s3_->uri(settings_.raw_bucket, key) + " does not match its permitted sha256; nothing was promoted");
  }
  // 2. Copy.
  const ScanRequest& q = rec.request;
  objects::Metadata meta = {{"test_id", test_id},
                            {"workspace_id", q.workspace_id},
                            {"component_id", q.component_id},
                            {"assessment_id", q.assessment_id},
                            {"upload_permission_id", rec.upload.value("upload_permission_id", "")}};
  if (rec.manifest_digest) meta["manifest_digest"] = *rec.manifest_digest;
  Json golden = Json::object();
  std::vector<std::string> copy_paths;
  for (const auto& [path, _] : expect) copy_paths.push_back(path);
  copy_paths.push_back(kProofFile);
  for (const auto& path : copy_paths) {
    const std::string src = join_key(settings_.raw_prefix, test_id, "incoming", path);
    const std::string dst = join_key(settings_.golden_prefix, test_id, "golden", path);
    objects::Metadata m = meta;
    if (expect.count(path)) m["sha256"] = expect[path];
    SECPLAT_TRY(s3_->copy(settings_.raw_bucket, src, settings_.golden_bucket, dst, m));
    golden[path] = s3_->uri(settings_.golden_bucket, dst);
  }
  // 3. The verification summary (SLSA VSA v1), signed, beside the golden objects.
  Json subjects = Json::array();
  for (const auto& [path, digest] : expect)
    subjects.push_back({{"name", s3_->uri(settings_.golden_bucket, join_key(settings_.golden_prefix, test_id, "golden", path))},
                        {"digest", {{"sha256", digest}}}});
  const std::string now = format_rfc3339(clock_.now_ms());
  Json statement = {
      {"_type", "https://in-toto.io/Statement/v1"},
      {"subject", subjects},
      {"predicateType", "https://slsa.dev/verification_summary/v1"},
      {"predicate",
       {{"verifier", {{"id", "https://secplat.dev/trust/" + crypto::ec_key_id(key_.public_pem)}}},
        {"timeVerified", now},
        {"resourceUri", s3_->uri(settings_.raw_bucket, join_key(settings_.raw_prefix, test_id, "incoming", ""))},
        {"policy", {{"uri", "https://secplat.dev/policy/upload-permit/v1"}}},
        {"inputAttestations",
         Json::array({{{"uri", golden[kAttestationPath]}, {"digest", {{"sha256", expect[kAttestationPath]}}}}})},
        {"verificationResult", "PASSED"},
        {"verifiedLevels", Json::array({"SLSA_BUILD_LEVEL_2"})},
        {"upload_permission_id", rec.upload.value("upload_permission_id", Json(nullptr))}}}};
  auto vsa = crypto::dsse_sign("application/vnd.in-toto+json", statement.dump(), key_.private_pem);
  if (!vsa) return vsa.error();
  const std::string vsa_key = join_key(settings_.golden_prefix, test_id, "golden", kVsaFile);
  SECPLAT_TRY(s3_->put_bytes(settings_.golden_bucket, vsa_key, vsa->dump(2), "application/vnd.dsse.envelope.v1+json", meta));

  Json up = rec.upload;
  up["remote_artifacts"]["golden"] = golden;
  up["promotion"] = {{"status", "promoted"}, {"at", now}, {"vsa", s3_->uri(settings_.golden_bucket, vsa_key)}};
  auto saved = store_.set_upload(test_id, "uploaded", "uploaded", up);
  if (!saved) return std::move(saved).take_error();
  log::info("bundle promoted to golden", {log::str("test_id", test_id)});
  return up;
}

}  // namespace secplat::assurance
