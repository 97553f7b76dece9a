// The notify/ channel adapters against tests/notify/receiver.py (real HTTP and SMTP on loopback):
// each wire format as the receiver recorded it, the ok / retryable / permanent classification,
// Retry-After, secrets kept out of error texts; plus the token bucket, Retry-After parsing and
// backoff, and the NotifyConfig keys.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "core/clock.h"
#include "core/config.h"
#include "core/encoding.h"
#include "core/json.h"
#include "notify/channels.h"
#include "notify/rate_limiter.h"
#include "notify/receiver.h"

namespace secplat::notify {
namespace {

namespace fs = std::filesystem;
using Receiver = secplat::testing::NotifyReceiver;

// A port nothing listens on (bound, then released).
int dead_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

std::string form_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') out += ' ';
    else if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else out += s[i];
  }
  return out;
}

std::map<std::string, std::string> parse_form(const std::string& body) {
  std::map<std::string, std::string> out;
  std::size_t pos = 0;
  while (pos <= body.size()) {
    auto amp = body.find('&', pos);
    std::string kv = body.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    auto eq = kv.find('=');
    out[form_decode(kv.substr(0, eq))] = eq == std::string::npos ? "" : form_decode(kv.substr(eq + 1));
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return out;
}

constexpr const char* kSlackPath = "/slack/T0001/B0002/SlackPathSecret9xQ";
constexpr const char* kWebhookSecret = "whsec-Top-Secret-123";
constexpr const char* kTwilioToken = "twilio-auth-token-abc987";
constexpr const char* kJiraToken = "jira-api-token-zz42";
constexpr const char* kSmtpPassword = "smtp-pass-Qw3";

Notification sample() {
  Notification n;
  n.event_type = "incident.opened";
  n.severity = "high";
  n.title = "Web down";
  n.text = "web-1 stopped answering <http> probes & is down";
  n.asset_key = "web-1";
  n.incident_key = "INC-7";
  n.status = "firing";
  n.link = "https://secplat.example/incidents/7";
  n.fields = {{"region", "eu-west"}};
  n.dedupe_key = "incident:7:opened";
  return n;
}

class NotifyChannels : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { receiver_ = new Receiver(); }
  static void TearDownTestSuite() {
    delete receiver_;
    receiver_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(receiver_->ok()) << "tests/notify/receiver.py did not start";
    receiver_->reset();
  }
  static ChannelOptions fast() {
    ChannelOptions o;
    o.timeout_ms = 3000;
    o.connect_timeout_ms = 2000;
    return o;
  }
  static Receiver* receiver_;
};
Receiver* NotifyChannels::receiver_ = nullptr;

TEST_F(NotifyChannels, SlackPostsTextAndBlocksAsJson) {
  SlackChannel slack(receiver_->url() + kSlackPath, fast());
  const DeliveryResult d = slack.send(sample());
  ASSERT_TRUE(d.ok) << d.error;
  EXPECT_EQ(d.http_status, 200);

  const auto reqs = receiver_->requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0]["method"], "POST");
  EXPECT_EQ(reqs[0]["path"], kSlackPath);
  EXPECT_EQ(reqs[0]["headers"]["content-type"].get<std::string>().rfind("application/json", 0), 0u);
  const Json body = Json::parse(reqs[0]["body"].get<std::string>());
  EXPECT_EQ(body["text"], "[HIGH] Web down");
  ASSERT_TRUE(body["blocks"].is_array());
  EXPECT_EQ(body["blocks"][0]["type"], "header");
  EXPECT_EQ(body["blocks"][0]["text"]["text"], "[HIGH] Web down");
  EXPECT_EQ(body["blocks"][1]["text"]["type"], "mrkdwn");
  EXPECT_EQ(body["blocks"][1]["text"]["text"], "web-1 stopped answering &lt;http&gt; probes &amp; is down");
  const std::string all = body["blocks"].dump();
  EXPECT_NE(all.find("*Asset*\\nweb-1"), std::string::npos);
  EXPECT_NE(all.find("*region*\\neu-west"), std::string::npos);
  EXPECT_NE(all.find("<https://secplat.example/incidents/7|Open in SecPlat>"), std::string::npos);
}

TEST_F(NotifyChannels, WebhookSignsTimestampDotBody) {
  ManualClock clock(1700000000123);
  ChannelOptions o = fast();
  o.clock = &clock;
  WebhookChannel hook(receiver_->url() + "/hook/in", kWebhookSecret, o);
  const DeliveryResult d = hook.send(sample());
  ASSERT_TRUE(d.ok) << d.error;

  const auto reqs = receiver_->requests();
  ASSERT_EQ(reqs.size(), 1u);
  const auto& h = reqs[0]["headers"];
  const std::string body = reqs[0]["body"];
  EXPECT_EQ(h["x-secplat-timestamp"], "1700000000");
  EXPECT_EQ(h["x-secplat-signature"],
            "sha256=" + hex_encode(hmac_sha256(kWebhookSecret, std::string("1700000000.") + body)));
  const Json j = Json::parse(body);
  EXPECT_EQ(j["event_type"], "incident.opened");
  EXPECT_EQ(j["severity"], "high");
  EXPECT_EQ(j["incident_key"], "INC-7");
  EXPECT_EQ(j["status"], "firing");
  EXPECT_EQ(j["dedupe_key"], "incident:7:opened");
  EXPECT_EQ(j["fields"]["region"], "eu-west");
}

TEST_F(NotifyChannels, TwilioPostsFormWithBasicAuthAndReturnsSid) {
  TwilioChannel tw({receiver_->url(), "AC0123", kTwilioToken, "whatsapp:+15550000001", "whatsapp:+15550000002"}, fast());
  const DeliveryResult d = tw.send(sample());
  ASSERT_TRUE(d.ok) << d.error;
  EXPECT_EQ(d.http_status, 201);
  EXPECT_EQ(d.remote_id.rfind("SM", 0), 0u);

  const auto reqs = receiver_->requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0]["path"], "/2010-04-01/Accounts/AC0123/Messages.json");
  EXPECT_EQ(reqs[0]["headers"]["content-type"], "application/x-www-form-urlencoded");
  EXPECT_EQ(reqs[0]["headers"]["authorization"], "Basic " + base64_encode(std::string("AC0123:") + kTwilioToken));
  auto form = parse_form(reqs[0]["body"]);
  EXPECT_EQ(form["To"], "whatsapp:+15550000002");
  EXPECT_EQ(form["From"], "whatsapp:+15550000001");
  EXPECT_EQ(form["Body"], "[HIGH] Web down\nweb-1 stopped answering <http> probes & is down\n"
                          "https://secplat.example/incidents/7");
}

TEST_F(NotifyChannels, JiraCreatesCommentsAndResolves) {
  JiraChannel jira({receiver_->url(), "bot@example.com", kJiraToken, "SEC"}, fast());
  const DeliveryResult created = jira.send(sample());
  ASSERT_TRUE(created.ok) << created.error;
  const std::string key = created.remote_id;
  ASSERT_EQ(key.rfind("SEC-", 0), 0u);
  const DeliveryResult commented = jira.comment(key, "Still down after 10 minutes");
  ASSERT_TRUE(commented.ok) << commented.error;
  const DeliveryResult resolved = jira.transition_resolved(key);
  ASSERT_TRUE(resolved.ok) << resolved.error;

  const auto reqs = receiver_->requests();
  ASSERT_EQ(reqs.size(), 4u);
  const std::string issue = "/rest/api/2/issue/" + key;
  EXPECT_EQ(reqs[0]["method"].get<std::string>() + " " + reqs[0]["path"].get<std::string>(), "POST /rest/api/2/issue");
  EXPECT_EQ(reqs[1]["method"].get<std::string>() + " " + reqs[1]["path"].get<std::string>(), "POST " + issue + "/comment");
  EXPECT_EQ(reqs[2]["method"].get<std::string>() + " " + reqs[2]["path"].get<std::string>(), "GET " + issue + "/transitions");
  EXPECT_EQ(reqs[3]["method"].get<std::string>() + " " + reqs[3]["path"].get<std::string>(), "POST " + issue + "/transitions");
  for (const auto& r : reqs)
    EXPECT_EQ(r["headers"]["authorization"], "Basic " + base64_encode(std::string("bot@example.com:") + kJiraToken));

  const Json f = Json::parse(reqs[0]["body"].get<std::string>())["fields"];
  EXPECT_EQ(f["project"]["key"], "SEC");
  EXPECT_EQ(f["summary"], "[HIGH] Web down");
  EXPECT_EQ(f["issuetype"]["name"], "Bug");
  EXPECT_EQ(f["labels"], Json::array({"INC-7"}));
  EXPECT_NE(f["description"].get<std::string>().find("Asset: web-1"), std::string::npos);
  EXPECT_EQ(Json::parse(reqs[1]["body"].get<std::string>())["body"], "Still down after 10 minutes");
  EXPECT_EQ(Json::parse(reqs[3]["body"].get<std::string>())["transition"]["id"], "31");  // "Done"
}

TEST_F(NotifyChannels, JiraWithoutResolvingTransitionFailsPermanently) {
  receiver_->plan(Json::array({{{"status", 200}, {"body", R"({"transitions":[{"id":"11","name":"To Do"}]})"}}}));
  JiraChannel jira({receiver_->url(), "bot@example.com", kJiraToken, "SEC"}, fast());
  const DeliveryResult d = jira.transition_resolved("SEC-9");
  EXPECT_FALSE(d.ok);
  EXPECT_FALSE(d.retryable);
  EXPECT_EQ(receiver_->requests().size(), 1u);  // no transition was posted
}

TEST_F(NotifyChannels, EmailIsDeliveredOverSmtpWithHeaders) {
  EmailSettings s;
  s.smtp_url = receiver_->smtp_url();
  s.to = {"oncall@example.com", "sec@example.com"};
  EmailChannel mail(s, fast());
  const DeliveryResult d = mail.send(sample());
  ASSERT_TRUE(d.ok) << d.error;

  const auto mails = receiver_->mails();
  ASSERT_EQ(mails.size(), 1u);
  EXPECT_EQ(mails[0]["mail_from"], "<secplat@localhost>");
  EXPECT_EQ(mails[0]["rcpt_to"], Json::array({"<oncall@example.com>", "<sec@example.com>"}));
  const std::string data = mails[0]["data"];
  EXPECT_NE(data.find("Subject: [HIGH] Web down\r\n"), std::string::npos) << data;
  EXPECT_NE(data.find("From: SecPlat <secplat@localhost>\r\n"), std::string::npos);
  EXPECT_NE(data.find("To: oncall@example.com, sec@example.com\r\n"), std::string::npos);
  EXPECT_EQ(data.rfind("Date: ", 0), 0u) << data;
  EXPECT_NE(data.find("\r\nMessage-ID: <"), std::string::npos);
  const auto blank = data.find("\r\n\r\n");
  ASSERT_NE(blank, std::string::npos);
  EXPECT_NE(data.find("web-1 stopped answering <http> probes & is down", blank), std::string::npos);
}

TEST_F(NotifyChannels, TooManyRequestsIsRetryableWithRetryAfter) {
  receiver_->plan(Json::array({{{"status", 429}, {"headers", {{"Retry-After", "7"}}}, {"body", "rate_limited"}}}));
  SlackChannel slack(receiver_->url() + kSlackPath, fast());
  const DeliveryResult d = slack.send(sample());
  EXPECT_FALSE(d.ok);
  EXPECT_TRUE(d.retryable);
  EXPECT_EQ(d.http_status, 429);
  EXPECT_EQ(d.retry_after_ms, 7000);
}

TEST_F(NotifyChannels, ServerErrorIsRetryable) {
  receiver_->plan(Json::array({{{"status", 500}, {"body", "boom"}}}));
  WebhookChannel hook(receiver_->url() + "/hook", kWebhookSecret, fast());
  const DeliveryResult d = hook.send(sample());
  EXPECT_FALSE(d.ok);
  EXPECT_TRUE(d.retryable);
  EXPECT_EQ(d.http_status, 500);
  EXPECT_EQ(d.retry_after_ms, -1);
}

TEST_F(NotifyChannels, BadRequestIsPermanent) {
  receiver_->plan(Json::array({{{"status", 400}, {"body", "invalid_payload"}}}));
  SlackChannel slack(receiver_->url() + kSlackPath, fast());
  const DeliveryResult d = slack.send(sample());
  EXPECT_FALSE(d.ok);
  EXPECT_FALSE(d.retryable);
  EXPECT_EQ(d.http_status, 400);
  EXPECT_NE(d.error.find("invalid_payload"), std::string::npos);
}

TEST_F(NotifyChannels, HangingServerIsRetryableTimeout) {
  receiver_->plan(Json::array({{{"status", 200}, {"hang_ms", 2500}}}));
  ChannelOptions o = fast();
  o.timeout_ms = 300;
  WebhookChannel hook(receiver_->url() + "/hook", "", o);
  const DeliveryResult d = hook.send(sample());
  EXPECT_FALSE(d.ok);
  EXPECT_TRUE(d.retryable);
  EXPECT_EQ(d.http_status, 0);
}

TEST_F(NotifyChannels, ReceiverDownIsRetryableTransportErrorWithoutWaiting) {
  const std::string down = "http://127.0.0.1:" + std::to_string(dead_port());
  ChannelOptions o;
  o.connect_timeout_ms = 10000;  // a refused connection must not wait for this
  const auto t0 = std::chrono::steady_clock::now();
  const DeliveryResult d = SlackChannel(down + kSlackPath, o).send(sample());
  EmailSettings s;
  s.smtp_url = "smtp://127.0.0.1:" + std::to_string(dead_port());
  s.to = {"oncall@example.com"};
  const DeliveryResult m = EmailChannel(s, o).send(sample());
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_FALSE(d.ok);
  EXPECT_TRUE(d.retryable);
  EXPECT_EQ(d.http_status, 0);
  EXPECT_FALSE(m.ok);
  EXPECT_TRUE(m.retryable);
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST_F(NotifyChannels, SecretsNeverAppearInErrors) {
  const std::string down = "http://127.0.0.1:" + std::to_string(dead_port());
  std::vector<DeliveryResult> results;
  // Servers that echo the credentials back in their error bodies.
  receiver_->plan(Json::array({{{"status", 404}, {"body", std::string("no hook at ") + kSlackPath}},
                               {{"status", 401}, {"body", std::string("bad token ") + kTwilioToken}},
                               {{"status", 400}, {"body", std::string("bad token ") + kJiraToken}},
                               {{"status", 503}, {"body", std::string("secret was ") + kWebhookSecret}}}));
  results.push_back(SlackChannel(receiver_->url() + kSlackPath, fast()).send(sample()));
  results.push_back(TwilioChannel({receiver_->url(), "AC1", kTwilioToken, "+1555", "+1666"}, fast()).send(sample()));
  results.push_back(JiraChannel({receiver_->url(), "bot@example.com", kJiraToken, "SEC"}, fast()).send(sample()));
  results.push_back(WebhookChannel(receiver_->url() + "/hook", kWebhookSecret, fast()).send(sample()));
  // Transport errors.
  results.push_back(SlackChannel(down + kSlackPath, fast()).send(sample()));
  results.push_back(TwilioChannel({down, "AC1", kTwilioToken, "+1555", "+1666"}, fast()).send(sample()));
  results.push_back(JiraChannel({down, "bot@example.com", kJiraToken, "SEC"}, fast()).transition_resolved("SEC-1"));
  EmailSettings s;
  s.smtp_url = "smtp://alerts:" + std::string(kSmtpPassword) + "@127.0.0.1:" + std::to_string(dead_port());
  s.to = {"oncall@example.com"};
  results.push_back(EmailChannel(s, fast()).send(sample()));

  ASSERT_EQ(results.size(), 8u);
  // The echoed bodies were shown, with the credential masked.
  EXPECT_NE(results[1].error.find("bad token [redacted]"), std::string::npos) << results[1].error;
  EXPECT_NE(results[2].error.find("bad token [redacted]"), std::string::npos) << results[2].error;
  for (const auto& r : results) {
    EXPECT_FALSE(r.ok);
    EXPECT_FALSE(r.error.empty());
    for (const char* secret : {"SlackPathSecret9xQ", kTwilioToken, kJiraToken, kWebhookSecret, kSmtpPassword})
      EXPECT_EQ(r.error.find(secret), std::string::npos) << r.error;
  }
}

TEST(NotifyFactory, OneChannelPerCompleteConfiguration) {
  EXPECT_TRUE(make_channels(NotifyConfig{}).empty());

  NotifyConfig c;
  c.slack_webhook_url = "https://hooks.slack.com/services/x";
  c.twilio_account_sid = "AC1";
  c.twilio_auth_token = "t";
  c.twilio_from = "+1";  // twilio.to missing → no Twilio channel
  c.smtp_url = "smtp://127.0.0.1:25";
  c.alert_email_to = "a@example.com, b@example.com";
  std::vector<std::string> kinds;
  for (const auto& ch : make_channels(c)) kinds.push_back(ch->kind());
  EXPECT_EQ(kinds, (std::vector<std::string>{"slack", "email"}));

  c.twilio_to = "+2";
  c.webhook_url = "https://example.com/hook";
  c.jira_base_url = "https://jira.example.com";
  c.jira_email = "e";
  c.jira_api_token = "t";
  c.jira_project_key = "SEC";
  kinds.clear();
  for (const auto& ch : make_channels(c)) kinds.push_back(ch->kind());
  EXPECT_EQ(kinds, (std::vector<std::string>{"slack", "webhook", "twilio", "jira", "email"}));
}

TEST(NotifyConfigKeys, ReadFromContractEnvironmentNames) {
  const std::map<std::string, std::string> env = {
      {"SECPLAT_SLACK_WEBHOOK_URL", "s"},     {"SECPLAT_WEBHOOK_URL", "w"},        {"SECPLAT_WEBHOOK_SECRET", "ws"},
      {"SECPLAT_TWILIO_BASE_URL", "tb"},      {"SECPLAT_TWILIO_ACCOUNT_SID", "ts"}, {"SECPLAT_TWILIO_AUTH_TOKEN", "tt"},
      {"SECPLAT_TWILIO_FROM", "tf"},          {"SECPLAT_TWILIO_TO", "to"},         {"SECPLAT_JIRA_BASE_URL", "jb"},
      {"SECPLAT_JIRA_EMAIL", "je"},           {"SECPLAT_JIRA_API_TOKEN", "jt"},    {"SECPLAT_JIRA_PROJECT_KEY", "jp"},
      {"SECPLAT_SMTP_URL", "su"},             {"SECPLAT_ALERT_EMAIL_TO", "ae"}};
  auto cfg = load_config("", [&](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    if (it == env.end()) return std::nullopt;
    return it->second;
  }, {});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  const NotifyConfig& n = cfg->notify;
  EXPECT_EQ(n.slack_webhook_url, "s");
  EXPECT_EQ(n.webhook_url, "w");
  EXPECT_EQ(n.webhook_secret, "ws");
  EXPECT_EQ(n.twilio_base_url, "tb");
  EXPECT_EQ(n.twilio_account_sid, "ts");
  EXPECT_EQ(n.twilio_auth_token, "tt");
  EXPECT_EQ(n.twilio_from, "tf");
  EXPECT_EQ(n.twilio_to, "to");
  EXPECT_EQ(n.jira_base_url, "jb");
  EXPECT_EQ(n.jira_email, "je");
  EXPECT_EQ(n.jira_api_token, "jt");
  EXPECT_EQ(n.jira_project_key, "jp");
  EXPECT_EQ(n.smtp_url, "su");
  EXPECT_EQ(n.alert_email_to, "ae");
  EXPECT_EQ(NotifyConfig{}.twilio_base_url, "https://api.twilio.com");
}

TEST(NotifyRateLimiter, TokenBucketAllowsCapacityPerInterval) {
  ManualClock clock(1000000);
  RateLimiter rl(clock, 3, 1000);
  EXPECT_TRUE(rl.try_acquire("slack"));
  EXPECT_TRUE(rl.try_acquire("slack"));
  EXPECT_TRUE(rl.try_acquire("slack"));
  EXPECT_FALSE(rl.try_acquire("slack"));
  EXPECT_TRUE(rl.try_acquire("email"));  // buckets are per channel
  EXPECT_EQ(rl.wait_ms("slack"), 334);   // one token per 333.3 ms
  clock.advance_ms(333);
  EXPECT_FALSE(rl.try_acquire("slack"));
  clock.advance_ms(1);
  EXPECT_TRUE(rl.try_acquire("slack"));
  EXPECT_FALSE(rl.try_acquire("slack"));
  clock.advance_ms(60000);  // a long pause refills to capacity, not beyond
  int granted = 0;
  while (rl.try_acquire("slack")) ++granted;
  EXPECT_EQ(granted, 3);
}

TEST(NotifyRetryAfter, ParsesSecondsAndHttpDates) {
  EXPECT_EQ(parse_retry_after("7", 0), 7000);
  EXPECT_EQ(parse_retry_after(" 120 ", 0), 120000);
  const int64_t date_ms = 784111777000;  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", date_ms - 5000), 5000);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", date_ms + 5000), 0);
  EXPECT_FALSE(parse_retry_after("", 0).has_value());
  EXPECT_FALSE(parse_retry_after("soon", 0).has_value());
  EXPECT_FALSE(parse_retry_after("-3", 0).has_value());
}

TEST(NotifyBackoff, FullJitterGrowsAndStaysWithinCap) {
  std::mt19937_64 rng(42);
  const int64_t base = 100, cap = 5000;
  std::vector<int64_t> max_seen(12, 0);
  for (int attempt = 1; attempt <= 11; ++attempt) {
    const int64_t ceiling = std::min<int64_t>(cap, base << (attempt - 1));
    for (int i = 0; i < 500; ++i) {
      const int64_t d = backoff_ms(attempt, base, cap, rng);
      ASSERT_GE(d, 0);
      ASSERT_LE(d, ceiling) << "attempt " << attempt;
      max_seen[attempt] = std::max(max_seen[attempt], d);
    }
  }
  EXPECT_LT(max_seen[1], max_seen[4]);
  EXPECT_LT(max_seen[4], max_seen[7]);
  EXPECT_GT(max_seen[11], cap / 2);  // capped, but still spread up to the cap
  EXPECT_LE(backoff_ms(200, base, cap, rng), cap);
}

}  // namespace
}  // namespace secplat::notify
