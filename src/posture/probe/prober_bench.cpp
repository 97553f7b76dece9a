// Prober throughput and cost: N keep-alive HTTP servers on 127.0.0.1 (one epoll thread serves
// them all) and T targets spread over them, probed for a measured period. Prints probes/s, the
// CPU time of the prober thread and of the whole process as a fraction of one core, and peak RSS.
//
// usage: secplat-prober-bench [targets=10000] [interval_s=60] [seconds=60] [servers=16] [jitter=1.0]
// With jitter 1.0 the first probes are spread over a whole interval, so the rate is steady from
// the start (the production default, 0.1, spreads them over a tenth of it).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "posture/probe/prober.h"

namespace {

using secplat::posture::ProbeResult;
using secplat::posture::ProbeTarget;
using secplat::posture::Prober;
using secplat::posture::ProberOptions;

int64_t thread_cpu_us() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return int64_t{ru.ru_utime.tv_sec + ru.ru_stime.tv_sec} * 1000000 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

int64_t process_cpu_us() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return int64_t{ru.ru_utime.tv_sec + ru.ru_stime.tv_sec} * 1000000 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

// Keep-alive HTTP/1.1 servers on `count` loopback ports, all served by one epoll thread.
class KeepAliveServers {
 public:
  explicit KeepAliveServers(int count) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < count; ++i) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 1024) != 0) {
        std::perror("bind/listen");
        std::exit(1);
      }
      socklen_t len = sizeof addr;
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
      ports_.push_back(ntohs(addr.sin_port));
      listeners_.push_back(fd);
      add(fd, EPOLLIN);
    }
    thread_ = std::thread([this] { run(); });
  }

  ~KeepAliveServers() {
    stop_ = true;
    thread_.join();
    for (auto& [fd, c] : conns_) close(fd);
    for (int fd : listeners_) close(fd);
    close(epoll_);
  }

  const std::vector<uint16_t>& ports() const { return ports_; }
  int64_t requests() const { return requests_.load(); }
  int64_t connections() const { return connections_.load(); }
  int64_t cpu_us() const { return cpu_us_.load(); }

 private:
  struct Conn {
    std::string in;
    std::string out;
  };

  void add(int fd, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
  }

  void want_write(int fd, bool on) {
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.fd = fd;
    epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &ev);
  }

  bool is_listener(int fd) const {
    for (int l : listeners_)
      if (l == fd) return true;
    return false;
  }

  void drop(int fd) {
    epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    conns_.erase(fd);
  }

  // Writes what is pending; false when the connection is gone.
  bool flush(int fd, Conn& c) {
    while (!c.out.empty()) {
      ssize_t n = send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN) {
          want_write(fd, true);
          return true;
        }
        return false;
      }
      c.out.erase(0, static_cast<std::size_t>(n));
    }
    want_write(fd, false);
    return true;
  }

  void run() {
    static const std::string kResponse =
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
    epoll_event events[256];
    char buf[16384];
    while (!stop_) {
      int n = epoll_wait(epoll_, events, 256, 100);
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (is_listener(fd)) {
          for (;;) {
            int c = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (c < 0) break;
            ++connections_;
            conns_[c];
            add(c, EPOLLIN);
          }
          continue;
        }
        auto it = conns_.find(fd);
        if (it == conns_.end()) continue;
        Conn& c = it->second;
        bool alive = true;
        if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
          for (;;) {
            ssize_t r = recv(fd, buf, sizeof buf, 0);
            if (r > 0) {
              c.in.append(buf, static_cast<std::size_t>(r));
              continue;
            }
            if (r < 0 && errno == EAGAIN) break;
            alive = false;
            break;
          }
          std::size_t pos;
          while ((pos = c.in.find("\r\n\r\n")) != std::string::npos) {
            c.in.erase(0, pos + 4);
            c.out += kResponse;
            ++requests_;
          }
        }
        if (alive) alive = flush(fd, c);
        if (!alive) drop(fd);
      }
      cpu_us_.store(thread_cpu_us());
    }
  }

  int epoll_ = -1;
  std::vector<int> listeners_;
  std::vector<uint16_t> ports_;
  std::unordered_map<int, Conn> conns_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> requests_{0};
  std::atomic<int64_t> connections_{0};
  std::atomic<int64_t> cpu_us_{0};
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  const int targets = argc > 1 ? std::atoi(argv[1]) : 10000;
  const int interval_s = argc > 2 ? std::atoi(argv[2]) : 60;
  const int seconds = argc > 3 ? std::atoi(argv[3]) : 60;
  const int servers = argc > 4 ? std::atoi(argv[4]) : 16;
  const double jitter = argc > 5 ? std::atof(argv[5]) : 1.0;

  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  setrlimit(RLIMIT_NOFILE, &nofile);

  KeepAliveServers backends(servers);
  std::vector<ProbeTarget> list;
  list.reserve(static_cast<std::size_t>(targets));
  for (int i = 0; i < targets; ++i) {
    ProbeTarget t;
    t.asset_key = "asset-" + std::to_string(i);
    t.url = "http://127.0.0.1:" + std::to_string(backends.ports()[static_cast<std::size_t>(i % servers)]) +
            "/health/" + std::to_string(i);
    t.interval_seconds = interval_s;
    t.keyword = "ok";
    list.push_back(std::move(t));
  }

  std::atomic<int64_t> probes{0}, failures{0}, latency_sum_ms{0}, prober_cpu_us{0};
  ProberOptions options;
  options.net.allow_private = true;
  options.jitter_fraction = jitter;
  Prober prober(options, [&](ProbeResult r) {
    probes.fetch_add(1, std::memory_order_relaxed);
    if (!r.up) failures.fetch_add(1, std::memory_order_relaxed);
    latency_sum_ms.fetch_add(r.latency_ms, std::memory_order_relaxed);
    prober_cpu_us.store(thread_cpu_us(), std::memory_order_relaxed);  // runs on the prober thread
  });

  const auto t0 = std::chrono::steady_clock::now();
  const int64_t cpu0 = process_cpu_us();
  prober.set_targets(std::move(list));
  prober.start();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int64_t n = probes.load();
  const int64_t process_cpu = process_cpu_us() - cpu0;
  const int64_t prober_cpu = prober_cpu_us.load();
  const int64_t server_cpu = backends.cpu_us();
  const auto stats = prober.stats();
  prober.stop();

  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("prober bench: %d targets, interval %d s, jitter %.2f, %d keep-alive servers, %.1f s measured\n",
              targets, interval_s, jitter, servers, elapsed);
  std::printf("  probes: %lld (%.1f/s, expected %.1f/s), failures: %lld, mean latency %.2f ms\n",
              static_cast<long long>(n), static_cast<double>(n) / elapsed,
              static_cast<double>(targets) / interval_s, static_cast<long long>(failures.load()),
              n ? static_cast<double>(latency_sum_ms.load()) / static_cast<double>(n) : 0.0);
  std::printf("  server: %lld requests on %lld connections\n", static_cast<long long>(backends.requests()),
              static_cast<long long>(backends.connections()));
  std::printf("  prober thread CPU: %.2f s = %.2f%% of one core (%.1f us per probe)\n", prober_cpu / 1e6,
              100.0 * static_cast<double>(prober_cpu) / 1e6 / elapsed,
              n ? static_cast<double>(prober_cpu) / static_cast<double>(n) : 0.0);
  std::printf("  whole process CPU (prober, servers, setup): %.2f s = %.2f%% of one core (servers %.2f s)\n",
              process_cpu / 1e6, 100.0 * static_cast<double>(process_cpu) / 1e6 / elapsed, server_cpu / 1e6);
  std::printf("  peak RSS: %.1f MiB; in flight at the end: %lld\n", static_cast<double>(ru.ru_maxrss) / 1024.0,
              static_cast<long long>(stats.in_flight));
  return failures.load() == 0 ? 0 : 1;
}
