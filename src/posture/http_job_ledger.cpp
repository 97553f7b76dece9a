#include "posture/http_job_ledger.h"

#include "posture/job_ledger_wire.h"

namespace secplat::posture {

HttpJobLedger::HttpJobLedger(std::string api_url, std::string api_key, long timeout_ms)
    : client_("job ledger", std::move(api_url), std::move(api_key), timeout_ms) {}

Result<Json> HttpJobLedger::op(const char* name, const Json& body) {
  return client_.post(std::string("/internal/jobs/") + name, body);
}

namespace {
Status done(Result<Json> r) {
  if (!r.ok()) return std::move(r).take_error();
  return ok_status();
}
}  // namespace

Result<std::optional<Job>> HttpJobLedger::claim(int64_t job_id, bool take_over_running) {
  auto r = op("claim", {{"job_id", job_id}, {"take_over_running", take_over_running}});
  if (!r.ok()) {
    // A 404 here is the route missing (an older API), not the job: an unknown job is an answer.
    if (r.error().code == Errc::not_found) return Error::unavailable(r.error().message);
    return std::move(r).take_error();
  }
  return claim_from_json(*r);
}

Status HttpJobLedger::append_log(int64_t job_id, const std::string& line) {
  return done(op("log", {{"job_id", job_id}, {"line", line}}));
}

Status HttpJobLedger::finish(int64_t job_id, bool ok, const std::optional<std::string>& error) {
  return done(op("finish", {{"job_id", job_id}, {"ok", ok}, {"error", error ? Json(*error) : Json(nullptr)}}));
}

Status HttpJobLedger::requeue(int64_t job_id, const std::string& error) {
  return done(op("requeue", {{"job_id", job_id}, {"error", error}}));
}

Result<int64_t> HttpJobLedger::recompute_risk(std::optional<int64_t> asset_id) {
  auto r = op("recompute-risk", {{"asset_id", asset_id ? Json(*asset_id) : Json(nullptr)}});
  if (!r.ok()) return std::move(r).take_error();
  auto it = r->find("assets");
  if (it == r->end() || !it->is_number_integer()) return Error::unavailable("job ledger answer without assets");
  return it->get<int64_t>();
}

Result<JobTarget> HttpJobLedger::target(const std::string& asset_key, const std::string& job_type) {
  auto r = op("target", {{"asset_key", asset_key}, {"job_type", job_type}});
  if (!r.ok()) return std::move(r).take_error();
  return target_from_json(*r);
}

Result<findings::SarifImportResult> HttpJobLedger::reconcile(const std::string& asset_key, const std::string& source,
                                                             std::vector<findings::FindingInput> items,
                                                             const std::string& actor_id,
                                                             const std::string& audit_action,
                                                             const std::vector<std::string>& undecided) {
  auto r = op("reconcile", reconcile_to_json(asset_key, source, items, actor_id, audit_action, undecided));
  if (!r.ok()) return std::move(r).take_error();
  return reconciled_from_json(*r);
}

}  // namespace secplat::posture
