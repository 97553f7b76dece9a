// Correlator: consumes `secplat.events.correlation` (group "correlators") and turns what it reads
// into incidents through IncidentService::correlate(), after suppression.
//
// Events and what they do (anything else is acked and ignored; a malformed message — no
// event_type or event_id, a payload that is not a JSON object, an asset event without asset_key —
// is dead-lettered at once with the reason):
//   posture.changed change=status, to down|red   availability signal, key "availability:<asset>"
//                                                (while the asset is flapping: a flapping signal)
//   posture.changed change=status, to up|green   resolves the open availability incident
//   posture.changed change=flapping_started      flapping signal, key "flapping:<asset>" (its own
//                                                class: one incident per flapping episode)
//   posture.changed change=flapping_ended        resolves the flapping incident; if the asset
//                                                settled down, an availability signal
//   alert.triggered (payload down_assets)        one availability signal per asset (manual alert)
//   finding.created                              finding signal, key "finding:<asset>:<finding_key>"
//   finding.updated status remediated|accepted_risk  resolves the finding incident
// So twenty down alerts about one asset are one incident with twenty timeline entries, and a
// recovery resolves it (reopened if the asset goes down again within reopen_window_ms).
//
// Suppression comes first: a firing signal about an asset in a maintenance window, under an active
// rule, manually suppressed or whose parent is down is not correlated but *held* (table
// correlation_held, one row per correlation key, latest signal). A recovery drops the held row.
// sweep() — run every sweep_interval_ms by the correlator's own thread — re-checks each held row:
// once nothing suppresses it any more and the asset is still down (health lookup), the signal is
// correlated then, so an asset still down when its window ends gets exactly one incident (and one
// notification) at once. sweep() also relays the incident outbox to `secplat.events.notify`.
//
// Threading: handle() and sweep() are thread-safe; start() runs `threads` readers plus one sweeper.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "incidents/incident_service.h"
#include "incidents/suppression.h"
#include "queue/queue.h"
#include "store/db.h"

namespace secplat::incidents {

// Schema of the correlator (versions 960..979).
std::vector<store::Migration> correlator_migrations();

struct CorrelatorOptions {
  std::string stream = "secplat.events.correlation";
  std::string group = "correlators";
  std::string consumer = "correlator";  // readers are "<consumer>-<n>"
  int read_count = 50;
  int64_t read_block_ms = 500;
  int64_t reopen_window_ms = 3600 * 1000;
  int64_t sweep_interval_ms = 1000;
};

struct HeldSignal {
  std::string correlation_key;
  std::string asset_key;
  std::string reason;   // what suppressed it when it was held
  int64_t held_ms = 0;
};

class Correlator {
 public:
  // health reports an asset's current status ("down", "up", ...); it decides whether a held
  // availability signal still holds when its suppression ends. Every reference must outlive this.
  Correlator(store::Db& db, queue::Queue& queue, IncidentService& incidents, Suppression& suppression,
             HealthLookup health, CorrelatorOptions options, const Clock& clock);
  ~Correlator();
  Correlator(const Correlator&) = delete;
  Correlator& operator=(const Correlator&) = delete;

  Status start(int threads = 1);  // Errc::conflict if already started
  void stop();                    // idempotent; joins the threads

  // Handles one message of the correlation stream, then acks, retries or dead-letters it.
  Status handle(const queue::Message& msg);
  // Whether a finding event can change an incident: a new critical or high finding opens one, a
  // finding that became remediated or accepted_risk releases one. Producers skip the others (a new
  // medium finding is the common case and would only cost the stream a write and a read).
  static bool acts_on_finding_event(std::string_view type, std::string_view severity, std::string_view status);
  // Re-evaluates held signals and relays the incident outbox. Returns how many held signals were
  // released into incidents.
  Result<int64_t> sweep();

  Result<std::vector<HeldSignal>> held();

 private:
  Status apply(const Signal& s, const std::optional<std::string>& finding_key);
  Status release(const std::string& correlation_key, const std::string& event_id, const std::string& reason);
  void run(const std::string& consumer);
  void sweeper();

  store::Db& db_;
  queue::Queue& queue_;
  IncidentService& incidents_;
  Suppression& suppression_;
  HealthLookup health_;
  CorrelatorOptions opt_;
  const Clock& clock_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::thread> threads_;
};

}  // namespace secplat::incidents
