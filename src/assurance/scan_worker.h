// Runs queued scans: N threads read `secplat.jobs.scan` (group "workers"), run the pipeline and
// ack. N = max_concurrent_scans bounds the scans running at once in this process.
//
// Single process (serve): recover() runs once at start-up before start(): scans left RUNNING by the
// previous process become FAILED "interrupted" (with error + scan_complete events); they can be
// retried through POST /v1/security-scans/{id}/retry, which creates a new scan with the same request.
//
// Several worker processes (distributed mode) never call recover(): a heartbeat thread renews the
// lease of every scan running here and touches its queue message every lease/3, so nobody else
// takes them. A worker killed mid-scan stops both; after the visibility timeout another worker
// reclaims the message, takes the expired lease and runs the scan again from the start.
//
// Threading: start()/stop() from one owner thread; stop() waits for running scans (cancel them
// them first — see ScanService::cancel — for a fast stop).
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "assurance/bundle_publisher.h"
#include "assurance/pipeline.h"
#include "queue/queue.h"

namespace secplat::assurance {

class ScanWorker {
 public:
  // lease_ms must not exceed the queue's visibility timeout (a reclaimed message must find the
  // lease expired).
  ScanWorker(queue::Queue& queue, ScanPipeline& pipeline, ScanLedger& store, ScanEventLog& events,
             std::string consumer_name = "scan-worker", int64_t lease_ms = 30000);
  ~ScanWorker();

  Status recover();
  Status start(int threads);
  void stop();

  // The stream also carries the posture platform's scan jobs (messages with `job_id`, no
  // `test_id`); the worker pool runs them through this handler. Set before start().
  struct OtherJobResult {
    enum class Kind { ack, retry, dead_letter } kind = Kind::ack;
    std::string error;
  };
  using OtherJobHandler = std::function<OtherJobResult(const queue::Message&)>;
  void set_other_job_handler(OtherJobHandler handler) { other_ = std::move(handler); }
  // Messages with `upload_test_id` (POST .../upload-request) run the bundle publisher. Set
  // before start(); without one they are dead-lettered.
  void set_publisher(BundlePublisher* publisher) { publisher_ = publisher; }

 private:
  void loop(int index);
  void heartbeat();
  void give_up(const std::string& test_id, int attempts, const std::string& error);

  queue::Queue& queue_;
  ScanPipeline& pipeline_;
  ScanLedger& store_;
  ScanEventLog& events_;
  std::string consumer_;
  int64_t lease_ms_;
  OtherJobHandler other_;
  BundlePublisher* publisher_ = nullptr;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
  std::thread heartbeat_;
  std::mutex inflight_mu_;
  std::condition_variable stop_cv_;
  bool heartbeat_stop_ = false;  // under inflight_mu_
  std::vector<std::optional<queue::Message>> inflight_;  // per thread: the message it works on
};

}  // namespace secplat::assurance
