#include "notify/notifier.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <set>
#include <string_view>

#include "core/ids.h"
#include "core/json.h"
#include "core/log.h"
#include "notify/channels.h"

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

// The digest's one line per held message, and the reminder's title.
constexpr const char* kSummarySql =
    "ALTER TABLE notify_deliveries ADD COLUMN summary TEXT NOT NULL DEFAULT '';"
    "CREATE INDEX notify_deliveries_channel_status ON notify_deliveries (channel, status)";

bool is_final(const std::string& status) {
  return status == "sent" || status == "failed" || status == "suppressed_duplicate" || status == "skipped" ||
         status == "digest_pending" || status == "sent_in_digest";
}

// "[HIGH] shop is down" / "Resolved: shop is down": what a person sees first.
std::string summary_of(const Notification& n) {
  std::string sev = n.severity;
  for (auto& c : sev) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return n.status == "resolved" ? "Resolved: " + n.title : "[" + sev + "] " + n.title;
}

std::string str_field(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string number_text(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return {};
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  return it->is_string() ? it->get<std::string>() : std::string();
}

// The notification an incident event calls for, or nullopt when it does not notify: an incident
// that opens (incident.created) or reopens notifies as firing, one that resolves as resolved;
// other moves (triaged, contained, closed) do not notify.
std::optional<Notification> incident_notification(const std::string& event_type, const Json& p,
                                                  const std::string& severity) {
  const std::string action = event_type == "incident.created" ? "created" : str_field(p, "action");
  const bool firing = action == "created" || action == "reopened";
  const bool resolved = action == "resolved";
  if (!firing && !resolved) return std::nullopt;
  const std::string id = number_text(p, "incident_id");
  if (id.empty()) return std::nullopt;
  const std::string title = str_field(p, "title");
  Notification n;
  n.event_type = event_type;
  n.severity = severity.empty() ? str_field(p, "severity") : severity;
  if (n.severity.empty()) n.severity = "medium";
  n.asset_key = str_field(p, "asset_key");
  n.incident_key = str_field(p, "incident_key");
  n.status = firing ? "firing" : "resolved";
  n.title = title;  // channels add "[SEVERITY] " and, when resolved, "Resolved: "
  if (action == "reopened") n.title += " (reopened)";
  n.text = "Incident #" + id + (firing ? (action == "reopened" ? " reopened: " : " opened: ") : " resolved: ") + title + ".";
  if (firing) {
    n.text += " Severity " + n.severity + ".";
    if (const std::string due = str_field(p, "sla_due_at"); !due.empty()) n.text += " SLA due " + due + ".";
  }
  n.fields["incident"] = "#" + id;
  n.fields["severity"] = n.severity;
  n.fields["status"] = str_field(p, "status");
  if (const std::string c = str_field(p, "category"); !c.empty()) n.fields["category"] = c;
  if (!n.asset_key.empty()) n.fields["asset"] = n.asset_key;
  n.dedupe_key = "incident:" + id + ":" + n.status;
  return n;
}

// A manual alert (POST /posture/alert/send): the reference's one-line message about the down
// assets; the same set of assets within the dedupe window is sent once.
std::optional<Notification> alert_notification(const Json& p, const std::string& flat) {
  Json list = p.contains("down_assets") ? p["down_assets"] : Json::parse(flat, nullptr, false);
  if (!list.is_array() || list.empty()) return std::nullopt;
  std::vector<std::string> assets;
  for (const auto& v : list)
    if (v.is_string() && !v.get<std::string>().empty()) assets.push_back(v.get<std::string>());
  if (assets.empty()) return std::nullopt;
  std::sort(assets.begin(), assets.end());
  assets.erase(std::unique(assets.begin(), assets.end()), assets.end());
  std::string joined;
  for (const auto& a : assets) joined += (joined.empty() ? "" : ", ") + a;
  Notification n;
  n.event_type = "alert.triggered";
  n.severity = "high";
  n.status = "firing";
  n.title = "SecPlat alert: " + std::to_string(assets.size()) + " asset(s) down: " + joined;
  n.text = n.title;
  n.incident_key = str_field(p, "incident_key");
  n.fields["down_assets"] = joined;
  n.dedupe_key = "alert:" + joined;
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
  return {{800, "notify_deliveries", kDeliveriesSql, kDeliveriesSql},
          {801, "notify_deliveries_summary", kSummarySql, kSummarySql}};
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

void Notifier::count(const std::string& channel, const std::string& outcome, double n) {
  if (!opt_.metrics) return;
  opt_.metrics
      ->counter("secplat_notify_deliveries_total", "Notification delivery records written, by channel and outcome",
                {{"channel", channel}, {"outcome", outcome}})
      .inc(n);
}

void Notifier::honour_retry_after(const std::string& channel, const DeliveryResult& d) {
  if (d.ok || !d.retryable || d.retry_after_ms < 0) return;
  const int64_t wait = std::min(d.retry_after_ms, opt_.max_retry_after_ms);
  limiter_.hold(channel, clock_.now_ms() + wait);
  log::info("notify channel paused by Retry-After", {log::str("channel", channel), log::integer("wait_ms", wait)});
}

Status Notifier::flush_digests() {
  const int64_t now = clock_.now_ms();
  // A digest claimed by a process that died before sending goes back to the pool.
  SECPLAT_TRY(db_.exec("UPDATE notify_deliveries SET status = 'digest_pending', error = '', updated_at = $1 "
                       "WHERE status = 'digest_sending' AND updated_at < $2",
                       {now, now - 5 * 60 * 1000}));
  for (const auto& ch : channels_) {
    const std::string name = ch->name();
    auto held = db_.query(
        "SELECT 1 AS hit FROM notify_deliveries WHERE channel = $1 AND status = 'digest_pending' LIMIT 1", {name});
    if (!held.ok()) return std::move(held).take_error();
    if (held->empty() || !limiter_.try_acquire(name)) continue;
    // Claim every held row for this channel under one id, then send one message about them.
    const std::string digest_id = "digest-" + new_uuid();
    SECPLAT_TRY(db_.exec("UPDATE notify_deliveries SET status = 'digest_sending', error = $2, updated_at = $3 "
                         "WHERE channel = $1 AND status = 'digest_pending'",
                         {name, digest_id, now}));
    auto rows = db_.query(
        "SELECT summary, event_id FROM notify_deliveries WHERE channel = $1 AND status = 'digest_sending' AND error = $2 "
        "ORDER BY created_at, id",
        {name, digest_id});
    if (!rows.ok()) return std::move(rows).take_error();
    if (rows->empty()) continue;  // another notifier took them first
    const std::size_t n = rows->size();
    Notification d;
    d.event_type = "notify.digest";  // no severity: each line carries its own
    d.status = "firing";
    d.dedupe_key = digest_id;
    d.title = n == 1 ? (*rows)[0].str("summary")
                     : "SecPlat digest: " + std::to_string(n) + " notifications held back by the rate limit";
    const std::size_t max_lines = static_cast<std::size_t>(std::max(1, opt_.digest_max_lines));
    for (std::size_t i = 0; i < n && i < max_lines; ++i)
      d.text += (d.text.empty() ? "" : "\n") + std::string("- ") + (*rows)[i].str("summary");
    if (n > max_lines)
      d.text += "\n… and " + std::to_string(n - max_lines) +
                " more (GET /notifications?status=sent_in_digest)";
    d.fields["held"] = std::to_string(n);
    const DeliveryResult r = ch->send(d);
    honour_retry_after(name, r);
    const std::string status = r.ok ? "sent_in_digest" : r.retryable ? "digest_pending" : "failed";
    SECPLAT_TRY(db_.exec(
        "UPDATE notify_deliveries SET status = $1, attempts = attempts + 1, http_status = $2, error = $3, "
        "remote_id = $4, updated_at = $5 WHERE channel = $6 AND status = 'digest_sending' AND error = $7",
        {status, int64_t{r.http_status}, r.ok ? std::string() : r.error, r.ok ? digest_id : std::string(),
         clock_.now_ms(), name, digest_id}));
    count(name, status, static_cast<double>(n));
    if (r.ok)
      log::info("notification digest sent", {log::str("channel", name), log::integer("held", static_cast<int64_t>(n))});
    else
      log::warn("notification digest not delivered",
                {log::str("channel", name), log::str("status", status), log::str("error", r.error)});
  }
  return ok_status();
}

Status Notifier::send_reminders() {
  if (opt_.reminder_after_s <= 0) return ok_status();
  const int64_t now = clock_.now_ms();
  const int64_t due = now - opt_.reminder_after_s * 1000;
  // The latest firing message per incident and channel, old enough for a reminder (only recent
  // history is scanned: a reminder is itself a firing row, so a live incident always has one).
  const int64_t horizon = now - std::max<int64_t>(7 * 24 * 3600, 2 * opt_.reminder_after_s) * 1000;
  auto rows = db_.query(
      "SELECT dedupe_key, channel, MAX(created_at) AS last_ms FROM notify_deliveries "
      "WHERE dedupe_key LIKE 'incident:%:firing' AND status IN ('sent', 'sent_in_digest') AND created_at >= $1 "
      "GROUP BY dedupe_key, channel HAVING MAX(created_at) <= $2",
      {horizon, due});
  if (!rows.ok()) return std::move(rows).take_error();
  for (const auto& r : *rows) {
    const std::string key = r.str("dedupe_key"), name = r.str("channel");
    const int64_t last = r.i64("last_ms");
    Channel* ch = nullptr;
    for (const auto& c : channels_)
      if (c->name() == name) ch = c.get();
    if (!ch || dynamic_cast<JiraChannel*>(ch)) continue;  // Jira: the open issue is the reminder
    const std::string base = key.substr(0, key.size() - std::string_view(":firing").size());
    auto ended = db_.query(
        "SELECT 1 AS hit FROM notify_deliveries WHERE channel = $1 AND dedupe_key IN ($2, $3) AND created_at >= $4 "
        "LIMIT 1",
        {name, base + ":resolved", base + ":closed", last});
    if (!ended.ok()) return std::move(ended).take_error();
    if (!ended->empty()) continue;
    auto latest = db_.query(
        "SELECT summary, asset_key, event_id FROM notify_deliveries WHERE channel = $1 AND dedupe_key = $2 AND "
        "created_at = $3 ORDER BY id LIMIT 1",
        {name, key, last});
    if (!latest.ok()) return std::move(latest).take_error();
    if (latest->empty()) continue;
    std::string summary = (*latest)[0].str("summary");
    if (summary.starts_with("Reminder: ")) summary = summary.substr(10);
    // One reminder per incident, channel and reminder period, whichever notifier gets there first;
    // a failed one is tried again in the next period.
    const std::string event_id = "reminder:" + base + ":" + std::to_string(now / (opt_.reminder_after_s * 1000));
    if (!limiter_.try_acquire(name)) continue;  // next pass
    // Claim first: with several notifiers, the unique (event_id, channel) lets one of them send it.
    auto claimed = db_.exec(
        "INSERT INTO notify_deliveries (id, event_id, event_type, dedupe_key, channel, status, created_at, updated_at, "
        "asset_key, summary) VALUES ($1, $2, 'incident.reminder', $3, $4, 'sending', $5, $5, $6, $7) "
        "ON CONFLICT (event_id, channel) DO NOTHING",
        {new_uuid(), event_id, key, name, now, (*latest)[0].str("asset_key"), "Reminder: " + summary});
    if (!claimed.ok()) return std::move(claimed).take_error();
    if (*claimed == 0) continue;
    Notification n;
    n.event_type = "incident.reminder";  // the summary already carries the severity
    n.status = "firing";
    n.asset_key = (*latest)[0].str("asset_key");
    n.dedupe_key = key;
    n.title = "Reminder: " + summary;
    n.text = "Still open, no resolution since " + format_rfc3339(last) + ": " + summary;
    const DeliveryResult d = ch->send(n);
    honour_retry_after(name, d);
    const std::string status = d.ok ? "sent" : "failed";
    SECPLAT_TRY(db_.exec("UPDATE notify_deliveries SET status = $1, attempts = 1, http_status = $2, error = $3, "
                         "updated_at = $4 WHERE event_id = $5 AND channel = $6",
                         {status, int64_t{d.http_status}, d.ok ? std::string() : d.error, clock_.now_ms(), event_id,
                          name}));
    count(name, status);
  }
  return ok_status();
}

void Notifier::run(const std::string& consumer) {
  int64_t next_reminders_ms = 0;
  while (!stopping_) {
    if (consumer == opt_.consumer + "-0") {
      // One worker per process does the housekeeping between reads (a read blocks ≤ read_block_ms).
      if (auto st = flush_digests(); !st.ok())
        log::warn("notify digest flush failed", {log::str("error", st.error().message)});
      if (const int64_t now = clock_.now_ms(); now >= next_reminders_ms) {
        next_reminders_ms = now + 60'000;
        if (auto st = send_reminders(); !st.ok())
          log::warn("notify reminders failed", {log::str("error", st.error().message)});
      }
    }
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

  std::optional<Notification> n;
  if (event_type == "incident.created" || event_type == "incident.updated") {
    if (number_text(payload, "incident_id").empty()) return malformed(event_type + " without incident_id");
    n = incident_notification(event_type, payload, field("severity"));
  } else if (event_type == "alert.triggered") {
    n = alert_notification(payload, field("down_assets"));
    if (!n) return malformed("alert.triggered without down_assets");
  }
  // posture.changed and the rest: the correlator turns posture changes into incidents, and the
  // incident events are what notify (so suppression and dedupe by incident come first).
  if (!n) {
    // A closed incident sends nothing, but its reminders stop: one `skipped` row per channel says so.
    if (event_type == "incident.updated" && str_field(payload, "action") == "closed") {
      const std::string id = number_text(payload, "incident_id");
      for (const auto& ch : channels_) {
        auto w = db_.exec(
            "INSERT INTO notify_deliveries (id, event_id, event_type, dedupe_key, channel, status, created_at, "
            "updated_at, asset_key, summary) VALUES ($1, $2, $3, $4, $5, 'skipped', $6, $6, $7, $8) "
            "ON CONFLICT (event_id, channel) DO NOTHING",
            {new_uuid(), event_id, event_type, "incident:" + id + ":closed", ch->name(), clock_.now_ms(),
             str_field(payload, "asset_key"), "Closed: " + str_field(payload, "title")});
        if (!w.ok()) {
          (void)queue_.retry(msg, opt_.group, "notify store: " + w.error().message);
          return std::move(w).take_error();
        }
      }
    }
    return queue_.ack(msg.stream, opt_.group, msg.id);
  }
  const std::string asset_key = n->asset_key;
  const std::string incident_id = number_text(payload, "incident_id");

  // A store failure hands the message back so it is tried again later.
  auto store_failed = [&](Error e) -> Status {
    auto r = queue_.retry(msg, opt_.group, "notify store: " + e.message);
    (void)r;
    return e;
  };
  const std::string summary = summary_of(*n);
  auto record = [&](const Channel& ch, const std::string& status, int64_t attempt, const DeliveryResult* d) {
    const int64_t now = clock_.now_ms();
    auto w = db_.exec(
        "INSERT INTO notify_deliveries (id, event_id, event_type, dedupe_key, channel, status, attempts, http_status, "
        "error, remote_id, created_at, updated_at, asset_key, summary) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
        "$11, $11, $12, $13) "
        "ON CONFLICT (event_id, channel) DO UPDATE SET status = excluded.status, "
        "attempts = notify_deliveries.attempts + excluded.attempts, http_status = excluded.http_status, "
        "error = excluded.error, remote_id = excluded.remote_id, updated_at = excluded.updated_at",
        {new_uuid(), event_id, event_type, n->dedupe_key, ch.name(), status, attempt,
         int64_t{d ? d->http_status : 0}, d ? d->error : std::string(), d ? d->remote_id : std::string(), now,
         asset_key, summary});
    if (w.ok()) count(ch.name(), status);
    return w;
  };

  // Routing rules pick the channels; without rules, all of them.
  std::optional<std::set<std::string>> routed;
  if (!opt_.routes.empty()) {
    std::optional<AssetMeta> meta;
    if (!asset_key.empty() && opt_.asset_lookup) meta = opt_.asset_lookup(asset_key);
    routed = route_channels(opt_.routes, *n, meta);
  }

  std::string retry_error;
  for (const auto& ch : channels_) {
    const std::string name = ch->name();
    if (routed && !routed->count(name)) continue;
    auto prior = db_.query("SELECT status FROM notify_deliveries WHERE event_id = $1 AND channel = $2",
                           {event_id, name});
    if (!prior.ok()) return store_failed(std::move(prior).take_error());
    if (!prior->empty() && is_final((*prior)[0].str("status"))) continue;

    // A duplicate repeats a message this channel got about the asset within the window with nothing
    // different sent since (down, up, down again is news every time; down, down is not). "Since"
    // includes the same millisecond, so a tie never swallows a real change.
    auto dup = db_.query(
        "SELECT 1 AS hit FROM notify_deliveries d WHERE d.asset_key = $1 AND d.channel = $2 AND d.status = 'sent' "
        "AND d.event_id <> $3 AND d.dedupe_key = $4 AND d.created_at >= $5 AND NOT EXISTS (SELECT 1 FROM "
        "notify_deliveries o WHERE o.asset_key = $1 AND o.channel = $2 AND o.status = 'sent' AND "
        "o.dedupe_key <> $4 AND o.created_at >= d.created_at) LIMIT 1",
        {asset_key, name, event_id, n->dedupe_key, clock_.now_ms() - opt_.dedupe_window_s * 1000});
    if (!dup.ok()) return store_failed(std::move(dup).take_error());
    if (!dup->empty()) {
      auto w = record(*ch, "suppressed_duplicate", 0, nullptr);
      if (!w.ok()) return store_failed(std::move(w).take_error());
      continue;
    }

    if (!limiter_.try_acquire(name)) {
      // Over the limit: held for the channel's next digest, or (Jira, digests off) retried later.
      const bool digest = opt_.digest && dynamic_cast<JiraChannel*>(ch.get()) == nullptr;
      auto w = record(*ch, digest ? "digest_pending" : "rate_limited", 0, nullptr);
      if (!w.ok()) return store_failed(std::move(w).take_error());
      if (!digest && retry_error.empty()) retry_error = name + ": rate limited";
      continue;
    }

    auto attempt = deliver(*ch, *n, incident_id);
    if (!attempt.ok()) return store_failed(std::move(attempt).take_error());
    if (!*attempt) {
      auto w = record(*ch, "skipped", 0, nullptr);
      if (!w.ok()) return store_failed(std::move(w).take_error());
      continue;
    }
    const DeliveryResult& d = **attempt;
    honour_retry_after(name, d);
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

Result<std::optional<std::string>> Notifier::remote_id_for(const std::string& channel, const std::string& incident_id) {
  auto rows = db_.query(
      "SELECT remote_id FROM notify_deliveries WHERE channel = $1 AND dedupe_key IN ($2, $3) AND status = 'sent' "
      "AND remote_id <> '' ORDER BY created_at, id LIMIT 1",
      {channel, "incident:" + incident_id + ":firing", "incident:" + incident_id + ":resolved"});
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return std::optional<std::string>();
  return std::optional<std::string>((*rows)[0].str("remote_id"));
}

// Jira follows one issue per incident: the first firing message creates it, a reopen comments on
// it, the resolve comments and transitions it. Every other channel sends each message.
Result<std::optional<DeliveryResult>> Notifier::deliver(Channel& ch, const Notification& n,
                                                        const std::string& incident_id) {
  auto* jira = dynamic_cast<JiraChannel*>(&ch);
  if (!jira || incident_id.empty()) return std::optional<DeliveryResult>(ch.send(n));
  auto issue = remote_id_for(ch.name(), incident_id);
  if (!issue.ok()) return std::move(issue).take_error();
  if (!*issue) {
    if (n.status != "firing") return std::optional<DeliveryResult>();  // nothing was opened to resolve
    return std::optional<DeliveryResult>(ch.send(n));
  }
  DeliveryResult d = jira->comment(**issue, n.title + "\n" + n.text);
  if (d.ok && n.status == "resolved") d = jira->transition_resolved(**issue);
  d.remote_id = **issue;
  return std::optional<DeliveryResult>(d);
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
