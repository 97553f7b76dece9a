// The JSON of one finding, as the findings routes answer it (the reference's field set).
//
// finding_json() builds a Json value; append_finding_json() writes the same bytes that
// finding_json(f, viewer).dump(-1, ' ', false, replace) would (keys in sorted order, the same
// escaping and the same U+FFFD replacement of invalid UTF-8) straight into a string, without a map
// node or a string allocation per field: a list of 50 findings is the hot path of the findings
// page.
#pragma once

#include <string>

#include "core/json.h"
#include "findings/findings_service.h"

namespace secplat::api {

// Viewers do not see evidence (may quote secrets or internal paths) or risk-acceptance reasons.
Json finding_json(const findings::Finding& f, bool viewer);
void append_finding_json(std::string& out, const findings::Finding& f, bool viewer);

}  // namespace secplat::api
