// /findings routes (reference §8.6 with our fixes: 201 on create / 200 on update, asset-scoped keys,
// a status state machine (409 on a forbidden transition), accepted risk with a future expiry, and
// SARIF 2.1.0 import). Lists are bare JSON arrays with the match count in X-Total-Count.
#pragma once

#include <vector>

#include "findings/findings_service.h"
#include "http/route.h"

namespace secplat::api {

// All referenced objects must outlive the routes.
std::vector<http::Route> findings_routes(findings::FindingsService& findings);

}  // namespace secplat::api
