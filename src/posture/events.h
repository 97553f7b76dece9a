// The append-only health event log (table `health_events`).
//
// One event per probe result, in the reference's document shape (secplat.md §1.3: `@timestamp,
// service, asset, level:"health", message:"healthcheck", status up|down, status_num 1|-2, code,
// latency_ms`) plus what our prober adds (error_class, error, tls_version, cert_not_after, remote_ip).
// Events are never updated; retention deletes whole rows older than a cut-off.
//
// Threading: an EventStore is safe to share; all state lives in the Db.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "store/db.h"

namespace secplat::posture {

struct HealthEvent {
  int64_t event_id = 0;        // assigned on append
  std::string asset_key;
  int64_t ts_ms = 0;           // probe time, epoch ms
  std::string service;         // the reference's `service`; we use the asset key
  bool up = false;
  int code = 0;                // HTTP status, 0 when no response
  int64_t latency_ms = 0;
  std::optional<std::string> error_class;  // timeout, refused, dns, tls, http_error, keyword_missing, forbidden, error
  std::optional<std::string> error;
  std::optional<std::string> tls_version;
  std::optional<int64_t> cert_not_after_ms;
  std::optional<std::string> remote_ip;
};

// Aggregates over one asset's events in a window (computed over every event, not a sample).
struct EventWindowStats {
  int64_t checks = 0;
  int64_t errors = 0;          // down results
  std::optional<double> avg_latency_ms;
};

class EventStore {
 public:
  explicit EventStore(store::Db& db) : db_(db) {}

  // Appends every event in one transaction; returns the highest event_id written.
  Result<int64_t> append(const std::vector<HealthEvent>& events);
  // Same, inside a caller's transaction.
  static Result<int64_t> append(store::Tx& tx, const std::vector<HealthEvent>& events);

  // Events with event_id > after_id, ascending, at most `limit`.
  Result<std::vector<HealthEvent>> read_after(int64_t after_id, int64_t limit);

  // One asset's events with since_ms <= ts < until_ms, newest first, at most `limit`.
  Result<std::vector<HealthEvent>> timeline(const std::string& asset_key, int64_t since_ms, int64_t until_ms,
                                            int64_t limit);

  Result<EventWindowStats> window_stats(const std::string& asset_key, int64_t since_ms, int64_t until_ms);
  // Mean latency of every event (all assets) in the window; nullopt when there are none.
  Result<std::optional<double>> avg_latency(int64_t since_ms, int64_t until_ms);
  // Per asset: checks and up results in the window (for time-based uptime).
  struct Uptime {
    std::string asset_key;
    int64_t checks = 0;
    int64_t up = 0;
  };
  Result<std::vector<Uptime>> uptime_by_asset(int64_t since_ms, int64_t until_ms);

  // Deletes events older than cutoff_ms; returns how many.
  Result<int64_t> delete_before(int64_t cutoff_ms);

 private:
  store::Db& db_;
};

// The reference's `status` text of an event.
std::string event_status_text(const HealthEvent& e);  // "up" | "down"

}  // namespace secplat::posture
