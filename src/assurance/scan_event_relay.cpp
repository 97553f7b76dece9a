#include "assurance/scan_event_relay.h"

#include <charconv>
#include <chrono>

#include "core/log.h"
#include "queue/streams.h"

namespace secplat::assurance {

namespace {
const std::string kStream(queue::kScanLogEvents);
}

ScanEventRelay::ScanEventRelay(queue::Queue& queue, ScanEventLog& log, ScanEventRelayOptions options)
    : queue_(queue), log_(log), options_(std::move(options)) {}

ScanEventRelay::~ScanEventRelay() { stop(); }

void ScanEventRelay::attach_publisher() {
  log_.set_publisher([this](const std::string& test_id, int64_t seq, const std::string& type, const std::string& json) {
    auto id = queue_.publish(kStream, {{"test_id", test_id},
                                       {"seq", std::to_string(seq)},
                                       {"type", type},
                                       {"event", json},
                                       {"origin", options_.origin}});
    if (!id.ok())
      log::warn("scan event not relayed", {log::str("test_id", test_id), log::integer("seq", seq),
                                           log::str("error", id.error().message)});
  });
}

Status ScanEventRelay::start() {
  auto last = queue_.last_id(kStream);
  if (!last) return std::move(last).take_error();
  stopping_ = false;
  thread_ = std::thread([this, after = *last] { follow(after); });
  return ok_status();
}

void ScanEventRelay::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void ScanEventRelay::follow(std::string after) {
  int64_t next_catch_up = steady_ms() + options_.catch_up_ms;
  bool failing = false;
  while (!stopping_) {
    auto batch = queue_.tail(kStream, after, 512, 250);
    if (!batch) {
      if (!failing) log::warn("scan event relay: read failed", {log::str("error", batch.error().message)});
      failing = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    } else {
      if (failing) log::info("scan event relay: reading again");
      failing = false;
      for (const auto& m : *batch) {
        after = m.id;
        auto field = [&m](const char* k) -> const std::string* {
          auto it = m.fields.find(k);
          return it == m.fields.end() ? nullptr : &it->second;
        };
        const std::string *origin = field("origin"), *test_id = field("test_id"), *seq = field("seq"),
                          *type = field("type"), *event = field("event");
        if (!test_id || !seq || !type || !event) continue;  // not ours to interpret
        if (origin && *origin == options_.origin) continue;
        int64_t n = 0;
        auto [p, ec] = std::from_chars(seq->data(), seq->data() + seq->size(), n);
        if (ec != std::errc() || p != seq->data() + seq->size() || n < 1) continue;
        log_.deliver(*test_id, n, *type, *event);
        ++delivered_;
      }
    }
    if (steady_ms() >= next_catch_up) {
      log_.catch_up();
      next_catch_up = steady_ms() + options_.catch_up_ms;
    }
  }
}

}  // namespace secplat::assurance
