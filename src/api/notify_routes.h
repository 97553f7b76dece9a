// GET /notifications (analyst): the notifier's delivery records, newest first, filters
// `channel`, `status` (sent, failed, retrying, suppressed_duplicate, rate_limited), `event_id`,
// `limit`/`offset`, with the total. Errors are the channels' secret-free texts.
#pragma once

#include <vector>

#include "http/route.h"

namespace secplat::notify {
class Notifier;
}

namespace secplat::api {

std::vector<http::Route> notify_routes(notify::Notifier& notifier);

}  // namespace secplat::api
