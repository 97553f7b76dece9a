// OpenAPI 3.1 document generated from the route table, so /openapi.json cannot drift from dispatch.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "http/route.h"

namespace secplat::http {

// Paths keep their `{param}` templates; non-public routes carry the bearerAuth requirement and
// 401/403 responses; every error response refers to the shared ErrorEnvelope schema.
std::string openapi_document(const std::vector<Route>& routes, std::string_view title, std::string_view version);

}  // namespace secplat::http
