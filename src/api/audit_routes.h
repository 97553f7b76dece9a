// GET /audit (admin): the audit log with filters user, action, since (RFC 3339), limit 1..500.
#pragma once

#include <vector>

#include "http/route.h"

namespace secplat::auth {
class AuditLog;
}

namespace secplat::api {

// `audit` is borrowed and must outlive the server.
std::vector<http::Route> audit_routes(auth::AuditLog& audit);

}  // namespace secplat::api
