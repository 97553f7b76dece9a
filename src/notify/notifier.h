// Notifier: consumes `secplat.events.notify` (group "notifiers") and delivers each notifying event
// to every configured Channel, keeping one record per (event, channel) in its DeliveryLedger
// (delivery_ledger.h: the store's `notify_deliveries`, or the API's over HTTP).
//
// Which events notify (the correlator has already applied suppression and grouped signals into
// incidents; posture.changed itself no longer notifies, so one outage is one message per channel):
//   * incident.created, incident.updated action "reopened"   firing   ("[HIGH] shop is down")
//   * incident.updated action "resolved"                     resolved ("Resolved: shop is down")
//   * alert.triggered (POST /posture/alert/send)             firing, the reference's one-liner
// Every other event or move is acked without sending. dedupe_key is "incident:<id>:<status>" or
// "alert:<sorted down assets>".
// Jira keeps one issue per incident: the first firing message creates it, a reopen comments, the
// resolve comments and transitions it (a resolve with no issue is recorded `skipped`).
//
// Per message, per channel, in channel order:
//   1. a channel whose record for this event_id is final (sent, failed, suppressed_duplicate,
//      skipped) is skipped: the record is the idempotency key, so a redelivered message never
//      re-sends;
//   2. a delivery `sent` on this channel about the same asset (another event) within
//      dedupe_window_s has the same dedupe_key, and nothing with another key was sent on the channel
//      about the asset at or after it → `suppressed_duplicate`, nothing sent (opened, resolved,
//      reopened always notifies; the same message twice within the window does not);
//   3. no rate-limit token for the channel → `rate_limited` (retryable), nothing sent;
//   4. send; `sent`, `retrying` (retryable failure) or `failed` (permanent); attempts += 1.
// If any channel is left retryable, the message goes back with Queue::retry() (the queue's backoff;
// it dead-letters after its max attempts, and then the retryable records become `failed`).
// Otherwise the message is acked. A malformed message (no event_type or event_id, payload not a
// JSON object, an incident event without incident_id, an alert without down_assets) is
// dead-lettered at once with the reason.
//
// Two events with the same dedupe_key handled at the same moment on two threads may both send
// (the dedupe check and the send are not one transaction); one thread never double-sends.
//
// Threading: handle() and list() are thread-safe. start() runs `threads` workers, each reading
// the stream as its own consumer; stop() waits for them (at most one read's block_ms plus the
// sends in flight). Sends block, so never call handle() on an I/O thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/metrics.h"
#include "notify/channel.h"
#include "notify/delivery_ledger.h"
#include "notify/rate_limiter.h"
#include "notify/routing.h"
#include "queue/queue.h"

namespace secplat::notify {

struct NotifierOptions {
  std::string stream = "secplat.events.notify";
  std::string group = "notifiers";
  std::string consumer = "notifier";  // workers are "<consumer>-<n>"
  int64_t dedupe_window_s = 300;
  int64_t rate_limit = 30;                // sends per channel per interval
  int64_t rate_interval_ms = 60000;
  // A message a channel has no token for is held for that channel's next digest (one message listing
  // everything held) instead of being retried on its own; false = retried through the queue. Jira
  // never digests (one issue per incident).
  bool digest = true;
  int digest_max_lines = 20;              // lines listed in one digest; the rest are counted
  // An incident still firing this long after the last message about it gets a reminder (0 = never).
  int64_t reminder_after_s = 4 * 3600;
  int64_t max_retry_after_ms = 3600 * 1000;  // a server's Retry-After is honoured up to this
  Metrics* metrics = nullptr;             // secplat_notify_deliveries_total{channel,outcome}
  // Routing (routing.h): empty = every channel gets every notification. asset_lookup gives the
  // environment and owner of a notification's asset for rules that ask (unset = unknown).
  std::vector<RouteRule> routes;
  AssetLookup asset_lookup;
  int read_count = 10;
  int64_t read_block_ms = 1000;
};

class Notifier {
 public:
  // ledger, queue and clock must outlive the Notifier.
  Notifier(DeliveryLedger& ledger, queue::Queue& queue, std::vector<std::unique_ptr<Channel>> channels,
           NotifierOptions options, const Clock& clock);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Creates the consumer group and starts the workers. Errc::conflict if already started.
  Status start(int threads = 1);
  // Stops and joins the workers. Idempotent.
  void stop();

  // Processes one message read from the stream by this group: sends, records, then acks, retries
  // or dead-letters it. An error means a store or queue failure (the message was handed back
  // with retry() when possible, else it is reclaimed after the visibility timeout).
  Status handle(const queue::Message& msg);

  Result<DeliveryPage> list(const DeliveryFilter& filter);

  // Housekeeping the workers run about once a second (public for tests): sends each channel's digest
  // of held messages when it has a token, and reminders for incidents still firing after
  // reminder_after_s. Safe with any number of notifier processes (rows are claimed before sending).
  Status flush_digests();
  Status send_reminders();

  // The remote id (Jira issue key) the channel returned for an incident's first delivered
  // message, if any.
  Result<std::optional<std::string>> remote_id_for(const std::string& channel, const std::string& incident_id);

 private:
  // One attempt on one channel; nullopt = nothing to send on this channel (a Jira resolve for an
  // incident that never got an issue).
  Result<std::optional<DeliveryResult>> deliver(Channel& ch, const Notification& n, const std::string& incident_id);
  void run(const std::string& consumer);
  void count(const std::string& channel, const std::string& outcome, double n = 1.0);
  void honour_retry_after(const std::string& channel, const DeliveryResult& d);

  DeliveryLedger& ledger_;
  queue::Queue& queue_;
  std::vector<std::unique_ptr<Channel>> channels_;
  NotifierOptions opt_;
  const Clock& clock_;
  RateLimiter limiter_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;
};

}  // namespace secplat::notify
