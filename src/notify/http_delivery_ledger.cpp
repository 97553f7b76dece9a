#include "notify/http_delivery_ledger.h"

#include "http/client.h"
#include "notify/ledger_wire.h"

namespace secplat::notify {

HttpDeliveryLedger::HttpDeliveryLedger(std::string api_url, std::string api_key, long timeout_ms)
    : client_("notify ledger", std::move(api_url), std::move(api_key), timeout_ms) {}

Result<Json> HttpDeliveryLedger::op(const char* name, const Json& body) {
  return client_.post(std::string("/internal/notify/") + name, body);
}

namespace {
Status done(Result<Json> r) {
  if (!r.ok()) return std::move(r).take_error();
  return ok_status();
}
Result<bool> flag(Result<Json> r, const char* key) {
  if (!r.ok()) return std::move(r).take_error();
  auto it = r->find(key);
  if (it == r->end() || !it->is_boolean()) return Error::unavailable(std::string("notify ledger answer without ") + key);
  return it->get<bool>();
}
Result<std::optional<std::string>> opt_text(Result<Json> r, const char* key) {
  if (!r.ok()) return std::move(r).take_error();
  auto it = r->find(key);
  if (it == r->end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return Error::unavailable(std::string("notify ledger answer: ") + key + " is not a string");
  return std::optional<std::string>(it->get<std::string>());
}
}  // namespace

Result<std::optional<std::string>> HttpDeliveryLedger::status_of(const std::string& event_id,
                                                                 const std::string& channel) {
  return opt_text(op("status", {{"event_id", event_id}, {"channel", channel}}), "status");
}

Result<bool> HttpDeliveryLedger::sent_duplicate(const std::string& asset_key, const std::string& channel,
                                                const std::string& event_id, const std::string& dedupe_key,
                                                int64_t since_ms) {
  return flag(op("duplicate", {{"asset_key", asset_key}, {"channel", channel}, {"event_id", event_id},
                               {"dedupe_key", dedupe_key}, {"since_ms", since_ms}}),
              "duplicate");
}

Status HttpDeliveryLedger::record(const DeliveryRecord& r, int64_t now_ms) {
  return done(op("record", record_to_json(r, now_ms)));
}

Result<bool> HttpDeliveryLedger::claim(const DeliveryRecord& r, int64_t now_ms) {
  return flag(op("claim", record_to_json(r, now_ms)), "created");
}

Status HttpDeliveryLedger::give_up(const std::string& event_id, int64_t now_ms) {
  return done(op("give-up", {{"event_id", event_id}, {"now_ms", now_ms}}));
}

Result<std::optional<std::string>> HttpDeliveryLedger::remote_id_for(const std::string& channel,
                                                                     const std::string& incident_id) {
  return opt_text(op("remote-id", {{"channel", channel}, {"incident_id", incident_id}}), "remote_id");
}

Status HttpDeliveryLedger::release_stale_digests(int64_t stale_before_ms, int64_t now_ms) {
  return done(op("digest-release", {{"stale_before_ms", stale_before_ms}, {"now_ms", now_ms}}));
}

Result<bool> HttpDeliveryLedger::has_held(const std::string& channel) {
  return flag(op("digest-held", {{"channel", channel}}), "held");
}

Result<std::vector<HeldMessage>> HttpDeliveryLedger::claim_digest(const std::string& channel,
                                                                  const std::string& digest_id, int64_t now_ms) {
  auto r = op("digest-claim", {{"channel", channel}, {"digest_id", digest_id}, {"now_ms", now_ms}});
  if (!r.ok()) return std::move(r).take_error();
  return held_from_json(*r);
}

Status HttpDeliveryLedger::finish_digest(const std::string& channel, const std::string& digest_id,
                                         const std::string& status, int64_t http_status, const std::string& error,
                                         int64_t now_ms) {
  return done(op("digest-finish", {{"channel", channel}, {"digest_id", digest_id}, {"status", status},
                                   {"http_status", http_status}, {"error", error}, {"now_ms", now_ms}}));
}

Result<std::vector<ReminderDue>> HttpDeliveryLedger::reminders_due(int64_t horizon_ms, int64_t due_ms) {
  auto r = op("reminders-due", {{"horizon_ms", horizon_ms}, {"due_ms", due_ms}});
  if (!r.ok()) return std::move(r).take_error();
  return reminders_from_json(*r);
}

Result<DeliveryPage> HttpDeliveryLedger::list(const DeliveryFilter& filter) {
  auto r = op("list", filter_to_json(filter));
  if (!r.ok()) return std::move(r).take_error();
  return page_from_json(*r);
}

AssetLookup HttpDeliveryLedger::asset_lookup() const {
  return [client = client_](const std::string& key) -> std::optional<AssetMeta> {
    auto r = client.call("GET", "/internal/notify/assets/" + http::percent_encode(key, false));
    if (!r.ok()) return std::nullopt;
    auto s = [&](const char* k) {
      auto it = r->find(k);
      return it != r->end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    return AssetMeta{s("environment"), s("owner"), s("owner_team")};
  };
}

}  // namespace secplat::notify
