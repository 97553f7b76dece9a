// Scan jobs in the store: idempotent creation per hour bucket, the state machine, recovery and
// analytics, with the local queue carrying the announcements.
#include <gtest/gtest.h>

#include "core/json.h"
#include "posture/jobs.h"
#include "posture/posture_fixture.h"

namespace secplat::posture {
namespace {

using testing::kT0;

class JobsTest : public testing::PostureFixture {
 protected:
  void SetUp() override {
    PostureFixture::SetUp();
    ASSERT_TRUE(queue->ensure_group(std::string(queue::kScanJobs), "test").ok());
    jobs = std::make_unique<JobService>(*db_, *queue, clock);
    add_probed("web");
  }
  void TearDown() override {
    jobs.reset();
    PostureFixture::TearDown();
  }
  JobRequest web(const std::string& type = "web_exposure") {
    JobRequest r;
    r.job_type = type;
    r.asset_key = "web";
    return r;
  }
  std::unique_ptr<JobService> jobs;
};

TEST_F(JobsTest, CreateIsIdempotentWithinTheHourAndAnnouncesOnce) {
  auto first = jobs->create(web(), "alice", "req-1");
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->job.status, "queued");
  EXPECT_EQ(first->job.requested_by, "alice");
  EXPECT_EQ(first->job.asset_key, "web");
  EXPECT_NE(first->job.idempotency_key->find("web_exposure+web+"), std::string::npos);
  clock.advance_ms(60'000);
  auto again = jobs->create(web(), "bob", "req-2");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->job.job_id, first->job.job_id);
  EXPECT_TRUE(jobs->create(web("tls_headers"), "bob", "r").value().created);  // another type
  clock.advance_ms(3600'000);
  EXPECT_TRUE(jobs->create(web(), "bob", "r").value().created);  // next hour bucket

  auto msgs = published(queue::kScanJobs);
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0].fields.at("event_type"), "scan.requested");
  EXPECT_EQ(msgs[0].fields.at("job_id"), std::to_string(first->job.job_id));
  EXPECT_EQ(msgs[0].fields.at("request_id"), "req-1");
}

TEST_F(JobsTest, BadRequestsWriteNothing) {
  JobRequest r = web("port_scan");
  EXPECT_EQ(jobs->create(r, "a", "").error().code, Errc::validation);
  r = web();
  r.asset_key = "nope";
  EXPECT_EQ(jobs->create(r, "a", "").error().code, Errc::validation);
  r = JobRequest{};
  r.job_type = "health_http";
  EXPECT_EQ(jobs->create(r, "a", "").error().code, Errc::validation);  // needs an asset
  EXPECT_EQ(count("SELECT COUNT(*) AS n FROM scan_jobs"), 0);
  r.job_type = "score_recompute";  // this one runs over every asset
  EXPECT_TRUE(jobs->create(r, "a", "").ok());
}

TEST_F(JobsTest, ClaimLogFinishRetryAndRecover) {
  auto j = jobs->create(web("health_http"), "alice", "").value().job;
  auto claimed = jobs->claim(j.job_id);
  ASSERT_TRUE(claimed.ok());
  ASSERT_TRUE(claimed->has_value());
  EXPECT_EQ((*claimed)->status, "running");
  EXPECT_FALSE(jobs->claim(j.job_id).value().has_value()) << "a running job cannot be claimed twice";
  EXPECT_EQ(jobs->retry(j.job_id, "").error().code, Errc::bad_request);
  ASSERT_TRUE(jobs->append_log(j.job_id, "Scanning").ok());
  ASSERT_TRUE(jobs->append_log(j.job_id, "Done").ok());
  ASSERT_TRUE(jobs->finish(j.job_id, false, std::string("retryable=false error=boom")).ok());
  auto done = jobs->get(j.job_id).value();
  EXPECT_EQ(done.status, "failed");
  EXPECT_NE(done.log_output.find("] Scanning\n"), std::string::npos);
  EXPECT_NE(done.log_output.find("] Done\n"), std::string::npos);
  EXPECT_TRUE(done.finished_ms.has_value());

  published(queue::kScanJobs);
  auto retried = jobs->retry(j.job_id, "req-r");
  ASSERT_TRUE(retried.ok());
  EXPECT_EQ(retried->status, "queued");
  EXPECT_EQ(retried->retry_count, 1);
  EXPECT_TRUE(jobs->get(j.job_id)->log_output.empty());
  EXPECT_EQ(published(queue::kScanJobs).size(), 1u);

  // A worker dies while running: recover() puts it back and announces it again.
  ASSERT_TRUE(jobs->claim(j.job_id).value().has_value());
  auto n = jobs->recover();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
  auto back = jobs->get(j.job_id).value();
  EXPECT_EQ(back.status, "queued");
  EXPECT_EQ(back.retry_count, 2);
  EXPECT_NE(back.log_output.find("recovered stale running job"), std::string::npos);
}

TEST_F(JobsTest, AnalyticsCountsRatesAndDurations) {
  std::vector<int64_t> ids;
  for (const char* t : {"web_exposure", "tls_headers", "health_http"}) ids.push_back(jobs->create(web(t), "a", "").value().job.job_id);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(jobs->claim(ids[i]).value().has_value());
    clock.advance_ms(2000 * (i + 1));
    ASSERT_TRUE(jobs->finish(ids[i], i == 0, std::nullopt).ok());
  }
  auto a = jobs->analytics(24, 30, std::nullopt);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->totals.total, 3);
  EXPECT_EQ(a->totals.queued, 1);
  EXPECT_EQ(a->totals.done, 1);
  EXPECT_EQ(a->totals.failed, 1);
  EXPECT_EQ(a->totals.completed, 2);
  EXPECT_DOUBLE_EQ(a->totals.success_rate_pct, 50.0);
  EXPECT_DOUBLE_EQ(*a->totals.max_duration_s, 4.0);
  EXPECT_DOUBLE_EQ(*a->totals.avg_duration_s, 3.0);
  EXPECT_EQ(a->by_job_type.size(), 3u);
  auto only = jobs->analytics(24, 30, std::string("tls_headers"));
  EXPECT_EQ(only->totals.total, 1);
}

}  // namespace
}  // namespace secplat::posture
