#include <gtest/gtest.h>

#include <thread>

#include "core/metrics.h"

namespace secplat {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(Metrics, CountersAndGaugesWithLabels) {
  Metrics m;
  m.counter("jobs_total", "Jobs done", {{"kind", "scan"}}).inc();
  m.counter("jobs_total", "Jobs done", {{"kind", "scan"}}).inc(2);
  m.counter("jobs_total", "Jobs done", {{"kind", "probe"}}).inc();
  m.gauge("queue_depth", "Queued").set(7);
  std::string out = m.render();
  EXPECT_TRUE(has_line(out, "# HELP jobs_total Jobs done")) << out;
  EXPECT_TRUE(has_line(out, "# TYPE jobs_total counter")) << out;
  EXPECT_TRUE(has_line(out, R"(jobs_total{kind="scan"} 3)")) << out;
  EXPECT_TRUE(has_line(out, R"(jobs_total{kind="probe"} 1)")) << out;
  EXPECT_TRUE(has_line(out, "# TYPE queue_depth gauge")) << out;
  EXPECT_TRUE(has_line(out, "queue_depth 7")) << out;
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  Metrics m;
  Histogram& h = m.histogram("latency_seconds", "Latency", {0.1, 1}, {{"route", "/x"}});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(3);
  std::string out = m.render();
  EXPECT_TRUE(has_line(out, "# TYPE latency_seconds histogram")) << out;
  EXPECT_TRUE(has_line(out, R"(latency_seconds_bucket{route="/x",le="0.1"} 1)")) << out;
  EXPECT_TRUE(has_line(out, R"(latency_seconds_bucket{route="/x",le="1"} 2)")) << out;
  EXPECT_TRUE(has_line(out, R"(latency_seconds_bucket{route="/x",le="+Inf"} 3)")) << out;
  EXPECT_TRUE(has_line(out, R"(latency_seconds_sum{route="/x"} 3.55)")) << out;
  EXPECT_TRUE(has_line(out, R"(latency_seconds_count{route="/x"} 3)")) << out;
}

TEST(Metrics, EscapesLabelValuesAndRunsCollectors) {
  Metrics m;
  m.counter("c_total", "C", {{"path", "a\"b\\c\nd"}}).inc();
  m.add_collector([](std::string& out) { out += "# TYPE computed gauge\ncomputed 42\n"; });
  std::string out = m.render();
  EXPECT_TRUE(has_line(out, R"(c_total{path="a\"b\\c\nd"} 1)")) << out;
  EXPECT_TRUE(has_line(out, "computed 42")) << out;
}

TEST(Metrics, ConcurrentIncrementsAreNotLost) {
  Metrics m;
  Counter& c = m.counter("hits_total", "Hits");
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) m.counter("hits_total", "Hits").inc();
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(c.value(), 40000);
}

}  // namespace
}  // namespace secplat
