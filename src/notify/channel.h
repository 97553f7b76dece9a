// Channel: one outbound notification destination (Slack, a generic webhook, Twilio SMS/WhatsApp,
// Jira, email). A Channel turns a Notification into exactly one delivery attempt and says what
// happened; it never retries, sleeps or queues. Retries, rate limits and dedupe belong to the
// notifier loop (notify/rate_limiter.h gives it the pieces).
//
// Classification of an attempt (DeliveryResult):
//   * ok          2xx (SMTP: message accepted).
//   * retryable   429, 5xx, transport failures (connect, TLS, timeout), SMTP 4xx. retry_after_ms
//                 carries the server's Retry-After (seconds or HTTP-date) when it sent one.
//   * permanent   every other answer (other 4xx, SMTP 5xx): retrying will not help.
// Redirects are never followed. DeliveryResult::error names the channel, the host and the status;
// it never contains a URL path (a Slack webhook URL is itself a secret), a token or a password.
//
// Threading: send() (and the Jira extras) may be called from several threads at once on the same
// Channel; each call is one blocking request. Do not call them on an I/O thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"

namespace secplat::notify {

struct Notification {
  std::string event_type;    // incident.opened, incident.resolved, alert.triggered, ...
  std::string severity;      // critical, high, medium, low, info
  std::string title;         // one line
  std::string text;          // plain text body
  std::string asset_key;
  std::string incident_key;
  std::string status;        // firing | resolved
  std::string link;          // URL back into SecPlat, may be empty
  std::map<std::string, std::string> fields;  // extra name/value pairs shown by rich channels
  std::string dedupe_key;    // same key = same logical notification (the notifier dedupes)
};

struct DeliveryResult {
  bool ok = false;
  bool retryable = false;
  long http_status = 0;         // 0 when no HTTP answer (transport error, SMTP)
  int64_t retry_after_ms = -1;  // -1: the server gave no Retry-After
  std::string error;            // empty when ok; never contains secrets
  std::string remote_id;        // Jira issue key, Twilio message SID; else empty
};

class Channel {
 public:
  virtual ~Channel() = default;

  // "slack", "webhook", "twilio", "jira" or "email".
  virtual std::string kind() const = 0;
  // Stable name for logs, metrics and rate-limit buckets (e.g. "slack"); never a secret.
  virtual std::string name() const = 0;

  // One delivery attempt. Blocks for at most the channel's timeout.
  virtual DeliveryResult send(const Notification& n) = 0;
};

// One channel per configured destination, in the order slack, webhook, twilio, jira, email. A
// destination is configured when all of its required keys are non-empty (slack.webhook_url;
// webhook.url; twilio.account_sid+auth_token+from+to; jira.base_url+email+api_token+project_key;
// smtp.url+alert.email_to). None configured → an empty vector.
std::vector<std::unique_ptr<Channel>> make_channels(const NotifyConfig& config);

}  // namespace secplat::notify
