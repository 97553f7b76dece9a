// The DeliveryLedger over HTTP, both sides of the wire in one place: the operations the API serves
// at POST /internal/notify/<op> (service API keys only) and HttpDeliveryLedger calls. Bodies and
// answers are JSON objects; times are the notifier's clock (ms since the epoch), as with the SQL
// adapter in the same process.
#pragma once

#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/json.h"
#include "notify/delivery_ledger.h"

namespace secplat::notify {

// Every operation name ("status", "duplicate", "record", "claim", "give-up", "remote-id",
// "digest-release", "digest-held", "digest-claim", "digest-finish", "reminders-due", "list").
const std::vector<std::string_view>& ledger_ops();

// Runs one operation on `ledger` for a request body; Errc::validation naming the field for a body
// that does not fit the operation, Errc::not_found for an unknown operation, the ledger's error
// otherwise.
Result<Json> serve_ledger_op(DeliveryLedger& ledger, std::string_view op, const Json& body);

// Client side: the request body of each operation and how its answer is read.
Json record_to_json(const DeliveryRecord& r, int64_t now_ms);
Json filter_to_json(const DeliveryFilter& f);
Result<std::vector<HeldMessage>> held_from_json(const Json& answer);
Result<std::vector<ReminderDue>> reminders_from_json(const Json& answer);
Result<DeliveryPage> page_from_json(const Json& answer);

}  // namespace secplat::notify
