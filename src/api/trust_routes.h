// Trust gate routes: POST /v1/verify-and-permit-upload (analyst; the reference's wire shape, real
// checks — trust/trust_gate.h), POST /v1/permits/redeem (analyst; a publisher spends a permit),
// and the transparency log (viewer): GET /v1/transparency (entries, filters kind/subject/signer,
// limit/offset, total, the current signed checkpoint), GET /v1/transparency/checkpoint,
// GET /v1/transparency/consistency?first=&second=, GET /v1/transparency/{entry_id}[?include_proof=true].
#pragma once

#include <vector>

#include "http/route.h"

namespace secplat::trust {
class TrustGate;
class TransparencyLog;
}  // namespace secplat::trust

namespace secplat::api {

std::vector<http::Route> trust_routes(trust::TrustGate& gate, trust::TransparencyLog& log);

// The permit and redeem routes again under /internal/trust (/internal/trust/v1/verify-and-permit-upload,
// /internal/trust/v1/permits/redeem) for service API keys: the gate of worker processes without
// database credentials and without a trust role of their own (assurance::HttpUploadGate with base
// URL <api>/internal/trust). Same checks, same single-use permits.
std::vector<http::Route> trust_internal_routes(trust::TrustGate& gate, trust::TransparencyLog& log);

}  // namespace secplat::api
