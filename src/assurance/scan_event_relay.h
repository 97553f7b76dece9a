// Carries live scan events between processes (distributed mode): every event a process appends is
// published to the stream `secplat.events.scanlog`, and a follower thread hands the events other
// processes published to this process's ScanEventLog, so a WebSocket client on any API replica
// sees every event of any scan, whichever worker runs it.
//
// The stream is a convenience, not the record: events are in the store first. A publish that fails
// (queue down) is logged and dropped, and every `catch_up_ms` the follower also reads the store for
// the scans someone here follows, so a lost event arrives late rather than never.
//
// Threading: start()/stop() from one owner thread; the publisher runs on the appending thread.
#pragma once

#include <atomic>
#include <string>
#include <thread>

#include "assurance/scan_events.h"
#include "queue/queue.h"

namespace secplat::assurance {

struct ScanEventRelayOptions {
  std::string origin;            // unique per process: its own events are not handed back
  int64_t catch_up_ms = 2000;
};

class ScanEventRelay {
 public:
  ScanEventRelay(queue::Queue& queue, ScanEventLog& log, ScanEventRelayOptions options);
  ~ScanEventRelay();

  // Sets the log's publisher. Every process that appends events (api, worker) does this.
  void attach_publisher();
  // Starts following the stream from its current end (processes that serve WebSockets).
  Status start();
  void stop();

  int64_t delivered() const { return delivered_.load(); }  // events handed in from elsewhere

 private:
  void follow(std::string after);

  queue::Queue& queue_;
  ScanEventLog& log_;
  ScanEventRelayOptions options_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> delivered_{0};
  std::thread thread_;
};

}  // namespace secplat::assurance
