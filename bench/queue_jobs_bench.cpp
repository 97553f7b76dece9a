// Jobs through Redis Streams end to end, with the Redis queue adapter. Phase 1 enqueues N jobs
// (publish_batch, 500 per round trip); phase 2 starts W worker threads (one Redis connection each)
// that read, do the job, publish its result and ack, while a collector reads the results.
// Figures: enqueue jobs/s, and worker jobs/s from the workers' start to the last result read.
// Output: "jobs workers process_ms process_jobs_per_s errors enqueue_jobs_per_s".
//
// usage: queue_jobs_bench REDIS_URL JOBS WORKERS noop|small BATCH
//   noop   the job is acked and its result published, nothing else
//   small  the job carries 4 KiB; the worker computes its SHA-256 and returns the digest
//   BATCH  messages per read (1 = the reference's XREADGROUP COUNT 1 pattern; results and acks
//          are then batched per read as well)
#include <openssl/evp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "queue/redis_queue.h"

using namespace secplat;

namespace {

std::string sha256_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

int fail(const std::string& what, const Error& e) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), e.message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s REDIS_URL JOBS WORKERS noop|small BATCH\n", argv[0]);
    return 2;
  }
  const std::string url = argv[1];
  const int jobs = std::stoi(argv[2]);
  const int workers = std::stoi(argv[3]);
  const bool small = std::string(argv[4]) == "small";
  const int batch = std::stoi(argv[5]);

  queue::RedisQueueOptions o;
  o.url = url;
  o.key_prefix = "bench-" + random_hex(4) + ":";
  o.max_len = 10'000'000;  // keep every job: the figure is about delivery, not trimming
  auto opened = queue::open_redis_queue(o);
  if (!opened) return fail("open", opened.error());
  queue::Queue& q = **opened;
  const std::string jobs_stream = "bench.jobs", results_stream = "bench.results";
  if (auto s = q.ensure_group(jobs_stream, "workers"); !s) return fail("group", s.error());
  if (auto s = q.ensure_group(results_stream, "collector"); !s) return fail("group", s.error());

  const std::string payload = small ? std::string(4096, 'x') : std::string();
  std::atomic<bool> done{false};
  std::atomic<int> errors{0};

  const int64_t enqueue_start = steady_ms();
  for (int i = 0; i < jobs;) {
    std::vector<queue::Fields> chunk;
    for (; i < jobs && chunk.size() < 500; ++i) {
      queue::Fields f{{"job_id", std::to_string(i)}, {"job_type", small ? "small" : "noop"}};
      if (small) f["payload"] = payload;
      chunk.push_back(std::move(f));
    }
    if (auto ids = q.publish_batch(jobs_stream, chunk); !ids) return fail("enqueue", ids.error());
  }
  const int64_t enqueue_ms = std::max<int64_t>(1, steady_ms() - enqueue_start);

  const int64_t start = steady_ms();
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w) {
    pool.emplace_back([&, w] {
      const std::string me = "worker-" + std::to_string(w);
      while (!done) {
        auto msgs = q.read(jobs_stream, "workers", me, batch, 100);
        if (!msgs) {
          ++errors;
          continue;
        }
        if (msgs->empty()) continue;
        std::vector<queue::Fields> results;
        std::vector<std::string> ids;
        for (const auto& m : *msgs) {
          queue::Fields r{{"job_id", m.fields.at("job_id")}, {"status", "done"}};
          if (small) r["sha256"] = sha256_hex(m.fields.at("payload"));
          results.push_back(std::move(r));
          ids.push_back(m.id);
        }
        auto published = results.size() == 1 ? q.publish(results_stream, results[0]).ok()
                                              : q.publish_batch(results_stream, results).ok();
        if (!published || !q.ack_batch(jobs_stream, "workers", ids).ok()) ++errors;
      }
    });
  }

  int seen = 0;
  while (seen < jobs && steady_ms() - start < 300'000) {
    auto msgs = q.read(results_stream, "collector", "collector", 1000, 100);
    if (!msgs) {
      ++errors;
      continue;
    }
    std::vector<std::string> ids;
    for (const auto& m : *msgs) ids.push_back(m.id);
    seen += static_cast<int>(ids.size());
    (void)q.ack_batch(results_stream, "collector", ids);
  }
  const int64_t elapsed = steady_ms() - start;
  done = true;
  for (auto& t : pool) t.join();

  std::printf("%d %d %lld %.0f %d %.0f\n", seen, workers, static_cast<long long>(elapsed),
              elapsed > 0 ? seen * 1000.0 / static_cast<double>(elapsed) : 0.0, errors.load(),
              jobs * 1000.0 / static_cast<double>(enqueue_ms));
  return seen == jobs && errors == 0 ? 0 : 1;
}
