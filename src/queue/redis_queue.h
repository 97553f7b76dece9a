// The Redis Streams adapter of the `Queue` port, for deployments where producers and consumers run
// in separate processes and machines (issue: distributed mode).
//
// Mapping onto Redis 7 (every multi-step operation is one Lua script, so it is atomic):
//   publish        XADD <stream> MAXLEN ~|= <cap> * field value...   (`=` when trim_exact)
//   publish_batch  MULTI, one XADD per message, EXEC: one round trip, all or nothing
//   ensure_group   XGROUP CREATE <stream> <group> 0 MKSTREAM (BUSYGROUP = already there)
//   read           at most every 100 ms per stream and group in a process (and when a retry it
//                  scheduled falls due), one script:
//                  1. retries whose backoff has elapsed: XCLAIM ... FORCE RETRYCOUNT n+1
//                  2. dead consumers' work: XAUTOCLAIM <visibility timeout> from a cursor kept per
//                     group (so a long pending list is walked, not rescanned from its head)
//                  3. new entries: XREADGROUP ... >
//                  in between, new entries straight from XREADGROUP (cheapest for the server);
//                  when there are none, XREADGROUP BLOCK in slices of at most 250 ms until block_ms.
//   ack            XACK (and forget a scheduled retry)
//   retry          below max attempts: XACK and schedule the id in a sorted set
//                  `secplat:queue:delayed:<stream>:<group>` at now+backoff (server time), with the
//                  delivery count in `secplat:queue:attempts:<stream>:<group>`; redelivery claims it
//                  back with the same id. At max attempts: XADD to `<stream>.dlq` and XACK.
//   dead_letter    XADD to `<stream>.dlq` and XACK
//   prune          with a read, at most once a minute: XINFO CONSUMERS, XGROUP DELCONSUMER of each
//                  consumer idle for consumer_prune_idle_ms with nothing pending (one script)
//   stats          XLEN, XLEN of the dlq, XINFO GROUPS, XPENDING per group (`pending` includes
//                  scheduled retries; `oldest_idle_ms` is the idle time of the first pending entry,
//                  as in the reference)
//
// Differences from the local queue (docs/compat.md): MAXLEN trims the oldest entries whether or not
// they were delivered (Redis semantics, no back-pressure); attempts count Redis deliveries; idle
// and backoff time are measured by the Redis server's clock, not by `clock` (which only stamps
// `failed_at`). Scripts touch keys derived from the stream name, so use a single Redis node (or
// a cluster where one slot holds them; not tested).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/clock.h"
#include "queue/queue.h"

namespace secplat::queue {

struct RedisQueueOptions {
  std::string url;                         // redis://[[user]:password@]host[:port][/db]
  RetryPolicy retry;
  int64_t visibility_timeout_ms = 120000;
  int64_t max_len = 100000;                // per stream
  int64_t dlq_max_len = 10000;             // per `<stream>.dlq`
  bool trim_exact = false;                 // MAXLEN = instead of MAXLEN ~ (exact, slower)
  int max_idle_connections = 16;
  // Consumers of a group that hold nothing pending and have not read for this long are removed
  // (XGROUP DELCONSUMER), checked at most once a minute per stream and group: every process start
  // takes a fresh consumer name, so without this XINFO CONSUMERS grows by one per restart. 0 = keep.
  int64_t consumer_prune_idle_ms = 3600000;
  // Prepended to every Redis key, so several deployments (or test servers) can share one Redis;
  // stream names seen through the port stay unprefixed. Empty = the reference's stream names.
  std::string key_prefix;
  const Clock* clock = nullptr;            // null = a SystemClock; must outlive the queue
};

// Connects once; Errc::unavailable naming the server if it cannot, Errc::bad_request for a bad URL.
Result<std::unique_ptr<Queue>> open_redis_queue(const RedisQueueOptions& options);

}  // namespace secplat::queue
