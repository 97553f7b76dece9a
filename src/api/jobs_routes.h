// /jobs routes (reference §8.7): create, list, detail with the live log, retry, analytics. Viewers
// read; analysts create and retry. Creation is idempotent per {job_type}+{asset_key}+{hour}: the
// first request is 201, a repeat in the same hour is 200 with the existing job.
#pragma once

#include <vector>

#include "auth/audit_log.h"
#include "http/route.h"
#include "posture/jobs.h"

namespace secplat::posture {
class JobLedger;
}

namespace secplat::api {

std::vector<http::Route> jobs_routes(posture::JobService& jobs, auth::AuditLog& audit);

// The job ledger for scan-job workers without database credentials (service API keys only):
// POST /internal/jobs/<op> (posture/job_ledger_wire.h).
std::vector<http::Route> jobs_internal_routes(posture::JobLedger& ledger);

}  // namespace secplat::api
