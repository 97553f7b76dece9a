// The Notifier on SQLite + the local queue, delivering to tests/notify/receiver.py as a Slack and a
// webhook channel: which events notify, one delivery per (event, channel) however often a message
// is handled, dedupe, retry without re-sending delivered channels, the DLQ, rate limits and list().
//
// The conformance suite of the DeliveryLedger port: every test runs twice, with the notifier on the
// store's ledger (SqlDeliveryLedger) and on the API's (HttpDeliveryLedger → a real http::Server
// serving api::notify_internal_routes over the same store, with a service API key), as a notifier
// process without database credentials runs.
#include "notify/notifier.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <map>
#include <set>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "api/notify_routes.h"
#include "core/ids.h"
#include "core/json.h"
#include "http/client.h"
#include "http/test_server.h"
#include "notify/channels.h"
#include "notify/http_delivery_ledger.h"
#include "notify/sql_delivery_ledger.h"
#include "notify/receiver.h"
#include "queue/envelope.h"
#include "queue/local_queue.h"
#include "store/sqlite_db.h"

namespace secplat::notify {
namespace {

namespace fs = std::filesystem;
using Receiver = secplat::testing::NotifyReceiver;
using secplat::testing::read_jsonl;

constexpr const char* kSlackPath = "/slack/T0001/B0002/SlackPathSecret9xQ";
constexpr const char* kHookPath = "/hook/secplat";
constexpr int kMaxAttempts = 3;

Json answers(int status, int n) {
  Json a = Json::array();
  for (int i = 0; i < n; ++i) a.push_back({{"status", status}});
  return a;
}

class NotifierTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("secplat-notifier-" + random_hex(8));
    fs::create_directories(root_);
    receiver_ = std::make_unique<Receiver>();
    ASSERT_TRUE(receiver_->ok()) << "tests/notify/receiver.py did not start";
    auto db = store::open_sqlite({(root_ / "db.sqlite").string(), 2, 5000});
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(*db);
    ASSERT_TRUE(store::migrate(*db_, queue::local_queue_migrations()).ok());
    ASSERT_TRUE(store::migrate(*db_, notify_migrations()).ok());
    queue::LocalQueueOptions qo;
    qo.retry = {kMaxAttempts, 1000, 1000};
    qo.clock = &clock_;
    auto q = queue::open_local_queue(*db_, qo);
    ASSERT_TRUE(q.ok()) << q.error().message;
    queue_ = std::move(*q);
    ASSERT_TRUE(queue_->ensure_group(kStream, "notifiers").ok());
    sql_ledger_ = std::make_unique<SqlDeliveryLedger>(*db_);
    if (GetParam() == "http") {
      // The API side: the internal routes on the store's ledger; asset lookups answered by whatever
      // the test gives the notifier (server_assets_).
      AssetLookup forward = [this](const std::string& key) -> std::optional<AssetMeta> {
        return server_assets_ ? server_assets_(key) : std::nullopt;
      };
      api_ = std::make_unique<http::testing::TestServer>(api::notify_internal_routes(*sql_ledger_, forward));
      ASSERT_NE(api_->port, 0);
      http_ledger_ = std::make_unique<HttpDeliveryLedger>(api_url(), "service-token");
    }
  }
  std::string api_url() const { return "http://127.0.0.1:" + std::to_string(api_->port); }
  // The ledger the notifier under test records through.
  DeliveryLedger& ledger() { return http_ledger_ ? static_cast<DeliveryLedger&>(*http_ledger_) : *sql_ledger_; }
  void TearDown() override {
    notifier_.reset();
    http_ledger_.reset();
    api_.reset();
    sql_ledger_.reset();
    queue_.reset();
    db_.reset();
    receiver_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  void make_notifier(NotifierOptions o = {}) {
    ChannelOptions co;
    co.timeout_ms = 3000;
    co.connect_timeout_ms = 2000;
    co.clock = &clock_;
    std::vector<std::unique_ptr<Channel>> chans;
    chans.push_back(std::make_unique<SlackChannel>(receiver_->url() + kSlackPath, co));
    chans.push_back(std::make_unique<WebhookChannel>(receiver_->url() + kHookPath, "whsec-x", co));
    if (http_ledger_ && o.asset_lookup) {
      // Over HTTP the lookup is the API's: the test's answers move to the server side.
      server_assets_ = o.asset_lookup;
      o.asset_lookup = http_ledger_->asset_lookup();
    }
    notifier_ = std::make_unique<Notifier>(ledger(), *queue_, std::move(chans), o, clock_);
  }

  // The incident event the correlator would publish for an asset's status change (one incident
  // per asset here): down opens it (or reopens it after a resolve), up resolves it, any other
  // change is a move that does not notify.
  std::string publish_change(const std::string& asset, const std::string& from, const std::string& to,
                             const std::string& /*posture_state*/) {
    auto [it, fresh] = incident_ids_.try_emplace(asset, static_cast<int64_t>(incident_ids_.size() + 1));
    (void)fresh;
    std::string type = "incident.updated", action = "status";
    if (to == "down") {
      const bool reopen = resolved_.count(asset) > 0;
      type = reopen ? "incident.updated" : "incident.created";
      action = reopen ? "reopened" : "created";
    } else if (to == "up" && from == "down") {
      action = "resolved";
      resolved_.insert(asset);
    }
    Json p{{"incident_id", it->second}, {"incident_key", "availability:" + asset + ":1"},
           {"title", asset + " is down"}, {"severity", "high"}, {"status", to == "down" ? "new" : "resolved"},
           {"category", "availability"}, {"asset_key", asset}, {"asset_keys", Json::array({asset})},
           {"action", action}, {"from", from}, {"to", to}, {"sla_due_at", "2027-01-15T08:00:00Z"}};
    auto env = queue::make_envelope(type, asset, "high", p, "", clock_.now_ms());
    EXPECT_TRUE(queue_->publish(kStream, env).ok());
    return env["event_id"];
  }
  std::map<std::string, int64_t> incident_ids_;
  std::set<std::string> resolved_;

  // The next message for the group (after moving the clock past any retry delay).
  queue::Message next() {
    auto m = queue_->read(kStream, "notifiers", "t", 1, 0);
    EXPECT_TRUE(m.ok());
    EXPECT_EQ(m->size(), 1u);
    return m->empty() ? queue::Message{} : (*m)[0];
  }
  bool nothing_pending() {
    auto m = queue_->read(kStream, "notifiers", "t", 1, 0);
    return m.ok() && m->empty();
  }

  std::vector<Delivery> deliveries(const std::string& event_id) {
    DeliveryFilter f;
    f.event_id = event_id;
    auto page = notifier_->list(f);
    EXPECT_TRUE(page.ok());
    std::vector<Delivery> out = page->items;
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.channel < b.channel; });
    return out;  // slack, webhook
  }

  int64_t dlq_length() {
    auto s = queue_->stats(kStream);
    EXPECT_TRUE(s.ok());
    return s->dlq_length;
  }

  const std::string kStream = "secplat.events.notify";
  fs::path root_;
  ManualClock clock_{1'800'000'000'000};
  std::unique_ptr<Receiver> receiver_;
  std::unique_ptr<store::Db> db_;
  std::unique_ptr<queue::Queue> queue_;
  std::unique_ptr<SqlDeliveryLedger> sql_ledger_;
  AssetLookup server_assets_;
  std::unique_ptr<http::testing::TestServer> api_;
  std::unique_ptr<HttpDeliveryLedger> http_ledger_;
  std::unique_ptr<Notifier> notifier_;
};

TEST_P(NotifierTest, DownChangeDeliversOnceToEachChannelAndRecordsSent) {
  make_notifier();
  const auto id = publish_change("shop.example.com", "up", "down", "red");
  ASSERT_TRUE(notifier_->handle(next()).ok());

  const auto slack = receiver_->requests("/slack/");
  const auto hook = receiver_->requests(kHookPath);
  ASSERT_EQ(slack.size(), 1u);
  ASSERT_EQ(hook.size(), 1u);
  EXPECT_EQ(Json::parse(slack[0]["body"].get<std::string>())["text"], "[HIGH] shop.example.com is down");
  const Json body = Json::parse(hook[0]["body"].get<std::string>());
  EXPECT_EQ(body["status"], "firing");
  EXPECT_EQ(body["dedupe_key"], "incident:1:firing");
  EXPECT_EQ(body["text"], "Incident #1 opened: shop.example.com is down. Severity high. SLA due 2027-01-15T08:00:00Z.");
  EXPECT_EQ(body["fields"]["asset"], "shop.example.com");

  const auto d = deliveries(id);
  ASSERT_EQ(d.size(), 2u);
  for (const auto& x : d) {
    EXPECT_EQ(x.status, "sent") << x.channel;
    EXPECT_EQ(x.attempts, 1);
    EXPECT_EQ(x.event_type, "incident.created");
  }
  EXPECT_EQ(d[0].http_status, 200);
  EXPECT_TRUE(nothing_pending());  // acked
}

TEST_P(NotifierTest, SameMessageHandledTwiceDeliversOnce) {
  make_notifier();
  const auto id = publish_change("shop.example.com", "up", "down", "red");
  const auto m = next();
  ASSERT_TRUE(notifier_->handle(m).ok());
  // A redelivery (e.g. the ack was lost): the records say it is done, nothing is re-sent.
  (void)notifier_->handle(m);
  EXPECT_EQ(receiver_->requests("/slack/").size(), 1u);
  EXPECT_EQ(receiver_->requests(kHookPath).size(), 1u);
  for (const auto& x : deliveries(id)) EXPECT_EQ(x.attempts, 1);
}

TEST_P(NotifierTest, SecondDownWithinWindowIsSuppressedAndLaterOneIsSent) {
  make_notifier();
  publish_change("shop.example.com", "up", "down", "red");
  ASSERT_TRUE(notifier_->handle(next()).ok());
  clock_.advance_ms(60'000);
  const auto second = publish_change("shop.example.com", "unknown", "down", "red");
  ASSERT_TRUE(notifier_->handle(next()).ok());
  EXPECT_EQ(receiver_->requests("/slack/").size(), 1u);
  EXPECT_EQ(receiver_->requests(kHookPath).size(), 1u);
  for (const auto& x : deliveries(second)) {
    EXPECT_EQ(x.status, "suppressed_duplicate");
    EXPECT_EQ(x.attempts, 0);
  }
  EXPECT_TRUE(nothing_pending());

  clock_.advance_ms(300'000);  // past the window of the first
  publish_change("shop.example.com", "unknown", "down", "red");
  ASSERT_TRUE(notifier_->handle(next()).ok());
  EXPECT_EQ(receiver_->requests("/slack/").size(), 2u);
}

TEST_P(NotifierTest, DownUpDownWithinTheWindowNotifiesEveryChange) {
  make_notifier();
  publish_change("shop.example.com", "up", "down", "red");
  ASSERT_TRUE(notifier_->handle(next()).ok());
  clock_.advance_ms(20'000);
  publish_change("shop.example.com", "down", "up", "green");
  ASSERT_TRUE(notifier_->handle(next()).ok());
  clock_.advance_ms(20'000);
  // Down again: the channel's last message said UP, so this one is news, not a duplicate.
  const auto again = publish_change("shop.example.com", "up", "down", "red");
  ASSERT_TRUE(notifier_->handle(next()).ok());
  EXPECT_EQ(receiver_->requests("/slack/").size(), 3u);
  for (const auto& x : deliveries(again)) EXPECT_EQ(x.status, "sent");
  // Another asset's down within the window is not a duplicate of this one's.
  publish_change("cart.example.com", "up", "down", "red");
  ASSERT_TRUE(notifier_->handle(next()).ok());
  EXPECT_EQ(receiver_->requests("/slack/").size(), 4u);
}

TEST_P(NotifierTest, UpAfterDownDeliversResolvedAndOtherTransitionsAreAckedSilently) {
  make_notifier();
  publish_change("shop.example.com", "unknown", "stale", "amber");
  ASSERT_TRUE(notifier_->handle(next()).ok());
  publish_change("shop.example.com", "stale", "up", "green");  // not "back" from down: silent
  ASSERT_TRUE(notifier_->handle(next()).ok());
  EXPECT_TRUE(receiver_->requests("/").empty());
  EXPECT_TRUE(nothing_pending());

  const auto id = publish_change("shop.example.com", "down", "up", "green");
  ASSERT_TRUE(notifier_->handle(next()).ok());
  const auto hook = receiver_->requests(kHookPath);
  ASSERT_EQ(hook.size(), 1u);
  const Json body = Json::parse(hook[0]["body"].get<std::string>());
  EXPECT_EQ(body["status"], "resolved");
  EXPECT_EQ(body["title"], "shop.example.com is down");
  EXPECT_EQ(Json::parse(receiver_->requests("/slack/")[0]["body"].get<std::string>())["text"],
            "[HIGH] Resolved: shop.example.com is down");
  EXPECT_EQ(body["dedupe_key"], "incident:1:resolved");
  EXPECT_EQ(receiver_->requests("/slack/").size(), 1u);
  for (const auto& x : deliveries(id)) EXPECT_EQ(x.status, "sent");
}

TEST_P(NotifierTest, RetryableFailureRetriesOnlyTheFailedChannel) {
  make_notifier();
  const auto id = publish_change("shop.example.com", "up", "down", "red");
  receiver_->plan(Json::array({{{"status", 200}}, {{"status", 500}}}));  // slack ok, webhook 500
  ASSERT_TRUE(notifier_->handle(next()).ok());
  auto d = deliveries(id);
  EXPECT_EQ(d[0].status, "sent");
  EXPECT_EQ(d[1].status, "retrying");
  EXPECT_EQ(d[1].http_status, 500);
  EXPECT_TRUE(nothing_pending());  // waiting out the queue's backoff

  clock_.advance_ms(1000);
  const auto again = next();
  EXPECT_EQ(again.attempts, 2);
  ASSERT_TRUE(notifier_->handle(again).ok());
  EXPECT_EQ(receiver_->requests("/slack/").size(), 1u);
  EXPECT_EQ(receiver_->requests(kHookPath).size(), 2u);
  d = deliveries(id);
  EXPECT_EQ(d[0].attempts, 1);
  EXPECT_EQ(d[1].status, "sent");
  EXPECT_EQ(d[1].attempts, 2);
  EXPECT_EQ(dlq_length(), 0);
  clock_.advance_ms(10'000);
  EXPECT_TRUE(nothing_pending());
}

TEST_P(NotifierTest, AlwaysFailingChannelEndsInTheDeadLetterStream) {
  make_notifier();
  const auto id = publish_change("shop.example.com", "up", "down", "red");
  receiver_->plan(answers(500, 20));
  for (int i = 1; i <= kMaxAttempts; ++i) {
    const auto m = next();
    EXPECT_EQ(m.attempts, i);
    ASSERT_TRUE(notifier_->handle(m).ok());
    clock_.advance_ms(1000);
  }
  EXPECT_TRUE(nothing_pending());
  EXPECT_EQ(dlq_length(), 1);
  auto dlq = queue_->range(kStream + ".dlq", "0-0", 10);
  ASSERT_TRUE(dlq.ok());
  ASSERT_EQ(dlq->size(), 1u);
  EXPECT_EQ((*dlq)[0].fields["event_id"], id);
  EXPECT_NE((*dlq)[0].fields["error"].find("500"), std::string::npos) << (*dlq)[0].fields["error"];
  for (const auto& x : deliveries(id)) {
    EXPECT_EQ(x.status, "failed");
    EXPECT_EQ(x.attempts, kMaxAttempts);
  }
}

TEST_P(NotifierTest, MalformedMessagesGoToTheDeadLetterStream) {
  make_notifier();
  ASSERT_TRUE(queue_->publish(kStream, {{"event_id", "e1"}, {"payload", "{}"}}).ok());
  ASSERT_TRUE(queue_->publish(kStream, {{"event_id", "e2"}, {"event_type", "posture.changed"}, {"payload", "{not json"}})
                  .ok());
  ASSERT_TRUE(queue_->publish(kStream, {{"event_id", "e3"}, {"event_type", "incident.created"}, {"payload", "{}"}}).ok());
  ASSERT_TRUE(queue_->publish(kStream, {{"event_id", "e4"}, {"event_type", "alert.triggered"}, {"payload", "{}"}}).ok());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(notifier_->handle(next()).ok());
  auto dlq = queue_->range(kStream + ".dlq", "0-0", 10);
  ASSERT_TRUE(dlq.ok());
  ASSERT_EQ(dlq->size(), 4u);
  EXPECT_NE((*dlq)[0].fields["error"].find("missing event_type"), std::string::npos);
  EXPECT_NE((*dlq)[1].fields["error"].find("payload is not a JSON object"), std::string::npos);
  EXPECT_NE((*dlq)[2].fields["error"].find("incident.created without incident_id"), std::string::npos);
  EXPECT_NE((*dlq)[3].fields["error"].find("alert.triggered without down_assets"), std::string::npos);
  EXPECT_TRUE(receiver_->requests("/").empty());
  EXPECT_TRUE(nothing_pending());
}

TEST_P(NotifierTest, RateLimitedChannelIsDeliveredAfterTheClockAdvances) {
  NotifierOptions o;
  o.rate_limit = 1;
  o.rate_interval_ms = 60'000;
  o.digest = false;  // the queue retries each message (the digest path is tested below)
  make_notifier(o);
  publish_change("a.example.com", "up", "down", "red");
  ASSERT_TRUE(notifier_->handle(next()).ok());
  const auto id = publish_change("b.example.com", "up", "down", "red");
  ASSERT_TRUE(notifier_->handle(next()).ok());
  auto d = deliveries(id);
  EXPECT_EQ(d[0].status, "rate_limited");
  EXPECT_EQ(d[1].status, "rate_limited");
  EXPECT_EQ(receiver_->requests("/slack/").size(), 1u);

  clock_.advance_ms(60'000);
  ASSERT_TRUE(notifier_->handle(next()).ok());
  d = deliveries(id);
  EXPECT_EQ(d[0].status, "sent");
  EXPECT_EQ(d[1].status, "sent");
  EXPECT_EQ(d[0].attempts, 1);
  EXPECT_EQ(receiver_->requests("/slack/").size(), 2u);
  EXPECT_EQ(receiver_->requests(kHookPath).size(), 2u);
}

// A burst over the limit: the first messages go out on their own, the rest are held and go out as
// one digest per channel when the bucket has a token again; nothing is lost, nothing sent twice.
TEST_P(NotifierTest, BurstOverTheRateLimitBecomesOneDigestPerChannel) {
  Metrics metrics;
  NotifierOptions o;
  o.rate_limit = 2;
  o.rate_interval_ms = 60'000;
  o.metrics = &metrics;
  make_notifier(o);
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    ids.push_back(publish_change("host" + std::to_string(i) + ".example.com", "up", "down", "red"));
    ASSERT_TRUE(notifier_->handle(next()).ok());
  }
  EXPECT_TRUE(nothing_pending());  // held messages are acked: the digest owns them now
  EXPECT_EQ(receiver_->requests("/slack/").size(), 2u);
  EXPECT_EQ(deliveries(ids[2])[0].status, "digest_pending");
  // No token yet: nothing more goes out.
  ASSERT_TRUE(notifier_->flush_digests().ok());
  EXPECT_EQ(receiver_->requests("/slack/").size(), 2u);

  clock_.advance_ms(30'000);  // one token per channel
  ASSERT_TRUE(notifier_->flush_digests().ok());
  const auto slack = receiver_->requests("/slack/");
  ASSERT_EQ(slack.size(), 3u);
  const std::string body = slack[2]["body"];
  const std::string text = Json::parse(body)["text"];
  EXPECT_EQ(text, "SecPlat digest: 5 notifications held back by the rate limit");
  for (int i = 2; i < 7; ++i)
    EXPECT_NE(body.find("- [HIGH] host" + std::to_string(i) + ".example.com is down"), std::string::npos) << body;
  const auto hook = receiver_->requests(kHookPath);
  ASSERT_EQ(hook.size(), 3u);
  EXPECT_EQ(Json::parse(hook[2]["body"].get<std::string>())["event_type"], "notify.digest");
  for (int i = 2; i < 7; ++i) {
    const auto d = deliveries(ids[static_cast<std::size_t>(i)]);
    for (const auto& x : d) {
      EXPECT_EQ(x.status, "sent_in_digest") << x.channel;
      EXPECT_EQ(x.remote_id.rfind("digest-", 0), 0u) << x.remote_id;
    }
  }
  // Flushing again sends nothing: every held row went out once.
  clock_.advance_ms(60'000);
  ASSERT_TRUE(notifier_->flush_digests().ok());
  EXPECT_EQ(receiver_->requests("/slack/").size(), 3u);
  const std::string text_metrics = metrics.render();
  EXPECT_NE(text_metrics.find("secplat_notify_deliveries_total{channel=\"slack\",outcome=\"sent_in_digest\"} 5"),
            std::string::npos)
      << text_metrics;
  EXPECT_NE(text_metrics.find("secplat_notify_deliveries_total{channel=\"slack\",outcome=\"sent\"} 2"),
            std::string::npos)
      << text_metrics;
}

// A 429 with Retry-After pauses the channel for that long: the next message is held, not sent
// into the storm, and the digest goes out once the server said it may.
TEST_P(NotifierTest, RetryAfterPausesTheChannelUntilTheServerSaysSo) {
  make_notifier();
  receiver_->plan(Json::array({{{"status", 429}, {"headers", {{"Retry-After", "120"}}}}, {{"status", 200}}}));
  const auto first = publish_change("a.example.com", "up", "down", "red");
  ASSERT_TRUE(notifier_->handle(next()).ok());
  EXPECT_EQ(deliveries(first)[0].status, "retrying");
  EXPECT_EQ(deliveries(first)[0].http_status, 429);
  const auto second = publish_change("b.example.com", "up", "down", "red");
  ASSERT_TRUE(notifier_->handle(next()).ok());
  EXPECT_EQ(deliveries(second)[0].status, "digest_pending");  // slack is paused
  EXPECT_EQ(deliveries(second)[1].status, "sent");            // the webhook is not
  clock_.advance_ms(60'000);
  ASSERT_TRUE(notifier_->flush_digests().ok());
  EXPECT_EQ(receiver_->requests("/slack/").size(), 1u);  // still inside the 120 s
  clock_.advance_ms(61'000);
  ASSERT_TRUE(notifier_->flush_digests().ok());
  ASSERT_EQ(receiver_->requests("/slack/").size(), 2u);
  EXPECT_EQ(deliveries(second)[0].status, "sent_in_digest");
  // The first message's queue retry, once the bucket has refilled (30/min: 2 s a token), delivers it.
  clock_.advance_ms(2'000);
  ASSERT_TRUE(notifier_->handle(next()).ok());
  EXPECT_EQ(deliveries(first)[0].status, "sent");
}

// An incident still firing gets a reminder per period on each channel; once it resolves (or is
// closed), reminders stop.
TEST_P(NotifierTest, StillFiringIncidentsGetRemindersUntilResolved) {
  NotifierOptions o;
  o.reminder_after_s = 3600;
  make_notifier(o);
  publish_change("a.example.com", "up", "down", "red");
  ASSERT_TRUE(notifier_->handle(next()).ok());
  publish_change("b.example.com", "up", "down", "red");
  ASSERT_TRUE(notifier_->handle(next()).ok());
  ASSERT_TRUE(notifier_->send_reminders().ok());
  EXPECT_EQ(receiver_->requests("/slack/").size(), 2u);  // not due yet

  clock_.advance_ms(3'600'000);
  ASSERT_TRUE(notifier_->send_reminders().ok());
  auto slack = receiver_->requests("/slack/");
  ASSERT_EQ(slack.size(), 4u);
  std::set<std::string> texts;
  for (std::size_t i = 2; i < 4; ++i) texts.insert(Json::parse(slack[i]["body"].get<std::string>())["text"]);
  EXPECT_TRUE(texts.count("Reminder: [HIGH] a.example.com is down")) << *texts.begin();
  EXPECT_TRUE(texts.count("Reminder: [HIGH] b.example.com is down"));
  ASSERT_TRUE(notifier_->send_reminders().ok());  // once per period
  EXPECT_EQ(receiver_->requests("/slack/").size(), 4u);

  // a resolves; b is closed by hand (no message, but its reminders stop too).
  publish_change("a.example.com", "down", "up", "green");
  ASSERT_TRUE(notifier_->handle(next()).ok());
  Json closed{{"incident_id", incident_ids_["b.example.com"]}, {"title", "b.example.com is down"},
              {"asset_key", "b.example.com"}, {"action", "closed"}, {"status", "closed"}};
  ASSERT_TRUE(queue_->publish(kStream, queue::make_envelope("incident.updated", "b.example.com", "high", closed, "",
                                                            clock_.now_ms()))
                  .ok());
  ASSERT_TRUE(notifier_->handle(next()).ok());
  EXPECT_EQ(receiver_->requests("/slack/").size(), 5u);  // the resolve message only
  clock_.advance_ms(4 * 3'600'000);
  ASSERT_TRUE(notifier_->send_reminders().ok());
  EXPECT_EQ(receiver_->requests("/slack/").size(), 5u);
}

// Routing rules decide the channels: an unrouted channel gets nothing and has no record.
TEST_P(NotifierTest, RoutingRulesPickTheChannelsPerAssetEnvironment) {
  NotifierOptions o;
  auto rules = parse_routes(R"([{"channels": ["webhook"], "environments": ["prod"]},
                               {"channels": ["slack"], "min_severity": "critical"}])",
                            {"slack", "webhook"});
  ASSERT_TRUE(rules.ok()) << rules.error().message;
  o.routes = *rules;
  o.asset_lookup = [](const std::string& key) -> std::optional<AssetMeta> {
    if (key == "shop.example.com") return AssetMeta{"prod", "alice", "web"};
    return AssetMeta{"dev", "", ""};
  };
  make_notifier(o);
  const auto prod = publish_change("shop.example.com", "up", "down", "red");  // high, prod
  ASSERT_TRUE(notifier_->handle(next()).ok());
  const auto dev = publish_change("lab.example.com", "up", "down", "red");  // high, dev
  ASSERT_TRUE(notifier_->handle(next()).ok());
  EXPECT_TRUE(nothing_pending());
  EXPECT_EQ(receiver_->requests("/slack/").size(), 0u);
  ASSERT_EQ(receiver_->requests(kHookPath).size(), 1u);
  const auto d = deliveries(prod);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].channel, "webhook");
  EXPECT_TRUE(deliveries(dev).empty());
}

TEST_P(NotifierTest, ListFiltersByChannelAndStatusWithTotals) {
  make_notifier();
  publish_change("a.example.com", "up", "down", "red");
  receiver_->plan(Json::array({{{"status", 200}}, {{"status", 400}}}));  // webhook: permanent
  ASSERT_TRUE(notifier_->handle(next()).ok());
  publish_change("b.example.com", "up", "down", "red");
  ASSERT_TRUE(notifier_->handle(next()).ok());
  publish_change("c.example.com", "up", "down", "red");
  ASSERT_TRUE(notifier_->handle(next()).ok());

  auto all = notifier_->list({});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->total, 6);
  DeliveryFilter f;
  f.channel = "webhook";
  f.status = "sent";
  f.limit = 1;
  auto page = notifier_->list(f);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 2);
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].channel, "webhook");
  f.status = "failed";
  f.limit = 100;
  page = notifier_->list(f);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->total, 1);
  EXPECT_EQ(page->items[0].http_status, 400);
  EXPECT_TRUE(nothing_pending());  // a permanent failure is not retried
}

TEST_P(NotifierTest, ManualAlertIsSentOnceForTheSameAssetsWithinTheWindow) {
  make_notifier();
  auto alert = [&](Json assets) {
    auto env = queue::make_envelope("alert.triggered", "", "high", Json{{"down_assets", assets}}, "", clock_.now_ms());
    EXPECT_TRUE(queue_->publish(kStream, env).ok());
    EXPECT_TRUE(notifier_->handle(next()).ok());
  };
  alert(Json::array({"b.example.com", "a.example.com"}));
  const auto slack = receiver_->requests("/slack/");
  ASSERT_EQ(slack.size(), 1u);
  EXPECT_EQ(Json::parse(slack[0]["body"].get<std::string>())["text"],
            "[HIGH] SecPlat alert: 2 asset(s) down: a.example.com, b.example.com");
  clock_.advance_ms(30'000);
  alert(Json::array({"a.example.com", "b.example.com"}));  // the same set again: not news
  EXPECT_EQ(receiver_->requests("/slack/").size(), 1u);
  alert(Json::array({"a.example.com"}));  // a different set is
  EXPECT_EQ(receiver_->requests("/slack/").size(), 2u);
}

TEST_P(NotifierTest, OtherIncidentMovesAndPostureEventsDoNotNotify) {
  make_notifier();
  Json p{{"incident_id", 7}, {"title", "x"}, {"action", "status"}, {"from", "new"}, {"to", "triaged"}};
  ASSERT_TRUE(queue_->publish(kStream, queue::make_envelope("incident.updated", "x", "high", p, "", clock_.now_ms())).ok());
  Json q{{"asset_key", "x"}, {"change", "status"}, {"from", "up"}, {"to", "down"}};
  ASSERT_TRUE(queue_->publish(kStream, queue::make_envelope("posture.changed", "x", "high", q, "", clock_.now_ms())).ok());
  ASSERT_TRUE(notifier_->handle(next()).ok());
  ASSERT_TRUE(notifier_->handle(next()).ok());
  EXPECT_TRUE(receiver_->requests("/").empty());
  EXPECT_TRUE(nothing_pending());
}

TEST_P(NotifierTest, JiraKeepsOneIssuePerIncidentCommentingOnReopenAndResolvingIt) {
  ChannelOptions co;
  co.timeout_ms = 3000;
  co.clock = &clock_;
  std::vector<std::unique_ptr<Channel>> chans;
  chans.push_back(std::make_unique<JiraChannel>(JiraSettings{receiver_->url(), "bot@example.com", "tok", "SEC"}, co));
  notifier_ = std::make_unique<Notifier>(ledger(), *queue_, std::move(chans), NotifierOptions{}, clock_);
  auto calls = [&] {
    std::vector<std::string> out;
    for (const auto& r : receiver_->requests("/rest/"))
      out.push_back(r["method"].get<std::string>() + " " + r["path"].get<std::string>());
    return out;
  };
  // A resolve for an incident that never got an issue has nothing to follow up.
  publish_change("other.example.com", "up", "down", "red");
  publish_change("other.example.com", "down", "up", "green");
  // Handle the resolve before the opening: no issue exists yet for it to follow up.
  const auto first = next();
  const auto second = next();
  ASSERT_TRUE(notifier_->handle(second).ok());
  EXPECT_TRUE(calls().empty());
  EXPECT_EQ(deliveries(second.fields.at("event_id"))[0].status, "skipped");
  ASSERT_TRUE(notifier_->handle(first).ok());  // the opening creates SEC-1
  ASSERT_EQ(calls(), std::vector<std::string>{"POST /rest/api/2/issue"});

  publish_change("shop.example.com", "up", "down", "red");     // SEC-2
  ASSERT_TRUE(notifier_->handle(next()).ok());
  publish_change("shop.example.com", "down", "up", "green");   // comment + transition on SEC-2
  ASSERT_TRUE(notifier_->handle(next()).ok());
  clock_.advance_ms(60'000);
  const auto reopened = publish_change("shop.example.com", "up", "down", "red");  // comment on SEC-2
  ASSERT_TRUE(notifier_->handle(next()).ok());
  const std::vector<std::string> want{"POST /rest/api/2/issue",
                                      "POST /rest/api/2/issue",
                                      "POST /rest/api/2/issue/SEC-2/comment",
                                      "GET /rest/api/2/issue/SEC-2/transitions",
                                      "POST /rest/api/2/issue/SEC-2/transitions",
                                      "POST /rest/api/2/issue/SEC-2/comment"};
  EXPECT_EQ(calls(), want);
  const auto d = deliveries(reopened);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].status, "sent");
  EXPECT_EQ(d[0].remote_id, "SEC-2");
  auto issue = notifier_->remote_id_for("jira", "2");
  ASSERT_TRUE(issue.ok());
  EXPECT_EQ(issue->value_or(""), "SEC-2");
}

TEST_P(NotifierTest, WorkersConsumeTheStream) {
  make_notifier();
  ASSERT_TRUE(notifier_->start(2).ok());
  publish_change("shop.example.com", "up", "down", "red");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline && receiver_->requests("/").size() < 2)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  notifier_->stop();
  EXPECT_EQ(receiver_->requests("/slack/").size(), 1u);
  EXPECT_EQ(receiver_->requests(kHookPath).size(), 1u);
}

// The HTTP adapter's own behaviour (instantiated for "http" only).
class NotifierApiTest : public NotifierTest {};

// The ledger's routes admit service keys alone, and a body that does not fit an operation is a 422
// naming the field with nothing written.
TEST_P(NotifierApiTest, TheLedgerRoutesAdmitOnlyServiceKeysAndRejectMalformedBodies) {
  for (const char* key : {"viewer-token", "analyst-token", "admin-token", "", "spk_not-a-key"}) {
    HttpDeliveryLedger other(api_url(), key);
    auto s = other.status_of("e1", "slack");
    ASSERT_FALSE(s.ok()) << key;
    EXPECT_EQ(s.error().code, Errc::forbidden) << key << ": " << s.error().message;
  }
  auto post = [&](const std::string& op, const std::string& body) {
    return http::testing::post_as_service(api_url() + "/internal/notify/" + op, body);
  };
  auto bad = post("record", R"({"event_id": "e1", "event_type": "incident.created", "dedupe_key": "k",
                                "status": "sent", "now_ms": 1})");  // no channel
  EXPECT_EQ(bad.status, 422);
  EXPECT_NE(bad.body.find("channel"), std::string::npos) << bad.body;
  auto wrong_type = post("status", R"({"event_id": 5, "channel": "slack"})");
  EXPECT_EQ(wrong_type.status, 422);
  EXPECT_NE(wrong_type.body.find("event_id"), std::string::npos) << wrong_type.body;
  EXPECT_EQ(post("record", "{not json").status, 422);
  auto page = sql_ledger_->list({});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 0);  // nothing half-written
  EXPECT_EQ(post("no-such-op", "{}").status, 404);
}

// With the API unreachable the message goes back to the queue unsent; once the API answers again
// it is delivered, once per channel.
TEST_P(NotifierApiTest, AnUnreachableApiHoldsTheMessageUntilItAnswers) {
  NotifierOptions o;
  const std::string url = api_url();
  api_.reset();  // the API is down (nothing listens on its port now)
  HttpDeliveryLedger down(url, "service-token", 2000);
  ChannelOptions co;
  co.timeout_ms = 3000;
  co.clock = &clock_;
  std::vector<std::unique_ptr<Channel>> chans;
  chans.push_back(std::make_unique<SlackChannel>(receiver_->url() + kSlackPath, co));
  notifier_ = std::make_unique<Notifier>(down, *queue_, std::move(chans), o, clock_);
  const auto id = publish_change("shop.example.com", "up", "down", "red");
  auto st = notifier_->handle(next());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::unavailable) << st.error().message;
  EXPECT_EQ(receiver_->requests("/slack/").size(), 0u);  // nothing sent without a record
  EXPECT_EQ(dlq_length(), 0);

  // The API is back (a new server on the same store; the notifier follows the new address).
  api_ = std::make_unique<http::testing::TestServer>(api::notify_internal_routes(*sql_ledger_, AssetLookup{}));
  HttpDeliveryLedger up(api_url(), "service-token");
  chans.clear();
  chans.push_back(std::make_unique<SlackChannel>(receiver_->url() + kSlackPath, co));
  notifier_ = std::make_unique<Notifier>(up, *queue_, std::move(chans), o, clock_);
  clock_.advance_ms(1000);  // the queue's retry delay
  ASSERT_TRUE(notifier_->handle(next()).ok());
  EXPECT_EQ(receiver_->requests("/slack/").size(), 1u);
  auto d = sql_ledger_->list({std::nullopt, std::nullopt, id, 10, 0});
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->items.size(), 1u);
  EXPECT_EQ(d->items[0].status, "sent");
  clock_.advance_ms(10'000);
  EXPECT_TRUE(nothing_pending());
  notifier_.reset();  // before the ledgers on this stack
}

INSTANTIATE_TEST_SUITE_P(Ledgers, NotifierTest, ::testing::Values("sql", "http"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Ledgers, NotifierApiTest, ::testing::Values("http"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace secplat::notify
