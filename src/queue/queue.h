// The `Queue` port: named streams with Redis Streams semantics.
//
//   * publish() appends a message (a flat string map) to a stream and returns its id
//     ("<ms>-<seq>", increasing within a stream). Streams are capped at a maximum length; the
//     oldest entries that no group still has pending are trimmed first.
//   * Consumer groups read a stream independently; inside a group each message goes to one
//     consumer at a time (at-least-once). A message read but not acked within the visibility
//     timeout is reclaimed by the next read of any consumer of the group (a dead consumer's work
//     is not lost); each delivery increments `attempts`.
//   * retry() hands a message back with exponential backoff and jitter; once `attempts` reaches the
//     maximum it is moved to the dead-letter stream `<stream>.dlq` with the reason, and acked.
//   * dead_letter() moves a message to `<stream>.dlq` at once (a non-retryable failure).
//
// Threading: all methods are thread-safe. read() may block up to block_ms waiting for messages;
// call it from a worker thread, never an I/O thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"

namespace secplat::queue {

using Fields = std::map<std::string, std::string>;

struct Message {
  std::string stream;
  std::string id;
  Fields fields;
  int attempts = 0;         // deliveries so far, including this one (1 on first delivery)
  std::string consumer;     // who holds it now
};

struct PendingSummary {
  int64_t pending = 0;                  // delivered, not yet acked
  std::optional<std::string> min_id;
  std::optional<std::string> max_id;
  std::optional<int64_t> oldest_idle_ms;
  // Entries not yet delivered to the group (Redis: XINFO GROUPS `lag`); nullopt when the backend
  // cannot tell (Redis after certain trims or deletions).
  std::optional<int64_t> lag;
};

struct StreamStats {
  int64_t length = 0;                   // entries in the stream (XLEN)
  int64_t dlq_length = 0;               // entries in <stream>.dlq
  std::map<std::string, PendingSummary> groups;  // by group name
};

struct RetryPolicy {
  int max_attempts = 5;
  int64_t backoff_base_ms = 1000;
  int64_t backoff_max_ms = 300000;
};

class Queue {
 public:
  virtual ~Queue() = default;

  virtual Result<std::string> publish(const std::string& stream, const Fields& fields) = 0;

  // Appends several messages to one stream in order and returns their ids. Adapters do it in one
  // round trip (one transaction, one pipeline); the default publishes one by one.
  virtual Result<std::vector<std::string>> publish_batch(const std::string& stream, const std::vector<Fields>& batch) {
    std::vector<std::string> ids;
    ids.reserve(batch.size());
    for (const auto& f : batch) {
      auto id = publish(stream, f);
      if (!id.ok()) return std::move(id).take_error();
      ids.push_back(std::move(*id));
    }
    return ids;
  }

  // Creates the group if missing (reading from the start of the stream). Idempotent.
  virtual Status ensure_group(const std::string& stream, const std::string& group) = 0;

  // Up to `count` messages for this consumer: first reclaimable ones (visibility timeout passed,
  // or retry delay elapsed), then new ones. Waits up to block_ms when there are none.
  virtual Result<std::vector<Message>> read(const std::string& stream, const std::string& group,
                                            const std::string& consumer, int count, int64_t block_ms) = 0;

  virtual Status ack(const std::string& stream, const std::string& group, const std::string& id) = 0;

  // Acks several messages of one group; adapters do it in one round trip, the default one by one.
  virtual Status ack_batch(const std::string& stream, const std::string& group, const std::vector<std::string>& ids) {
    for (const auto& id : ids) SECPLAT_TRY(ack(stream, group, id));
    return ok_status();
  }

  // A retryable failure: redeliver after backoff, or dead-letter once attempts are exhausted.
  // Returns true if the message was dead-lettered.
  virtual Result<bool> retry(const Message& msg, const std::string& group, const std::string& error) = 0;

  // A permanent failure: to <stream>.dlq now, and acked.
  virtual Status dead_letter(const Message& msg, const std::string& group, const std::string& error) = 0;

  virtual Result<StreamStats> stats(const std::string& stream) = 0;

  // Extends the visibility timeout of a message this consumer holds (the heartbeat of a long job):
  // it is not reclaimed by another consumer for another visibility timeout from now. False when the
  // message is no longer this consumer's (acked, retried, or reclaimed after the consumer stalled).
  // Does not count as a delivery.
  virtual Result<bool> touch(const Message& msg, const std::string& group) = 0;

  // Reads entries of a stream without a group (for inspecting dead letters): ids > after_id.
  virtual Result<std::vector<Message>> range(const std::string& stream, const std::string& after_id, int count) = 0;

  // Fan-out reading without a group, so every reader sees every entry (live scan events to every
  // API replica): entries with ids > after_id, waiting up to block_ms when there are none yet.
  // Start from last_id() to see only what is appended from now on.
  virtual Result<std::vector<Message>> tail(const std::string& stream, const std::string& after_id, int count,
                                            int64_t block_ms) = 0;
  // The id of the newest entry of the stream, "0-0" when it is empty or does not exist.
  virtual Result<std::string> last_id(const std::string& stream) = 0;

  // True if the backend answers (for /ready).
  virtual Status ping() = 0;

  // "local" or "redis", and the server's version where there is a server (for /queue/health).
  virtual std::string backend() const { return "local"; }
  virtual Result<std::string> server_version() { return std::string(); }
};

}  // namespace secplat::queue
