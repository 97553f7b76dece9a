// The scheduled Prober: cadence without drift or bursts, target set changes, probe_now, the
// in-flight cap, prompt stop, and TLS details, against real sockets on 127.0.0.1.
#include "posture/probe/prober.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "posture/probe/probe_servers.h"

using namespace secplat;
using namespace secplat::posture;
using secplat::posture::testing::http_response;
using secplat::posture::testing::TestHttpServer;
using secplat::posture::testing::TestTlsServer;
using namespace std::chrono_literals;

namespace {

// Collects sink results; tests wait on conditions with a deadline.
class Results {
 public:
  Prober::Sink sink() {
    return [this](ProbeResult r) {
      std::lock_guard lk(mu_);
      times_[r.asset_key].push_back(steady_ms());
      all_.push_back(std::move(r));
      cv_.notify_all();
    };
  }
  bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, done);
  }
  // Number of results for `key`; only from inside a wait_until predicate (which holds the lock).
  std::size_t count(const std::string& key) const {
    auto it = times_.find(key);
    return it == times_.end() ? 0 : it->second.size();
  }
  std::size_t count_now(const std::string& key) {
    std::lock_guard lk(mu_);
    return count(key);
  }
  std::size_t total() {
    std::lock_guard lk(mu_);
    return all_.size();
  }
  // Results for `key` delivered within [from, to) on the steady clock.
  int count_between(const std::string& key, int64_t from, int64_t to) {
    std::lock_guard lk(mu_);
    int n = 0;
    for (int64_t t : times_[key])
      if (t >= from && t < to) ++n;
    return n;
  }
  std::vector<ProbeResult> all() {
    std::lock_guard lk(mu_);
    return all_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::vector<int64_t>> times_;
  std::vector<ProbeResult> all_;
};

ProbeTarget target(const std::string& key, const std::string& url, int interval_s = 1) {
  ProbeTarget t;
  t.asset_key = key;
  t.url = url;
  t.interval_seconds = interval_s;
  t.timeout_ms = 2000;
  return t;
}

ProberOptions local_options() {
  ProberOptions o;
  o.net.allow_private = true;
  return o;
}

TestHttpServer::Handler ok() {
  return [](const std::string&) { return http_response(200, "ok"); };
}

TestHttpServer::Handler silent() {
  return [](const std::string&) { return std::string(); };
}

bool eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return cond();
}

}  // namespace

TEST(prober_schedule, EachTargetIsProbedAboutOncePerInterval) {
  TestHttpServer server(ok());
  Results results;
  Prober prober(local_options(), results.sink());
  prober.set_targets({target("a", server.url("/a")), target("b", server.url("/b")), target("c", server.url("/c"))});
  prober.start();
  ASSERT_TRUE(results.wait_until([&] { return results.count("a") && results.count("b") && results.count("c"); }));
  const int64_t from = steady_ms();
  std::this_thread::sleep_for(3s);  // the window being measured
  const int64_t to = steady_ms();
  prober.stop();
  for (const char* key : {"a", "b", "c"}) {
    const int n = results.count_between(key, from, to);
    EXPECT_GE(n, 2) << key;
    EXPECT_LE(n, 4) << key;
  }
  for (const auto& r : results.all()) EXPECT_TRUE(r.up) << r.asset_key << ": " << r.error;
  const auto s = prober.stats();
  EXPECT_EQ(s.targets, 3);
  EXPECT_EQ(s.probes, static_cast<int64_t>(results.total()));
  EXPECT_EQ(s.failures, 0);
  EXPECT_EQ(s.in_flight, 0);
  // Keep-alive: connections are reused across probes and targets.
  EXPECT_LT(server.connections(), server.requests());
}

TEST(prober_schedule, ReplacingTheSameTargetsKeepsTheirSchedule) {
  TestHttpServer server(ok());
  Results results;
  Prober prober(local_options(), results.sink());
  const std::vector<ProbeTarget> targets{target("a", server.url("/a"))};
  prober.set_targets(targets);
  prober.start();
  ASSERT_TRUE(results.wait_until([&] { return results.count("a") >= 1; }));
  const int64_t from = steady_ms();
  while (steady_ms() - from < 3000) {  // as an inventory refresh would, only much more often
    prober.set_targets(targets);
    std::this_thread::sleep_for(20ms);
  }
  const int n = results.count_between("a", from, steady_ms());
  prober.stop();
  EXPECT_GE(n, 2);
  EXPECT_LE(n, 4);
}

TEST(prober_schedule, ARemovedTargetIsNoLongerProbed) {
  TestHttpServer server(ok());
  Results results;
  Prober prober(local_options(), results.sink());
  prober.set_targets({target("keep", server.url("/keep")), target("drop", server.url("/drop"))});
  prober.start();
  ASSERT_TRUE(results.wait_until([&] { return results.count("keep") >= 1 && results.count("drop") >= 1; }));
  prober.set_targets({target("keep", server.url("/keep"))});
  ASSERT_TRUE(eventually([&] { return prober.stats().targets == 1; }));
  const std::size_t dropped = results.count_now("drop");
  const std::size_t kept = results.count_now("keep");
  ASSERT_TRUE(results.wait_until([&] { return results.count("keep") >= kept + 2; }));
  prober.stop();
  EXPECT_EQ(results.count_now("drop"), dropped);
}

TEST(prober_schedule, ProbeNowProbesAtOnce) {
  TestHttpServer server(ok());
  Results results;
  ProberOptions o = local_options();
  o.jitter_fraction = 0;  // first probe at once, the next one an hour later
  Prober prober(o, results.sink());
  prober.set_targets({target("a", server.url("/a"), 3600)});
  prober.start();
  ASSERT_TRUE(results.wait_until([&] { return results.count("a") == 1; }));
  const int64_t t0 = steady_ms();
  prober.probe_now("a");
  ASSERT_TRUE(results.wait_until([&] { return results.count("a") == 2; }, 2s));
  EXPECT_LT(steady_ms() - t0, 1000);
  prober.probe_now("unknown");  // ignored
  prober.stop();
  EXPECT_EQ(results.count_now("a"), 2u);
}

TEST(prober_schedule, AProbeThatOverrunsSkipsTheMissedSlotsInsteadOfBursting) {
  // Interval 1 s, but each probe waits 2.5 s for a server that never answers: probes start at
  // 0 s, 3 s, 6 s. The 1 s and 2 s slots are skipped, not made up when the probe ends at 2.5 s.
  TestHttpServer server(silent());
  Results results;
  ProberOptions o = local_options();
  o.jitter_fraction = 0;
  Prober prober(o, results.sink());
  ProbeTarget t = target("slow", server.url(), 1);
  t.timeout_ms = 2500;
  prober.set_targets({t});
  prober.start();
  ASSERT_TRUE(eventually([&] { return server.connections() >= 1; }));
  const int64_t first = server.accept_times().at(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(5000 - (steady_ms() - first)));
  const auto starts = server.accept_times();
  const auto timeouts = results.count_now("slow");
  prober.stop();
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_NEAR(static_cast<double>(starts[1] - starts[0]), 3000.0, 300.0);
  EXPECT_EQ(timeouts, 1u);
  for (const auto& r : results.all()) EXPECT_EQ(r.error_class, "timeout");
}

TEST(prober_schedule, InFlightProbesAreCapped) {
  TestHttpServer server(silent());
  Results results;
  ProberOptions o = local_options();
  o.max_in_flight = 2;
  o.jitter_fraction = 0;
  Prober prober(o, results.sink());
  std::vector<ProbeTarget> targets;
  for (int i = 0; i < 5; ++i) {
    ProbeTarget t = target("t" + std::to_string(i), server.url("/" + std::to_string(i)), 60);
    t.timeout_ms = 5000;
    targets.push_back(t);
  }
  prober.set_targets(targets);
  prober.start();
  ASSERT_TRUE(eventually([&] { return server.requests() == 2; }));
  std::this_thread::sleep_for(300ms);  // room for a third connection that must not come
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(prober.stats().in_flight, 2);
  EXPECT_EQ(prober.stats().targets, 5);
  prober.stop();
}

TEST(prober_schedule, StopReturnsPromptlyWithProbesInFlightAndReportsNothingAfter) {
  TestHttpServer server(silent());
  Results results;
  ProberOptions o = local_options();
  o.jitter_fraction = 0;
  Prober prober(o, results.sink());
  std::vector<ProbeTarget> targets;
  for (int i = 0; i < 4; ++i) {
    ProbeTarget t = target("t" + std::to_string(i), server.url("/" + std::to_string(i)), 60);
    t.timeout_ms = 20000;
    targets.push_back(t);
  }
  prober.set_targets(targets);
  prober.start();
  ASSERT_TRUE(eventually([&] { return server.requests() == 4; }));
  EXPECT_EQ(prober.stats().in_flight, 4);
  const int64_t t0 = steady_ms();
  prober.stop();
  EXPECT_LT(steady_ms() - t0, 1000);
  EXPECT_EQ(prober.stats().in_flight, 0);
  EXPECT_EQ(results.total(), 0u);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(results.total(), 0u);
}

TEST(prober_schedule, RestartsAfterStop) {
  TestHttpServer server(ok());
  Results results;
  ProberOptions o = local_options();
  o.jitter_fraction = 0;
  Prober prober(o, results.sink());
  prober.set_targets({target("a", server.url(), 1)});
  prober.start();
  ASSERT_TRUE(results.wait_until([&] { return results.count("a") >= 1; }));
  prober.stop();
  const auto n = results.count_now("a");
  prober.start();
  ASSERT_TRUE(results.wait_until([&] { return results.count("a") >= n + 1; }));
}

TEST(prober_schedule, TheGuardAppliesToScheduledProbes) {
  TestHttpServer server(ok());
  Results results;
  ProberOptions o;  // allow_private = false
  o.jitter_fraction = 0;
  Prober prober(o, results.sink());
  prober.set_targets({target("local", server.url(), 60)});
  prober.start();
  ASSERT_TRUE(results.wait_until([&] { return results.count("local") == 1; }));
  prober.stop();
  const auto all = results.all();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].error_class, "forbidden");
  EXPECT_EQ(server.connections(), 0);
  EXPECT_EQ(prober.stats().failures, 1);
}

TEST(prober_tls, ATrustedCertificateReportsTheTlsVersionAndExpiry) {
  TestTlsServer server("DNS:localhost,IP:127.0.0.1", 30);
  Results results;
  ProberOptions o = local_options();
  o.jitter_fraction = 0;
  o.ca_file = server.cert_file();
  Prober prober(o, results.sink());
  prober.set_targets({target("tls", "https://localhost:" + std::to_string(server.port()) + "/", 60)});
  prober.start();
  ASSERT_TRUE(results.wait_until([&] { return results.count("tls") == 1; }));
  prober.stop();
  const ProbeResult r = results.all().at(0);
  EXPECT_TRUE(r.up) << r.error_class << ": " << r.error;
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.tls_version.value_or(""), "TLSv1.3");
  ASSERT_TRUE(r.cert_not_after_ms.has_value());
  EXPECT_NEAR(static_cast<double>(*r.cert_not_after_ms), static_cast<double>(server.not_after_ms()), 5000.0);
}

TEST(prober_tls, ACertificateForAnotherNameIsATlsError) {
  TestTlsServer server("DNS:other.example", 30);
  Results results;
  ProberOptions o = local_options();
  o.jitter_fraction = 0;
  o.ca_file = server.cert_file();
  Prober prober(o, results.sink());
  prober.set_targets({target("tls", "https://127.0.0.1:" + std::to_string(server.port()) + "/", 60)});
  prober.start();
  ASSERT_TRUE(results.wait_until([&] { return results.count("tls") == 1; }));
  prober.stop();
  const ProbeResult r = results.all().at(0);
  EXPECT_FALSE(r.up);
  EXPECT_EQ(r.error_class, "tls") << r.error;
  EXPECT_EQ(r.code, 0);
}
