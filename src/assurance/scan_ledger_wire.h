// The ScanLedger over HTTP, both sides of the wire in one place: the operations the API serves at
// POST /internal/scans/<op> (service API keys only) and HttpScanLedger calls, plus the SARIF
// import of a worker's scan results ("import-sarif"). Bodies and answers are JSON objects.
//
// A taken event seq is an Errc::conflict (409) on both sides, so a worker's event log re-reads and
// tries the next seq exactly as it does against the store in-process.
#pragma once

#include <string_view>
#include <vector>

#include "assurance/pipeline.h"
#include "assurance/scan_ledger.h"
#include "core/error.h"
#include "core/json.h"

namespace secplat::assurance {

// Every operation name ("get", "claim", "renew", "finish", "status", "fail-undeliverable",
// "set-upload", "append-event", "events", "last-event", "import-sarif").
const std::vector<std::string_view>& scan_ledger_ops();

// Runs one operation on `ledger` (and `importer` for "import-sarif"; without one that operation is
// Errc::unavailable) for a request body. Errc::validation naming the field for a body that does not
// fit the operation (nothing is written), Errc::not_found for an unknown operation, the ledger's
// error otherwise.
Result<Json> serve_scan_ledger_op(ScanLedger& ledger, const SarifImporter& importer, std::string_view op,
                                  const Json& body);

// Client side.
Json scan_result_to_json(const ScanResult& r);
Result<ScanRecord> scan_record_from_json(const Json& j);
Json scan_record_to_json(const ScanRecord& r);
std::string_view claim_name(ScanLedger::Claim c);
Result<ScanLedger::Claim> claim_from_json(const Json& answer);  // {"claim": name}

}  // namespace secplat::assurance
