// The queue conformance suite for the local durable queue on PostgreSQL (CTest fixture `pg`):
// the queue's tables and claims run on any `Db`, so deployments with PostgreSQL but without
// Redis keep the same guarantees.
#include <gtest/gtest.h>

#include "queue/local_queue.h"
#include "queue/queue_conformance.h"
#include "support/pg_test_db.h"

namespace secplat::queue {
namespace {

std::unique_ptr<Queue> make_pg_queue(const QueueTestKnobs& k) {
  std::shared_ptr<store::Db> db = secplat::testing::fresh_pg_db();
  if (!db) return nullptr;
  auto migrated = store::migrate(*db, local_queue_migrations());
  EXPECT_TRUE(migrated.ok()) << migrated.error().message;
  auto q = open_local_queue(*db, {.retry = k.retry,
                                  .visibility_timeout_ms = k.visibility_timeout_ms,
                                  .max_len = k.max_len,
                                  .dlq_max_len = k.dlq_max_len,
                                  .clock = k.clock});
  EXPECT_TRUE(q.ok()) << q.error().message;
  if (!q.ok()) return nullptr;
  return std::make_unique<QueueWithOwner>(db, std::move(*q));
}

INSTANTIATE_TEST_SUITE_P(LocalOnPostgres, QueueConformance,
                         ::testing::Values(QueueFactory{"local_pg", make_pg_queue}), queue_factory_name);

}  // namespace
}  // namespace secplat::queue
