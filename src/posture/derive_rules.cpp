#include "posture/derive_rules.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace secplat::posture {
namespace {

int status_num_of(const std::string& status) {
  if (status == "up") return 1;
  if (status == "stale") return 0;
  if (status == "down") return -2;
  return -1;  // unknown
}

void set_status(AssetState& s, const std::string& to, int64_t now_ms, std::vector<PostureChange>& changes) {
  if (s.status == to) return;
  changes.push_back({s.asset_key, "status", s.status, to, now_ms});
  s.previous_status = s.status;
  s.status = to;
  s.status_num = status_num_of(to);
  s.last_status_change_ms = now_ms;
  s.pending = 0;
}

int transitions(const std::vector<RawSample>& h) {
  int n = 0;
  for (std::size_t i = 1; i < h.size(); ++i)
    if (h[i].up != h[i - 1].up) ++n;
  return n;
}

double round2(double v) { return std::round(v * 100.0) / 100.0; }

}  // namespace

std::string reason_for_error_class(const std::optional<std::string>& ec) {
  if (!ec) return "health_check_failed";
  if (*ec == "timeout") return "api_timeout";
  if (*ec == "refused") return "port_closed";
  if (*ec == "tls") return "tls_fail";
  if (*ec == "http_error") return "http_error";
  if (*ec == "dns") return "dns_failure";
  if (*ec == "keyword_missing") return "keyword_missing";
  if (*ec == "forbidden") return "probe_forbidden";
  return "health_check_failed";
}

std::string normalise_criticality(const std::string& c) {
  std::string l;
  for (char ch : c) l.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  if (l == "high" || l == "medium" || l == "low") return l;
  if (l == "critical") return "high";
  if (l.size() == 1 && l[0] >= '0' && l[0] <= '9') {
    int v = l[0] - '0';
    return v <= 2 ? "high" : v <= 3 ? "medium" : "low";
  }
  return "medium";
}

std::vector<PostureChange> apply_events(AssetState& s, const std::vector<HealthEvent>& events, int64_t now_ms,
                                        int64_t interval_ms, const DeriveConfig& cfg) {
  std::vector<PostureChange> changes;
  const bool was_flapping = s.flapping;
  const std::string was_state = s.posture_state;
  interval_ms = std::max<int64_t>(interval_ms, 1000);

  for (const auto& e : events) {
    if (s.last_seen_ms && e.ts_ms < *s.last_seen_ms) continue;  // older than what we already folded in
    s.history.push_back({e.ts_ms, e.up, e.code, e.latency_ms});
    if (s.history.size() > static_cast<std::size_t>(cfg.history_size))
      s.history.erase(s.history.begin(), s.history.end() - cfg.history_size);
    s.last_seen_ms = e.ts_ms;
    s.code = e.code;
    s.latency_ms = e.latency_ms;
    s.error_class = e.up ? std::nullopt : (e.error_class ? e.error_class : std::optional<std::string>("error"));
    if (e.tls_version) s.tls_version = e.tls_version;
    if (e.cert_not_after_ms) s.cert_not_after_ms = e.cert_not_after_ms;
    if (e.up) {
      s.last_good_at_ms = e.ts_ms;
      s.last_good_code = e.code;
      s.last_good_latency_ms = e.latency_ms;
    }
    const std::string raw = e.up ? "up" : "down";
    if (s.status != "up" && s.status != "down") {
      set_status(s, raw, now_ms, changes);  // first result after unknown/stale counts at once
    } else if (raw == s.status) {
      s.pending = 0;
    } else if (++s.pending >= std::max(1, cfg.debounce_samples)) {
      set_status(s, raw, now_ms, changes);
    }
  }

  // The clock: a silent asset goes stale without any new event.
  const int64_t stale_after = std::max(cfg.stale_ms, 3 * interval_ms);
  if (!s.last_seen_ms) {
    set_status(s, "unknown", now_ms, changes);
  } else if (now_ms - *s.last_seen_ms > stale_after) {
    set_status(s, "stale", now_ms, changes);
  }

  s.flapping = (s.status == "up" || s.status == "down") && transitions(s.history) >= cfg.flap_transitions;

  // Confidence: completeness × agreement over the recent window.
  const int64_t window = std::min<int64_t>(300000, cfg.history_size * interval_ms);
  const int64_t expected = std::max<int64_t>(1, window / interval_ms);
  int64_t received = 0, agree = 0;
  for (const auto& h : s.history) {
    if (h.ts_ms > now_ms - window - interval_ms / 2) ++received;
    if ((h.up ? "up" : "down") == s.status) ++agree;
  }
  char buf[200];
  if (s.status == "unknown") {
    s.confidence = 0;
    s.confidence_reason = "no probe results yet";
  } else if (s.status == "stale") {
    s.confidence = 0;
    std::snprintf(buf, sizeof buf, "no probe result for %lld s", static_cast<long long>((now_ms - *s.last_seen_ms) / 1000));
    s.confidence_reason = buf;
  } else {
    const double completeness = std::min(1.0, double(received) / double(expected));
    const double agreement = s.history.empty() ? 0.0 : double(agree) / double(s.history.size());
    s.confidence = round2(completeness * agreement);
    std::snprintf(buf, sizeof buf, "%lld/%lld expected probes in the last %lld s; %lld/%zu recent results agree (%s)",
                  static_cast<long long>(std::min(received, expected)), static_cast<long long>(expected),
                  static_cast<long long>(window / 1000), static_cast<long long>(agree), s.history.size(),
                  s.status.c_str());
    s.confidence_reason = buf;
  }

  // Score and state (reference §3.3), flapping as its own amber class.
  if (s.status == "down" && !s.flapping) {
    s.posture_score = 0, s.posture_state = "red", s.reason = reason_for_error_class(s.error_class);
  } else if (s.status == "unknown") {
    s.posture_score = 0, s.posture_state = "red", s.reason = "unknown";
  } else if (s.flapping) {
    s.posture_score = 60, s.posture_state = "amber", s.reason = "flapping";
  } else if (s.status == "stale") {
    s.posture_score = 60, s.posture_state = "amber", s.reason = "no_data_received";
  } else {
    s.posture_score = 100, s.posture_state = "green", s.reason = std::nullopt;
  }
  s.derived_at_ms = now_ms;

  if (s.flapping != was_flapping) {
    changes.push_back({s.asset_key, s.flapping ? "flapping_started" : "flapping_ended", was_state, s.posture_state,
                       now_ms});
  }
  return changes;
}

}  // namespace secplat::posture
