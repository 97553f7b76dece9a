// /suppression routes (reference §8.11) plus asset dependencies:
//   GET/POST /suppression/maintenance-windows, DELETE /suppression/maintenance-windows/{id}
//   GET/POST /suppression/rules,               DELETE /suppression/rules/{id}
//   GET/POST /suppression/dependencies,        DELETE /suppression/dependencies/{id}
// Reads need any role, mutations analyst or admin. Creates answer 201 with the row. Fixes over the
// reference: datetimes without a time zone are refused (400), as is end <= start; finding-scope
// rules take effect (Suppression::check).
#pragma once

#include <vector>

#include "http/route.h"
#include "incidents/suppression.h"

namespace secplat::api {

// `suppression` must outlive the routes.
std::vector<http::Route> suppression_routes(incidents::Suppression& suppression);

}  // namespace secplat::api
