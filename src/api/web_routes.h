// The web dashboard's static files: GET / (index.html) and GET /ui/{path...}. Public (the page signs
// in through the API itself), answered on the I/O thread from the embedded table (src/web/), with a
// strong ETag (If-None-Match → 304), gzip when the client accepts it, and a strict
// Content-Security-Policy (no inline script or style, same-origin connections only, no framing).
#pragma once

#include <vector>

#include "http/route.h"

namespace secplat::api {

std::vector<http::Route> web_routes();

}  // namespace secplat::api
