// The posture rules: how raw probe results become one effective state per asset.
//
// The reference rules (secplat.md §3.2–3.3) with what the reference only promised (§3.7, §12.4):
//   * status up/stale/unknown/down (status_num 1/0/-1/-2); score/state up 100 green, stale 60
//     amber, down and unknown 0 red;
//   * two-sided debounce: an up asset goes down (and a down asset comes back up) only after
//     `debounce_samples` consecutive raw results disagree; the first result of an unknown or stale
//     asset counts at once, and going stale is immediate;
//   * flapping: at least `flap_transitions` up/down transitions among the last `history_size` raw
//     results → flapping=true, posture amber/60, reason "flapping" (one class of its own, so no
//     stream of down alerts);
//   * confidence 0..1 = completeness of the probes expected in the recent window × share of the
//     recent raw results that agree with the effective status;
//   * last good result (time, code, latency), previous_status, and last_status_change = the time
//     the change was detected (not the back-dated event time).
// Pure functions: no I/O, the caller passes `now`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "posture/events.h"

namespace secplat::posture {

struct DeriveConfig {
  int64_t stale_ms = 300000;   // no result for longer than max(this, 3 × probe interval) → stale
  int debounce_samples = 2;
  int history_size = 10;
  int flap_transitions = 4;
};

struct RawSample {
  int64_t ts_ms = 0;
  bool up = false;
  int code = 0;
  int64_t latency_ms = 0;
  bool operator==(const RawSample&) const = default;
};

struct AssetState {
  std::string asset_key;
  int64_t derived_at_ms = 0;
  std::string status = "unknown";      // up | stale | unknown | down | scan_based (repositories)
  int status_num = -1;
  std::optional<int> code;
  std::optional<int64_t> latency_ms;
  std::optional<int64_t> last_seen_ms;
  int posture_score = 0;
  std::string posture_state = "red";   // green | amber | red
  std::optional<std::string> reason;
  std::optional<std::string> error_class;  // of the latest raw result
  std::optional<std::string> previous_status;
  std::optional<int64_t> last_status_change_ms;
  bool flapping = false;
  double confidence = 0;
  std::string confidence_reason;
  std::optional<int64_t> last_good_at_ms;
  std::optional<int> last_good_code;
  std::optional<int64_t> last_good_latency_ms;
  int pending = 0;                     // consecutive raw results disagreeing with `status`
  std::vector<RawSample> history;      // oldest first, at most history_size
  std::optional<std::string> tls_version;
  std::optional<int64_t> cert_not_after_ms;
};

// A change worth telling people about (becomes a `posture.changed` event).
struct PostureChange {
  std::string asset_key;
  std::string kind;                    // "status" | "flapping_started" | "flapping_ended"
  std::string from;                    // previous status (or posture state for flapping kinds)
  std::string to;
  int64_t detected_at_ms = 0;
};

// Folds `events` (one asset's, ascending by time) into `s`, then applies the clock (staleness,
// confidence, score). `interval_ms` is the asset's probe interval. Returns the changes detected.
std::vector<PostureChange> apply_events(AssetState& s, const std::vector<HealthEvent>& events, int64_t now_ms,
                                        int64_t interval_ms, const DeriveConfig& cfg);

// The reference's reason text for a down result's error class (api_timeout, port_closed, ...).
std::string reason_for_error_class(const std::optional<std::string>& error_class);

// Reference mapping of a criticality value to high/medium/low (text kept; 1-2 high, 3 medium,
// 4-5 low; anything else medium).
std::string normalise_criticality(const std::string& criticality);

}  // namespace secplat::posture
