#include "assurance/http_scan_ledger.h"

#include "assurance/scan_ledger_wire.h"

namespace secplat::assurance {

HttpScanLedger::HttpScanLedger(std::string api_url, std::string api_key, long timeout_ms)
    : client_("scan ledger", std::move(api_url), std::move(api_key), timeout_ms) {}

Result<Json> HttpScanLedger::op(const char* name, const Json& body) const {
  return client_.post(std::string("/internal/scans/") + name, body);
}

namespace {
Result<bool> flag(Result<Json> r, const char* key) {
  if (!r.ok()) return std::move(r).take_error();
  auto it = r->find(key);
  if (it == r->end() || !it->is_boolean()) return Error::unavailable(std::string("scan ledger answer without ") + key);
  return it->get<bool>();
}
}  // namespace

Result<std::optional<ScanRecord>> HttpScanLedger::get(const std::string& test_id) {
  auto r = op("get", {{"test_id", test_id}});
  if (!r.ok()) return std::move(r).take_error();
  auto it = r->find("record");
  if (it == r->end()) return Error::unavailable("scan ledger answer without record");
  if (it->is_null()) return std::optional<ScanRecord>();
  auto rec = scan_record_from_json(*it);
  if (!rec.ok()) return std::move(rec).take_error();
  return std::optional<ScanRecord>(std::move(*rec));
}

Result<ScanLedger::Claim> HttpScanLedger::claim(const std::string& test_id, const std::string& owner,
                                                int64_t lease_ms) {
  auto r = op("claim", {{"test_id", test_id}, {"owner", owner}, {"lease_ms", lease_ms}});
  if (!r.ok()) return std::move(r).take_error();
  return claim_from_json(*r);
}

Result<bool> HttpScanLedger::renew_lease(const std::string& test_id, const std::string& owner, int64_t lease_ms) {
  return flag(op("renew", {{"test_id", test_id}, {"owner", owner}, {"lease_ms", lease_ms}}), "held");
}

Result<bool> HttpScanLedger::finish(const std::string& test_id, const ScanResult& result,
                                    const std::optional<std::string>& owner) {
  Json body = {{"test_id", test_id}, {"result", scan_result_to_json(result)}};
  if (owner) body["owner"] = *owner;
  return flag(op("finish", body), "finished");
}

Result<bool> HttpScanLedger::fail_undeliverable(const std::string& test_id, const std::string& error) {
  return flag(op("fail-undeliverable", {{"test_id", test_id}, {"error", error}}), "failed");
}

Result<std::vector<std::string>> HttpScanLedger::fail_interrupted() {
  return Error::forbidden("a worker without database credentials does not recover scans (leases hand them over)");
}

Result<std::optional<std::string>> HttpScanLedger::status_of(const std::string& test_id) {
  auto r = op("status", {{"test_id", test_id}});
  if (!r.ok()) return std::move(r).take_error();
  auto it = r->find("status");
  if (it == r->end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return Error::unavailable("scan ledger answer: status is not a string");
  return std::optional<std::string>(it->get<std::string>());
}

Result<bool> HttpScanLedger::set_upload(const std::string& test_id, const std::string& from, const std::string& to,
                                        const Json& upload) {
  return flag(op("set-upload", {{"test_id", test_id}, {"from", from}, {"to", to}, {"upload", upload}}), "moved");
}

Status HttpScanLedger::append_event(const std::string& test_id, int64_t seq, const std::string& type, int64_t ts_ms,
                                    const std::string& json) {
  auto r = op("append-event", {{"test_id", test_id}, {"seq", seq}, {"type", type}, {"ts_ms", ts_ms}, {"event", json}});
  if (!r.ok()) return std::move(r).take_error();
  return ok_status();
}

Result<std::vector<StoredEvent>> HttpScanLedger::events_after(const std::string& test_id, int64_t after_seq) {
  auto r = op("events", {{"test_id", test_id}, {"after_seq", after_seq}});
  if (!r.ok()) return std::move(r).take_error();
  auto it = r->find("events");
  if (it == r->end() || !it->is_array()) return Error::unavailable("scan ledger answer without events");
  std::vector<StoredEvent> out;
  out.reserve(it->size());
  for (const auto& e : *it) {
    if (!e.is_object() || !e.contains("seq") || !e["seq"].is_number_integer() || !e.contains("type") ||
        !e["type"].is_string() || !e.contains("event") || !e["event"].is_string())
      return Error::unavailable("scan ledger answer: malformed event");
    out.push_back({e["seq"].get<int64_t>(), e["type"].get<std::string>(), e["event"].get<std::string>()});
  }
  return out;
}

Result<std::optional<StoredEvent>> HttpScanLedger::last_event(const std::string& test_id) {
  auto r = op("last-event", {{"test_id", test_id}});
  if (!r.ok()) return std::move(r).take_error();
  auto it = r->find("event");
  if (it == r->end() || it->is_null()) return std::optional<StoredEvent>();
  if (!it->is_object() || !it->contains("seq") || !(*it)["seq"].is_number_integer() || !it->contains("type") ||
      !(*it)["type"].is_string())
    return Error::unavailable("scan ledger answer: malformed event");
  return std::optional<StoredEvent>(StoredEvent{(*it)["seq"].get<int64_t>(), (*it)["type"].get<std::string>(), {}});
}

SarifImporter HttpScanLedger::sarif_importer() const {
  return [this](const std::string& component_id, const Json& sarif, const std::string& tool,
                const std::string& test_id) -> Status {
    auto r = op("import-sarif", {{"component_id", component_id}, {"tool", tool}, {"test_id", test_id}, {"sarif", sarif}});
    if (!r.ok()) return std::move(r).take_error();
    return ok_status();
  };
}

}  // namespace secplat::assurance
