#include "assurance/scan_ledger_wire.h"

#include <functional>
#include <map>
#include <string>

#include "http/json_body.h"

namespace secplat::assurance {
namespace {

Error field_error(std::string_view key, std::string msg) { return Error::invalid({"body", std::string(key)}, std::move(msg)); }

// A non-empty string field of at most `max` bytes.
Result<std::string> text(const Json& b, std::string_view key, std::size_t max = 256) {
  auto v = http::req_string(b, key);
  if (!v.ok()) return v;
  if (v->empty()) return field_error(key, "must not be empty");
  if (v->size() > max) return field_error(key, "longer than " + std::to_string(max) + " bytes");
  return v;
}

Result<int64_t> bounded(const Json& b, std::string_view key, int64_t min, int64_t max) {
  auto v = http::req_int(b, key);
  if (!v.ok()) return v;
  if (*v < min || *v > max)
    return field_error(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  return v;
}

// A JSON object (or array, with `array`) field; `def` when absent or null.
Result<Json> value(const Json& b, std::string_view key, bool array, Json def) {
  auto it = b.find(key);
  if (it == b.end() || it->is_null()) return def;
  if (array ? !it->is_array() : !it->is_object()) return field_error(key, array ? "must be an array" : "must be an object");
  return *it;
}

Json opt_str(const std::optional<std::string>& v) { return v ? Json(*v) : Json(nullptr); }

constexpr int64_t kMaxLeaseMs = 24LL * 3600 * 1000;

Result<ScanResult> result_from_json(const Json& b) {
  auto it = b.find("result");
  if (it == b.end() || !it->is_object()) return field_error("result", "must be an object");
  const Json& r = *it;
  ScanResult out;
  auto status = http::req_string(r, "status");
  if (!status.ok()) return field_error("result", "status: " + status.error().message);
  if (*status != kSucceeded && *status != kFailed) return field_error("result", "status must be SUCCEEDED or FAILED");
  out.status = *status;
  auto get = [&](const char* key, bool array, Json def, Json& into) -> Status {
    auto v = value(r, key, array, std::move(def));
    if (!v.ok()) return field_error("result", std::string(key) + (array ? " must be an array" : " must be an object"));
    into = std::move(*v);
    return ok_status();
  };
  SECPLAT_TRY(get("artifacts", false, Json::object(), out.artifacts));
  SECPLAT_TRY(get("warnings", true, Json::array(), out.warnings));
  SECPLAT_TRY(get("errors", true, Json::array(), out.errors));
  SECPLAT_TRY(get("tools", true, Json::array(), out.tools));
  SECPLAT_TRY(get("manifest_metadata", false, nullptr, out.manifest_metadata));
  SECPLAT_TRY(get("source", false, nullptr, out.source));
  SECPLAT_TRY(get("policy", false, nullptr, out.policy));
  auto digest = http::opt_string(r, "manifest_digest");
  if (!digest.ok()) return field_error("result", "manifest_digest must be a string");
  out.manifest_digest = *digest;
  return out;
}

// The event as stored: a JSON object whose seq and type are the ones given.
Status check_event(const std::string& text, int64_t seq, const std::string& type) {
  Json ev = Json::parse(text, nullptr, false);
  if (!ev.is_object()) return field_error("event", "must be a JSON object (as text)");
  auto s = ev.find("seq");
  auto t = ev.find("type");
  if (s == ev.end() || !s->is_number_integer() || s->get<int64_t>() != seq)
    return field_error("event", "its seq must be the seq appended");
  if (t == ev.end() || !t->is_string() || t->get<std::string>() != type)
    return field_error("event", "its type must be the type appended");
  return ok_status();
}

Result<ScanLedger::Claim> claim_from_name(std::string_view n) {
  if (n == "started") return ScanLedger::Claim::started;
  if (n == "resumed") return ScanLedger::Claim::resumed;
  if (n == "busy") return ScanLedger::Claim::busy;
  if (n == "finished") return ScanLedger::Claim::finished;
  return Error::unavailable("scan ledger answer: unknown claim '" + std::string(n) + "'");
}

using Op = std::function<Result<Json>(ScanLedger&, const SarifImporter&, const Json&)>;

const std::map<std::string, Op, std::less<>>& ops() {
  static const std::map<std::string, Op, std::less<>> table = {
      {"get",
       [](ScanLedger& l, const SarifImporter&, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(test_id, text(b, "test_id"));
         auto rec = l.get(test_id);
         if (!rec.ok()) return std::move(rec).take_error();
         return Json{{"record", *rec ? scan_record_to_json(**rec) : Json(nullptr)}};
       }},
      {"claim",
       [](ScanLedger& l, const SarifImporter&, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(test_id, text(b, "test_id"));
         SECPLAT_TRY_ASSIGN(owner, text(b, "owner"));
         SECPLAT_TRY_ASSIGN(lease_ms, bounded(b, "lease_ms", 1, kMaxLeaseMs));
         auto c = l.claim(test_id, owner, lease_ms);
         if (!c.ok()) return std::move(c).take_error();
         return Json{{"claim", std::string(claim_name(*c))}};
       }},
      {"renew",
       [](ScanLedger& l, const SarifImporter&, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(test_id, text(b, "test_id"));
         SECPLAT_TRY_ASSIGN(owner, text(b, "owner"));
         SECPLAT_TRY_ASSIGN(lease_ms, bounded(b, "lease_ms", 1, kMaxLeaseMs));
         auto held = l.renew_lease(test_id, owner, lease_ms);
         if (!held.ok()) return std::move(held).take_error();
         return Json{{"held", *held}};
       }},
      {"finish",
       [](ScanLedger& l, const SarifImporter&, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(test_id, text(b, "test_id"));
         SECPLAT_TRY_ASSIGN(result, result_from_json(b));
         SECPLAT_TRY_ASSIGN(owner, http::opt_string(b, "owner"));
         auto f = l.finish(test_id, result, owner);
         if (!f.ok()) return std::move(f).take_error();
         return Json{{"finished", *f}};
       }},
      {"status",
       [](ScanLedger& l, const SarifImporter&, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(test_id, text(b, "test_id"));
         auto s = l.status_of(test_id);
         if (!s.ok()) return std::move(s).take_error();
         return Json{{"status", opt_str(*s)}};
       }},
      {"fail-undeliverable",
       [](ScanLedger& l, const SarifImporter&, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(test_id, text(b, "test_id"));
         SECPLAT_TRY_ASSIGN(error, text(b, "error", 64u << 10));
         auto f = l.fail_undeliverable(test_id, error);
         if (!f.ok()) return std::move(f).take_error();
         return Json{{"failed", *f}};
       }},
      {"set-upload",
       [](ScanLedger& l, const SarifImporter&, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(test_id, text(b, "test_id"));
         SECPLAT_TRY_ASSIGN(from, text(b, "from"));
         SECPLAT_TRY_ASSIGN(to, text(b, "to"));
         SECPLAT_TRY_ASSIGN(upload, value(b, "upload", false, Json()));
         if (!upload.is_object()) return field_error("upload", "Field required");
         auto moved = l.set_upload(test_id, from, to, upload);
         if (!moved.ok()) return std::move(moved).take_error();
         return Json{{"moved", *moved}};
       }},
      {"append-event",
       [](ScanLedger& l, const SarifImporter&, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(test_id, text(b, "test_id"));
         SECPLAT_TRY_ASSIGN(seq, bounded(b, "seq", 1, INT64_MAX));
         SECPLAT_TRY_ASSIGN(type, text(b, "type", 64));
         SECPLAT_TRY_ASSIGN(ts_ms, http::req_int(b, "ts_ms"));
         SECPLAT_TRY_ASSIGN(event, http::req_string(b, "event"));
         SECPLAT_TRY(check_event(event, seq, type));
         SECPLAT_TRY(l.append_event(test_id, seq, type, ts_ms, event));
         return Json{{"ok", true}};
       }},
      {"events",
       [](ScanLedger& l, const SarifImporter&, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(test_id, text(b, "test_id"));
         SECPLAT_TRY_ASSIGN(after, bounded(b, "after_seq", 0, INT64_MAX));
         auto evs = l.events_after(test_id, after);
         if (!evs.ok()) return std::move(evs).take_error();
         Json list = Json::array();
         for (auto& e : *evs) list.push_back({{"seq", e.seq}, {"type", e.type}, {"event", std::move(e.json)}});
         return Json{{"events", std::move(list)}};
       }},
      {"last-event",
       [](ScanLedger& l, const SarifImporter&, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(test_id, text(b, "test_id"));
         auto e = l.last_event(test_id);
         if (!e.ok()) return std::move(e).take_error();
         return Json{{"event", *e ? Json{{"seq", (*e)->seq}, {"type", (*e)->type}} : Json(nullptr)}};
       }},
      {"import-sarif",
       [](ScanLedger&, const SarifImporter& import, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(component_id, text(b, "component_id"));
         SECPLAT_TRY_ASSIGN(tool, text(b, "tool"));
         SECPLAT_TRY_ASSIGN(test_id, text(b, "test_id"));
         auto it = b.find("sarif");
         if (it == b.end() || !it->is_object()) return field_error("sarif", "must be a SARIF log (an object)");
         if (!import) return Error::unavailable("this API does not import scan findings");
         SECPLAT_TRY(import(component_id, *it, tool, test_id));
         return Json{{"ok", true}};
       }},
  };
  return table;
}

}  // namespace

const std::vector<std::string_view>& scan_ledger_ops() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> v;
    for (const auto& [name, _] : ops()) v.push_back(name);
    return v;
  }();
  return names;
}

Result<Json> serve_scan_ledger_op(ScanLedger& ledger, const SarifImporter& importer, std::string_view op,
                                  const Json& body) {
  auto it = ops().find(op);
  if (it == ops().end()) return Error::not_found("unknown scan ledger operation: " + std::string(op));
  return it->second(ledger, importer, body);
}

std::string_view claim_name(ScanLedger::Claim c) {
  switch (c) {
    case ScanLedger::Claim::started: return "started";
    case ScanLedger::Claim::resumed: return "resumed";
    case ScanLedger::Claim::busy: return "busy";
    case ScanLedger::Claim::finished: return "finished";
  }
  return "finished";
}

Result<ScanLedger::Claim> claim_from_json(const Json& answer) {
  auto it = answer.find("claim");
  if (it == answer.end() || !it->is_string()) return Error::unavailable("scan ledger answer without claim");
  return claim_from_name(it->get<std::string>());
}

Json scan_result_to_json(const ScanResult& r) {
  return Json{{"status", r.status},   {"artifacts", r.artifacts},
              {"warnings", r.warnings}, {"errors", r.errors},
              {"manifest_digest", opt_str(r.manifest_digest)}, {"manifest_metadata", r.manifest_metadata},
              {"source", r.source},     {"tools", r.tools},
              {"policy", r.policy}};
}

Json scan_record_to_json(const ScanRecord& r) {
  Json j = {{"test_id", r.test_id},
            {"request", r.request.to_json()},
            {"status", r.status},
            {"created_ms", r.created_ms},
            {"started_ms", r.started_ms ? Json(*r.started_ms) : Json(nullptr)},
            {"completed_ms", r.completed_ms ? Json(*r.completed_ms) : Json(nullptr)},
            {"artifacts", r.artifacts},
            {"warnings", r.warnings},
            {"errors", r.errors},
            {"manifest_digest", opt_str(r.manifest_digest)},
            {"manifest_metadata", r.manifest_metadata},
            {"source", r.source},
            {"tools", r.tools},
            {"policy", r.policy},
            {"upload_status", r.upload_status},
            {"upload", r.upload},
            {"idempotency_key", opt_str(r.idempotency_key)},
            {"request_fingerprint", r.request_fingerprint},
            {"retry_of", opt_str(r.retry_of)}};
  return j;
}

Result<ScanRecord> scan_record_from_json(const Json& j) {
  if (!j.is_object()) return Error::unavailable("scan ledger answer: the record is not an object");
  auto str = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string(); };
  auto opt_s = [&](const char* k) {
    return j.contains(k) && j[k].is_string() ? std::optional<std::string>(j[k].get<std::string>()) : std::nullopt;
  };
  auto opt_i = [&](const char* k) {
    return j.contains(k) && j[k].is_number_integer() ? std::optional<int64_t>(j[k].get<int64_t>()) : std::nullopt;
  };
  auto val = [&](const char* k, Json def) { return j.contains(k) && !j[k].is_null() ? j[k] : def; };
  ScanRecord r;
  r.test_id = str("test_id");
  if (r.test_id.empty() || !j.contains("request") || !j["request"].is_object())
    return Error::unavailable("scan ledger answer: the record has no test_id or request");
  r.request = ScanRequest::from_json(j["request"]);
  r.status = str("status");
  r.created_ms = opt_i("created_ms").value_or(0);
  r.started_ms = opt_i("started_ms");
  r.completed_ms = opt_i("completed_ms");
  r.artifacts = val("artifacts", Json::object());
  r.warnings = val("warnings", Json::array());
  r.errors = val("errors", Json::array());
  r.manifest_digest = opt_s("manifest_digest");
  r.manifest_metadata = val("manifest_metadata", nullptr);
  r.source = val("source", nullptr);
  r.tools = val("tools", Json::array());
  r.policy = val("policy", nullptr);
  r.upload_status = str("upload_status");
  if (r.upload_status.empty()) r.upload_status = "pending";
  r.upload = val("upload", Json::object());
  r.idempotency_key = opt_s("idempotency_key");
  r.request_fingerprint = str("request_fingerprint");
  r.retry_of = opt_s("retry_of");
  return r;
}

}  // namespace secplat::assurance
