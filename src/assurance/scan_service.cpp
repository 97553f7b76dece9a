#include "assurance/scan_service.h"

#include <ctime>

#include "assurance/manifest.h"
#include "core/encoding.h"
#include "queue/streams.h"

namespace secplat::assurance {

namespace {

// Naive UTC ISO with microseconds left out when zero (reference §0).
Json naive_utc(const std::optional<int64_t>& ms) {
  if (!ms) return nullptr;
  std::time_t t = static_cast<std::time_t>(*ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string s = buf;
  int64_t frac = *ms % 1000;
  if (frac != 0) {
    char f[16];
    std::snprintf(f, sizeof f, ".%06lld", static_cast<long long>(frac * 1000));
    s += f;
  }
  return s;
}

Json opt(const std::optional<std::string>& s) { return s ? Json(*s) : Json(nullptr); }

}  // namespace

ScanService::ScanService(ScanStore& store, ScanEventLog& events, queue::Queue& queue, auth::AuditLog& audit,
                         const Clock& clock, ScanPipeline* pipeline, const Config& config)
    : store_(store), events_(events), queue_(queue), audit_(audit), clock_(clock), pipeline_(pipeline) {
  source_policy_ = {config.allowed_source_roots, config.assurance.git_schemes, config.data_dir + "/uploads",
                    config.assurance, ""};
  manifest_policy_ = {config.allowed_source_roots, {}, config.assurance.require_signed_manifest,
                      manifest_http_policy(config.assurance), nullptr};
  bundles_dir_ = config.data_dir + "/bundles";
}

Result<SubmitOutcome> ScanService::submit(const Json& body, const std::optional<std::string>& idem_key,
                                          const auth::Actor& actor) {
  auto req = parse_scan_request(body);
  if (!req) return std::move(req).take_error();
  SECPLAT_TRY(check_source(*req, source_policy_));
  SECPLAT_TRY(check_manifest_fields(*req, manifest_policy_));
  req->requested_by = actor.user_name;
  std::string fingerprint = sha256_hex(canonical_manifest_text(req->to_json()));
  if (idem_key) {
    if (idem_key->empty() || idem_key->size() > 200)
      return Error::invalid({"header", "Idempotency-Key"}, "Idempotency-Key must be 1..200 characters");
    auto existing = store_.find_by_idempotency_key(*idem_key);
    if (!existing) return std::move(existing).take_error();
    if (*existing) {
      if ((*existing)->request_fingerprint != fingerprint)
        return Error::conflict("Idempotency-Key was already used with a different request");
      return SubmitOutcome{std::move(**existing), true};
    }
  }
  auto rec = enqueue(std::move(*req), idem_key, fingerprint, std::nullopt, actor);
  if (!rec) {
    if (rec.error().code == Errc::conflict && idem_key) {  // lost a race on the same key
      auto existing = store_.find_by_idempotency_key(*idem_key);
      if (existing && *existing && (*existing)->request_fingerprint == fingerprint)
        return SubmitOutcome{std::move(**existing), true};
      return Error::conflict("Idempotency-Key was already used with a different request");
    }
    return std::move(rec).take_error();
  }
  return SubmitOutcome{std::move(*rec), false};
}

Result<ScanRecord> ScanService::enqueue(ScanRequest req, std::optional<std::string> idem_key, std::string fingerprint,
                                        std::optional<std::string> retry_of, const auth::Actor& actor) {
  ScanRecord rec;
  rec.test_id = new_test_id();
  rec.created_ms = clock_.now_ms();
  if (req.manifest) rec.manifest_digest = sha256_hex(canonical_manifest_text(*req.manifest));
  rec.request = std::move(req);
  rec.idempotency_key = std::move(idem_key);
  rec.request_fingerprint = std::move(fingerprint);
  rec.retry_of = std::move(retry_of);
  SECPLAT_TRY(store_.insert(rec));
  SECPLAT_TRY(audit_.append(rec.retry_of ? "scan.retry" : "scan.submit", actor.user_name, rec.request.component_id,
                            Json{{"test_id", rec.test_id}, {"workspace_id", rec.request.workspace_id},
                                 {"source_type", rec.request.source_type}, {"profile", rec.request.profile},
                                 {"retry_of", opt(rec.retry_of)}},
                            actor.request_id));
  auto published = queue_.publish(std::string(queue::kScanJobs), {{"test_id", rec.test_id}});
  if (!published) {
    // Not runnable: do not leave a QUEUED row nobody will pick up.
    ScanResult failed;
    failed.status = kFailed;
    failed.errors = Json::array({"could not enqueue: " + published.error().message});
    (void)store_.mark_running(rec.test_id);
    (void)store_.finish(rec.test_id, failed);
    (void)events_.append(rec.test_id, "scan_complete", {{"status", kFailed}});
    return std::move(published).take_error();
  }
  return rec;
}

Result<ScanRecord> ScanService::cancel(const std::string& test_id, const auth::Actor& actor) {
  auto previous = store_.cancel(test_id);
  if (!previous) return std::move(previous).take_error();
  if (!*previous) {
    auto rec = store_.get(test_id);
    if (!rec) return std::move(rec).take_error();
    if (!*rec) return Error::not_found("Scan not found");
    return Error::conflict("Scan is already " + (*rec)->status);
  }
  SECPLAT_TRY(audit_.append("scan.cancel", actor.user_name, "", Json{{"test_id", test_id}, {"previous", **previous}},
                            actor.request_id));
  if (**previous == kQueued) {
    // No worker owns it: this transition is the last word.
    (void)events_.append(test_id, "scan_complete", {{"status", kCancelled}});
  } else if (pipeline_) {
    pipeline_->request_cancel(test_id);  // the worker stops, cleans up and appends scan_complete
  }
  auto rec = store_.get(test_id);
  if (!rec) return std::move(rec).take_error();
  return std::move(**rec);
}

Result<ScanRecord> ScanService::retry(const std::string& test_id, const auth::Actor& actor) {
  auto rec = get(test_id);
  if (!rec) return std::move(rec).take_error();
  if (rec->status != kFailed && rec->status != kCancelled)
    return Error::conflict("Only FAILED or CANCELLED scans can be retried (status " + rec->status + ")");
  ScanRequest req = rec->request;
  req.requested_by = actor.user_name;
  std::string fingerprint = sha256_hex(canonical_manifest_text(req.to_json()));
  return enqueue(std::move(req), std::nullopt, fingerprint, test_id, actor);
}

Result<ScanRecord> ScanService::get(const std::string& test_id) {
  auto rec = store_.get(test_id);
  if (!rec) return std::move(rec).take_error();
  if (!*rec) return Error::not_found("Scan not found");
  return std::move(**rec);
}

Result<ScanPage> ScanService::list(const ScanFilter& filter) { return store_.list(filter); }

Result<Json> ScanService::stats(const std::optional<std::vector<std::string>>& workspaces) {
  auto counts = store_.counts(workspaces);
  if (!counts) return std::move(counts).take_error();
  Json out = std::move(*counts);
  out["active_streams"] = events_.live_subscribers();
  out["timestamp"] = format_rfc3339(clock_.now_ms());
  return out;
}

Result<StoredUpload> ScanService::store_archive(const std::string& filename, std::string_view content,
                                                const auth::Actor& actor) {
  auto up = store_upload(source_policy_.upload_dir, filename, content);
  if (!up) return up;
  SECPLAT_TRY(audit_.append("scan.upload_archive", actor.user_name, "",
                            Json{{"archive_path", up->archive_path}, {"archive_hash", up->archive_hash},
                                 {"size", up->size}},
                            actor.request_id));
  return up;
}

Result<Json> ScanService::request_upload(const std::string& test_id, const Json& body, const auth::Actor& actor) {
  auto rec = get(test_id);
  if (!rec) return std::move(rec).take_error();
  if (rec->status != kSucceeded)
    return Error::bad_request("Scan must be SUCCEEDED to submit upload request. Current status: " + rec->status);
  std::vector<FieldError> errs;
  std::string tier = "verified";
  if (auto it = body.find("tier"); it != body.end()) {
    if (!it->is_string() || (*it != "basic" && *it != "verified"))
      errs.push_back({{"body", "tier"}, "String should match pattern '^(basic|verified)$'"});
    else
      tier = it->get<std::string>();
  }
  for (const char* k : {"signer", "requested_by"})
    if (auto it = body.find(k); it != body.end() && !it->is_null() && (!it->is_string() || it->get<std::string>().size() > 256))
      errs.push_back({{"body", k}, "Input should be a valid string of at most 256 characters"});
  if (!errs.empty()) {
    Error e = Error::invalid(errs.front().loc, errs.front().msg);
    e.fields = std::move(errs);
    return e;
  }
  Json request = {{"tier", tier},
                  {"signer", body.value("signer", Json(nullptr))},
                  {"requested_by", body.contains("requested_by") && body["requested_by"].is_string()
                                       ? body["requested_by"]
                                       : Json(actor.user_name)},
                  {"requested_at", format_rfc3339(clock_.now_ms())}};
  auto started = store_.begin_upload(test_id, Json{{"request", request}});
  if (!started) return std::move(started).take_error();
  if (*started) {
    auto published = queue_.publish(std::string(queue::kScanJobs), {{"upload_test_id", test_id}});
    if (!published) {
      (void)store_.set_upload(test_id, "requested", "upload_failed",
                              Json{{"request", request},
                                   {"error", {{"reason", "not_queued"}, {"detail", published.error().message}}}});
      return Error::unavailable("could not queue the upload: " + published.error().message);
    }
    SECPLAT_TRY(audit_.append("scan.upload_request", actor.user_name, "", Json{{"test_id", test_id}, {"tier", tier}},
                              actor.request_id));
    return Json{{"upload_permission_id", nullptr}, {"upload_status", "requested"}};
  }
  auto now = get(test_id);
  if (!now) return std::move(now).take_error();
  return Json{{"upload_permission_id", now->upload.value("upload_permission_id", Json(nullptr))},
              {"upload_status", now->upload_status}};
}

Result<ScanRecord> ScanService::promote(const std::string& test_id, const auth::Actor& actor) {
  auto rec = get(test_id);
  if (!rec) return rec;
  if (rec->upload_status != "uploaded" || !rec->upload.contains("remote_artifacts") ||
      !rec->upload["remote_artifacts"].contains("raw"))
    return Error::conflict("only a bundle uploaded to S3 can be promoted (upload_status is " + rec->upload_status + ")");
  const std::string state = rec->upload.contains("promotion") ? rec->upload["promotion"].value("status", "") : "";
  if (state == "promoted" || state == "requested") return rec;  // done, or on its way
  Json up = rec->upload;
  up["promotion"] = {{"status", "requested"}, {"requested_at", format_rfc3339(clock_.now_ms())}};
  auto moved = store_.set_upload(test_id, "uploaded", "uploaded", up);
  if (!moved) return std::move(moved).take_error();
  auto published = queue_.publish(std::string(queue::kScanJobs), {{"upload_test_id", test_id}});
  if (!published) {
    // Not left "requested": nobody would ever run it, and a new call would find it on its way.
    up["promotion"] = {{"status", "failed"}, {"detail", "could not queue the promotion"}};
    (void)store_.set_upload(test_id, "uploaded", "uploaded", up);
    return Error::unavailable("could not queue the promotion: " + published.error().message);
  }
  SECPLAT_TRY(audit_.append("scan.promote", actor.user_name, "", Json{{"test_id", test_id}}, actor.request_id));
  return get(test_id);
}

Json ScanService::status_json(const ScanRecord& rec) {
  const ScanRequest& q = rec.request;
  bool succeeded = rec.status == kSucceeded;
  Json policy_passed = rec.policy.is_object() ? rec.policy.value("policy_passed", Json(nullptr)) : Json(nullptr);
  return {{"test_id", rec.test_id},
          {"workspace_id", q.workspace_id},
          {"component_id", q.component_id},
          {"assessment_id", q.assessment_id},
          {"status", rec.status},
          {"source_type", q.source_type},
          {"git_url", opt(q.git_url)},
          {"branch", opt(q.branch)},
          {"commit", opt(q.commit)},
          {"directory_path", opt(q.directory_path)},
          {"archive_path", opt(q.archive_path)},
          {"requested_by", opt(q.requested_by)},
          {"profile", q.profile},
          {"created_at", naive_utc(rec.created_ms)},
          {"started_at", naive_utc(rec.started_ms)},
          {"completed_at", naive_utc(rec.completed_ms)},
          {"artifacts", succeeded ? rec.artifacts : Json::object()},
          {"warnings", rec.warnings},
          {"errors", rec.errors},
          {"remote_artifacts", rec.upload.value("remote_artifacts", Json(nullptr))},
          {"registry", rec.upload.value("oci", Json(nullptr))},
          {"upload_status", rec.upload_status},
          {"upload_permission_id", rec.upload.value("upload_permission_id", Json(nullptr))},
          {"verification_proof", rec.upload.value("verification_proof", Json(nullptr))},
          {"upload_error", rec.upload.value("error", Json(nullptr))},
          {"promotion", rec.upload.value("promotion", Json(nullptr))},
          {"manifest_digest", succeeded ? opt(rec.manifest_digest) : Json(nullptr)},
          {"manifest_metadata", succeeded ? rec.manifest_metadata : Json(nullptr)},
          {"source", rec.source},
          {"tools", rec.tools},
          {"policy", rec.policy},
          {"policy_passed", policy_passed},
          {"retry_of", opt(rec.retry_of)},
          {"stream_url", "/v1/security-scans/" + rec.test_id + "/stream"}};
}

}  // namespace secplat::assurance
