#include "assurance/scan_worker.h"

#include <algorithm>
#include <chrono>

#include "core/log.h"
#include "queue/streams.h"

namespace secplat::assurance {

namespace {
const std::string kStream(queue::kScanJobs);
const std::string kGroup = "workers";

// Why a dead-lettered scan or upload was given up on.
std::string gave_up(int attempts, const std::string& error) {
  return "gave up after " + std::to_string(attempts) + " attempts: " + error;
}
}  // namespace

ScanWorker::ScanWorker(queue::Queue& queue, ScanPipeline& pipeline, ScanLedger& store, ScanEventLog& events,
                       std::string consumer_name, int64_t lease_ms)
    : queue_(queue),
      pipeline_(pipeline),
      store_(store),
      events_(events),
      consumer_(std::move(consumer_name)),
      lease_ms_(std::max<int64_t>(lease_ms, 30)) {}

ScanWorker::~ScanWorker() { stop(); }

Status ScanWorker::recover() {
  auto ids = store_.fail_interrupted();
  if (!ids) return std::move(ids).take_error();
  for (const auto& id : *ids) {
    (void)events_.append(id, "error", {{"message", "interrupted"}});
    (void)events_.append(id, "scan_complete", {{"status", kFailed}});
    log::warn("scan interrupted by a restart", {log::str("test_id", id)});
  }
  return ok_status();
}

// The scan's message went to the dead-letter stream: nothing will run the scan again, so it must
// not stay QUEUED or RUNNING (its watchers wait for scan_complete).
void ScanWorker::give_up(const std::string& test_id, int attempts, const std::string& error) {
  const std::string reason = gave_up(attempts, error);
  auto failed = store_.fail_undeliverable(test_id, reason);
  if (!failed) {
    log::error("could not mark a dead-lettered scan failed",
               {log::str("test_id", test_id), log::str("error", failed.error().message)});
    return;
  }
  if (!*failed) return;  // already final
  log::warn("scan dead-lettered", {log::str("test_id", test_id), log::str("error", reason)});
  (void)events_.append(test_id, "error", {{"message", reason}});
  (void)events_.append(test_id, "scan_complete", {{"status", kFailed}});
}

Status ScanWorker::start(int threads) {
  SECPLAT_TRY(queue_.ensure_group(kStream, kGroup));
  stopping_ = false;
  heartbeat_stop_ = false;
  const int n = std::max(1, threads);
  inflight_.assign(static_cast<std::size_t>(n), std::nullopt);
  for (int i = 0; i < n; ++i) threads_.emplace_back([this, i] { loop(i); });
  heartbeat_ = std::thread([this] { heartbeat(); });
  return ok_status();
}

void ScanWorker::stop() {
  stopping_ = true;
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  // The heartbeat outlives the pool: a scan finishing during stop() still needs its lease.
  {
    std::lock_guard lk(inflight_mu_);
    heartbeat_stop_ = true;
  }
  stop_cv_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
}

void ScanWorker::heartbeat() {
  const auto every = std::chrono::milliseconds(std::max<int64_t>(lease_ms_ / 3, 10));
  for (;;) {
    std::vector<queue::Message> held;
    {
      std::unique_lock lk(inflight_mu_);
      if (stop_cv_.wait_for(lk, every, [this] { return heartbeat_stop_; })) return;
      for (const auto& m : inflight_)
        if (m) held.push_back(*m);
    }
    pipeline_.renew_leases();
    for (const auto& m : held) {
      auto kept = queue_.touch(m, kGroup);
      if (!kept) log::warn("scan job heartbeat failed", {log::str("id", m.id), log::str("error", kept.error().message)});
    }
  }
}

void ScanWorker::loop(int index) {
  std::string me = consumer_ + "-" + std::to_string(index);
  while (!stopping_) {
    auto msgs = queue_.read(kStream, kGroup, me, 1, 200);
    if (!msgs) {
      log::warn("scan queue read failed", {log::str("error", msgs.error().message)});
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    for (const auto& m : *msgs) {
      {
        std::lock_guard lk(inflight_mu_);
        inflight_[static_cast<std::size_t>(index)] = m;
      }
      struct Done {
        ScanWorker* w;
        std::size_t i;
        ~Done() {
          std::lock_guard lk(w->inflight_mu_);
          w->inflight_[i].reset();
        }
      } done{this, static_cast<std::size_t>(index)};
      if (auto up = m.fields.find("upload_test_id"); up != m.fields.end()) {
        if (publisher_ == nullptr) {
          (void)queue_.dead_letter(m, kGroup, "no publisher in this worker");
          continue;
        }
        Status st = publisher_->run(up->second);
        if (!st) {
          log::warn("bundle upload step failed", {log::str("test_id", up->second), log::str("error", st.error().message)});
          auto dead = queue_.retry(m, kGroup, st.error().message);
          if (dead && *dead) {
            Status given_up = publisher_->abandon(up->second, gave_up(m.attempts, st.error().message));
            if (!given_up)
              log::error("could not mark a dead-lettered upload failed",
                         {log::str("test_id", up->second), log::str("error", given_up.error().message)});
          }
        } else {
          (void)queue_.ack(kStream, kGroup, m.id);
        }
        continue;
      }
      auto it = m.fields.find("test_id");
      if (it == m.fields.end() && other_ && m.fields.count("job_id")) {
        auto r = other_(m);
        if (r.kind == OtherJobResult::Kind::ack) (void)queue_.ack(kStream, kGroup, m.id);
        else if (r.kind == OtherJobResult::Kind::retry) (void)queue_.retry(m, kGroup, r.error);
        else (void)queue_.dead_letter(m, kGroup, r.error);
        continue;
      }
      if (it == m.fields.end()) {
        (void)queue_.dead_letter(m, kGroup, "message without test_id");
        continue;
      }
      Status st = pipeline_.run(it->second, me, lease_ms_);
      if (!st) {
        log::error("scan run failed", {log::str("test_id", it->second), log::str("error", st.error().message)});
        auto dead = queue_.retry(m, kGroup, st.error().message);
        if (dead && *dead) give_up(it->second, m.attempts, st.error().message);
        continue;
      }
      (void)queue_.ack(kStream, kGroup, m.id);
    }
  }
}

}  // namespace secplat::assurance
