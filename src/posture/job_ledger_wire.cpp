#include "posture/job_ledger_wire.h"

#include <functional>
#include <map>
#include <string>

#include "http/json_body.h"

namespace secplat::posture {
namespace {

Error field_error(std::string_view key, std::string msg) { return Error::invalid({"body", std::string(key)}, std::move(msg)); }

// Required, non-empty string field.
Result<std::string> text(const Json& b, std::string_view key) {
  auto v = http::req_string(b, key);
  if (v.ok() && v->empty()) return field_error(key, "must not be empty");
  return v;
}

Result<int64_t> job_id_of(const Json& b) {
  auto id = http::req_int(b, "job_id");
  if (id.ok() && *id <= 0) return field_error("job_id", "must be a positive integer");
  return id;
}

// A strings array field; absent or null is empty.
Result<std::vector<std::string>> strings(const Json& b, std::string_view key) {
  std::vector<std::string> out;
  auto it = b.find(key);
  if (it == b.end() || it->is_null()) return out;
  if (!it->is_array()) return field_error(key, "Input should be a valid list");
  for (const auto& v : *it) {
    if (!v.is_string()) return field_error(key, "Input should be a list of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

Json opt_json(const std::optional<std::string>& v) { return v ? Json(*v) : Json(nullptr); }
Json opt_json(const std::optional<int64_t>& v) { return v ? Json(*v) : Json(nullptr); }

// One finding of a reconcile body; a field error is reported at ["body", "items", <i>, <field>].
Result<findings::FindingInput> finding_from_json(const Json& j, std::size_t index) {
  auto at = [index](Error e) {
    for (auto& f : e.fields)
      if (f.loc.size() == 2) f.loc = {"body", "items", std::to_string(index), f.loc[1]};
    return e;
  };
  if (!j.is_object()) {
    Error e = Error::invalid({"body", "items", std::to_string(index)}, "Input should be a JSON object");
    return e;
  }
  findings::FindingInput in;
  auto key = text(j, "finding_key");
  if (!key.ok()) return at(std::move(key).take_error());
  in.finding_key = std::move(*key);
  auto title = text(j, "title");
  if (!title.ok()) return at(std::move(title).take_error());
  in.title = std::move(*title);
  auto asset_key = http::opt_string(j, "asset_key");
  if (!asset_key.ok()) return at(std::move(asset_key).take_error());
  in.asset_key = asset_key->value_or("");
  auto asset_id = http::opt_int(j, "asset_id");
  if (!asset_id.ok()) return at(std::move(asset_id).take_error());
  in.asset_id = *asset_id;
  const std::pair<const char*, std::optional<std::string> findings::FindingInput::*> optional_texts[] = {
      {"category", &findings::FindingInput::category},
      {"severity", &findings::FindingInput::severity},
      {"confidence", &findings::FindingInput::confidence},
      {"evidence", &findings::FindingInput::evidence},
      {"remediation", &findings::FindingInput::remediation},
      {"source", &findings::FindingInput::source},
      {"vulnerability_id", &findings::FindingInput::vulnerability_id},
      {"package_ecosystem", &findings::FindingInput::package_ecosystem},
      {"package_name", &findings::FindingInput::package_name},
      {"package_version", &findings::FindingInput::package_version},
      {"fixed_version", &findings::FindingInput::fixed_version},
      {"scanner_metadata_json", &findings::FindingInput::scanner_metadata_json},
  };
  for (const auto& [name, member] : optional_texts) {
    auto v = http::opt_string(j, name);
    if (!v.ok()) return at(std::move(v).take_error());
    in.*member = std::move(*v);
  }
  return in;
}

Json finding_to_json(const findings::FindingInput& in) {
  return {{"asset_key", in.asset_key},
          {"asset_id", opt_json(in.asset_id)},
          {"finding_key", in.finding_key},
          {"title", in.title},
          {"category", opt_json(in.category)},
          {"severity", opt_json(in.severity)},
          {"confidence", opt_json(in.confidence)},
          {"evidence", opt_json(in.evidence)},
          {"remediation", opt_json(in.remediation)},
          {"source", opt_json(in.source)},
          {"vulnerability_id", opt_json(in.vulnerability_id)},
          {"package_ecosystem", opt_json(in.package_ecosystem)},
          {"package_name", opt_json(in.package_name)},
          {"package_version", opt_json(in.package_version)},
          {"fixed_version", opt_json(in.fixed_version)},
          {"scanner_metadata_json", opt_json(in.scanner_metadata_json)}};
}

using Op = std::function<Result<Json>(JobLedger&, const Json&)>;

const std::map<std::string, Op, std::less<>>& ops() {
  static const std::map<std::string, Op, std::less<>> table = {
      {"claim",
       [](JobLedger& l, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(job_id, job_id_of(b));
         SECPLAT_TRY_ASSIGN(take_over, http::opt_bool(b, "take_over_running"));
         auto c = l.claim(job_id, take_over.value_or(false));
         if (!c.ok()) {
           if (c.error().code == Errc::not_found) return Json{{"found", false}, {"job", nullptr}};
           return std::move(c).take_error();
         }
         return Json{{"found", true}, {"job", *c ? job_to_json(**c) : Json(nullptr)}};
       }},
      {"log",
       [](JobLedger& l, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(job_id, job_id_of(b));
         SECPLAT_TRY_ASSIGN(line, http::req_string(b, "line"));
         SECPLAT_TRY(l.append_log(job_id, line));
         return Json{{"ok", true}};
       }},
      {"finish",
       [](JobLedger& l, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(job_id, job_id_of(b));
         SECPLAT_TRY_ASSIGN(ok, http::opt_bool(b, "ok"));
         if (!ok) return field_error("ok", "Field required");
         SECPLAT_TRY_ASSIGN(error, http::opt_string(b, "error"));
         SECPLAT_TRY(l.finish(job_id, *ok, error));
         return Json{{"ok", true}};
       }},
      {"requeue",
       [](JobLedger& l, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(job_id, job_id_of(b));
         SECPLAT_TRY_ASSIGN(error, http::req_string(b, "error"));
         SECPLAT_TRY(l.requeue(job_id, error));
         return Json{{"ok", true}};
       }},
      {"recompute-risk",
       [](JobLedger& l, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(asset_id, http::opt_int(b, "asset_id"));
         if (asset_id && *asset_id <= 0) return field_error("asset_id", "must be a positive integer or null");
         auto n = l.recompute_risk(asset_id);
         if (!n.ok()) return std::move(n).take_error();
         return Json{{"assets", *n}};
       }},
      {"target",
       [](JobLedger& l, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(asset_key, text(b, "asset_key"));
         SECPLAT_TRY_ASSIGN(job_type, text(b, "job_type"));
         if (!is_valid_job_type(job_type) || !job_needs_asset(job_type))
           return field_error("job_type", "must be web_exposure, tls_headers or health_http");
         auto t = l.target(asset_key, job_type);
         if (!t.ok()) return std::move(t).take_error();
         return Json{{"asset_key", t->asset_key},
                     {"url", t->url},
                     {"timeout_ms", t->timeout_ms ? Json(*t->timeout_ms) : Json(nullptr)},
                     {"refused", t->refused}};
       }},
      {"reconcile",
       [](JobLedger& l, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(asset_key, text(b, "asset_key"));
         SECPLAT_TRY_ASSIGN(source, text(b, "source"));
         SECPLAT_TRY_ASSIGN(actor_id, text(b, "actor_id"));
         SECPLAT_TRY_ASSIGN(audit_action, text(b, "audit_action"));
         SECPLAT_TRY_ASSIGN(undecided, strings(b, "undecided"));
         auto it = b.find("items");
         if (it == b.end() || it->is_null()) return field_error("items", "Field required");
         if (!it->is_array()) return field_error("items", "Input should be a valid list");
         std::vector<findings::FindingInput> items;
         items.reserve(it->size());
         for (std::size_t i = 0; i < it->size(); ++i) {
           SECPLAT_TRY_ASSIGN(item, finding_from_json((*it)[i], i));
           items.push_back(std::move(item));
         }
         auto r = l.reconcile(asset_key, source, std::move(items), actor_id, audit_action, undecided);
         if (!r.ok()) return std::move(r).take_error();
         return Json{{"created", r->created},
                     {"updated", r->updated},
                     {"unchanged", r->unchanged},
                     {"remediated", r->remediated},
                     {"total", r->total}};
       }},
  };
  return table;
}

Error bad_answer(const std::string& what) { return Error::unavailable("job ledger answer: " + what); }

// Answer readers: a field of the wrong type is a bad answer; an absent optional one is empty.
Result<std::string> s_of(const Json& j, const char* k, bool required = false) {
  auto it = j.find(k);
  if (it == j.end() || it->is_null()) {
    if (required) return bad_answer(std::string(k) + " missing");
    return std::string();
  }
  if (!it->is_string()) return bad_answer(std::string(k) + " is not a string");
  return it->get<std::string>();
}
Result<std::optional<std::string>> opt_s_of(const Json& j, const char* k) {
  auto it = j.find(k);
  if (it == j.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return bad_answer(std::string(k) + " is not a string");
  return std::optional<std::string>(it->get<std::string>());
}
Result<std::optional<int64_t>> opt_i_of(const Json& j, const char* k) {
  auto it = j.find(k);
  if (it == j.end() || it->is_null()) return std::optional<int64_t>();
  if (!it->is_number_integer()) return bad_answer(std::string(k) + " is not an integer");
  return std::optional<int64_t>(it->get<int64_t>());
}
Result<int64_t> i_of(const Json& j, const char* k) {
  auto v = opt_i_of(j, k);
  if (!v.ok()) return std::move(v).take_error();
  if (!*v) return bad_answer(std::string(k) + " missing");
  return **v;
}

}  // namespace

const std::vector<std::string_view>& job_ledger_ops() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> v;
    for (const auto& [k, _] : ops()) v.push_back(k);
    return v;
  }();
  return names;
}

Result<Json> serve_job_op(JobLedger& ledger, std::string_view op, const Json& body) {
  auto it = ops().find(op);
  if (it == ops().end()) return Error::not_found("unknown job ledger operation: " + std::string(op));
  if (!body.is_object()) return Error::invalid({"body"}, "Input should be a JSON object");
  return it->second(ledger, body);
}

Json job_to_json(const Job& j) {
  return {{"job_id", j.job_id},
          {"job_type", j.job_type},
          {"target_asset_id", opt_json(j.target_asset_id)},
          {"asset_key", opt_json(j.asset_key)},
          {"requested_by", j.requested_by},
          {"status", j.status},
          {"created_ms", j.created_ms},
          {"started_ms", opt_json(j.started_ms)},
          {"finished_ms", opt_json(j.finished_ms)},
          {"error", opt_json(j.error)},
          {"log_output", j.log_output},
          {"retry_count", j.retry_count},
          {"params_json", j.params_json},
          {"idempotency_key", opt_json(j.idempotency_key)},
          {"asset_name", opt_json(j.asset_name)},
          {"asset_type", opt_json(j.asset_type)},
          {"asset_environment", opt_json(j.asset_environment)},
          {"asset_criticality", opt_json(j.asset_criticality)},
          {"asset_verified", j.asset_verified}};
}

Result<Job> job_from_json(const Json& j) {
  if (!j.is_object()) return bad_answer("job is not an object");
  Job job;
  SECPLAT_TRY_ASSIGN(job_id, i_of(j, "job_id"));
  SECPLAT_TRY_ASSIGN(job_type, s_of(j, "job_type", true));
  SECPLAT_TRY_ASSIGN(target_asset_id, opt_i_of(j, "target_asset_id"));
  SECPLAT_TRY_ASSIGN(asset_key, opt_s_of(j, "asset_key"));
  SECPLAT_TRY_ASSIGN(requested_by, s_of(j, "requested_by"));
  SECPLAT_TRY_ASSIGN(status, s_of(j, "status"));
  SECPLAT_TRY_ASSIGN(created_ms, opt_i_of(j, "created_ms"));
  SECPLAT_TRY_ASSIGN(started_ms, opt_i_of(j, "started_ms"));
  SECPLAT_TRY_ASSIGN(finished_ms, opt_i_of(j, "finished_ms"));
  SECPLAT_TRY_ASSIGN(error, opt_s_of(j, "error"));
  SECPLAT_TRY_ASSIGN(log_output, s_of(j, "log_output"));
  SECPLAT_TRY_ASSIGN(retry_count, opt_i_of(j, "retry_count"));
  SECPLAT_TRY_ASSIGN(params_json, opt_s_of(j, "params_json"));
  SECPLAT_TRY_ASSIGN(idempotency_key, opt_s_of(j, "idempotency_key"));
  SECPLAT_TRY_ASSIGN(asset_name, opt_s_of(j, "asset_name"));
  SECPLAT_TRY_ASSIGN(asset_type, opt_s_of(j, "asset_type"));
  SECPLAT_TRY_ASSIGN(asset_environment, opt_s_of(j, "asset_environment"));
  SECPLAT_TRY_ASSIGN(asset_criticality, opt_s_of(j, "asset_criticality"));
  auto verified = j.find("asset_verified");
  if (verified != j.end() && !verified->is_null() && !verified->is_boolean())
    return bad_answer("asset_verified is not a boolean");
  job.job_id = job_id;
  job.job_type = std::move(job_type);
  job.target_asset_id = target_asset_id;
  job.asset_key = std::move(asset_key);
  job.requested_by = std::move(requested_by);
  if (!status.empty()) job.status = std::move(status);
  job.created_ms = created_ms.value_or(0);
  job.started_ms = started_ms;
  job.finished_ms = finished_ms;
  job.error = std::move(error);
  job.log_output = std::move(log_output);
  job.retry_count = retry_count.value_or(0);
  if (params_json) job.params_json = std::move(*params_json);
  job.idempotency_key = std::move(idempotency_key);
  job.asset_name = std::move(asset_name);
  job.asset_type = std::move(asset_type);
  job.asset_environment = std::move(asset_environment);
  job.asset_criticality = std::move(asset_criticality);
  job.asset_verified = verified != j.end() && verified->is_boolean() && verified->get<bool>();
  return job;
}

Json reconcile_to_json(const std::string& asset_key, const std::string& source,
                       const std::vector<findings::FindingInput>& items, const std::string& actor_id,
                       const std::string& audit_action, const std::vector<std::string>& undecided) {
  Json list = Json::array();
  for (const auto& in : items) list.push_back(finding_to_json(in));
  return {{"asset_key", asset_key}, {"source", source},
          {"items", std::move(list)},  {"actor_id", actor_id},
          {"audit_action", audit_action}, {"undecided", undecided}};
}

Result<std::optional<Job>> claim_from_json(const Json& answer) {
  auto found = answer.find("found");
  if (found == answer.end() || !found->is_boolean()) return bad_answer("found missing");
  if (!found->get<bool>()) return Error::not_found("Job not found");
  auto job = answer.find("job");
  if (job == answer.end() || job->is_null()) return std::optional<Job>();
  auto parsed = job_from_json(*job);
  if (!parsed.ok()) return std::move(parsed).take_error();
  return std::optional<Job>(std::move(*parsed));
}

Result<JobTarget> target_from_json(const Json& answer) {
  JobTarget t;
  SECPLAT_TRY_ASSIGN(refused, s_of(answer, "refused"));
  SECPLAT_TRY_ASSIGN(asset_key, s_of(answer, "asset_key"));
  SECPLAT_TRY_ASSIGN(url, s_of(answer, "url"));
  SECPLAT_TRY_ASSIGN(timeout_ms, opt_i_of(answer, "timeout_ms"));
  if (refused.empty() && (asset_key.empty() || url.empty())) return bad_answer("target without asset_key or url");
  t.refused = std::move(refused);
  t.asset_key = std::move(asset_key);
  t.url = std::move(url);
  if (timeout_ms) t.timeout_ms = static_cast<int>(*timeout_ms);
  return t;
}

Result<findings::SarifImportResult> reconciled_from_json(const Json& answer) {
  findings::SarifImportResult r;
  SECPLAT_TRY_ASSIGN(created, i_of(answer, "created"));
  SECPLAT_TRY_ASSIGN(updated, i_of(answer, "updated"));
  SECPLAT_TRY_ASSIGN(unchanged, i_of(answer, "unchanged"));
  SECPLAT_TRY_ASSIGN(remediated, i_of(answer, "remediated"));
  SECPLAT_TRY_ASSIGN(total, i_of(answer, "total"));
  r.created = created;
  r.updated = updated;
  r.unchanged = unchanged;
  r.remediated = remediated;
  r.total = total;
  return r;
}

#undef JOB_TRY_ASSIGN

}  // namespace secplat::posture
