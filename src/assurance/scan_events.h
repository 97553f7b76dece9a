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
// Several processes (API replicas, workers) may append to and follow one scan:
//   * seq is allocated against the store: an append that loses a race for a seq to another process
//     re-reads the log and tries the next one (and finds the log closed if that was scan_complete);
//   * with a publisher set, every append is also published (distributed mode: a Redis stream), and
//     events appended elsewhere come in through deliver(); each subscriber remembers the last seq
//     it got, skips what it already has and fills any gap from the store, so it still sees every
//     event exactly once and in order.
//
// Threading: thread-safe. Sinks run under the scan's lock and must not block or call back into
// this log (WsSession::send_text only queues).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "assurance/scan_ledger.h"
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
    int64_t delivered_ = 0;  // last seq given to the sink (under the channel's lock)
  };

  // Called after an event is persisted, under the scan's lock (so per scan in seq order).
  using Publisher = std::function<void(const std::string& test_id, int64_t seq, const std::string& type,
                                       const std::string& event_json)>;

  ScanEventLog(ScanLedger& store, const Clock& clock) : store_(store), clock_(clock) {}

  // Appends one event; `fields` must be an object (type/timestamp/seq are set here). Log lines
  // (`line` of type "log") are redacted. Returns the seq, or 0 if the scan's log is closed.
  Result<int64_t> append(const std::string& test_id, const std::string& type, Json fields);

  // Replays events with seq > since, then follows. Returns nullptr when the log was already
  // complete (everything, including scan_complete, has been delivered to the sink).
  Result<std::shared_ptr<Subscription>> subscribe(const std::string& test_id, int64_t since, Sink sink);

  // Subscriptions currently following a live scan.
  int64_t live_subscribers() const;

  // Distributed mode: publish every local append (set once, before use) ...
  void set_publisher(Publisher publisher) { publisher_ = std::move(publisher); }
  // ... and hand in events appended by other processes. Only scans with live subscribers here do
  // any work; events already seen are ignored.
  void deliver(const std::string& test_id, int64_t seq, const std::string& type, const std::string& event_json);
  // Reads the store for every scan with live subscribers here and hands them what they missed
  // (an event whose publish was lost). One query per followed scan.
  void catch_up();

 private:
  struct Channel {
    std::mutex mu;
    bool loaded = false;
    bool closed = false;
    int64_t last_seq = 0;
    std::vector<std::shared_ptr<Subscription>> subs;
  };
  std::shared_ptr<Channel> channel(const std::string& test_id);
  std::shared_ptr<Channel> find_channel(const std::string& test_id);
  Status load(const std::string& test_id, Channel& ch);  // under ch.mu
  // Gives event `seq` to every subscriber that has not had it, with any missing events before it
  // read from the store first. Under ch.mu.
  void fan_out(const std::string& test_id, Channel& ch, int64_t seq, const std::string& text, bool terminal);
  void drop_channel(const std::string& test_id);

  ScanLedger& store_;
  const Clock& clock_;
  Publisher publisher_;
  mutable std::mutex map_mu_;
  std::map<std::string, std::shared_ptr<Channel>> channels_;
};

}  // namespace secplat::assurance
