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

}  // namespace

Notifier::Notifier(DeliveryLedger& ledger, queue::Queue& queue, std::vector<std::unique_ptr<Channel>> channels,
                   NotifierOptions options, const Clock& clock)
    : ledger_(ledger),
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
  SECPLAT_TRY(ledger_.release_stale_digests(now - 5 * 60 * 1000, now));
  for (const auto& ch : channels_) {
    const std::string name = ch->name();
    auto held = ledger_.has_held(name);
    if (!held.ok()) return std::move(held).take_error();
    if (!*held || !limiter_.try_acquire(name)) continue;
    // Claim every held row for this channel under one id, then send one message about them.
    const std::string digest_id = "digest-" + new_uuid();
    auto rows = ledger_.claim_digest(name, digest_id, now);
    if (!rows.ok()) return std::move(rows).take_error();
    if (rows->empty()) continue;  // another notifier took them first
    const std::size_t n = rows->size();
    Notification d;
    d.event_type = "notify.digest";  // no severity: each line carries its own
    d.status = "firing";
    d.dedupe_key = digest_id;
    d.title = n == 1 ? (*rows)[0].summary
                     : "SecPlat digest: " + std::to_string(n) + " notifications held back by the rate limit";
    const std::size_t max_lines = static_cast<std::size_t>(std::max(1, opt_.digest_max_lines));
    for (std::size_t i = 0; i < n && i < max_lines; ++i)
      d.text += (d.text.empty() ? "" : "\n") + std::string("- ") + (*rows)[i].summary;
    if (n > max_lines)
      d.text += "\n… and " + std::to_string(n - max_lines) +
                " more (GET /notifications?status=sent_in_digest)";
    d.fields["held"] = std::to_string(n);
    const DeliveryResult r = ch->send(d);
    honour_retry_after(name, r);
    const std::string status = r.ok ? "sent_in_digest" : r.retryable ? "digest_pending" : "failed";
    SECPLAT_TRY(ledger_.finish_digest(name, digest_id, status, int64_t{r.http_status}, r.ok ? std::string() : r.error,
                                      clock_.now_ms()));
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
  // The latest firing message per incident and channel, old enough for a reminder, with no resolve
  // or close since (only recent history is scanned: a reminder is itself a firing row).
  const int64_t horizon = now - std::max<int64_t>(7 * 24 * 3600, 2 * opt_.reminder_after_s) * 1000;
  auto due_rows = ledger_.reminders_due(horizon, due);
  if (!due_rows.ok()) return std::move(due_rows).take_error();
  for (const auto& r : *due_rows) {
    const std::string& key = r.dedupe_key;
    const std::string& name = r.channel;
    const int64_t last = r.last_ms;
    Channel* ch = nullptr;
    for (const auto& c : channels_)
      if (c->name() == name) ch = c.get();
    if (!ch || dynamic_cast<JiraChannel*>(ch)) continue;  // Jira: the open issue is the reminder
    const std::string base = key.substr(0, key.size() - std::string_view(":firing").size());
    std::string summary = r.summary;
    if (summary.starts_with("Reminder: ")) summary = summary.substr(10);
    // One reminder per incident, channel and reminder period, whichever notifier gets there first;
    // a failed one is tried again in the next period.
    const std::string event_id = "reminder:" + base + ":" + std::to_string(now / (opt_.reminder_after_s * 1000));
    if (!limiter_.try_acquire(name)) continue;  // next pass
    // Claim first: with several notifiers, the unique (event_id, channel) lets one of them send it.
    DeliveryRecord rec;
    rec.event_id = event_id;
    rec.event_type = "incident.reminder";
    rec.dedupe_key = key;
    rec.channel = name;
    rec.status = "sending";
    rec.asset_key = r.asset_key;
    rec.summary = "Reminder: " + summary;
    auto claimed = ledger_.claim(rec, now);
    if (!claimed.ok()) return std::move(claimed).take_error();
    if (!*claimed) continue;
    Notification n;
    n.event_type = "incident.reminder";  // the summary already carries the severity
    n.status = "firing";
    n.asset_key = r.asset_key;
    n.dedupe_key = key;
    n.title = "Reminder: " + summary;
    n.text = "Still open, no resolution since " + format_rfc3339(last) + ": " + summary;
    const DeliveryResult d = ch->send(n);
    honour_retry_after(name, d);
    const std::string status = d.ok ? "sent" : "failed";
    rec.status = status;
    rec.attempts = 1;
    rec.http_status = d.http_status;
    rec.error = d.ok ? std::string() : d.error;
    SECPLAT_TRY(ledger_.record(rec, clock_.now_ms()));
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
        DeliveryRecord rec;
        rec.event_id = event_id;
        rec.event_type = event_type;
        rec.dedupe_key = "incident:" + id + ":closed";
        rec.channel = ch->name();
        rec.status = "skipped";
        rec.asset_key = str_field(payload, "asset_key");
        rec.summary = "Closed: " + str_field(payload, "title");
        auto w = ledger_.claim(rec, clock_.now_ms());
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
    DeliveryRecord rec;
    rec.event_id = event_id;
    rec.event_type = event_type;
    rec.dedupe_key = n->dedupe_key;
    rec.channel = ch.name();
    rec.status = status;
    rec.attempts = attempt;
    rec.http_status = d ? d->http_status : 0;
    rec.error = d ? d->error : std::string();
    rec.remote_id = d ? d->remote_id : std::string();
    rec.asset_key = asset_key;
    rec.summary = summary;
    auto w = ledger_.record(rec, clock_.now_ms());
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
    auto prior = ledger_.status_of(event_id, name);
    if (!prior.ok()) return store_failed(std::move(prior).take_error());
    if (*prior && is_final(**prior)) continue;

    // A duplicate repeats a message this channel got about the asset within the window with nothing
    // different sent since (down, up, down again is news every time; down, down is not). "Since"
    // includes the same millisecond, so a tie never swallows a real change.
    auto dup = ledger_.sent_duplicate(asset_key, name, event_id, n->dedupe_key,
                                      clock_.now_ms() - opt_.dedupe_window_s * 1000);
    if (!dup.ok()) return store_failed(std::move(dup).take_error());
    if (*dup) {
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
    SECPLAT_TRY(ledger_.give_up(event_id, clock_.now_ms()));
  }
  return ok_status();
}

Result<std::optional<std::string>> Notifier::remote_id_for(const std::string& channel, const std::string& incident_id) {
  return ledger_.remote_id_for(channel, incident_id);
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

Result<DeliveryPage> Notifier::list(const DeliveryFilter& filter) { return ledger_.list(filter); }

}  // namespace secplat::notify
