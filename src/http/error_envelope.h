// The one mapping from Errc to HTTP status, and the error body every route answers with:
//   {"error":{"message","status_code","retryable","detail","request_id"},"detail":<message>}
// `error.detail` is the list of {"loc","msg"} for validation errors, else the message.
#pragma once

#include <string_view>

#include "core/error.h"
#include "http/route.h"

namespace secplat::http {

int http_status(Errc c);

// True for 408, 425, 429, 500, 502, 503, 504.
bool is_retryable_status(int status);

// Internal errors are answered as "Internal server error" whatever their message says, so
// exception text and internals never reach a client. Adds Retry-After when retry_after_s > 0 and
// `WWW-Authenticate: Bearer` on 401.
Response error_response(const Error& e, std::string_view request_id);

}  // namespace secplat::http
