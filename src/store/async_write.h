// What the adapters' transact_async() share: the bound of their queues, how a throw from the
// transaction becomes its outcome, and how done() is called. Internal to store/ adapters.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>

#include "core/error.h"

namespace secplat::store::async_write {

// Asynchronous writes outstanding (queued or running) before more are refused.
inline constexpr std::size_t kMaxOutstanding = 8192;

// Errc::unavailable with Retry-After 1: the queue is full.
Error queue_full();
// Errc::internal "transaction threw: <what>".
Error thrown(std::exception_ptr e);
// Calls done; a throw from it is logged, never propagated into the Db's thread.
void deliver(const std::function<void(Status)>& done, Status outcome);

}  // namespace secplat::store::async_write
