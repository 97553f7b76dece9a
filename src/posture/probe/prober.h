// The asynchronous HTTP(S) health prober.
//
// One thread drives a libcurl multi handle: many probes in flight at once, connections and DNS
// answers reused across probes and targets, and a per-target schedule that does not drift: the
// next probe is due at the previous *scheduled* time + interval (not completion + interval); a
// slot that finds the previous probe still running, or that has already passed, is skipped
// instead of being made up in a burst.
//
// A probe is one request (GET or HEAD), redirects not followed, certificates verified, no proxy
// (even if http_proxy is set), only http and https. Every address the request connects to is
// checked against the NetPolicy when the socket is opened, after resolution, so neither a name
// that resolves to a private address nor DNS rebinding gets past the guard.
//
// Threading: all public members may be called from any thread. Results are delivered on the
// prober thread through the sink, which must be quick (hand the result off and return); it may
// call set_targets(), probe_now() and stats(), never stop() or the destructor.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/net_guard.h"

namespace secplat::posture {

struct ProbeTarget {
  std::string asset_key;
  std::string url;                                                 // http or https
  std::string method = "GET";                                      // GET or HEAD
  std::vector<std::pair<int, int>> expected_status = {{200, 399}};  // inclusive; empty = 200-399
  std::optional<std::string> keyword;                              // must occur in the first 1 MiB of the body
  int interval_seconds = 60;
  int timeout_ms = 5000;  // whole probe; connecting may take min(2000, timeout_ms)
  bool operator==(const ProbeTarget&) const = default;
};

struct ProbeResult {
  std::string asset_key;
  std::string url;          // the target's URL with any user name and password replaced by "***"
  int64_t started_ms = 0;   // wall clock, epoch ms
  bool up = false;          // status accepted (and keyword found when set)
  int code = 0;             // HTTP status, 0 when no response
  int64_t latency_ms = 0;   // whole probe
  std::string error_class;  // "" when up; else timeout, refused, dns, tls, http_error,
                            // keyword_missing, forbidden or error
  std::string error;        // for people ("" when up); never holds credentials from the URL
  std::optional<std::string> tls_version;    // "TLSv1.3", https only
  std::optional<int64_t> cert_not_after_ms;  // leaf certificate expiry, https only
  std::optional<std::string> remote_ip;      // the address connected to (or refused)
};

struct ProberOptions {
  NetPolicy net;  // refused address → error_class "forbidden"; nothing is sent
  int max_in_flight = 512;
  int64_t dns_cache_seconds = 60;
  std::string user_agent = "secplat-prober/1";
  double jitter_fraction = 0.1;  // a new target's first probe is spread over [0, jitter·interval)
  // PEM file of CA certificates to trust instead of the system store ("" = system store).
  std::string ca_file;
};

class Prober {
 public:
  using Sink = std::function<void(ProbeResult)>;

  Prober(ProberOptions options, Sink sink);
  ~Prober();  // stops
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  void start();  // idempotent; may follow stop()
  // Waits for the thread; probes in flight are aborted and not reported. No sink call runs or
  // starts after stop() returns. Targets are kept.
  void stop();

  // Replaces the target set (keyed by asset_key; a later duplicate key wins). A target whose
  // definition is unchanged keeps its schedule; one whose interval changed is rescheduled like a
  // new one; a removed target's probe in flight is aborted and not reported.
  void set_targets(std::vector<ProbeTarget> targets);
  // Probes the target as soon as possible; its schedule then continues from now. Ignored when a
  // probe of it is already in flight or the key is unknown.
  void probe_now(const std::string& asset_key);

  struct Stats {
    int64_t probes = 0;    // completed and reported
    int64_t failures = 0;  // of those, not up
    int64_t in_flight = 0;
    int64_t targets = 0;
  };
  Stats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// One synchronous probe under the same rules (default ProberOptions apart from `net`), for
// callers outside the schedule such as CLI tools and tests.
ProbeResult probe_once(const ProbeTarget& target, const NetPolicy& net);

}  // namespace secplat::posture
