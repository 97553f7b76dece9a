// The JSON of one finding, as the findings routes answer it (the reference's field set).
//
// append_finding_json() writes the bytes a Json object of the finding's fields would dump to
// (dump(-1, ' ', false, replace): keys in sorted order, the same escaping and the same U+FFFD
// replacement of invalid UTF-8) straight into a string, without a map node or a string allocation
// per field: a list of 50 findings is the hot path of the findings page. finding_json_test holds
// that Json object as the reference and compares byte for byte.
#pragma once

#include <string>

#include "core/json.h"
#include "findings/findings_service.h"

namespace secplat::api {

// Viewers do not see evidence (may quote secrets or internal paths) or risk-acceptance reasons.
void append_finding_json(std::string& out, const findings::Finding& f, bool viewer);

}  // namespace secplat::api
