// A fixed set of threads with a bounded FIFO of tasks, for blocking work (store calls,
// subprocesses) that must never run on an I/O thread.
// Threading: try_submit() may be called from any thread; tasks run on pool threads.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace secplat {

class WorkerPool {
 public:
  WorkerPool(std::size_t threads, std::size_t max_queued);
  ~WorkerPool();  // drains queued tasks, then joins
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues a task; false when the queue is full or the pool is stopping (caller answers 503).
  bool try_submit(std::function<void()> task);
  // Stops accepting, runs what is queued, joins the threads. Idempotent.
  void shutdown();

  std::size_t queued() const;
  std::size_t busy() const;
  std::size_t size() const { return threads_.size(); }

 private:
  void run();

  const std::size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::size_t busy_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace secplat
