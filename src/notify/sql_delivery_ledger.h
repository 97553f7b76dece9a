// SqlDeliveryLedger: the DeliveryLedger on the store (SQLite or PostgreSQL), table
// `notify_deliveries` (migrations 800..899 are reserved for notify).
// Threading: thread-safe (the Db is).
#pragma once

#include <vector>

#include "notify/delivery_ledger.h"
#include "store/db.h"

namespace secplat::notify {

std::vector<store::Migration> notify_migrations();

class SqlDeliveryLedger final : public DeliveryLedger {
 public:
  // db must have notify_migrations() applied and outlive the ledger.
  explicit SqlDeliveryLedger(store::Db& db) : db_(db) {}

  Result<std::optional<std::string>> status_of(const std::string& event_id, const std::string& channel) override;
  Result<bool> sent_duplicate(const std::string& asset_key, const std::string& channel, const std::string& event_id,
                              const std::string& dedupe_key, int64_t since_ms) override;
  Status record(const DeliveryRecord& r, int64_t now_ms) override;
  Result<bool> claim(const DeliveryRecord& r, int64_t now_ms) override;
  Status give_up(const std::string& event_id, int64_t now_ms) override;
  Result<std::optional<std::string>> remote_id_for(const std::string& channel, const std::string& incident_id) override;
  Status release_stale_digests(int64_t stale_before_ms, int64_t now_ms) override;
  Result<bool> has_held(const std::string& channel) override;
  Result<std::vector<HeldMessage>> claim_digest(const std::string& channel, const std::string& digest_id,
                                                int64_t now_ms) override;
  Status finish_digest(const std::string& channel, const std::string& digest_id, const std::string& status,
                       int64_t http_status, const std::string& error, int64_t now_ms) override;
  Result<std::vector<ReminderDue>> reminders_due(int64_t horizon_ms, int64_t due_ms) override;
  Result<DeliveryPage> list(const DeliveryFilter& filter) override;

 private:
  store::Db& db_;
};

}  // namespace secplat::notify
