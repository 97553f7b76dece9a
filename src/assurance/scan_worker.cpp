#include "assurance/scan_worker.h"

#include "core/log.h"
#include "queue/streams.h"

namespace secplat::assurance {

namespace {
const std::string kStream(queue::kScanJobs);
const std::string kGroup = "workers";
}  // namespace

ScanWorker::ScanWorker(queue::Queue& queue, ScanPipeline& pipeline, ScanStore& store, ScanEventLog& events,
                       std::string consumer_name)
    : queue_(queue), pipeline_(pipeline), store_(store), events_(events), consumer_(std::move(consumer_name)) {}

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

Status ScanWorker::start(int threads) {
  SECPLAT_TRY(queue_.ensure_group(kStream, kGroup));
  stopping_ = false;
  for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this, i] { loop(i); });
  return ok_status();
}

void ScanWorker::stop() {
  stopping_ = true;
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
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
      Status st = pipeline_.run(it->second);
      if (!st) {
        log::error("scan run failed", {log::str("test_id", it->second), log::str("error", st.error().message)});
        (void)queue_.retry(m, kGroup, st.error().message);
        continue;
      }
      (void)queue_.ack(kStream, kGroup, m.id);
    }
  }
}

}  // namespace secplat::assurance
