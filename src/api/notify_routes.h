// GET /notifications (analyst): the notifier's delivery records, newest first, filters
// `channel`, `status` (sent, failed, retrying, suppressed_duplicate, rate_limited), `event_id`,
// `limit`/`offset`, with the total. Errors are the channels' secret-free texts.
#pragma once

#include <vector>

#include "http/route.h"
#include "notify/routing.h"

namespace secplat::notify {
class Notifier;
class DeliveryLedger;
}

namespace secplat::api {

std::vector<http::Route> notify_routes(notify::Notifier& notifier);

// The notifier's ledger for notifier processes without database credentials (service API keys
// only): POST /internal/notify/<op> (notify/ledger_wire.h) and GET /internal/notify/assets/{key}
// (environment, owner, owner_team of an asset, for routing rules; 404 when unknown).
std::vector<http::Route> notify_internal_routes(notify::DeliveryLedger& ledger, notify::AssetLookup assets);

}  // namespace secplat::api
