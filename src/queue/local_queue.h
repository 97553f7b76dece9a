// The local durable adapter of the `Queue` port: Redis Streams semantics kept in the store
// (SQLite by default), so streams, groups, pending entries and attempts survive a restart.
//
// Storage (tables queue_*, migrations 200..299):
//   queue_streams  (stream, last_seq, length)          id generator and XLEN counter
//   queue_entries  (stream, seq, id, fields, created_ms)
//   queue_groups   (stream, group_name, last_delivered_seq, created_ms)
//   queue_pending  (stream, seq, group_name, consumer, delivered_ms, visible_at_ms, attempts, last_error)
// `seq` is the entry id packed into one integer, ms << 20 | n, so ordering by seq is ordering by
// id. Ids strictly increase within a stream even if the clock goes back (the last ms is kept and
// n bumped, like Redis; n overflowing 2^20 carries into ms).
//
// Invariants:
//   * an entry is pending in a group at most once; pending entries are never trimmed;
//   * every read/ack/retry/dead-letter is one store transaction, so two consumers — threads, or
//     processes sharing the database file — never hold the same message of a group at once.
//
// Trimming (max_len per stream, dlq_max_len for streams named `*.dlq`): after each publish, if the
// stream holds more than its cap, the oldest entries that every group has already delivered and
// that no group has pending are deleted until the stream is back at the cap. If that is not
// enough (consumers are behind), publish() fails with Errc::unavailable ("stream full") and
// appends nothing: undelivered work is never dropped, the producer sees back-pressure instead.
//
// read() and range() return at most 1000 messages per call. retry() and dead_letter() return
// Errc::not_found when the message is no longer pending in the group (acked, or already moved).
// publish() rejects field names or values that are not valid UTF-8 (Errc::bad_request): entries
// are stored as JSON text.
//
// Retry backoff uses "equal jitter": delay = d/2 + uniform[0, d/2] with d = min(max, base·2^(n-1)),
// n = attempts so far, so every delay lies in [d/2, d].
//
// Threading: thread-safe. read() with block_ms > 0 wakes at once on a publish through the same
// Queue object and otherwise polls the store every 50 ms (publishes from another process, or
// messages becoming visible as the Clock moves). block_ms is measured in real time, visibility
// by the Clock.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/clock.h"
#include "queue/queue.h"
#include "store/db.h"

namespace secplat::queue {

struct LocalQueueOptions {
  RetryPolicy retry;
  int64_t visibility_timeout_ms = 120000;  // unacked this long → reclaimable by another consumer
  int64_t max_len = 100000;                // per stream
  int64_t dlq_max_len = 10000;             // per `<stream>.dlq`
  const Clock* clock = nullptr;            // null = a SystemClock; must outlive the queue
};

// Schema of the local queue (versions 200..299 are reserved for the queue).
std::vector<store::Migration> local_queue_migrations();

// The db must have local_queue_migrations() applied and must outlive the returned queue.
Result<std::unique_ptr<Queue>> open_local_queue(store::Db& db, LocalQueueOptions opts);

}  // namespace secplat::queue
