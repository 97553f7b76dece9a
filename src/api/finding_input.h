// The body of POST /findings/ (one finding, as scanners upload them) read into a FindingInput.
//
// finding_input_from_json() holds the rules on a parsed JSON object: known fields only, finding_key
// and title required strings (title at most 1,000 characters), the other text fields optional
// strings, scanner_metadata_json an object, and asset_key (non-empty) or asset_id naming the
// asset. A null field is an absent one; of repeated keys the last counts.
//
// parse_finding_body() is what the route calls on every upload: the plain case (a JSON object of
// strings, nulls and an integer asset_id) goes in one pass from the text into the FindingInput,
// with no JSON tree built (a tree of maps was two thirds of the request's parse cost on the I/O
// thread). Any other body (a nested value, a wrong type, an unknown or missing field, a non-JSON
// Content-Type, malformed text) is parsed again into a tree and judged by
// finding_input_from_json(): one set of rules, with its errors. finding_input_test feeds both the
// same bodies and expects the same result.
#pragma once

#include "core/error.h"
#include "core/json.h"
#include "findings/findings_service.h"
#include "http/route.h"

namespace secplat::api {

Result<findings::FindingInput> finding_input_from_json(const Json& body);

Result<findings::FindingInput> parse_finding_body(const http::Request& req);

}  // namespace secplat::api
