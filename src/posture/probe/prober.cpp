#include "posture/probe/prober.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include "core/clock.h"
#include "core/log.h"
#include "posture/probe/http_probe.h"

namespace secplat::posture {
namespace {

// The longest the prober thread sleeps without checking its schedule and commands.
constexpr int kMaxPollMs = 1000;
// When a probe is due, those due within the next kBatchMs start with it: one wake-up per batch
// instead of one per probe (10,000 targets a minute are 170 probes a second).
constexpr int64_t kBatchMs = 20;

int64_t interval_ms_of(const ProbeTarget& t) { return int64_t{std::max(1, t.interval_seconds)} * 1000; }

}  // namespace

// Everything below except the command fields, the atomics and `multi_` (whose wake-up is
// thread-safe) belongs to the prober thread.
class Prober::Impl {
 public:
  Impl(ProberOptions options, Sink sink) : options_(std::move(options)), sink_(std::move(sink)) {
    init_curl_once();
    options_.max_in_flight = std::max(1, options_.max_in_flight);
    multi_ = curl_multi_init();
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(options_.max_in_flight));
    share_ = curl_share_init();
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }

  ~Impl() {
    stop();
    idle_easy_.clear();  // easy handles detach from the share before it goes
    curl_share_cleanup(share_);
    curl_multi_cleanup(multi_);
  }

  void start() {
    std::lock_guard lk(thread_mu_);
    if (thread_.joinable()) return;
    {
      std::lock_guard c(cmd_mu_);
      stop_requested_ = false;
    }
    thread_ = std::thread([this] { run(); });
  }

  void stop() {
    std::lock_guard lk(thread_mu_);
    if (!thread_.joinable()) return;
    {
      std::lock_guard c(cmd_mu_);
      stop_requested_ = true;
    }
    curl_multi_wakeup(multi_);
    thread_.join();
  }

  void set_targets(std::vector<ProbeTarget> targets) {
    {
      std::lock_guard c(cmd_mu_);
      pending_targets_ = std::move(targets);
    }
    curl_multi_wakeup(multi_);
  }

  void probe_now(const std::string& asset_key) {
    {
      std::lock_guard c(cmd_mu_);
      pending_now_.push_back(asset_key);
    }
    curl_multi_wakeup(multi_);
  }

  Stats stats() const {
    Stats s;
    s.probes = probes_.load(std::memory_order_relaxed);
    s.failures = failures_.load(std::memory_order_relaxed);
    s.in_flight = in_flight_.load(std::memory_order_relaxed);
    s.targets = targets_count_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  struct Transfer {
    EasyHandle easy;
    std::unique_ptr<HttpProbe> probe;
  };

  struct Target {
    std::shared_ptr<const ProbeSpec> spec;
    int64_t due_ms = 0;                  // steady clock; the key of its entry in schedule_
    std::unique_ptr<Transfer> transfer;  // the probe in flight, if any
  };

  using ScheduleEntry = std::pair<int64_t, Target*>;

  void run() {
    for (;;) {
      if (!apply_commands()) break;
      launch_due(steady_ms());
      int running = 0;
      curl_multi_perform(multi_, &running);
      collect_finished();
      int wait_ms = kMaxPollMs;
      if (in_flight_count_ < options_.max_in_flight && !schedule_.empty())
        wait_ms = static_cast<int>(std::clamp<int64_t>(schedule_.begin()->first - steady_ms(), 0, kMaxPollMs));
      curl_multi_poll(multi_, nullptr, 0, wait_ms, nullptr);
    }
    for (auto& [key, target] : targets_) abort_transfer(*target);
  }

  // Returns false when the thread should stop.
  bool apply_commands() {
    std::optional<std::vector<ProbeTarget>> targets;
    std::vector<std::string> now_keys;
    {
      std::lock_guard c(cmd_mu_);
      if (stop_requested_) return false;
      targets.swap(pending_targets_);
      now_keys.swap(pending_now_);
    }
    if (targets) replace_targets(std::move(*targets));
    const int64_t now = steady_ms();
    for (const auto& key : now_keys) {
      auto it = targets_.find(key);
      if (it == targets_.end() || it->second->transfer) continue;
      reschedule(*it->second, now);
    }
    return true;
  }

  void replace_targets(std::vector<ProbeTarget> list) {
    std::unordered_map<std::string, ProbeTarget> incoming;
    incoming.reserve(list.size());
    for (auto& t : list) {
      std::string key = t.asset_key;
      incoming.insert_or_assign(std::move(key), std::move(t));
    }
    for (auto it = targets_.begin(); it != targets_.end();) {
      if (incoming.count(it->first) != 0) {
        ++it;
        continue;
      }
      abort_transfer(*it->second);
      schedule_.erase({it->second->due_ms, it->second.get()});
      it = targets_.erase(it);
    }
    const int64_t now = steady_ms();
    for (auto& [key, t] : incoming) {
      auto it = targets_.find(key);
      if (it != targets_.end()) {
        Target& existing = *it->second;
        if (existing.spec->target == t) continue;
        const bool interval_changed = existing.spec->target.interval_seconds != t.interval_seconds;
        existing.spec = std::make_shared<const ProbeSpec>(prepare_probe(std::move(t)));
        if (interval_changed) reschedule(existing, first_due(now, existing.spec->target));
        continue;
      }
      auto target = std::make_unique<Target>();
      target->spec = std::make_shared<const ProbeSpec>(prepare_probe(std::move(t)));
      target->due_ms = first_due(now, target->spec->target);
      schedule_.insert({target->due_ms, target.get()});
      targets_.emplace(key, std::move(target));
    }
    targets_count_.store(static_cast<int64_t>(targets_.size()), std::memory_order_relaxed);
  }

  int64_t first_due(int64_t now, const ProbeTarget& t) {
    const double spread = std::max(0.0, options_.jitter_fraction) * static_cast<double>(interval_ms_of(t));
    if (spread < 1.0) return now;
    return now + static_cast<int64_t>(std::uniform_real_distribution<double>(0.0, spread)(rng_));
  }

  void reschedule(Target& t, int64_t due) {
    schedule_.erase({t.due_ms, &t});
    t.due_ms = due;
    schedule_.insert({due, &t});
  }

  void launch_due(int64_t now) {
    while (in_flight_count_ < options_.max_in_flight && !schedule_.empty() &&
           schedule_.begin()->first <= now + kBatchMs) {
      Target& t = *schedule_.begin()->second;
      // The next slot follows this one's scheduled time, not now; slots already past are skipped.
      const int64_t interval = interval_ms_of(t.spec->target);
      int64_t next = t.due_ms + interval;
      if (next <= now) next += ((now - next) / interval + 1) * interval;
      reschedule(t, next);
      if (!t.transfer) launch(t);  // else the previous probe overran this slot
    }
  }

  void launch(Target& t) {
    auto transfer = std::make_unique<Transfer>();
    if (!idle_easy_.empty()) {
      transfer->easy = std::move(idle_easy_.back());
      idle_easy_.pop_back();
    } else {
      transfer->easy.reset(curl_easy_init());
      if (!transfer->easy) {
        log::error("probe not started: curl_easy_init failed", {log::str("asset_key", t.spec->target.asset_key)});
        return;
      }
    }
    transfer->probe = std::make_unique<HttpProbe>(t.spec, options_);
    const std::string problem = transfer->probe->configure(transfer->easy.get(), share_);
    if (!problem.empty()) {
      ProbeResult r = transfer->probe->failed(problem);
      recycle(std::move(transfer->easy));
      deliver(std::move(r));
      return;
    }
    curl_easy_setopt(transfer->easy.get(), CURLOPT_PRIVATE, static_cast<void*>(&t));
    if (curl_multi_add_handle(multi_, transfer->easy.get()) != CURLM_OK) {
      ProbeResult r = transfer->probe->failed("probe could not be started");
      recycle(std::move(transfer->easy));
      deliver(std::move(r));
      return;
    }
    t.transfer = std::move(transfer);
    ++in_flight_count_;
    in_flight_.store(in_flight_count_, std::memory_order_relaxed);
  }

  void collect_finished() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      void* priv = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
      const CURLcode rc = msg->data.result;  // msg is invalid once the handle is removed
      Target& t = *static_cast<Target*>(priv);
      ProbeResult r = t.transfer->probe->finish(rc);
      release_transfer(t);
      deliver(std::move(r));
    }
  }

  void abort_transfer(Target& t) {
    if (t.transfer) release_transfer(t);
  }

  void release_transfer(Target& t) {
    curl_multi_remove_handle(multi_, t.transfer->easy.get());
    recycle(std::move(t.transfer->easy));
    t.transfer.reset();
    --in_flight_count_;
    in_flight_.store(in_flight_count_, std::memory_order_relaxed);
  }

  void recycle(EasyHandle easy) {
    curl_easy_reset(easy.get());
    idle_easy_.push_back(std::move(easy));
  }

  void deliver(ProbeResult r) {
    probes_.fetch_add(1, std::memory_order_relaxed);
    if (!r.up) failures_.fetch_add(1, std::memory_order_relaxed);
    try {
      sink_(std::move(r));
    } catch (const std::exception& e) {
      log::error("probe result sink failed", {log::str("error", e.what())});
    } catch (...) {
      log::error("probe result sink failed");
    }
  }

  ProberOptions options_;
  Sink sink_;
  CURLM* multi_ = nullptr;
  CURLSH* share_ = nullptr;  // TLS sessions; connections and DNS answers are shared by the multi

  std::mutex thread_mu_;  // serialises start()/stop()
  std::thread thread_;

  std::mutex cmd_mu_;
  bool stop_requested_ = false;
  std::optional<std::vector<ProbeTarget>> pending_targets_;
  std::vector<std::string> pending_now_;

  std::atomic<int64_t> probes_{0};
  std::atomic<int64_t> failures_{0};
  std::atomic<int64_t> in_flight_{0};
  std::atomic<int64_t> targets_count_{0};

  std::unordered_map<std::string, std::unique_ptr<Target>> targets_;
  std::set<ScheduleEntry> schedule_;  // (due, target), earliest first
  std::vector<EasyHandle> idle_easy_;
  int in_flight_count_ = 0;
  std::mt19937_64 rng_{std::random_device{}()};
};

Prober::Prober(ProberOptions options, Sink sink)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(sink))) {}
Prober::~Prober() = default;
void Prober::start() { impl_->start(); }
void Prober::stop() { impl_->stop(); }
void Prober::set_targets(std::vector<ProbeTarget> targets) { impl_->set_targets(std::move(targets)); }
void Prober::probe_now(const std::string& asset_key) { impl_->probe_now(asset_key); }
Prober::Stats Prober::stats() const { return impl_->stats(); }

ProbeResult probe_once(const ProbeTarget& target, const NetPolicy& net) {
  init_curl_once();
  ProberOptions options;
  options.net = net;
  HttpProbe probe(std::make_shared<const ProbeSpec>(prepare_probe(target)), options);
  EasyHandle easy(curl_easy_init());
  if (!easy) return probe.failed("curl_easy_init failed");
  const std::string problem = probe.configure(easy.get(), nullptr);
  if (!problem.empty()) return probe.failed(problem);
  return probe.finish(curl_easy_perform(easy.get()));
}

}  // namespace secplat::posture
