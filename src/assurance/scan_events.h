// Per-scan append-only event log: persisted in `scan_events` and fanned out to live subscribers.
//
// Invariants:
//   * seq starts at 1 and increases by one per event of a scan;
//   * a subscriber sees every event with seq > since exactly once, in seq order, whether it was
//     appended before or after subscribe(): replay and registration happen under the same lock
//     that append() holds while persisting and fanning out;
//   * `scan_complete` is the last event; appends after it are dropped, and subscribers get
//     `terminal = true` with it (then they are forgotten).
// Event JSON: {"type", "timestamp" (float epoch s), "seq", ...fields}.
//
// Threading: thread-safe. Sinks run under the scan's lock and must not block or call back into
// this log (WsSession::send_text only queues). Live fan-out is per process: a subscriber in one
// process does not see events appended by a worker in another (it still gets them on replay).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "assurance/scan_store.h"
#include "core/clock.h"
#include "core/json.h"

namespace secplat::assurance {

// Masks secret-looking values in one log line before it is stored or streamed. The single point
// where a secrets engine's redactor plugs in.
std::string redact_line(std::string_view line);

class ScanEventLog {
 public:
  // Returns false to be unsubscribed (e.g. the socket is gone).
  using Sink = std::function<bool(const std::string& event_json, bool terminal)>;

  class Subscription {
   public:
    void cancel() { active_.store(false); }
    bool active() const { return active_.load(); }

   private:
    friend class ScanEventLog;
    std::atomic<bool> active_{true};
    Sink sink_;
  };

  ScanEventLog(ScanStore& store, const Clock& clock) : store_(store), clock_(clock) {}

  // Appends one event; `fields` must be an object (type/timestamp/seq are set here). Log lines
  // (`line` of type "log") are redacted. Returns the seq, or 0 if the scan's log is closed.
  Result<int64_t> append(const std::string& test_id, const std::string& type, Json fields);

  // Replays events with seq > since, then follows. Returns nullptr when the log was already
  // complete (everything, including scan_complete, has been delivered to the sink).
  Result<std::shared_ptr<Subscription>> subscribe(const std::string& test_id, int64_t since, Sink sink);

  // Subscriptions currently following a live scan.
  int64_t live_subscribers() const;

 private:
  struct Channel {
    std::mutex mu;
    bool loaded = false;
    bool closed = false;
    int64_t last_seq = 0;
    std::vector<std::shared_ptr<Subscription>> subs;
  };
  std::shared_ptr<Channel> channel(const std::string& test_id);
  Status load(const std::string& test_id, Channel& ch);  // under ch.mu
  void drop_channel(const std::string& test_id);

  ScanStore& store_;
  const Clock& clock_;
  mutable std::mutex map_mu_;
  std::map<std::string, std::shared_ptr<Channel>> channels_;
};

}  // namespace secplat::assurance
