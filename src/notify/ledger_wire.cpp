#include "notify/ledger_wire.h"

#include <functional>
#include <map>
#include <string>

#include "http/json_body.h"

namespace secplat::notify {
namespace {

Error field_error(std::string_view key, std::string msg) { return Error::invalid({"body", std::string(key)}, std::move(msg)); }

// Field readers over http/json_body.h (422 at ["body", key]): required, or "" / 0 when absent.
Result<std::string> str(const Json& b, std::string_view key, bool required = true) {
  if (required) return http::req_string(b, key);
  auto v = http::opt_string(b, key);
  if (!v.ok()) return std::move(v).take_error();
  return v->value_or(std::string());
}

Result<int64_t> num(const Json& b, std::string_view key, bool required = true) {
  if (required) return http::req_int(b, key);
  auto v = http::opt_int(b, key);
  if (!v.ok()) return std::move(v).take_error();
  return v->value_or(0);
}

Result<DeliveryRecord> record_from_json(const Json& b) {
  DeliveryRecord r;
  SECPLAT_TRY_ASSIGN(event_id, str(b, "event_id"));
  SECPLAT_TRY_ASSIGN(event_type, str(b, "event_type"));
  SECPLAT_TRY_ASSIGN(dedupe_key, str(b, "dedupe_key"));
  SECPLAT_TRY_ASSIGN(channel, str(b, "channel"));
  SECPLAT_TRY_ASSIGN(status, str(b, "status"));
  SECPLAT_TRY_ASSIGN(attempts, num(b, "attempts", false));
  SECPLAT_TRY_ASSIGN(http_status, num(b, "http_status", false));
  SECPLAT_TRY_ASSIGN(error, str(b, "error", false));
  SECPLAT_TRY_ASSIGN(remote_id, str(b, "remote_id", false));
  SECPLAT_TRY_ASSIGN(asset_key, str(b, "asset_key", false));
  SECPLAT_TRY_ASSIGN(summary, str(b, "summary", false));
  if (event_id.empty()) return field_error("event_id", "must not be empty");
  if (channel.empty()) return field_error("channel", "must not be empty");
  if (status.empty()) return field_error("status", "must not be empty");
  if (attempts < 0 || attempts > 1) return field_error("attempts", "must be 0 or 1");
  r.event_id = std::move(event_id);
  r.event_type = std::move(event_type);
  r.dedupe_key = std::move(dedupe_key);
  r.channel = std::move(channel);
  r.status = std::move(status);
  r.attempts = attempts;
  r.http_status = http_status;
  r.error = std::move(error);
  r.remote_id = std::move(remote_id);
  r.asset_key = std::move(asset_key);
  r.summary = std::move(summary);
  return r;
}

Json opt_str(const std::optional<std::string>& v) { return v ? Json(*v) : Json(nullptr); }

using Op = std::function<Result<Json>(DeliveryLedger&, const Json&)>;

const std::map<std::string, Op, std::less<>>& ops() {
  static const std::map<std::string, Op, std::less<>> table = {
      {"status",
       [](DeliveryLedger& l, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(event_id, str(b, "event_id"));
         SECPLAT_TRY_ASSIGN(channel, str(b, "channel"));
         auto s = l.status_of(event_id, channel);
         if (!s.ok()) return std::move(s).take_error();
         return Json{{"status", opt_str(*s)}};
       }},
      {"duplicate",
       [](DeliveryLedger& l, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(asset_key, str(b, "asset_key", false));
         SECPLAT_TRY_ASSIGN(channel, str(b, "channel"));
         SECPLAT_TRY_ASSIGN(event_id, str(b, "event_id"));
         SECPLAT_TRY_ASSIGN(dedupe_key, str(b, "dedupe_key"));
         SECPLAT_TRY_ASSIGN(since_ms, num(b, "since_ms"));
         auto d = l.sent_duplicate(asset_key, channel, event_id, dedupe_key, since_ms);
         if (!d.ok()) return std::move(d).take_error();
         return Json{{"duplicate", *d}};
       }},
      {"record",
       [](DeliveryLedger& l, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(rec, record_from_json(b));
         SECPLAT_TRY_ASSIGN(now_ms, num(b, "now_ms"));
         SECPLAT_TRY(l.record(rec, now_ms));
         return Json{{"ok", true}};
       }},
      {"claim",
       [](DeliveryLedger& l, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(rec, record_from_json(b));
         SECPLAT_TRY_ASSIGN(now_ms, num(b, "now_ms"));
         auto c = l.claim(rec, now_ms);
         if (!c.ok()) return std::move(c).take_error();
         return Json{{"created", *c}};
       }},
      {"give-up",
       [](DeliveryLedger& l, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(event_id, str(b, "event_id"));
         SECPLAT_TRY_ASSIGN(now_ms, num(b, "now_ms"));
         SECPLAT_TRY(l.give_up(event_id, now_ms));
         return Json{{"ok", true}};
       }},
      {"remote-id",
       [](DeliveryLedger& l, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(channel, str(b, "channel"));
         SECPLAT_TRY_ASSIGN(incident_id, str(b, "incident_id"));
         auto r = l.remote_id_for(channel, incident_id);
         if (!r.ok()) return std::move(r).take_error();
         return Json{{"remote_id", opt_str(*r)}};
       }},
      {"digest-release",
       [](DeliveryLedger& l, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(stale_before_ms, num(b, "stale_before_ms"));
         SECPLAT_TRY_ASSIGN(now_ms, num(b, "now_ms"));
         SECPLAT_TRY(l.release_stale_digests(stale_before_ms, now_ms));
         return Json{{"ok", true}};
       }},
      {"digest-held",
       [](DeliveryLedger& l, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(channel, str(b, "channel"));
         auto h = l.has_held(channel);
         if (!h.ok()) return std::move(h).take_error();
         return Json{{"held", *h}};
       }},
      {"digest-claim",
       [](DeliveryLedger& l, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(channel, str(b, "channel"));
         SECPLAT_TRY_ASSIGN(digest_id, str(b, "digest_id"));
         SECPLAT_TRY_ASSIGN(now_ms, num(b, "now_ms"));
         if (digest_id.empty()) return field_error("digest_id", "must not be empty");
         auto held = l.claim_digest(channel, digest_id, now_ms);
         if (!held.ok()) return std::move(held).take_error();
         Json items = Json::array();
         for (const auto& h : *held) items.push_back({{"event_id", h.event_id}, {"summary", h.summary}});
         return Json{{"items", std::move(items)}};
       }},
      {"digest-finish",
       [](DeliveryLedger& l, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(channel, str(b, "channel"));
         SECPLAT_TRY_ASSIGN(digest_id, str(b, "digest_id"));
         SECPLAT_TRY_ASSIGN(status, str(b, "status"));
         SECPLAT_TRY_ASSIGN(http_status, num(b, "http_status", false));
         SECPLAT_TRY_ASSIGN(error, str(b, "error", false));
         SECPLAT_TRY_ASSIGN(now_ms, num(b, "now_ms"));
         if (status != "sent_in_digest" && status != "digest_pending" && status != "failed")
           return field_error("status", "must be sent_in_digest, digest_pending or failed");
         SECPLAT_TRY(l.finish_digest(channel, digest_id, status, http_status, error, now_ms));
         return Json{{"ok", true}};
       }},
      {"reminders-due",
       [](DeliveryLedger& l, const Json& b) -> Result<Json> {
         SECPLAT_TRY_ASSIGN(horizon_ms, num(b, "horizon_ms"));
         SECPLAT_TRY_ASSIGN(due_ms, num(b, "due_ms"));
         auto due = l.reminders_due(horizon_ms, due_ms);
         if (!due.ok()) return std::move(due).take_error();
         Json items = Json::array();
         for (const auto& d : *due)
           items.push_back({{"dedupe_key", d.dedupe_key}, {"channel", d.channel}, {"asset_key", d.asset_key},
                            {"summary", d.summary}, {"last_ms", d.last_ms}});
         return Json{{"items", std::move(items)}};
       }},
      {"list",
       [](DeliveryLedger& l, const Json& b) -> Result<Json> {
         DeliveryFilter f;
         SECPLAT_TRY_ASSIGN(channel, str(b, "channel", false));
         SECPLAT_TRY_ASSIGN(status, str(b, "status", false));
         SECPLAT_TRY_ASSIGN(event_id, str(b, "event_id", false));
         if (!channel.empty()) f.channel = channel;
         if (!status.empty()) f.status = status;
         if (!event_id.empty()) f.event_id = event_id;
         SECPLAT_TRY_ASSIGN(limit, num(b, "limit", false));
         SECPLAT_TRY_ASSIGN(offset, num(b, "offset", false));
         f.limit = b.contains("limit") ? limit : 100;
         f.offset = offset;
         auto page = l.list(f);
         if (!page.ok()) return std::move(page).take_error();
         Json items = Json::array();
         for (const auto& d : page->items)
           items.push_back({{"id", d.id}, {"event_id", d.event_id}, {"event_type", d.event_type},
                            {"dedupe_key", d.dedupe_key}, {"channel", d.channel}, {"status", d.status},
                            {"attempts", d.attempts}, {"http_status", d.http_status}, {"error", d.error},
                            {"remote_id", d.remote_id}, {"created_ms", d.created_ms}, {"updated_ms", d.updated_ms}});
         return Json{{"items", std::move(items)}, {"total", page->total}};
       }},
  };
  return table;
}

Result<Json> items_of(const Json& answer) {
  if (!answer.is_object() || !answer.contains("items") || !answer["items"].is_array())
    return Error::unavailable("notify ledger answer without items");
  return answer["items"];
}

std::string s_of(const Json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
int64_t i_of(const Json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

}  // namespace

const std::vector<std::string_view>& ledger_ops() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> v;
    for (const auto& [k, _] : ops()) v.push_back(k);
    return v;
  }();
  return names;
}

Result<Json> serve_ledger_op(DeliveryLedger& ledger, std::string_view op, const Json& body) {
  auto it = ops().find(op);
  if (it == ops().end()) return Error::not_found("unknown notify ledger operation: " + std::string(op));
  if (!body.is_object()) return Error::invalid({"body"}, "Input should be a JSON object");
  return it->second(ledger, body);
}

Json record_to_json(const DeliveryRecord& r, int64_t now_ms) {
  return {{"event_id", r.event_id},   {"event_type", r.event_type}, {"dedupe_key", r.dedupe_key},
          {"channel", r.channel},     {"status", r.status},         {"attempts", r.attempts},
          {"http_status", r.http_status}, {"error", r.error},       {"remote_id", r.remote_id},
          {"asset_key", r.asset_key}, {"summary", r.summary},       {"now_ms", now_ms}};
}

Json filter_to_json(const DeliveryFilter& f) {
  return {{"channel", opt_str(f.channel)}, {"status", opt_str(f.status)}, {"event_id", opt_str(f.event_id)},
          {"limit", f.limit}, {"offset", f.offset}};
}

Result<std::vector<HeldMessage>> held_from_json(const Json& answer) {
  auto items = items_of(answer);
  if (!items.ok()) return std::move(items).take_error();
  std::vector<HeldMessage> out;
  for (const auto& j : *items) out.push_back({s_of(j, "event_id"), s_of(j, "summary")});
  return out;
}

Result<std::vector<ReminderDue>> reminders_from_json(const Json& answer) {
  auto items = items_of(answer);
  if (!items.ok()) return std::move(items).take_error();
  std::vector<ReminderDue> out;
  for (const auto& j : *items)
    out.push_back({s_of(j, "dedupe_key"), s_of(j, "channel"), s_of(j, "asset_key"), s_of(j, "summary"),
                   i_of(j, "last_ms")});
  return out;
}

Result<DeliveryPage> page_from_json(const Json& answer) {
  auto items = items_of(answer);
  if (!items.ok()) return std::move(items).take_error();
  DeliveryPage page;
  page.total = i_of(answer, "total");
  for (const auto& j : *items) {
    Delivery d;
    d.id = s_of(j, "id");
    d.event_id = s_of(j, "event_id");
    d.event_type = s_of(j, "event_type");
    d.dedupe_key = s_of(j, "dedupe_key");
    d.channel = s_of(j, "channel");
    d.status = s_of(j, "status");
    d.attempts = i_of(j, "attempts");
    d.http_status = i_of(j, "http_status");
    d.error = s_of(j, "error");
    d.remote_id = s_of(j, "remote_id");
    d.created_ms = i_of(j, "created_ms");
    d.updated_ms = i_of(j, "updated_ms");
    page.items.push_back(std::move(d));
  }
  return page;
}

#undef LEDGER_TRY_ASSIGN

}  // namespace secplat::notify
