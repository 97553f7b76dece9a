// HttpDeliveryLedger: the DeliveryLedger of a notifier process without database credentials. Each
// operation is one POST to the API's /internal/notify/<op> with a service API key
// (notify.api_url, notify.api_key; the wire format is ledger_wire.h). A transport failure or a
// 5xx is Errc::unavailable, which the notifier treats like a store failure: the message goes back
// to the queue and is tried again.
//
// Also the remote form of the notifier's asset lookup (routing rules that ask for an asset's
// environment or owner): GET /internal/notify/assets/{key}.
//
// Threading: thread-safe.
#pragma once

#include <string>

#include "http/service_client.h"
#include "notify/delivery_ledger.h"
#include "notify/routing.h"

namespace secplat::notify {

class HttpDeliveryLedger final : public DeliveryLedger {
 public:
  HttpDeliveryLedger(std::string api_url, std::string api_key, long timeout_ms = 10000);

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

  // An AssetLookup over the same API (nullopt for an unknown asset or when the API cannot answer:
  // rules that ask then see an unknown environment/owner, as in-process).
  AssetLookup asset_lookup() const;

 private:
  Result<Json> op(const char* name, const Json& body);
  http::ServiceClient client_;
};

}  // namespace secplat::notify
