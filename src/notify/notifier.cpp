#include "notify/notifier.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <string_view>

#include "core/ids.h"
#include "core/json.h"
#include "core/log.h"

namespace secplat::notify {
namespace {

constexpr const char* kDeliveriesSql =
    "CREATE TABLE notify_deliveries ("
    " id TEXT PRIMARY KEY,"
    " event_id TEXT NOT NULL,"
    " event_type TEXT NOT NULL,"
    " dedupe_key TEXT NOT NULL,"
    " asset_key TEXT NOT NULL DEFAULT '',"
    " channel TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " attempts BIGINT NOT NULL DEFAULT 0,"
    " http_status BIGINT NOT NULL DEFAULT 0,"
    " error TEXT NOT NULL DEFAULT '',"
    " remote_id TEXT NOT NULL DEFAULT '',"
    " created_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL,"
    " UNIQUE (event_id, channel));"
    "CREATE INDEX notify_deliveries_dedupe ON notify_deliveries (asset_key, channel, created_at);"
    "CREATE INDEX notify_deliveries_created ON notify_deliveries (created_at)";

bool is_final(const std::string& status) {
  return status == "sent" || status == "failed" || status == "suppressed_duplicate";
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string str_field(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The notification a posture.changed payload calls for, or nullopt when it does not notify.
std::optional<Notification> posture_notification(const Json& p, const std::string& asset_key,
                                                 const std::string& severity) {
  const std::string change = str_field(p, "change");
  if (!change.empty() && change != "status") return std::nullopt;
  const std::string from = str_field(p, "from"), to = str_field(p, "to");
  const bool firing = to == "down" || to == "red" || str_field(p, "posture_state") == "red";
  const bool resolved = !firing && (to == "up" || to == "green") && (from == "down" || from == "red");
  if (!firing && !resolved) return std::nullopt;

  Notification n;
  n.event_type = "posture.changed";
  n.severity = severity.empty() ? (firing ? "high" : "info") : severity;
  n.asset_key = asset_key;
  n.status = firing ? "firing" : "resolved";
  n.title = asset_key + " is " + upper(to.empty() ? "unhealthy" : to);
  const std::string reason = str_field(p, "reason");
  n.text = "Status changed from " + (from.empty() ? std::string("unknown") : from) + " to " + to + ".";
  if (!reason.empty()) n.text += " Reason: " + reason + ".";
  if (const std::string at = str_field(p, "detected_at"); !at.empty()) n.text += " Detected at " + at + ".";
  n.fields["from"] = from;
  n.fields["to"] = to;
  if (!reason.empty()) n.fields["reason"] = reason;
  if (auto it = p.find("flapping"); it != p.end() && it->is_boolean() && it->get<bool>()) n.fields["flapping"] = "true";
  n.dedupe_key = asset_key + ":" + to;
  return n;
}

Delivery to_delivery(const store::Row& r) {
  Delivery d;
  d.id = r.str("id");
  d.event_id = r.str("event_id");
  d.event_type = r.str("event_type");
  d.dedupe_key = r.str("dedupe_key");
  d.channel = r.str("channel");
  d.status = r.str("status");
  d.attempts = r.i64("attempts");
  d.http_status = r.i64("http_status");
  d.error = r.str("error");
  d.remote_id = r.str("remote_id");
  d.created_ms = r.i64("created_at");
  d.updated_ms = r.i64("updated_at");
  return d;
}

}  // namespace

std::vector<store::Migration> notify_migrations() {
  return {{800, "notify_deliveries", kDeliveriesSql, kDeliveriesSql}};
}

Notifier::Notifier(store::Db& db, queue::Queue& queue, std::vector<std::unique_ptr<Channel>> channels,
                   NotifierOptions options, const Clock& clock)
    : db_(db),
      queue_(queue),
      channels_(std::move(channels)),
      opt_(std::move(options)),
      clock_(clock),
      limiter_(clock, opt_.rate_limit, opt_.rate_interval_ms) {}

Notifier::~Notifier() { stop(); }

Status Notifier::start(int threads) {
  if (!workers_.empty()) return Error::conflict("notifier already started");
  SECPLAT_TRY(queue_.ensure_group(opt_.stream, opt_.group));
  stopping_ = false;
  for (int i = 0; i < std::max(1, threads); ++i)
    workers_.emplace_back([this, name = opt_.consumer + "-" + std::to_string(i)] { run(name); });
  return ok_status();
}

void Notifier::stop() {
  stopping_ = true;
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

void Notifier::run(const std::string& consumer) {
  while (!stopping_) {
    auto msgs = queue_.read(opt_.stream, opt_.group, consumer, opt_.read_count, opt_.read_block_ms);
    if (!msgs.ok()) {
      log::warn("notify read failed", {log::str("stream", opt_.stream), log::str("error", msgs.error().message)});
      // Back off a little so a queue outage does not spin the worker.
      for (int i = 0; i < 10 && !stopping_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    for (const auto& m : *msgs) {
      auto st = handle(m);
      if (!st.ok())
        log::warn("notify message not handled",
                  {log::str("message_id", m.id), log::str("error", st.error().message)});
    }
  }
}

Status Notifier::handle(const queue::Message& msg) {
  auto field = [&](const char* k) {
    auto it = msg.fields.find(k);
    return it == msg.fields.end() ? std::string() : it->second;
  };
  const std::string event_id = field("event_id"), event_type = field("event_type");
  auto malformed = [&](const std::string& why) -> Status {
    log::warn("notify message dead-lettered", {log::str("message_id", msg.id), log::str("error", why)});
    return queue_.dead_letter(msg, opt_.group, "malformed notify event: " + why);
  };
  if (event_type.empty()) return malformed("missing event_type");
  if (event_id.empty()) return malformed("missing event_id");
  const Json payload = Json::parse(field("payload"), nullptr, false);
  if (payload.is_discarded() || !payload.is_object()) return malformed("payload is not a JSON object");

  if (event_type != "posture.changed") return queue_.ack(msg.stream, opt_.group, msg.id);
  const std::string asset_key = field("asset_key");
  if (asset_key.empty()) return malformed("posture.changed without asset_key");
  const auto n = posture_notification(payload, asset_key, field("severity"));
  if (!n) return queue_.ack(msg.stream, opt_.group, msg.id);

  // A store failure hands the message back so it is tried again later.
  auto store_failed = [&](Error e) -> Status {
    auto r = queue_.retry(msg, opt_.group, "notify store: " + e.message);
    (void)r;
    return e;
  };
  auto record = [&](const Channel& ch, const std::string& status, int64_t attempt, const DeliveryResult* d) {
    const int64_t now = clock_.now_ms();
    return db_.exec(
        "INSERT INTO notify_deliveries (id, event_id, event_type, dedupe_key, channel, status, attempts, http_status, "
        "error, remote_id, created_at, updated_at, asset_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12) "
        "ON CONFLICT (event_id, channel) DO UPDATE SET status = excluded.status, "
        "attempts = notify_deliveries.attempts + excluded.attempts, http_status = excluded.http_status, "
        "error = excluded.error, remote_id = excluded.remote_id, updated_at = excluded.updated_at",
        {new_uuid(), event_id, event_type, n->dedupe_key, ch.name(), status, attempt,
         int64_t{d ? d->http_status : 0}, d ? d->error : std::string(), d ? d->remote_id : std::string(), now,
         asset_key});
  };

  std::string retry_error;
  for (const auto& ch : channels_) {
    const std::string name = ch->name();
    auto prior = db_.query("SELECT status FROM notify_deliveries WHERE event_id = $1 AND channel = $2",
                           {event_id, name});
    if (!prior.ok()) return store_failed(std::move(prior).take_error());
    if (!prior->empty() && is_final((*prior)[0].str("status"))) continue;

    // A duplicate repeats the last message this channel got about the asset, within the window
    // (down, up, down again is news every time; down, down is not).
    auto last = db_.query(
        "SELECT dedupe_key, created_at FROM notify_deliveries WHERE asset_key = $1 AND channel = $2 AND "
        "status = 'sent' AND event_id <> $3 ORDER BY created_at DESC, id DESC LIMIT 1",
        {asset_key, name, event_id});
    if (!last.ok()) return store_failed(std::move(last).take_error());
    if (!last->empty() && (*last)[0].str("dedupe_key") == n->dedupe_key &&
        (*last)[0].i64("created_at") >= clock_.now_ms() - opt_.dedupe_window_s * 1000) {
      auto w = record(*ch, "suppressed_duplicate", 0, nullptr);
      if (!w.ok()) return store_failed(std::move(w).take_error());
      continue;
    }

    if (!limiter_.try_acquire(name)) {
      auto w = record(*ch, "rate_limited", 0, nullptr);
      if (!w.ok()) return store_failed(std::move(w).take_error());
      if (retry_error.empty()) retry_error = name + ": rate limited";
      continue;
    }

    const DeliveryResult d = ch->send(*n);
    const std::string status = d.ok ? "sent" : d.retryable ? "retrying" : "failed";
    auto w = record(*ch, status, 1, &d);
    if (!w.ok()) return store_failed(std::move(w).take_error());
    if (d.ok) {
      log::info("notification sent", {log::str("event_id", event_id), log::str("channel", name),
                                      log::str("dedupe_key", n->dedupe_key)});
    } else {
      log::warn("notification not delivered", {log::str("event_id", event_id), log::str("channel", name),
                                                log::str("status", status), log::str("error", d.error)});
      if (d.retryable && retry_error.empty()) retry_error = d.error.empty() ? name + ": retryable failure" : d.error;
    }
  }

  if (retry_error.empty()) return queue_.ack(msg.stream, opt_.group, msg.id);
  auto dead = queue_.retry(msg, opt_.group, retry_error);
  if (!dead.ok()) return std::move(dead).take_error();
  if (*dead) {
    // The queue gave up: what was still pending for this event will not be delivered.
    auto w = db_.exec(
        "UPDATE notify_deliveries SET status = 'failed', updated_at = $2 WHERE event_id = $1 "
        "AND status IN ('retrying', 'rate_limited')",
        {event_id, clock_.now_ms()});
    if (!w.ok()) return std::move(w).take_error();
  }
  return ok_status();
}

Result<DeliveryPage> Notifier::list(const DeliveryFilter& filter) {
  std::string where = " WHERE 1 = 1";
  store::Params params;
  auto add = [&](const char* column, const std::optional<std::string>& v) {
    if (!v) return;
    params.push_back(*v);
    where += std::string(" AND ") + column + " = $" + std::to_string(params.size());
  };
  add("channel", filter.channel);
  add("status", filter.status);
  add("event_id", filter.event_id);

  auto total = db_.query("SELECT COUNT(*) AS n FROM notify_deliveries" + where, params);
  if (!total.ok()) return std::move(total).take_error();
  const int64_t limit = std::clamp<int64_t>(filter.limit, 0, 1000);
  const int64_t offset = std::max<int64_t>(filter.offset, 0);
  params.push_back(limit);
  params.push_back(offset);
  auto rows = db_.query("SELECT * FROM notify_deliveries" + where + " ORDER BY created_at DESC, id DESC LIMIT $" +
                            std::to_string(params.size() - 1) + " OFFSET $" + std::to_string(params.size()),
                        params);
  if (!rows.ok()) return std::move(rows).take_error();
  DeliveryPage page;
  page.total = (*total)[0].i64("n");
  for (const auto& r : *rows) page.items.push_back(to_delivery(r));
  return page;
}

}  // namespace secplat::notify
