#include "api/trust_routes.h"

#include "api/route_helpers.h"
#include "core/clock.h"
#include "core/json.h"
#include "http/json_body.h"
#include "trust/transparency_log.h"
#include "trust/trust_gate.h"

namespace secplat::api {
namespace {

using http::Request;
using http::Response;
using http::Route;

Json entry_json(const trust::LogEntry& e) {
  return {{"entry_id", e.entry_id},
          {"log_index", e.index},
          {"kind", e.kind},
          {"subject", e.subject},
          {"signer", e.signer.empty() ? Json(nullptr) : Json(e.signer)},
          {"body", e.body},
          {"leaf_hash", e.leaf_hash_hex},
          {"timestamp", format_rfc3339(e.created_ms)},
          {"created_ms", e.created_ms}};
}

Json checkpoint_json(const trust::Checkpoint& c) {
  return {{"origin", c.origin},         {"tree_size", c.tree_size}, {"root_hash", c.root_hash_hex},
          {"timestamp", format_rfc3339(c.timestamp_ms)}, {"key_id", c.key_id}, {"note", c.note_text},
          {"signature", c.signature_b64}};
}


}  // namespace

std::vector<Route> trust_routes(trust::TrustGate& gate, trust::TransparencyLog& log) {
  std::vector<Route> routes;

  Route permit;
  permit.method = "POST";
  permit.path = "/v1/verify-and-permit-upload";
  permit.access = http::Access::analyst;
  permit.max_body_bytes = 64u << 20;
  permit.doc = {"Verify a bundle's attestation, digests, manifest and policy; issue a single-use upload permit",
                "trust", "", "", {}, 202};
  permit.handler = [&gate](Request& req) -> Result<Response> {
    auto body = http::parse_json_object(req);
    if (!body) return std::move(body).take_error();
    auto reply = gate.verify_and_permit(*body);
    if (!reply) return std::move(reply).take_error();
    return Response::json(202, *reply);
  };
  routes.push_back(std::move(permit));

  Route redeem;
  redeem.method = "POST";
  redeem.path = "/v1/permits/redeem";
  redeem.access = http::Access::analyst;
  redeem.doc = {"Spend an upload permit (once) before writing to storage", "trust", "", "", {}, 200};
  redeem.handler = [&gate](Request& req) -> Result<Response> {
    auto body = http::parse_json_object(req);
    if (!body) return std::move(body).take_error();
    auto token = http::req_string(*body, "permit");
    if (!token) return std::move(token).take_error();
    auto scan = http::req_string(*body, "scan_id");
    if (!scan) return std::move(scan).take_error();
    auto by = http::opt_string(*body, "redeemed_by");
    if (!by) return std::move(by).take_error();
    std::map<std::string, std::string> digests;
    auto d = body->find("digests");
    if (d == body->end() || !d->is_object()) return Error::invalid({"body", "digests"}, "Field required: an object of path -> sha256");
    for (auto it = d->begin(); it != d->end(); ++it) {
      if (!it->is_string()) return Error::invalid({"body", "digests", it.key()}, "Input should be a valid string");
      digests[it.key()] = it->get<std::string>();
    }
    auto claims = gate.redeem(*token, *scan, digests, by->value_or(""));
    if (!claims) return std::move(claims).take_error();
    return Response::json(200, Json{{"redeemed", true}, {"upload_permission_id", claims->permit_id}, {"scan_id", claims->scan_id}});
  };
  routes.push_back(std::move(redeem));

  Route list;
  list.method = "GET";
  list.path = "/v1/transparency";
  list.access = http::Access::viewer;
  list.doc = {"Transparency log entries (permits, signatures) with the current signed checkpoint", "trust", "", "", {}, 200};
  list.handler = [&log](Request& req) -> Result<Response> {
    trust::EntryFilter f;
    if (auto v = req.query_param("kind"); v && !v->empty()) f.kind = *v;
    if (auto v = req.query_param("subject"); v && !v->empty()) f.subject = *v;
    if (auto v = req.query_param("signer"); v && !v->empty()) f.signer = *v;
    if (auto v = req.query_param("assessment_id"); v && !v->empty()) f.subject = "scan:" + *v;
    auto limit = int_query(req, "limit", 10, 1, trust::TransparencyLog::kMaxListLimit);
    if (!limit) return std::move(limit).take_error();
    auto offset = int_query(req, "offset", 0, 0, int64_t{1} << 53);
    if (!offset) return std::move(offset).take_error();
    auto page = log.list(f, static_cast<int>(*limit), *offset);
    if (!page) return std::move(page).take_error();
    auto head = log.checkpoint();
    if (!head) return std::move(head).take_error();
    Json items = Json::array();
    for (const auto& e : page->entries) items.push_back(entry_json(e));
    return Response::json(200, Json{{"entries", items}, {"total", page->total}, {"limit", *limit},
                                    {"offset", *offset}, {"checkpoint", checkpoint_json(*head)}});
  };
  routes.push_back(std::move(list));

  Route head;
  head.method = "GET";
  head.path = "/v1/transparency/checkpoint";
  head.access = http::Access::viewer;
  head.doc = {"The signed tree head (C2SP checkpoint) of the transparency log", "trust", "", "", {}, 200};
  head.handler = [&log](Request&) -> Result<Response> {
    auto c = log.checkpoint();
    if (!c) return std::move(c).take_error();
    return Response::json(200, checkpoint_json(*c));
  };
  routes.push_back(std::move(head));

  Route consistency;
  consistency.method = "GET";
  consistency.path = "/v1/transparency/consistency";
  consistency.access = http::Access::viewer;
  consistency.doc = {"Consistency proof between two tree sizes (RFC 9162)", "trust", "", "", {}, 200};
  consistency.handler = [&log](Request& req) -> Result<Response> {
    auto first = int_query(req, "first", -1, 0, int64_t{1} << 53);
    if (!first) return std::move(first).take_error();
    auto second = int_query(req, "second", 0, 0, int64_t{1} << 53);
    if (!second) return std::move(second).take_error();
    if (*first < 0) return Error::invalid({"query", "first"}, "Field required");
    if (*second == 0) {
      auto n = log.size();
      if (!n) return std::move(n).take_error();
      *second = *n;
    }
    if (*first > *second) return Error::invalid({"query", "first"}, "first must not be larger than second");
    auto p = log.consistency_proof(*first, *second);
    if (!p) return std::move(p).take_error();
    auto c1 = log.checkpoint_at(*first);
    auto c2 = log.checkpoint_at(*second);
    Json out = {{"first", p->first_size}, {"second", p->second_size}, {"hashes", p->hashes_hex},
                {"first_root_hash", p->first_root_hex}, {"second_root_hash", p->second_root_hex}};
    if (c1) out["first_checkpoint"] = checkpoint_json(*c1);
    if (c2) out["second_checkpoint"] = checkpoint_json(*c2);
    return Response::json(200, out);
  };
  routes.push_back(std::move(consistency));

  Route entry;
  entry.method = "GET";
  entry.path = "/v1/transparency/{entry_id}";
  entry.access = http::Access::viewer;
  entry.doc = {"One transparency log entry, with an inclusion proof against the signed checkpoint", "trust", "", "", {}, 200};
  entry.handler = [&log](Request& req) -> Result<Response> {
    const std::string id = req.param("entry_id");
    auto e = log.get(id);
    if (!e) {
      if (e.error().code == Errc::not_found || e.error().code == Errc::bad_request)
        return Error::not_found("Entry " + id + " not found in transparency log");
      return std::move(e).take_error();
    }
    Json out = entry_json(*e);
    auto include = req.query_param("include_proof");
    if (include && (*include == "true" || *include == "1")) {
      auto c = log.checkpoint();
      if (!c) return std::move(c).take_error();
      auto p = log.inclusion_proof(e->index, c->tree_size);
      if (!p) return std::move(p).take_error();
      out["proof"] = {{"leaf_index", p->leaf_index}, {"tree_size", p->tree_size}, {"hashes", p->hashes_hex},
                      {"root_hash", p->root_hash_hex}, {"checkpoint", checkpoint_json(*c)}};
    }
    return Response::json(200, out);
  };
  routes.push_back(std::move(entry));
  return routes;
}

std::vector<Route> trust_internal_routes(trust::TrustGate& gate, trust::TransparencyLog& log) {
  std::vector<Route> out;
  for (auto& r : trust_routes(gate, log)) {
    if (r.path != "/v1/verify-and-permit-upload" && r.path != "/v1/permits/redeem") continue;
    r.path = "/internal/trust" + r.path;
    r.access = http::Access::service;
    r.doc.tag = "internal";
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace secplat::api
