#include "http/error_envelope.h"

#include "core/json.h"

namespace secplat::http {

int http_status(Errc c) {
  switch (c) {
    case Errc::bad_request: return 400;
    case Errc::unauthorized: return 401;
    case Errc::forbidden: return 403;
    case Errc::not_found: return 404;
    case Errc::method_not_allowed: return 405;
    case Errc::timeout: return 408;
    case Errc::conflict: return 409;
    case Errc::too_large: return 413;
    case Errc::validation: return 422;
    case Errc::rate_limited: return 429;
    case Errc::header_too_large: return 431;
    case Errc::internal: return 500;
    case Errc::unavailable: return 503;
  }
  return 500;
}

bool is_retryable_status(int s) {
  return s == 408 || s == 425 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

Response error_response(const Error& e, std::string_view request_id) {
  const int status = http_status(e.code);
  const std::string message =
      e.code == Errc::internal ? std::string("Internal server error") : e.message;
  Json detail;
  if (e.code == Errc::validation) {
    detail = Json::array();
    for (const FieldError& f : e.fields) detail.push_back({{"loc", f.loc}, {"msg", f.msg}});
  } else {
    detail = message;
  }
  Json body = {{"error",
                {{"message", message},
                 {"status_code", status},
                 {"retryable", is_retryable_status(status)},
                 {"detail", std::move(detail)},
                 {"request_id", request_id}}},
               {"detail", message}};
  Response r = Response::json(status, body);
  if (e.retry_after_s > 0) r.headers.emplace_back("Retry-After", std::to_string(e.retry_after_s));
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

}  // namespace secplat::http
