// JobRunner on SQLite: score recomputes, web checks against a loopback server reconciled as
// findings, the jobs that are refused, and the message outcomes (ack, retry, dead letter).
//
// The conformance suite of the JobLedger port: every test runs twice, with the runner on the
// store's ledger (SqlJobLedger) and on the API's (HttpJobLedger → a real http::Server serving
// api::jobs_internal_routes over the same store, with a service API key), as a worker process
// without database credentials runs.
#include "posture/job_runner.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>

#include "api/jobs_routes.h"
#include "core/json.h"
#include "http/client.h"
#include "http/test_server.h"
#include "posture/http_job_ledger.h"
#include "posture/posture_fixture.h"
#include "posture/sql_job_ledger.h"

namespace secplat::posture {
namespace {

using Outcome = JobRunner::Outcome;

constexpr int kMaxAttempts = 3;

// A loopback port with nothing listening (bound once, then closed).
uint16_t closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

// The site the web jobs check: "/" is a plain page (no security headers unless `nosniff` is set),
// "/health" answers health_status.
struct Site {
  std::atomic<bool> nosniff{false};
  std::atomic<int> health_status{200};
  std::unique_ptr<http::testing::TestServer> server;

  Site() {
    http::Route root;
    root.method = "GET";
    root.path = "/";
    root.access = http::Access::public_route;
    root.handler = [this](http::Request&) -> Result<http::Response> {
      auto r = http::Response::text(200, "<!doctype html><html><body>shop</body></html>", "text/html");
      if (nosniff) r.headers.emplace_back("X-Content-Type-Options", "nosniff");
      return r;
    };
    http::Route health;
    health.method = "GET";
    health.path = "/health";
    health.access = http::Access::public_route;
    health.handler = [this](http::Request&) -> Result<http::Response> {
      return http::Response::text(health_status, "status");
    };
    server = std::make_unique<http::testing::TestServer>(std::vector<http::Route>{root, health},
                                                         http::testing::TestServer::small_limits(), false);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server->port); }
};

class JobRunnerTest : public testing::PostureFixture, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    PostureFixture::SetUp();
    jobs = std::make_unique<JobService>(*db_, *queue, clock);
    sql_ledger_ = std::make_unique<SqlJobLedger>(*jobs, *assets, *findings);
    if (GetParam() == "http") {
      api_ = std::make_unique<http::testing::TestServer>(api::jobs_internal_routes(*sql_ledger_));
      ASSERT_NE(api_->port, 0);
      http_ledger_ = std::make_unique<HttpJobLedger>(api_url(), "service-token");
    }
    runner_ = std::make_unique<JobRunner>(ledger(), options());
  }
  void TearDown() override {
    runner_.reset();
    http_ledger_.reset();
    api_.reset();
    sql_ledger_.reset();
    jobs.reset();
    PostureFixture::TearDown();
  }

  static JobRunnerOptions options() {
    JobRunnerOptions o;
    o.net.allow_private = true;  // the site is on loopback
    o.timeout_ms = 5000;
    o.max_attempts = kMaxAttempts;
    return o;
  }
  std::string api_url() const { return "http://127.0.0.1:" + std::to_string(api_->port); }
  // The ledger the runner under test works through.
  JobLedger& ledger() { return http_ledger_ ? static_cast<JobLedger&>(*http_ledger_) : *sql_ledger_; }

  int64_t create_job(const std::string& type, const std::optional<std::string>& asset_key) {
    JobRequest r;
    r.job_type = type;
    r.asset_key = asset_key;
    auto c = jobs->create(r, "alice", "req-1");
    EXPECT_TRUE(c.ok()) << c.error().message;
    return c.ok() ? c->job.job_id : 0;
  }
  static queue::Message message(int64_t job_id, int attempts = 1) {
    queue::Message m;
    m.stream = std::string(queue::kScanJobs);
    m.id = "1-0";
    m.fields = {{"event_type", "scan.requested"}, {"job_id", std::to_string(job_id)}};
    m.attempts = attempts;
    return m;
  }
  Job job(int64_t id) {
    auto j = jobs->get(id);
    EXPECT_TRUE(j.ok());
    return j.ok() ? *j : Job{};
  }
  // Runs the job's message once and expects it acked.
  Job run_to_end(int64_t id, int attempts = 1) {
    auto h = runner_->handle(message(id, attempts));
    EXPECT_EQ(h.outcome, Outcome::ack) << h.error;
    return job(id);
  }

  void add_asset(const std::string& key, std::optional<std::string> address, std::optional<Probe> probe = {}) {
    Asset a;
    a.asset_key = key;
    a.name = key;
    a.address = std::move(address);
    a.probe = std::move(probe);
    auto r = assets->create(a);
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  std::vector<findings::Finding> findings_of(const std::string& key, const std::optional<std::string>& source,
                                             const std::optional<std::string>& status = {}) {
    findings::FindingFilter f;
    f.asset_key = key;
    f.source = source;
    f.status = status;
    f.limit = 1000;
    auto page = findings->list(f);
    EXPECT_TRUE(page.ok());
    return page.ok() ? page->items : std::vector<findings::Finding>{};
  }
  static bool has_title(const std::vector<findings::Finding>& fs, const std::string& title) {
    for (const auto& f : fs)
      if (f.title == title) return true;
    return false;
  }

  std::unique_ptr<JobService> jobs;
  std::unique_ptr<SqlJobLedger> sql_ledger_;
  std::unique_ptr<http::testing::TestServer> api_;
  std::unique_ptr<HttpJobLedger> http_ledger_;
  std::unique_ptr<JobRunner> runner_;
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_P(JobRunnerTest, ScoreRecomputeOfOneAssetRescoresItsFindings) {
  make_asset("shop");
  make_asset("other");
  findings::FindingInput in;
  in.asset_key = "shop";
  in.finding_key = "k1";
  in.title = "Outdated TLS";
  in.severity = "high";
  ASSERT_TRUE(findings->upsert(in, auth::Actor{"alice", ""}).ok());
  const int before = findings_of("shop", std::nullopt).at(0).risk_score;
  // The asset becomes production and critical; its stored risk is stale until recomputed.
  ASSERT_TRUE(assets->update("shop", [](Asset& a) {
                      a.environment = "prod";
                      a.criticality = "high";
                      a.type = "external_web";
                      return ok_status();
                    }).ok());
  ASSERT_EQ(findings_of("shop", std::nullopt).at(0).risk_score, before);

  const Job done = run_to_end(create_job("score_recompute", "shop"));
  EXPECT_EQ(done.status, "done");
  EXPECT_FALSE(done.error.has_value());
  EXPECT_TRUE(contains(done.log_output, "Worker dispatch job_type=score_recompute attempt=1")) << done.log_output;
  EXPECT_TRUE(contains(done.log_output, "Recomputed risk for 1 asset(s)")) << done.log_output;
  EXPECT_TRUE(contains(done.log_output, "] Done\n")) << done.log_output;
  EXPECT_GT(findings_of("shop", std::nullopt).at(0).risk_score, before);
}

TEST_P(JobRunnerTest, ScoreRecomputeWithoutAnAssetCoversEveryAsset) {
  for (const char* key : {"a", "b", "c"}) make_asset(key);
  const Job done = run_to_end(create_job("score_recompute", std::nullopt));
  EXPECT_EQ(done.status, "done");
  EXPECT_TRUE(contains(done.log_output, "Recomputed risk for 3 asset(s)")) << done.log_output;
}

TEST_P(JobRunnerTest, WebExposureFindingsAreReconciledOnTheAssetAndARerunDoesNotDuplicateThem) {
  Site site;
  add_asset("shop", site.url());
  const int64_t id = create_job("web_exposure", "shop");
  Job done = run_to_end(id);
  ASSERT_EQ(done.status, "done") << done.error.value_or("") << "\n" << done.log_output;
  EXPECT_TRUE(contains(done.log_output, "Scanning " + site.url() + " ...")) << done.log_output;
  EXPECT_TRUE(contains(done.log_output, "GET " + site.url() + "/ -> 200")) << done.log_output;
  EXPECT_TRUE(contains(done.log_output, "Finding: Missing Content-Security-Policy header (medium)")) << done.log_output;
  const auto first = findings_of("shop", "web_exposure");
  ASSERT_FALSE(first.empty());
  EXPECT_TRUE(has_title(first, "Missing Content-Security-Policy header"));
  EXPECT_TRUE(has_title(first, "Missing X-Content-Type-Options header"));
  const std::string n = std::to_string(first.size());
  EXPECT_TRUE(contains(done.log_output, "Findings: " + n + " new, 0 still present, 0 remediated")) << done.log_output;

  // The user retries the job: the same findings, updated in place.
  ASSERT_TRUE(jobs->retry(id, "req-2").ok());
  done = run_to_end(id);
  ASSERT_EQ(done.status, "done") << done.log_output;
  EXPECT_TRUE(contains(done.log_output, "Findings: 0 new, " + n + " still present, 0 remediated")) << done.log_output;
  const auto second = findings_of("shop", "web_exposure");
  ASSERT_EQ(second.size(), first.size());
  EXPECT_EQ(findings_of("shop", "web_exposure", "open").size(), first.size());

  // The site is fixed: the finding that is gone is remediated, the rest stay open.
  site.nosniff = true;
  ASSERT_TRUE(jobs->retry(id, "req-3").ok());
  done = run_to_end(id);
  ASSERT_EQ(done.status, "done") << done.log_output;
  EXPECT_TRUE(contains(done.log_output, "1 remediated")) << done.log_output;
  const auto remediated = findings_of("shop", "web_exposure", "remediated");
  ASSERT_EQ(remediated.size(), 1u);
  EXPECT_EQ(remediated[0].title, "Missing X-Content-Type-Options header");
  EXPECT_EQ(findings_of("shop", "web_exposure").size(), first.size());
}

TEST_P(JobRunnerTest, HealthHttpChecksTheProbeUrlAndReportsAnUnavailableEndpoint) {
  Site site;
  site.health_status = 503;
  Probe p;
  p.url = site.url() + "/health";
  p.timeout_ms = 3000;
  add_asset("api", std::nullopt, p);
  const int64_t id = create_job("health_http", "api");
  Job done = run_to_end(id);
  ASSERT_EQ(done.status, "done") << done.error.value_or("") << "\n" << done.log_output;
  EXPECT_TRUE(contains(done.log_output, "Scanning " + site.url() + "/health ...")) << done.log_output;
  auto down = findings_of("api", "health_http", "open");
  ASSERT_EQ(down.size(), 1u);
  EXPECT_EQ(down[0].title, "Endpoint unavailable");

  site.health_status = 200;  // back up: the finding is remediated
  ASSERT_TRUE(jobs->retry(id, "req-2").ok());
  done = run_to_end(id);
  EXPECT_EQ(done.status, "done");
  EXPECT_TRUE(findings_of("api", "health_http", "open").empty());
  EXPECT_EQ(findings_of("api", "health_http", "remediated").size(), 1u);
}

TEST_P(JobRunnerTest, AJobOnAnAssetThatIsGoneFailsWithAssetNotFound) {
  add_asset("temp", "http://127.0.0.1:1");
  const int64_t id = create_job("web_exposure", "temp");
  ASSERT_TRUE(assets->remove("temp").ok());
  const Job failed = run_to_end(id);
  EXPECT_EQ(failed.status, "failed");
  EXPECT_EQ(failed.error.value_or(""), "retryable=false error=Asset not found");
  EXPECT_TRUE(contains(failed.log_output, "Failed: Asset not found")) << failed.log_output;
}

TEST_P(JobRunnerTest, AnUnverifiedDomainIsNotScanned) {
  make_asset("shop.example.com", "external_web");
  const Job failed = run_to_end(create_job("tls_headers", "shop.example.com"));
  EXPECT_EQ(failed.status, "failed");
  EXPECT_EQ(failed.error.value_or(""), "retryable=false error=Domain not verified");
  EXPECT_FALSE(contains(failed.log_output, "Scanning")) << failed.log_output;
}

TEST_P(JobRunnerTest, AnAssetWithoutAUrlFailsSayingWhatToSet) {
  add_asset("laptop", std::nullopt);
  const Job failed = run_to_end(create_job("web_exposure", "laptop"));
  EXPECT_EQ(failed.status, "failed");
  EXPECT_EQ(failed.error.value_or(""),
            "retryable=false error=Asset has no URL to scan (set probe.url or address)");
}

TEST_P(JobRunnerTest, AnUnknownJobIsDeadLettered) {
  auto h = runner_->handle(message(424242));
  EXPECT_EQ(h.outcome, Outcome::dead_letter);
  EXPECT_EQ(h.error, "job_not_found");
  queue::Message no_id = message(1);
  no_id.fields.erase("job_id");
  EXPECT_EQ(runner_->handle(no_id).error, "missing_job_id");
}

TEST_P(JobRunnerTest, AMessageForAJobThatIsNotQueuedIsAckedWithoutWork) {
  make_asset("a");
  const int64_t finished = create_job("score_recompute", std::nullopt);
  const Job done = run_to_end(finished);
  ASSERT_EQ(done.status, "done");
  // The same message again (a redelivery): nothing runs, the log is untouched.
  auto again = runner_->handle(message(finished, 2));
  EXPECT_EQ(again.outcome, Outcome::ack);
  EXPECT_EQ(job(finished).log_output, done.log_output);

  // Running on another worker: left alone.
  const int64_t running = create_job("score_recompute", "a");
  ASSERT_TRUE(jobs->claim(running).value().has_value());
  EXPECT_EQ(runner_->handle(message(running)).outcome, Outcome::ack);
  const Job still = job(running);
  EXPECT_EQ(still.status, "running");
  EXPECT_TRUE(still.log_output.empty()) << still.log_output;
}

// A worker killed in the middle of a job: its message comes back (attempts 2) to another worker,
// which takes the running job over and finishes it, once; the log says what happened.
TEST_P(JobRunnerTest, ARedeliveredMessageTakesOverTheJobOfAWorkerThatDied) {
  make_asset("a");
  const int64_t id = create_job("score_recompute", "a");
  ASSERT_TRUE(jobs->claim(id).value().has_value());  // ... and that worker dies here
  const Job done = run_to_end(id, 2);
  EXPECT_EQ(done.status, "done");
  EXPECT_EQ(done.retry_count, 1);
  EXPECT_TRUE(contains(done.log_output, "previous worker stopped responding; the job runs again")) << done.log_output;
  EXPECT_TRUE(contains(done.log_output, "Recomputed risk for 1 asset(s)")) << done.log_output;
  // Its message once more: the job is done, nothing runs again.
  EXPECT_EQ(runner_->handle(message(id, 3)).outcome, Outcome::ack);
  EXPECT_EQ(job(id).log_output, done.log_output);
}

TEST_P(JobRunnerTest, AnUnreachableSiteIsRetriedUntilTheLastAttemptFailsTheJob) {
  add_asset("down", "http://127.0.0.1:" + std::to_string(closed_port()));
  const int64_t id = create_job("web_exposure", "down");
  for (int attempt = 1; attempt < kMaxAttempts; ++attempt) {
    auto h = runner_->handle(message(id, attempt));
    ASSERT_EQ(h.outcome, Outcome::retry) << attempt;
    const Job back = job(id);
    EXPECT_EQ(back.status, "queued");
    EXPECT_EQ(back.retry_count, attempt);
    EXPECT_TRUE(contains(back.log_output, "Retrying after error (")) << back.log_output;
  }
  const Job failed = run_to_end(id, kMaxAttempts);
  EXPECT_EQ(failed.status, "failed");
  EXPECT_TRUE(contains(failed.error.value_or(""), "retryable=false error=")) << failed.error.value_or("");
  EXPECT_TRUE(findings_of("down", "web_exposure").empty());
}

// The HTTP adapter's own behaviour (instantiated for "http" only).
class JobRunnerApiTest : public JobRunnerTest {
 protected:
  http::ClientResponse post(const std::string& op, const std::string& body) {
    return http::testing::post_as_service(api_url() + "/internal/jobs/" + op, body);
  }
  // Handles `m` with a runner on an API whose operation `op` answers 503 (its store is down).
  JobRunner::Handled handle_with_failing_op(const std::string& op, const queue::Message& m) {
    auto routes = api::jobs_internal_routes(*sql_ledger_);
    for (auto& r : routes)
      if (r.path == "/internal/jobs/" + op)
        r.handler = [](http::Request&) -> Result<http::Response> { return Error::unavailable("database unavailable"); };
    http::testing::TestServer failing(std::move(routes));
    HttpJobLedger flaky("http://127.0.0.1:" + std::to_string(failing.port), "service-token");
    JobRunner runner(flaky, options());
    return runner.handle(m);
  }
  // The `loc` of the first field error of a 422 (error.detail[0].loc), joined with '.'.
  static std::string loc_of(const http::ClientResponse& r) {
    Json j = Json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) return "";
    const Json& detail = j["error"].value("detail", Json());
    if (!detail.is_array() || detail.empty() || !detail[0].contains("loc")) return "";
    std::string out;
    for (const auto& part : detail[0]["loc"]) out += (out.empty() ? "" : ".") + part.get<std::string>();
    return out;
  }
};

TEST_P(JobRunnerApiTest, TheLedgerRoutesAdmitOnlyServiceKeys) {
  make_asset("a");
  const int64_t id = create_job("score_recompute", "a");
  for (const char* key : {"viewer-token", "analyst-token", "admin-token", "", "spk_not-a-key"}) {
    HttpJobLedger other(api_url(), key);
    auto c = other.claim(id, false);
    ASSERT_FALSE(c.ok()) << key;
    EXPECT_EQ(c.error().code, Errc::forbidden) << key << ": " << c.error().message;
    JobRunner refused(other, options());
    EXPECT_NE(refused.handle(message(id)).outcome, Outcome::ack) << key;
  }
  EXPECT_EQ(job(id).status, "queued");
  EXPECT_TRUE(job(id).log_output.empty());
}

TEST_P(JobRunnerApiTest, AMalformedBodyIsA422NamingTheFieldAndWritesNothing) {
  make_asset("shop");
  const int64_t id = create_job("web_exposure", "shop");
  ASSERT_TRUE(jobs->claim(id).value().has_value());

  auto no_ok = post("finish", R"({"job_id": )" + std::to_string(id) + R"(, "error": "x"})");
  EXPECT_EQ(no_ok.status, 422);
  EXPECT_EQ(loc_of(no_ok), "body.ok") << no_ok.body;
  auto bad_id = post("log", R"({"job_id": "one", "line": "hello"})");
  EXPECT_EQ(bad_id.status, 422);
  EXPECT_EQ(loc_of(bad_id), "body.job_id") << bad_id.body;
  auto bad_type = post("target", R"({"asset_key": "shop", "job_type": "score_recompute"})");
  EXPECT_EQ(bad_type.status, 422);
  EXPECT_EQ(loc_of(bad_type), "body.job_type") << bad_type.body;
  // The second finding has no key: the whole set is refused, the first is not stored either.
  auto no_key = post("reconcile", R"({"asset_key": "shop", "source": "web_exposure", "actor_id": "job:1",
      "audit_action": "finding.scan_job", "items": [{"finding_key": "k1", "title": "One"}, {"title": "Two"}]})");
  EXPECT_EQ(no_key.status, 422);
  EXPECT_EQ(loc_of(no_key), "body.items.1.finding_key") << no_key.body;
  EXPECT_EQ(post("finish", "{not json").status, 422);

  const Job unchanged = job(id);
  EXPECT_EQ(unchanged.status, "running");
  EXPECT_TRUE(unchanged.log_output.empty()) << unchanged.log_output;
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM findings"), 0);
  EXPECT_EQ(post("no-such-op", "{}").status, 404);
}

// An API without the job routes (404 for the route) is not an unknown job: the message is retried.
TEST_P(JobRunnerApiTest, AnApiWithoutTheRoutesIsNotMistakenForAnUnknownJob) {
  make_asset("a");
  const int64_t id = create_job("score_recompute", "a");
  http::testing::TestServer bare(std::vector<http::Route>{});
  HttpJobLedger old_api("http://127.0.0.1:" + std::to_string(bare.port), "service-token");
  auto c = old_api.claim(id, false);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, Errc::unavailable) << c.error().message;
  JobRunner runner(old_api, options());
  EXPECT_EQ(runner.handle(message(id)).outcome, Outcome::retry);
  EXPECT_EQ(job(id).status, "queued");
}

// With the API down the job is not failed: the message is retried, and once the API answers again
// the job runs.
TEST_P(JobRunnerApiTest, AnUnreachableApiHoldsTheJobUntilItAnswers) {
  make_asset("a");
  const int64_t id = create_job("score_recompute", std::nullopt);
  const std::string url = api_url();
  api_.reset();  // nothing listens on the API's port now
  HttpJobLedger down(url, "service-token", 2000);
  JobRunner runner(down, options());
  auto h = runner.handle(message(id));
  EXPECT_EQ(h.outcome, Outcome::retry);
  EXPECT_FALSE(h.error.empty());
  EXPECT_EQ(job(id).status, "queued");

  api_ = std::make_unique<http::testing::TestServer>(api::jobs_internal_routes(*sql_ledger_));
  HttpJobLedger up(api_url(), "service-token");
  JobRunner back(up, options());
  EXPECT_EQ(back.handle(message(id, 2)).outcome, Outcome::ack);
  const Job done = job(id);
  EXPECT_EQ(done.status, "done");
  EXPECT_TRUE(contains(done.log_output, "Worker dispatch job_type=score_recompute attempt=2")) << done.log_output;
  EXPECT_TRUE(contains(done.log_output, "Recomputed risk for 1 asset(s)")) << done.log_output;
}

// The API fails in the middle of a job (its store is down: 503): the job goes back to queued and
// the message is retried; the next attempt finishes it.
TEST_P(JobRunnerApiTest, AnApiFailureDuringAJobRequeuesIt) {
  make_asset("a");
  const int64_t id = create_job("score_recompute", "a");
  auto h = handle_with_failing_op("recompute-risk", message(id));
  EXPECT_EQ(h.outcome, Outcome::retry);
  const Job back = job(id);
  EXPECT_EQ(back.status, "queued");
  EXPECT_EQ(back.retry_count, 1);
  EXPECT_FALSE(back.error.value_or("").empty());

  const Job done = run_to_end(id, 2);  // the API works again
  EXPECT_EQ(done.status, "done");
  EXPECT_TRUE(contains(done.log_output, "Recomputed risk for 1 asset(s)")) << done.log_output;
}

// The API cannot record the job's end: the message is retried, not acked, so the job does not stay
// `running` for ever; its redelivery takes the job over and finishes it.
TEST_P(JobRunnerApiTest, AJobEndTheApiCouldNotRecordIsRunAgain) {
  make_asset("a");
  const int64_t id = create_job("score_recompute", "a");
  auto h = handle_with_failing_op("finish", message(id));
  EXPECT_EQ(h.outcome, Outcome::retry);
  EXPECT_EQ(job(id).status, "running");

  const Job done = run_to_end(id, 2);  // the redelivery, with the API working again
  EXPECT_EQ(done.status, "done");
  EXPECT_TRUE(contains(done.log_output, "previous worker stopped responding")) << done.log_output;
}

INSTANTIATE_TEST_SUITE_P(Ledgers, JobRunnerTest, ::testing::Values("sql", "http"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Ledgers, JobRunnerApiTest, ::testing::Values("http"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace secplat::posture
