// The OpenSearch mirror against a real SQLite store (events appended, a real deriver pass) and a
// fake OpenSearch on 127.0.0.1 (the project's HTTP server with `_index_template` and `_bulk`
// routes) that checks the wire format of every request and can fail whole requests or items.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/encoding.h"
#include "core/json.h"
#include "http/server.h"
#include "posture/index/opensearch_mirror.h"
#include "posture/posture_fixture.h"

namespace secplat::posture::opensearch {
namespace {

using testing::kT0;

// Speaks the OpenSearch wire format for the two calls the mirror makes and records every problem
// with a request (wrong method, path, content type, NDJSON framing, index name, document shape).
class FakeOpenSearch {
 public:
  // Answer for one bulk item, by index, _id and how many times that _id was sent before (0 first).
  using ItemPolicy = std::function<int(const std::string& index, const std::string& id, int sent_before)>;

  FakeOpenSearch() {
    std::vector<http::Route> routes;
    http::Route tmpl;
    tmpl.method = "PUT";
    tmpl.path = "/_index_template/{name}";
    tmpl.access = http::Access::public_route;
    tmpl.handler = [this](http::Request& r) -> Result<http::Response> { return on_template(r); };
    routes.push_back(tmpl);
    http::Route bulk;
    bulk.method = "POST";
    bulk.path = "/_bulk";
    bulk.access = http::Access::public_route;
    bulk.handler = [this](http::Request& r) -> Result<http::Response> { return on_bulk(r); };
    routes.push_back(bulk);
    HttpConfig limits;
    limits.io_threads = 1;
    limits.worker_threads = 2;
    limits.max_body_bytes = 8 << 20;
    server_ = std::make_unique<http::Server>(http::ServerOptions{"127.0.0.1", 0, limits}, std::move(routes), nullptr,
                                             nullptr);
    auto port = server_->start();
    EXPECT_TRUE(port.ok());
    port_ = port.ok() ? *port : 0;
  }
  ~FakeOpenSearch() {
    server_->shutdown();
    server_->wait();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void fail_next_bulk_requests(int n, int status = 503) {
    std::lock_guard lk(mu_);
    fail_requests_ = n;
    fail_status_ = status;
  }
  void set_item_policy(ItemPolicy p) {
    std::lock_guard lk(mu_);
    policy_ = std::move(p);
  }
  void set_template_failures(int n) {
    std::lock_guard lk(mu_);
    template_failures_ = n;
  }

  // index → _id → source of the last successful index.
  std::map<std::string, std::map<std::string, Json>> store() const {
    std::lock_guard lk(mu_);
    return store_;
  }
  // How many times each _id was stored successfully.
  std::map<std::string, int> stored_count(const std::string& index) const {
    std::lock_guard lk(mu_);
    auto it = stored_.find(index);
    return it == stored_.end() ? std::map<std::string, int>{} : it->second;
  }
  std::vector<std::string> log() const {  // "PUT name" / "BULK n" in arrival order
    std::lock_guard lk(mu_);
    return log_;
  }
  std::vector<std::vector<std::string>> bulk_ids() const {  // the _ids of each bulk request
    std::lock_guard lk(mu_);
    return bulk_ids_;
  }
  std::vector<std::string> problems() const {
    std::lock_guard lk(mu_);
    return problems_;
  }
  std::vector<std::string> authorizations() const {
    std::lock_guard lk(mu_);
    return auths_;
  }
  int bulk_requests() const {
    std::lock_guard lk(mu_);
    return static_cast<int>(bulk_ids_.size());
  }

 private:
  static http::Response error(int status, const std::string& type) {
    return http::Response::json(status, Json{{"error", {{"type", type}, {"reason", type}}}, {"status", status}});
  }

  Result<http::Response> on_template(http::Request& r) {
    std::lock_guard lk(mu_);
    auths_.push_back(r.header("authorization").value_or(""));
    const std::string name = r.param("name");
    log_.push_back("PUT " + name);
    if (r.header("content-type").value_or("") != "application/json") problems_.push_back("template content type");
    Json body = Json::parse(r.body, nullptr, false);
    if (!body.is_object() || !body.contains("index_patterns") || !body.contains("template"))
      problems_.push_back("template body " + r.body.substr(0, 100));
    if (name != "secplat-events" && name != "secplat-asset-status") problems_.push_back("template name " + name);
    if (template_failures_ > 0) {
      --template_failures_;
      return error(503, "cluster_block_exception");
    }
    templates_.insert(name);
    return http::Response::json(200, Json{{"acknowledged", true}});
  }

  void check_event(const std::string& id, const Json& d) {
    static const std::set<std::string> required = {"@timestamp", "service", "asset",     "level",     "message",
                                                   "status",     "status_num", "code", "latency_ms"};
    static const std::set<std::string> optional = {"error_class", "error", "tls_version", "cert_not_after",
                                                   "remote_ip"};
    for (const auto& k : required)
      if (!d.contains(k)) problems_.push_back("event " + id + " lacks " + k);
    for (const auto& [k, v] : d.items())
      if (!required.count(k) && !optional.count(k)) problems_.push_back("event " + id + " has " + k);
    const std::string ts = d.value("@timestamp", "");
    if (ts.size() != 20 || ts.back() != 'Z' || ts[10] != 'T') problems_.push_back("event " + id + " @timestamp " + ts);
    if (d.value("level", "") != "health" || d.value("message", "") != "healthcheck")
      problems_.push_back("event " + id + " level/message");
    const std::string st = d.value("status", "");
    if (!(st == "up" && d.value("status_num", 0) == 1) && !(st == "down" && d.value("status_num", 0) == -2))
      problems_.push_back("event " + id + " status " + st);
    if (!d["code"].is_number_integer() || !d["latency_ms"].is_number_integer())
      problems_.push_back("event " + id + " numbers");
  }

  void check_status(const std::string& id, const Json& d) {
    for (const char* k : {"@timestamp", "asset_key", "name", "type", "environment", "owner", "owner_team", "criticality",
                          "status", "status_num", "code", "latency_ms", "last_seen", "source_event_timestamp",
                          "staleness_seconds", "posture_score", "posture_state", "last_status_change"})
      if (!d.contains(k)) problems_.push_back("status " + id + " lacks " + k);
    if (d.value("asset_key", "") != id) problems_.push_back("status _id " + id + " is not the asset key");
    if (!d["criticality"].is_number_integer()) problems_.push_back("status " + id + " criticality");
  }

  Result<http::Response> on_bulk(http::Request& r) {
    std::lock_guard lk(mu_);
    auths_.push_back(r.header("authorization").value_or(""));
    if (templates_.size() != 2) problems_.push_back("bulk before both templates");
    if (r.header("content-type").value_or("") != "application/x-ndjson") problems_.push_back("bulk content type");
    if (r.body.empty() || r.body.back() != '\n') problems_.push_back("bulk body does not end with a newline");
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < r.body.size()) {
      std::size_t nl = r.body.find('\n', start);
      if (nl == std::string::npos) nl = r.body.size();
      lines.push_back(r.body.substr(start, nl - start));
      start = nl + 1;
    }
    if (lines.size() % 2 != 0) problems_.push_back("bulk has an odd number of lines");
    std::vector<std::string> ids;
    Json items = Json::array();
    const bool fail_all = fail_requests_ > 0;
    if (fail_all) --fail_requests_;
    for (std::size_t i = 0; i + 1 < lines.size(); i += 2) {
      Json action = Json::parse(lines[i], nullptr, false);
      Json doc = Json::parse(lines[i + 1], nullptr, false);
      if (!action.is_object() || action.size() != 1 || !action.contains("index") || doc.is_discarded() ||
          !doc.is_object()) {
        problems_.push_back("bad action/document pair: " + lines[i].substr(0, 80));
        continue;
      }
      const std::string index = action["index"].value("_index", "");
      const std::string id = action["index"].value("_id", "");
      ids.push_back(id);
      if (index == "secplat-events") check_event(id, doc);
      else if (index == "secplat-asset-status") check_status(id, doc);
      else problems_.push_back("unknown index " + index);
      if (fail_all) continue;
      int& sent = sent_[index + "/" + id];
      const int status = policy_ ? policy_(index, id, sent) : 201;
      ++sent;
      Json item{{"_index", index}, {"_id", id}, {"status", status}};
      if (status >= 200 && status < 300) {
        store_[index][id] = doc;
        ++stored_[index][id];
      } else {
        item["error"] = {{"type", status == 429 ? "es_rejected_execution_exception" : "mapper_parsing_exception"},
                         {"reason", "test"}};
      }
      items.push_back({{"index", item}});
    }
    bulk_ids_.push_back(ids);
    log_.push_back("BULK " + std::to_string(ids.size()));
    if (fail_all) return error(fail_status_, "unavailable");
    bool errors = false;
    for (const auto& it : items) errors = errors || it["index"]["status"].get<int>() >= 300;
    return http::Response::json(200, Json{{"took", 1}, {"errors", errors}, {"items", items}});
  }

  std::unique_ptr<http::Server> server_;
  uint16_t port_ = 0;
  mutable std::mutex mu_;
  int fail_requests_ = 0;
  int fail_status_ = 503;
  int template_failures_ = 0;
  ItemPolicy policy_;
  std::set<std::string> templates_;
  std::map<std::string, std::map<std::string, Json>> store_;
  std::map<std::string, std::map<std::string, int>> stored_;
  std::map<std::string, int> sent_;
  std::vector<std::string> log_;
  std::vector<std::vector<std::string>> bulk_ids_;
  std::vector<std::string> problems_;
  std::vector<std::string> auths_;
};

class OpenSearchMirrorTest : public testing::PostureFixture {
 protected:
  MirrorOptions options() {
    MirrorOptions o;
    o.url = fake.url();
    o.backoff_base_ms = 5;
    o.backoff_max_ms = 40;
    o.flush_interval_ms = 20;
    o.metrics = &metrics;
    return o;
  }

  std::unique_ptr<Mirror> make(MirrorOptions o) { return std::make_unique<Mirror>(*db_, clock, std::move(o)); }

  // Runs passes until nothing is left (each pass returns once its batches are final).
  void drain(Mirror& m, bool refresh = false) {
    for (int i = 0; i < 100; ++i) {
      auto r = m.run_once(refresh && i == 0);
      ASSERT_TRUE(r.ok()) << r.error().message;
      if (!r->more) return;
    }
    FAIL() << "the mirror never caught up";
  }

  std::set<std::string> event_ids() {
    auto rows = db_->query("SELECT event_id FROM health_events");
    std::set<std::string> out;
    for (const auto& r : *rows) out.insert(std::to_string(r.i64("event_id")));
    return out;
  }

  std::set<std::string> keys(const std::map<std::string, Json>& m) {
    std::set<std::string> out;
    for (const auto& [k, v] : m) out.insert(k);
    return out;
  }

  double metric(const std::string& series) {
    const std::string text = metrics.render();
    auto pos = text.find("\n" + series + " ");
    if (pos == std::string::npos) return -1;
    return std::stod(text.substr(pos + series.size() + 2));
  }

  Metrics metrics;
  FakeOpenSearch fake;
};

TEST_F(OpenSearchMirrorTest, EventsAndStatusReachTheReferenceIndicesAfterTheTemplates) {
  add_probed("shop", 60, "high");
  add_probed("blog", 60, "4");
  result("shop", kT0 - 2000, true, 200);
  result("blog", kT0 - 1500, false, 0, "refused");
  result("shop", kT0 - 1000, true, 200);
  pass();
  auto m = make(options());
  drain(*m);
  EXPECT_TRUE(fake.problems().empty()) << ::testing::PrintToString(fake.problems());
  auto log = fake.log();
  ASSERT_GE(log.size(), 3u);
  EXPECT_EQ(log[0], "PUT secplat-events");
  EXPECT_EQ(log[1], "PUT secplat-asset-status");

  auto st = fake.store();
  EXPECT_EQ(keys(st["secplat-events"]), event_ids());
  const Json& first = st["secplat-events"].begin()->second;
  EXPECT_EQ(first["asset"], "shop");
  EXPECT_EQ(first["status"], "up");
  for (const auto& [id, d] : st["secplat-events"])
    if (d["asset"] == "blog") {
      EXPECT_EQ(d["status"], "down");
      EXPECT_EQ(d["status_num"], -2);
      EXPECT_EQ(d["error_class"], "refused");
    }
  ASSERT_EQ(keys(st["secplat-asset-status"]), (std::set<std::string>{"blog", "shop"}));
  const Json& shop = st["secplat-asset-status"]["shop"];
  EXPECT_EQ(shop["status"], "up");
  EXPECT_EQ(shop["posture_state"], "green");
  EXPECT_EQ(shop["criticality"], 2);
  EXPECT_EQ(shop["name"], "shop");
  EXPECT_EQ(shop["@timestamp"], "2026-09-21T14:13:20Z");  // derived_at = the pass's time, kT0
  EXPECT_EQ(st["secplat-asset-status"]["blog"]["criticality"], 4);

  auto cursor = m->events_cursor();
  ASSERT_TRUE(cursor.ok());
  EXPECT_EQ(std::to_string(*cursor), *event_ids().rbegin());
  EXPECT_EQ(metric(R"(secplat_opensearch_docs_total{index="secplat-events",outcome="indexed"})"), 3);
  EXPECT_EQ(metric(R"(secplat_opensearch_docs_total{index="secplat-asset-status",outcome="indexed"})"), 2);
  EXPECT_EQ(metric("secplat_opensearch_lag_seconds"), 0);

  // Nothing new: no request at all. Templates are not PUT again.
  const int before = fake.bulk_requests();
  drain(*m);
  EXPECT_EQ(fake.bulk_requests(), before);
  EXPECT_EQ(fake.log().size(), log.size());
}

TEST_F(OpenSearchMirrorTest, OnlyItemsAskedToRetryAreSentAgainAndRefusedOnesArePassed) {
  add_probed("shop");
  for (int i = 0; i < 6; ++i) result("shop", kT0 - 10'000 + i * 1000, true);
  auto ids = event_ids();
  std::vector<std::string> id_list(ids.begin(), ids.end());
  const std::string throttled = id_list[1], broken = id_list[3], busy = id_list[4];
  fake.set_item_policy([&](const std::string& index, const std::string& id, int sent_before) {
    if (index != "secplat-events") return 201;
    if (id == broken) return 400;
    if (id == throttled && sent_before < 2) return 429;
    if (id == busy && sent_before < 1) return 503;
    return 201;
  });
  fake.fail_next_bulk_requests(2);  // the first two requests fail whole
  auto m = make(options());
  drain(*m);
  EXPECT_TRUE(fake.problems().empty()) << ::testing::PrintToString(fake.problems());

  auto requests = fake.bulk_ids();
  ASSERT_EQ(requests.size(), 5u) << ::testing::PrintToString(requests);
  EXPECT_EQ(requests[0].size(), 6u);  // 503: the whole batch again
  EXPECT_EQ(requests[1].size(), 6u);
  EXPECT_EQ(requests[2].size(), 6u);  // answered per item
  EXPECT_EQ(requests[3], (std::vector<std::string>{throttled, busy}));  // only the ones to retry
  EXPECT_EQ(requests[4], (std::vector<std::string>{throttled}));

  // Every event but the refused one is stored exactly once; the cursor is past all of them.
  auto stored = fake.stored_count("secplat-events");
  ids.erase(broken);
  EXPECT_EQ(keys(fake.store()["secplat-events"]), ids);
  for (const auto& [id, n] : stored) EXPECT_EQ(n, 1) << id;
  EXPECT_EQ(*m->events_cursor(), std::stoll(id_list.back()));
  EXPECT_EQ(metric(R"(secplat_opensearch_docs_total{index="secplat-events",outcome="failed"})"), 1);
  EXPECT_EQ(metric(R"(secplat_opensearch_docs_total{index="secplat-events",outcome="indexed"})"), 5);
  EXPECT_EQ(metric(R"(secplat_opensearch_requests_total{outcome="http_error"})"), 2);
  EXPECT_GE(metric(R"(secplat_opensearch_requests_total{outcome="item_errors"})"), 2);
}

TEST_F(OpenSearchMirrorTest, TemplatesAreRetriedAndIndexingWaitsForThem) {
  add_probed("shop");
  result("shop", kT0, true);
  fake.set_template_failures(3);
  auto m = make(options());
  drain(*m);
  auto log = fake.log();
  ASSERT_GE(log.size(), 6u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(log[i], "PUT secplat-events") << i;
  EXPECT_EQ(log[4], "PUT secplat-asset-status");
  EXPECT_TRUE(fake.problems().empty()) << ::testing::PrintToString(fake.problems());  // no bulk before both
}

TEST_F(OpenSearchMirrorTest, BatchesAreBoundedAndTheCursorSurvivesARestart) {
  add_probed("shop");
  for (int i = 0; i < 7; ++i) result("shop", kT0 - 10'000 + i * 100, true);
  auto o = options();
  o.batch_size = 3;
  {
    auto m = make(o);
    drain(*m);
  }
  auto sizes = [&] {
    std::vector<std::size_t> out;
    for (const auto& ids : fake.bulk_ids())
      if (!ids.empty() && ids[0].find_first_not_of("0123456789") == std::string::npos) out.push_back(ids.size());
    return out;
  };
  EXPECT_EQ(sizes(), (std::vector<std::size_t>{3, 3, 1}));
  // A new process on the same store: only what came after the cursor is sent.
  result("shop", kT0, false, 0, "timeout");
  auto m = make(o);
  drain(*m);
  EXPECT_EQ(sizes(), (std::vector<std::size_t>{3, 3, 1, 1}));
  EXPECT_EQ(keys(fake.store()["secplat-events"]), event_ids());
  for (const auto& [id, n] : fake.stored_count("secplat-events")) EXPECT_EQ(n, 1) << id;
}

TEST_F(OpenSearchMirrorTest, StatusChangesAreSentOnceAndARefreshResendsEveryAsset) {
  add_probed("shop");
  add_probed("blog");
  result("shop", kT0, true);
  result("blog", kT0, true);
  pass();
  auto m = make(options());
  drain(*m);
  EXPECT_EQ(fake.stored_count("secplat-asset-status"), (std::map<std::string, int>{{"blog", 1}, {"shop", 1}}));

  // shop goes down (two failures: debounce); blog has no new result and is still fresh, so its
  // row does not change.
  clock.advance_ms(60'000);
  result("shop", kT0 + 60'000, false, 503, "http_error");
  pass();
  clock.advance_ms(60'000);
  result("shop", kT0 + 120'000, false, 503, "http_error");
  pass();
  drain(*m);
  auto counts = fake.stored_count("secplat-asset-status");
  EXPECT_EQ(counts["blog"], 1);
  EXPECT_GE(counts["shop"], 2);
  const Json shop = fake.store()["secplat-asset-status"]["shop"];
  EXPECT_EQ(shop["status"], "down");
  EXPECT_EQ(shop["posture_state"], "red");
  EXPECT_EQ(shop["previous_status"], "up");
  EXPECT_EQ(shop["code"], 503);

  // The periodic refresh: every asset again, stamped with the refresh time.
  clock.advance_ms(30'000);
  const int shop_before = fake.stored_count("secplat-asset-status")["shop"];
  drain(*m, /*refresh=*/true);
  counts = fake.stored_count("secplat-asset-status");
  EXPECT_EQ(counts["blog"], 2);
  EXPECT_EQ(counts["shop"], shop_before + 1);
  const Json blog = fake.store()["secplat-asset-status"]["blog"];
  EXPECT_EQ(blog["@timestamp"], "2026-09-21T14:15:50Z");  // kT0 + 150 s
  EXPECT_EQ(blog["staleness_seconds"], 150);
  EXPECT_EQ(blog["status"], "up");
  EXPECT_TRUE(fake.problems().empty()) << ::testing::PrintToString(fake.problems());
}

TEST_F(OpenSearchMirrorTest, ATooLargeRequestIsSplit) {
  add_probed("shop");
  for (int i = 0; i < 4; ++i) result("shop", kT0 - 10'000 + i * 100, true);
  fake.fail_next_bulk_requests(1, 413);
  auto m = make(options());
  drain(*m);
  auto requests = fake.bulk_ids();
  ASSERT_GE(requests.size(), 3u);
  EXPECT_EQ(requests[0].size(), 4u);
  EXPECT_EQ(requests[1].size(), 2u);
  EXPECT_EQ(keys(fake.store()["secplat-events"]), event_ids());
}

TEST_F(OpenSearchMirrorTest, BasicAuthIsSent) {
  add_probed("shop");
  result("shop", kT0, true);
  auto o = options();
  o.username = "secplat";
  o.password = "s3cret:pw";
  auto m = make(o);
  drain(*m);
  auto auths = fake.authorizations();
  ASSERT_FALSE(auths.empty());
  for (const auto& a : auths) EXPECT_EQ(a, "Basic " + base64_encode("secplat:s3cret:pw"));
}

TEST_F(OpenSearchMirrorTest, StopEndsTheLoopPromptlyWhileOpenSearchIsDown) {
  add_probed("shop");
  result("shop", kT0 - 5000, true);
  fake.fail_next_bulk_requests(1'000'000);
  auto o = options();
  o.backoff_base_ms = 200;
  o.backoff_max_ms = 30'000;
  auto m = make(o);
  ASSERT_TRUE(m->start().ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (fake.bulk_requests() < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_GE(fake.bulk_requests(), 3);
  EXPECT_GT(metric("secplat_opensearch_lag_seconds"), 0);
  const auto t0 = std::chrono::steady_clock::now();
  m->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  EXPECT_EQ(*m->events_cursor(), 0);  // nothing was acknowledged, nothing is skipped
}

}  // namespace
}  // namespace secplat::posture::opensearch
