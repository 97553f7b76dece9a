// Runs queued scans: N threads read `secplat.jobs.scan` (group "workers"), run the pipeline and
// ack. N = max_concurrent_scans bounds the scans running at once in this process.
//
// recover() must run once at start-up before start(): scans left RUNNING by a dead process become
// FAILED "interrupted" (with error + scan_complete events); they can be retried through
// POST /v1/security-scans/{id}/retry, which creates a new scan with the same request.
//
// Threading: start()/stop() from one owner thread; stop() waits for running scans (cancel them
// them first — see ScanService::cancel — for a fast stop).
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "assurance/pipeline.h"
#include "queue/queue.h"

namespace secplat::assurance {

class ScanWorker {
 public:
  ScanWorker(queue::Queue& queue, ScanPipeline& pipeline, ScanStore& store, ScanEventLog& events,
             std::string consumer_name = "scan-worker");
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

 private:
  void loop(int index);

  queue::Queue& queue_;
  ScanPipeline& pipeline_;
  ScanStore& store_;
  ScanEventLog& events_;
  std::string consumer_;
  OtherJobHandler other_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
};

}  // namespace secplat::assurance
