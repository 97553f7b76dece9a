// The Channel adapters (notify/channel.h). Each holds its configuration by value and no other
// state, so every method is thread-safe. Wire formats:
//
//   SlackChannel    POST <webhook_url>, JSON {"text": fallback, "blocks": [header, section, fields,
//                   context]}; Slack answers 200 "ok".
//   WebhookChannel  POST <url>, JSON of the Notification (webhook_json()), with
//                   X-SecPlat-Timestamp: <unix seconds> and
//                   X-SecPlat-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//                   (no signature header when the secret is empty).
//   TwilioChannel   POST <base>/2010-04-01/Accounts/<sid>/Messages.json, form To, From, Body; basic
//                   auth sid:token; "whatsapp:+..." numbers pass through; remote_id = reply "sid".
//   JiraChannel     POST <base>/rest/api/2/issue (project.key, summary, description, issuetype
//                   Bug for critical/high else Task, labels [incident_key]); basic auth
//                   email:api_token; remote_id = reply "key". comment() and transition_resolved()
//                   follow an issue up.
//   EmailChannel    SMTP through libcurl to smtp(s)://[user:pass@]host:port; one RFC 5322 text
//                   message with Subject, From, To, Date and Message-ID to every recipient.
#pragma once

#include <string>
#include <vector>

#include "core/clock.h"
#include "notify/channel.h"

namespace secplat::notify {

struct ChannelOptions {
  long timeout_ms = 10000;         // whole request
  long connect_timeout_ms = 5000;
  const Clock* clock = nullptr;    // timestamps and HTTP-date Retry-After; nullptr = system clock
};

// The JSON body the generic webhook receives (all Notification members, `fields` as an object).
std::string webhook_json(const Notification& n);

class SlackChannel final : public Channel {
 public:
  SlackChannel(std::string webhook_url, ChannelOptions options = {});
  std::string kind() const override { return "slack"; }
  std::string name() const override { return "slack"; }
  DeliveryResult send(const Notification& n) override;

 private:
  std::string url_;
  ChannelOptions opt_;
};

class WebhookChannel final : public Channel {
 public:
  WebhookChannel(std::string url, std::string secret, ChannelOptions options = {});
  std::string kind() const override { return "webhook"; }
  std::string name() const override { return "webhook"; }
  DeliveryResult send(const Notification& n) override;

 private:
  std::string url_;
  std::string secret_;
  ChannelOptions opt_;
};

struct TwilioSettings {
  std::string base_url = "https://api.twilio.com";
  std::string account_sid;
  std::string auth_token;
  std::string from;
  std::string to;
};

class TwilioChannel final : public Channel {
 public:
  TwilioChannel(TwilioSettings settings, ChannelOptions options = {});
  std::string kind() const override { return "twilio"; }
  std::string name() const override { return "twilio"; }
  DeliveryResult send(const Notification& n) override;

 private:
  TwilioSettings s_;
  ChannelOptions opt_;
};

struct JiraSettings {
  std::string base_url;
  std::string email;
  std::string api_token;
  std::string project_key;
};

class JiraChannel final : public Channel {
 public:
  JiraChannel(JiraSettings settings, ChannelOptions options = {});
  std::string kind() const override { return "jira"; }
  std::string name() const override { return "jira"; }
  // Creates an issue; remote_id is its key (e.g. "SEC-12").
  DeliveryResult send(const Notification& n) override;
  // Adds a plain-text comment to an existing issue.
  DeliveryResult comment(const std::string& issue_key, const std::string& text);
  // Moves the issue through the first available transition named Done, Resolved or Closed
  // (case-insensitive, in that order of preference). No such transition → permanent failure.
  DeliveryResult transition_resolved(const std::string& issue_key);

 private:
  JiraSettings s_;
  ChannelOptions opt_;
};

struct EmailSettings {
  std::string smtp_url;                     // smtp://host:port, credentials allowed in userinfo
  std::string from = "secplat@localhost";   // envelope and header From
  std::vector<std::string> to;
};

class EmailChannel final : public Channel {
 public:
  EmailChannel(EmailSettings settings, ChannelOptions options = {});
  std::string kind() const override { return "email"; }
  std::string name() const override { return "email"; }
  DeliveryResult send(const Notification& n) override;

 private:
  EmailSettings s_;
  ChannelOptions opt_;
};

}  // namespace secplat::notify
