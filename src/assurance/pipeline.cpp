#include "assurance/pipeline.h"

#include <ctime>
#include <filesystem>
#include <fstream>

#include "assurance/manifest.h"
#include "assurance/sources.h"
#include "core/ids.h"
#include "core/log.h"
#include "assurance/attestation.h"
#include "scanners/sample_scanner.h"
#include "scanners/tools/tool_locator.h"

namespace fs = std::filesystem;

namespace secplat::assurance {

namespace {

std::string dump(const Json& j, int indent = -1) { return j.dump(indent, ' ', false, Json::error_handler_t::replace); }

Status write_text(const fs::path& path, const std::string& text) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) return Error::internal("cannot write " + path.string());
  return ok_status();
}

std::string utc_seconds(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The `source` object of a sample-mode scan: the kind of source, nothing that identifies it.
Json sample_source_json(const ScanRequest& req) {
  return {{"type", req.source_type}, {"sample_mode", true}, {"provenance_id", nullptr}};
}

Json outcome_json(const scanners::ScanOutcome& o) {
  return {{"tool", o.tool},         {"version", o.version},   {"status", o.status},
          {"exit_code", o.exit_code}, {"duration_ms", o.duration_ms}, {"message", o.message},
          {"outputs", o.outputs},   {"findings", o.findings}, {"by_severity", o.by_severity}};
}

}  // namespace

const std::vector<std::string>& known_tool_ids() {
  static const std::vector<std::string> ids = {"secrets", "sbom",    "web-exposure", "tls-headers", "bandit",
                                               "shellcheck", "cppcheck", "flawfinder", "semgrep", "opengrep",
                                               "trivy", "syft"};
  return ids;
}

struct ScanPipeline::Attempt {
  ScanRecord rec;
  std::string owner;
  int64_t lease_ms = 0;
  std::shared_ptr<std::atomic<bool>> cancelled;
  std::shared_ptr<std::atomic<bool>> lost;
  int64_t started_ms = 0;
  int64_t steady_start = 0;
  int64_t deadline = 0;  // steady ms
  PreparedSource source;
  ResolvedManifest manifest;
  ToolSelection selection;
  std::vector<scanners::ScanOutcome> outcomes;
  Json warnings = Json::array();
  Json manifest_info;
  Json policy;
  Json artifacts = Json::object();
  std::string tmp_dir, final_dir;
  bool bundle_done = false;
};

ScanPipeline::ScanPipeline(ScanLedger& store, ScanEventLog& events, const Clock& clock, PipelineOptions options,
                           std::vector<std::shared_ptr<scanners::Scanner>> scanners, SarifImporter importer)
    : store_(store), events_(events), clock_(clock), options_(std::move(options)), scanners_(std::move(scanners)),
      importer_(std::move(importer)) {
  if (options_.temp_dir.empty()) options_.temp_dir = options_.data_dir + "/work";
  if (!options_.git_cli) options_.git_cli = scanners::ToolLocator::from_environment().find("git").value_or("");
  // Sample mode is the pipeline's own feature: its scanner is always there.
  bool has_sample = false;
  for (const auto& s : scanners_) has_sample = has_sample || s->id() == scanners::kSampleToolId;
  if (!has_sample) scanners_.push_back(scanners::make_sample_scanner());
  if (Metrics* m = options_.metrics) {
    const std::vector<double> buckets{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800};
    for (const auto& sc : scanners_) {
      const MetricLabels l{{"scanner", sc->id()}};
      scanner_series_[sc->id()] = {
          &m->histogram("secplat_scanner_duration_seconds", "Duration of scanner runs", buckets, l),
          &m->counter("secplat_scanner_bytes_total", "Bytes read by scanners", l),
          &m->counter("secplat_scanner_files_total", "Files read by scanners", l)};
    }
    for (const char* status : {"succeeded", "failed", "cancelled"})
      outcome_series_[status] = {
          &m->counter("secplat_scans_total", "Scans that ended, by final status", {{"status", status}}),
          &m->histogram("secplat_job_duration_seconds", "Duration of jobs that ended, by job type and outcome",
                        buckets, {{"type", "security_scan"}, {"outcome", status}})};
  }
}

std::string ScanPipeline::bundle_dir(const std::string& test_id) const {
  return options_.data_dir + "/bundles/" + test_id;
}

bool ScanPipeline::request_cancel(const std::string& test_id) {
  std::lock_guard lk(mu_);
  auto it = running_.find(test_id);
  if (it == running_.end()) return false;
  it->second.cancelled->store(true);
  return true;
}

void ScanPipeline::renew_leases() {
  std::vector<std::pair<std::string, Running>> now;
  {
    std::lock_guard lk(mu_);
    now.assign(running_.begin(), running_.end());
  }
  for (const auto& [id, r] : now) {
    auto held = store_.renew_lease(id, r.owner, r.lease_ms);
    if (!held) {
      log::warn("scan lease not renewed", {log::str("test_id", id), log::str("error", held.error().message)});
      continue;  // the store is down: keep going; the lease may still be ours when it is back
    }
    if (!*held) {
      // Cancelled (the pipeline sees that itself), finished, or taken over by another worker.
      auto st = store_.status_of(id);
      if (st && *st && **st == kRunning) {
        log::warn("scan lease lost to another worker; stopping this run", {log::str("test_id", id)});
        r.lost->store(true);
      }
      r.cancelled->store(true);
    }
  }
}

// A worker that died between the final row and `scan_complete` left the log open (its message
// was never acked, so it comes back): whoever gets it next closes the log, or followers would wait
// for ever.
void ScanPipeline::close_log_if_open(const std::string& test_id) {
  auto last = store_.last_event(test_id);
  if (!last || (*last && (*last)->type == "scan_complete")) return;
  auto rec = store_.get(test_id);
  if (!rec || !*rec) return;
  const ScanRecord& r = **rec;
  if (r.status != kSucceeded && r.status != kFailed && r.status != kCancelled) return;
  Json done = {{"status", r.status}};
  if (r.status == kSucceeded) done["bundle"] = "/v1/security-scans/" + test_id + "/artifacts";
  if (r.manifest_digest) done["manifest_digest"] = *r.manifest_digest;
  log::warn("scan log closed for a worker that died after finishing it", {log::str("test_id", test_id)});
  (void)events_.append(test_id, "scan_complete", std::move(done));
}

Status ScanPipeline::run(const std::string& test_id, const std::string& owner, int64_t lease_ms) {
  auto rec = store_.get(test_id);
  if (!rec) return std::move(rec).take_error();
  if (!*rec) return ok_status();
  {
    std::lock_guard lk(mu_);
    // A second delivery while it runs here: not done yet, so not acked (ack would lose the job if
    // this process died before finishing it).
    if (running_.count(test_id)) return Error::unavailable("scan " + test_id + " is already running here");
  }
  auto claimed = store_.claim(test_id, owner, lease_ms);
  if (!claimed) return std::move(claimed).take_error();
  if (*claimed == ScanLedger::Claim::finished) {
    close_log_if_open(test_id);
    return ok_status();
  }
  if (*claimed == ScanLedger::Claim::busy)
    return Error::unavailable("scan " + test_id + " is running on another worker");
  Attempt a;
  a.rec = std::move(**rec);
  a.owner = owner;
  a.lease_ms = lease_ms;
  a.cancelled = std::make_shared<std::atomic<bool>>(false);
  a.lost = std::make_shared<std::atomic<bool>>(false);
  {
    std::lock_guard lk(mu_);
    running_[test_id] = Running{a.cancelled, a.lost, owner, lease_ms};
  }
  struct Unregister {
    ScanPipeline* p;
    std::string id;
    ~Unregister() {
      std::lock_guard lk(p->mu_);
      p->running_.erase(id);
    }
  } unregister{this, test_id};

  if (*claimed == ScanLedger::Claim::resumed) {
    log::warn("scan resumed: its previous worker stopped renewing its lease", {log::str("test_id", test_id)});
    (void)events_.append(test_id, "log",
                         {{"line", "previous worker stopped responding; the scan runs again on " + owner}});
  }
  a.started_ms = clock_.now_ms();
  a.steady_start = steady_ms();
  a.deadline = a.steady_start + int64_t{options_.limits.scan_timeout_s} * 1000;
  a.tmp_dir = options_.data_dir + "/bundles/.tmp-" + test_id + "-" + random_hex(4);  // one per attempt
  a.final_dir = bundle_dir(test_id);
  log::info("scan started", {log::str("test_id", test_id), log::str("source_type", a.rec.request.source_type)});
  Status outcome = ok_status();
  try {
    outcome = execute(a);
  } catch (const std::exception& e) {
    outcome = Error::internal(std::string("internal error: ") + e.what());
  }
  complete(a, outcome);
  return ok_status();
}

Status ScanPipeline::execute(Attempt& a) {
  const std::string& id = a.rec.test_id;
  const ScanRequest& req = a.rec.request;
  auto check_stop = [&]() -> Status {
    if (!a.cancelled->load()) {
      auto st = store_.status_of(id);
      if (st && *st && **st == kCancelled) a.cancelled->store(true);
    }
    if (a.cancelled->load()) return Error{Errc::conflict, "cancelled", {}, 0};
    if (steady_ms() > a.deadline)
      return Error{Errc::timeout, "scan timed out after " + std::to_string(options_.limits.scan_timeout_s) + " s", {}, 0};
    return ok_status();
  };
  auto step_deadline = [&] {
    return std::min(a.deadline, steady_ms() + int64_t{options_.limits.step_timeout_s} * 1000);
  };

  // 1. Source.
  SourcePolicy sp{options_.allowed_source_roots, options_.limits.git_schemes, options_.data_dir + "/uploads",
                  options_.limits, *options_.git_cli};
  sp.hidden_paths = options_.limits.tool_hidden_paths;
  if (!options_.data_dir.empty()) sp.hidden_paths.push_back(fs::absolute(options_.data_dir).string());
  SourceRun run{a.cancelled.get(), step_deadline(), options_.temp_dir, id};
  auto phase = [&](const std::string& message, Json fields) {
    fields["message"] = message;
    (void)events_.append(id, "phase", std::move(fields));
  };
  auto src = prepare_source(req, sp, run, phase);
  if (!src) {
    if (a.cancelled->load()) return Error{Errc::conflict, "cancelled", {}, 0};
    return std::move(src).take_error();
  }
  a.source = std::move(*src);
  SECPLAT_TRY(check_stop());

  // 2. Manifest (+ verification) and tool selection.
  ManifestPolicy mp{options_.allowed_source_roots, {}, options_.limits.require_signed_manifest,
                    manifest_http_policy(options_.limits), options_.remote_manifests};
  for (const auto& key_file : options_.limits.trusted_manifest_keys) {
    std::ifstream in(key_file);
    if (!in) return Error::bad_request("trusted manifest key unreadable: " + key_file);
    mp.trusted_key_pems.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  phase("Resolving manifest", Json::object());
  auto manifest = resolve_manifest(req, a.source.root, mp);
  if (!manifest) return std::move(manifest).take_error();
  a.manifest = std::move(*manifest);
  std::vector<std::string> known = known_tool_ids();
  for (const auto& s : scanners_) known.push_back(s->id());
  auto sel = select_tools(a.manifest.parsed, req.profile, known);
  if (!sel) return std::move(sel).take_error();
  a.selection = std::move(*sel);
  for (const auto& u : a.selection.unsupported) a.warnings.push_back("manifest tool '" + u + "' is not supported");
  auto& tools = a.selection.tools;
  if (a.selection.sample_mode) {
    // Canned findings only: no tool looks at the source.
    tools = {scanners::kSampleToolId};
  } else if (std::erase(tools, std::string(scanners::kSampleToolId)) > 0) {
    a.warnings.push_back("tool 'sample' runs only in sample mode; skipped");
  }
  // A profile's default list means the tools installed here; named tools are always reported.
  Json not_installed = Json::array();
  if (a.selection.defaulted) {
    std::erase_if(tools, [&](const std::string& t) {
      for (const auto& s : scanners_)
        if (s->id() == t && !s->available()) {
          not_installed.push_back(t);
          return true;
        }
      return false;
    });
  }
  Json resolved = {{"manifest_digest", a.manifest.digest}, {"tools", tools}};
  if (!not_installed.empty()) resolved["not_installed"] = not_installed;
  if (a.selection.sample_mode) resolved["sample_mode"] = true;
  phase("Manifest resolved", std::move(resolved));

  // 3. Scanners.
  std::error_code ec;
  fs::remove_all(a.tmp_dir, ec);
  fs::create_directories(a.tmp_dir, ec);
  if (ec) return Error::internal("cannot create bundle directory: " + ec.message());
  for (const std::string& tool : a.selection.tools) {
    SECPLAT_TRY(check_stop());
    std::shared_ptr<scanners::Scanner> scanner;
    for (const auto& s : scanners_)
      if (s->id() == tool) scanner = s;
    if (!scanner) {
      scanners::ScanOutcome skipped;
      skipped.tool = tool;
      skipped.status = "skipped";
      skipped.message = "not installed";
      a.outcomes.push_back(skipped);
      a.warnings.push_back("tool '" + tool + "' is not installed; skipped");
      (void)events_.append(id, "log", {{"tool", tool}, {"stream", "stderr"}, {"line", "skipped: not installed"}});
      continue;
    }
    (void)events_.append(id, "tool_start", {{"tool", tool}, {"command", Json::array({tool})}});
    scanners::ScanContext ctx;
    ctx.source_root = a.source.root;
    ctx.output_dir = a.tmp_dir;
    if (auto o = a.selection.options.find(tool); o != a.selection.options.end()) ctx.options = o->second;
    ctx.log = [&, tool](std::string_view line) {
      std::string l(line);
      while (!l.empty() && std::isspace(static_cast<unsigned char>(l.back()))) l.pop_back();
      (void)events_.append(id, "log", {{"tool", tool}, {"stream", "stdout"}, {"line", l}});
    };
    ctx.cancelled = a.cancelled.get();
    ctx.deadline_ms = step_deadline();
    int64_t t0 = steady_ms();
    auto out = scanner->run(ctx);
    if (!out) return Error::internal("scanner " + tool + " failed: " + out.error().message);
    scanners::ScanOutcome o = std::move(*out);
    if (o.tool.empty()) o.tool = tool;
    if (o.duration_ms == 0) o.duration_ms = steady_ms() - t0;
    if (auto series = scanner_series_.find(tool); series != scanner_series_.end()) {
      series->second.duration->observe(static_cast<double>(o.duration_ms) / 1000.0);
      if (o.bytes_read) series->second.bytes->inc(static_cast<double>(*o.bytes_read));
      if (o.files_read) series->second.files->inc(static_cast<double>(*o.files_read));
    }
    (void)events_.append(id, "tool_complete", {{"tool", tool}, {"exit_code", o.exit_code}, {"status", o.status},
                                               {"duration_ms", o.duration_ms}});
    if (o.status == "failed" || o.status == "timeout")
      a.warnings.push_back("tool '" + tool + "' " + o.status + (o.message.empty() ? "" : ": " + o.message));
    a.outcomes.push_back(std::move(o));
  }
  SECPLAT_TRY(check_stop());

  // 4. Bundle, then move it into place.
  SECPLAT_TRY(write_bundle(a));
  SECPLAT_TRY(check_stop());
  // Still ours? (A worker that stalled past its lease must not replace the new owner's bundle.)
  if (auto held = store_.renew_lease(id, a.owner, a.lease_ms); !held || !*held) {
    if (!held) return std::move(held).take_error();
    a.cancelled->store(true);
    return Error{Errc::conflict, "cancelled", {}, 0};
  }
  fs::remove_all(a.final_dir, ec);
  fs::rename(a.tmp_dir, a.final_dir, ec);
  if (ec) return Error::internal("cannot publish bundle: " + ec.message());
  a.bundle_done = true;

  // 5. SARIF → findings (a failure here is a warning: the bundle stands on its own). Sample
  // findings are canned and never become findings.
  if (importer_ && !a.selection.sample_mode) {
    for (const auto& o : a.outcomes) {
      for (const auto& rel : o.outputs) {
        if (!rel.ends_with(".sarif.json")) continue;
        std::ifstream in(a.final_dir + "/" + rel);
        Json sarif = Json::parse(in, nullptr, false);
        if (sarif.is_discarded()) {
          a.warnings.push_back("findings import skipped for " + rel + ": not valid JSON");
          continue;
        }
        Status st = importer_(req.component_id, sarif, o.tool, id);
        if (!st) a.warnings.push_back("findings import failed for " + rel + ": " + st.error().message);
      }
    }
  }
  return ok_status();
}

Status ScanPipeline::write_bundle(Attempt& a) {
  const ScanRequest& req = a.rec.request;
  fs::path dir(a.tmp_dir);
  SECPLAT_TRY(write_text(dir / "manifest.json", a.manifest.text));
  if (a.manifest.signature) SECPLAT_TRY(write_text(dir / "manifest.source.sig", *a.manifest.signature));

  Json thresholds = Json::object();
  for (const auto& [k, v] : a.selection.thresholds) thresholds[k] = v;
  a.manifest_info = {{"product", a.selection.product},
                     {"version", a.selection.version},
                     {"profile_requested", a.selection.profile_requested},
                     {"profile_resolved", a.selection.profile_resolved},
                     {"tools_selected", a.selection.tools},
                     {"manifest_digest", a.manifest.digest},
                     {"manifest_origin", a.manifest.origin},
                     {"signature_verified", a.manifest.verified},
                     {"verified_key_id", a.manifest.verified ? Json(a.manifest.verified_key_id) : Json(nullptr)},
                     {"unsupported_manifest_tools", a.selection.unsupported},
                     {"policy_thresholds", thresholds},
                     {"requires_stack", a.selection.requires_stack}};
  SECPLAT_TRY(write_text(dir / "manifest-info.json", dump(a.manifest_info, 2)));

  Json tools = Json::array(), executed = Json::array(), skipped = Json::array();
  std::map<std::string, int64_t> counts = {{"critical", 0}, {"high", 0}, {"medium", 0}, {"low", 0}, {"info", 0}};
  for (const auto& o : a.outcomes) {
    tools.push_back(outcome_json(o));
    (o.status == "skipped" ? skipped : executed).push_back(o.tool);
    if (o.tool == "sbom") continue;  // components, not findings
    for (const auto& [sev, n] : o.by_severity) counts[sev] += n;
  }
  int64_t now = clock_.now_ms();
  const bool sample = a.selection.sample_mode;
  Json summary = {{"schema_version", 1}, {"generated_at", format_rfc3339(now)}, {"bundle_id", a.rec.test_id},
                  {"executed", executed}, {"skipped", skipped}, {"tools", tools}, {"sample_mode", sample}};
  SECPLAT_TRY(write_text(dir / "summary.json", dump(summary, 2)));

  Json violations = Json::array();
  for (const auto& [sev, limit] : a.selection.thresholds) {
    int64_t n = counts.count(sev) ? counts[sev] : 0;
    if (n > limit)
      violations.push_back(sev + " findings exceeded threshold (" + std::to_string(n) + " > " + std::to_string(limit) + ")");
  }
  a.policy = {{"schema_version", 1}, {"policy_passed", violations.empty()}, {"thresholds", thresholds},
              {"counts", counts}, {"violations", violations}};
  SECPLAT_TRY(write_text(dir / "policy-result.json", dump(a.policy, 2)));

  const bool signing = !options_.signing_private_pem.empty();
  // Artifact map (reference keys where they apply, plus ours).
  auto add = [&](const char* key, const std::string& rel) { a.artifacts[key] = rel; };
  add("metadata", "scan.json");
  add("summary", "summary.json");
  add("manifest_info", "manifest-info.json");
  add("manifest_json", "manifest.json");
  if (signing) add("manifest_signature", "manifest.sig");
  add("policy_result", "policy-result.json");
  add("logs", "logs/runner.log");
  add("stream", "stream.jsonl");
  for (const auto& o : a.outcomes) {
    for (const auto& rel : o.outputs) {
      if (rel.ends_with(".sarif.json")) {
        if (!a.artifacts.contains("sarif")) add("sarif", rel);
        a.artifacts["sarif_" + o.tool] = rel;
      } else if (rel.ends_with(".spdx.json")) {
        if (!a.artifacts.contains("sbom_spdx")) add("sbom_spdx", rel);
      } else if (rel.ends_with(".cdx.json") || rel.ends_with(".cyclonedx.json")) {
        if (!a.artifacts.contains("sbom_cyclonedx")) add("sbom_cyclonedx", rel);
      }
    }
  }
  if (signing) add("attestation", "reports/signing/attestation.intoto.json");

  const Json& src = a.source.info;
  Json scan = Json::object();
  scan["schema_version"] = 1;
  scan["test_id"] = a.rec.test_id;
  scan["workspace_id"] = req.workspace_id;
  scan["component_id"] = req.component_id;
  scan["assessment_id"] = req.assessment_id;
  scan["status"] = kSucceeded;
  scan["source_type"] = req.source_type;
  scan["provenance_id"] = a.source.provenance_id;
  if (sample) {
    // A sample bundle vouches for no source: no commit, hash or host path appears in it.
    scan["provenance_id"] = nullptr;
    scan["git_url"] = nullptr;
    scan["git_commit"] = nullptr;
    scan["branch"] = nullptr;
    scan["directory_path"] = nullptr;
    scan["content_hash"] = nullptr;
  } else if (req.source_type == "git") {
    scan["git_url"] = *req.git_url;
    scan["git_commit"] = src.value("resolved_commit", "");
    scan["branch"] = src.contains("branch") ? src["branch"] : Json(nullptr);
  } else if (req.source_type == "directory") {
    scan["directory_path"] = *req.directory_path;
    scan["content_hash"] = src.value("content_hash", "");
  } else {
    scan["archive_path"] = *req.archive_path;
    scan["archive_hash"] = src.value("archive_hash", "");
    scan["archive_name"] = src.value("archive_name", "");
  }
  scan["requested_by"] = req.requested_by ? Json(*req.requested_by) : Json(nullptr);
  scan["profile"] = req.profile;
  scan["manifest_digest"] = a.manifest.digest;
  scan["artifacts"] = a.artifacts;
  scan["warnings"] = a.warnings;
  scan["errors"] = Json::array();
  scan["started_at"] = utc_seconds(a.started_ms);
  scan["completed_at"] = utc_seconds(now);
  scan["manifest_metadata"] = a.manifest_info;
  scan["source"] = sample ? sample_source_json(req) : src;
  scan["tools"] = tools;
  scan["policy"] = a.policy;
  scan["sample_mode"] = sample;
  SECPLAT_TRY(write_text(dir / "scan.json", scan.dump(2, ' ', true, Json::error_handler_t::replace)));

  // Logs: manifest line, then every event so far (scan_complete comes after the bundle).
  std::string log_text = dump(Json{{"type", "manifest"}, {"data", a.manifest_info}});
  auto events = store_.events_after(a.rec.test_id, 0);
  if (!events) return std::move(events).take_error();
  for (const auto& ev : *events) {
    if (sample && ev.type == "phase") {
      // The source phases name commits, branches and hashes; a sample bundle keeps only the words.
      Json e = Json::parse(ev.json, nullptr, false);
      if (e.is_object()) {
        Json kept = Json::object();
        for (const char* k : {"type", "timestamp", "seq", "message"})
          if (e.contains(k)) kept[k] = e[k];
        log_text += "\n" + dump(kept);
        continue;
      }
    }
    log_text += "\n" + ev.json;
  }
  SECPLAT_TRY(write_text(dir / "logs/runner.log", log_text));
  SECPLAT_TRY(write_text(dir / "stream.jsonl", log_text));

  if (signing) {
    crypto::EcKeyPair key{options_.signing_private_pem, options_.signing_public_pem};
    SECPLAT_TRY(write_detached_signature((dir / "manifest.json").string(), key));
    AttestationInfo info;
    info.test_id = a.rec.test_id;
    info.workspace_id = req.workspace_id;
    info.component_id = req.component_id;
    info.source_uri = sample                         ? std::string("secplat:sample")
                      : req.source_type == "git"       ? *req.git_url
                      : req.source_type == "directory" ? *req.directory_path
                                                       : src.value("archive_name", *req.archive_path);
    info.source_digest = sample ? std::string() : a.source.provenance_id;
    info.manifest_digest = a.manifest.digest;
    info.started_ms = a.started_ms;
    info.finished_ms = now;
    SECPLAT_TRY(write_attestation(a.tmp_dir, info, key));
  }
  return ok_status();
}

void ScanPipeline::complete(Attempt& a, const Status& outcome) {
  const std::string& id = a.rec.test_id;
  std::error_code ec;
  if (!a.source.work_dir.empty()) fs::remove_all(a.source.work_dir, ec);
  // Taken over by another worker: that one reports; this run leaves nothing behind.
  auto abandon = [&] {
    fs::remove_all(a.tmp_dir, ec);
    log::warn("scan run abandoned: another worker holds it now", {log::str("test_id", id), log::str("owner", a.owner)});
  };
  if (a.lost->load()) return abandon();
  bool cancelled = a.cancelled->load() || (!outcome.ok() && outcome.error().code == Errc::conflict &&
                                           outcome.error().message == "cancelled");
  ScanResult result;
  result.source = a.source.info.is_null() ? Json(nullptr) : a.source.info;
  if (a.selection.sample_mode && !a.source.info.is_null()) result.source = sample_source_json(a.rec.request);
  result.tools = Json::array();
  for (const auto& o : a.outcomes) result.tools.push_back(outcome_json(o));
  bool final_here = false;
  if (!cancelled && outcome.ok()) {
    result.status = kSucceeded;
    result.artifacts = a.artifacts;
    result.warnings = a.warnings;
    result.manifest_digest = a.manifest.digest;
    result.manifest_metadata = a.manifest_info;
    result.policy = a.policy;
    auto f = store_.finish(id, result, a.owner);
    final_here = f.ok() && *f;
  } else if (!cancelled) {
    result.status = kFailed;
    result.errors = Json::array({outcome.error().message});
    result.warnings = a.warnings;
    auto f = store_.finish(id, result, a.owner);
    final_here = f.ok() && *f;
    if (final_here) (void)events_.append(id, "error", {{"message", outcome.error().message}});
  }
  if (!final_here) {
    auto st = store_.status_of(id);
    if (st && *st && **st == kRunning) return abandon();
  }
  if (!final_here || result.status != kSucceeded) {
    // Failed or cancelled: no bundle survives.
    fs::remove_all(a.tmp_dir, ec);
    if (a.bundle_done) fs::remove_all(a.final_dir, ec);
  }
  Json done = Json::object();
  if (!final_here) {
    done["status"] = kCancelled;
  } else {
    done["status"] = result.status;
    if (result.status == kSucceeded) done["bundle"] = "/v1/security-scans/" + id + "/artifacts";
  }
  if (!a.manifest.digest.empty()) done["manifest_digest"] = a.manifest.digest;
  else if (a.rec.manifest_digest) done["manifest_digest"] = *a.rec.manifest_digest;
  std::string final_status = done.value("status", "");
  const std::string label = final_status == kSucceeded ? "succeeded" : final_status == kFailed ? "failed" : "cancelled";
  if (auto series = outcome_series_.find(label); series != outcome_series_.end()) {
    series->second.first->inc();
    series->second.second->observe(static_cast<double>(steady_ms() - a.steady_start) / 1000.0);
  }
  (void)events_.append(id, "scan_complete", std::move(done));
  log::info("scan finished", {log::str("test_id", id), log::str("status", final_status)});
}

}  // namespace secplat::assurance
