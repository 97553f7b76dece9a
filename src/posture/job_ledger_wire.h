// The JobLedger over HTTP, both sides of the wire in one place: the operations the API serves at
// POST /internal/jobs/<op> (service API keys only) and HttpJobLedger calls. Bodies and answers are
// JSON objects.
//
// An unknown job is an answer ({"found": false} from "claim"), never a status code, so a worker
// can tell it from an API without the route.
#pragma once

#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/json.h"
#include "posture/job_ledger.h"

namespace secplat::posture {

// Every operation name ("claim", "log", "finish", "requeue", "recompute-risk", "target",
// "reconcile").
const std::vector<std::string_view>& job_ledger_ops();

// Runs one operation on `ledger` for a request body; Errc::validation naming the field for a body
// that does not fit the operation (nothing is written then), Errc::not_found for an unknown
// operation, the ledger's error otherwise.
Result<Json> serve_job_op(JobLedger& ledger, std::string_view op, const Json& body);

// Client side: the request body of each operation with more than a few scalars, and how answers
// are read (an answer that does not fit is Errc::unavailable).
Json job_to_json(const Job& job);
Result<Job> job_from_json(const Json& j);
Json reconcile_to_json(const std::string& asset_key, const std::string& source,
                       const std::vector<findings::FindingInput>& items, const std::string& actor_id,
                       const std::string& audit_action, const std::vector<std::string>& undecided);
// "claim": the job, nullopt when not queued, Errc::not_found when there is no such job.
Result<std::optional<Job>> claim_from_json(const Json& answer);
Result<JobTarget> target_from_json(const Json& answer);
Result<findings::SarifImportResult> reconciled_from_json(const Json& answer);

}  // namespace secplat::posture
