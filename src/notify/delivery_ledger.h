// DeliveryLedger: the notifier's records of what it sent (table `notify_deliveries`), behind a port
// so a notifier process can run without database credentials.
//
// Adapters: SqlDeliveryLedger (sql_delivery_ledger.h, on the store; `serve` and the API) and
// HttpDeliveryLedger (http_delivery_ledger.h, the API's /internal/notify/... routes with a
// service API key; the `notifier` role process when notify.api_url is set). Both pass
// tests/notify/notifier_test.cpp, which runs the whole notifier over each.
//
// One record per (event_id, channel): that pair is the idempotency key of a delivery. Every
// operation is one atomic step on the records (a claim is a conditional insert or update), so any
// number of notifier processes may share one ledger.
//
// Threading: implementations are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"

namespace secplat::notify {

// One row of notify_deliveries, as listed.
struct Delivery {
  std::string id;
  std::string event_id;
  std::string event_type;
  std::string dedupe_key;
  std::string channel;
  // sent | failed | retrying | suppressed_duplicate | rate_limited | skipped | digest_pending |
  // sent_in_digest (remote_id = the digest's id) | sending (a reminder being sent)
  std::string status;
  int64_t attempts = 0;  // send attempts made (suppressed and rate-limited passes do not count)
  int64_t http_status = 0;  // of the last attempt; 0 when none
  std::string error;        // of the last attempt; never holds a secret
  std::string remote_id;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
};

struct DeliveryFilter {
  std::optional<std::string> channel;
  std::optional<std::string> status;
  std::optional<std::string> event_id;
  int64_t limit = 100;
  int64_t offset = 0;
};

struct DeliveryPage {
  std::vector<Delivery> items;  // newest first (created_ms DESC, id DESC)
  int64_t total = 0;            // rows matching the filter, ignoring limit/offset
};

// What the notifier writes about one (event, channel).
struct DeliveryRecord {
  std::string event_id;
  std::string event_type;
  std::string dedupe_key;
  std::string channel;
  std::string status;
  int64_t attempts = 0;     // added to the record's count
  int64_t http_status = 0;
  std::string error;
  std::string remote_id;
  std::string asset_key;
  std::string summary;      // "[HIGH] shop is down": a digest's line, a reminder's title
};

// A message held for a channel's digest.
struct HeldMessage {
  std::string event_id;
  std::string summary;
};

// The latest firing message about an incident on a channel, old enough for a reminder and with no
// resolve or close recorded on that channel since.
struct ReminderDue {
  std::string dedupe_key;  // "incident:<id>:firing"
  std::string channel;
  std::string asset_key;
  std::string summary;
  int64_t last_ms = 0;
};

class DeliveryLedger {
 public:
  virtual ~DeliveryLedger() = default;

  // The status recorded for (event_id, channel), nullopt when none.
  virtual Result<std::optional<std::string>> status_of(const std::string& event_id, const std::string& channel) = 0;
  // Whether a delivery `sent` on the channel about the asset at or after since_ms, for another event,
  // has this dedupe_key with nothing of another key sent on the channel about the asset at or after it.
  virtual Result<bool> sent_duplicate(const std::string& asset_key, const std::string& channel,
                                      const std::string& event_id, const std::string& dedupe_key,
                                      int64_t since_ms) = 0;
  // Creates or updates the record of (event_id, channel): status, http_status, error and remote_id
  // are replaced, attempts added.
  virtual Status record(const DeliveryRecord& r, int64_t now_ms) = 0;
  // Creates the record unless (event_id, channel) has one; true when this call created it.
  virtual Result<bool> claim(const DeliveryRecord& r, int64_t now_ms) = 0;
  // The queue gave up on the event: its `retrying` and `rate_limited` records become `failed`.
  virtual Status give_up(const std::string& event_id, int64_t now_ms) = 0;
  // The remote id (Jira issue key) of the first message sent on the channel about the incident.
  virtual Result<std::optional<std::string>> remote_id_for(const std::string& channel,
                                                           const std::string& incident_id) = 0;

  // Digests. Held rows claimed longer ago than stale_before_ms by a process that died go back.
  virtual Status release_stale_digests(int64_t stale_before_ms, int64_t now_ms) = 0;
  virtual Result<bool> has_held(const std::string& channel) = 0;
  // Claims every held row of the channel under digest_id; the rows claimed, oldest first (empty
  // when another notifier took them).
  virtual Result<std::vector<HeldMessage>> claim_digest(const std::string& channel, const std::string& digest_id,
                                                        int64_t now_ms) = 0;
  // Ends a claimed digest: status `sent_in_digest` (remote_id = digest id), `digest_pending` (held
  // again) or `failed`; one attempt added to each row.
  virtual Status finish_digest(const std::string& channel, const std::string& digest_id, const std::string& status,
                               int64_t http_status, const std::string& error, int64_t now_ms) = 0;

  // Incidents whose latest firing message (sent at or after horizon_ms) is at or before due_ms.
  virtual Result<std::vector<ReminderDue>> reminders_due(int64_t horizon_ms, int64_t due_ms) = 0;

  virtual Result<DeliveryPage> list(const DeliveryFilter& filter) = 0;
};

}  // namespace secplat::notify
