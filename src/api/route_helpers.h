// Small pieces every route table uses.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "auth/audit_log.h"
#include "http/route.h"

namespace secplat::api {

// The audit actor of a request: the authenticated subject and the request id.
inline auth::Actor actor_of(const http::Request& req) {
  return {req.principal ? req.principal->subject : std::string(), req.request_id};
}

inline http::Route make_route(std::string tag, std::string method, std::string path, http::Access access,
                              http::Handler handler, std::string summary, int success_status = 200,
                              std::vector<std::string> query_params = {}) {
  http::Route r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.access = access;
  r.handler = std::move(handler);
  r.doc.summary = std::move(summary);
  r.doc.tag = std::move(tag);
  r.doc.success_status = success_status;
  r.doc.query_params = std::move(query_params);
  return r;
}

}  // namespace secplat::api
