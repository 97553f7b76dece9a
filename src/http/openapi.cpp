#include "http/openapi.h"

#include <nlohmann/json.hpp>

namespace secplat::http {

namespace {
using OJson = nlohmann::ordered_json;

OJson schema_or_any(const std::string& text) {
  if (text.empty()) return OJson::object();
  OJson j = OJson::parse(text, nullptr, false);
  if (j.is_discarded()) return OJson{{"description", text}};
  return j;
}

OJson error_ref(const char* description) {
  return {{"description", description},
          {"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/ErrorEnvelope"}}}}}}}};
}

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

std::string operation_id(const Route& r) {
  std::string id = lower(r.method) + "_";
  for (char c : r.path) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) id.push_back(c);
    else if (!id.empty() && id.back() != '_') id.push_back('_');
  }
  while (!id.empty() && id.back() == '_') id.pop_back();
  return id;
}

std::vector<std::string> path_params(const std::string& path) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while ((pos = path.find('{', pos)) != std::string::npos) {
    std::size_t end = path.find('}', pos);
    if (end == std::string::npos) break;
    out.push_back(path.substr(pos + 1, end - pos - 1));
    pos = end + 1;
  }
  return out;
}
}  // namespace

std::string openapi_document(const std::vector<Route>& routes, std::string_view title, std::string_view version) {
  OJson doc;
  doc["openapi"] = "3.1.0";
  doc["info"] = {{"title", title}, {"version", version}};
  OJson paths = OJson::object();
  for (const Route& r : routes) {
    OJson op;
    if (!r.doc.summary.empty()) op["summary"] = r.doc.summary;
    op["operationId"] = operation_id(r);
    if (!r.doc.tag.empty()) op["tags"] = OJson::array({r.doc.tag});
    OJson params = OJson::array();
    for (const auto& name : path_params(r.path))
      params.push_back({{"name", name}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}});
    for (const auto& name : r.doc.query_params)
      params.push_back({{"name", name}, {"in", "query"}, {"required", false}, {"schema", {{"type", "string"}}}});
    if (r.ws_handler && r.access != Access::public_route)
      params.push_back({{"name", "access_token"},
                        {"in", "query"},
                        {"required", false},
                        {"description", "Bearer token for browsers, which cannot set headers on WebSocket upgrades"},
                        {"schema", {{"type", "string"}}}});
    if (!params.empty()) op["parameters"] = params;
    if (!r.doc.request_schema.empty())
      op["requestBody"] = {{"required", true},
                           {"content", {{"application/json", {{"schema", schema_or_any(r.doc.request_schema)}}}}}};
    OJson responses = OJson::object();
    if (r.ws_handler) {
      responses["101"] = {{"description", "Switching Protocols (WebSocket)"}};
    } else {
      OJson ok = {{"description", r.doc.summary.empty() ? std::string("Success") : r.doc.summary}};
      if (r.doc.success_status != 204)
        ok["content"] = {{"application/json", {{"schema", schema_or_any(r.doc.response_schema)}}}};
      responses[std::to_string(r.doc.success_status)] = ok;
    }
    if (r.access != Access::public_route) {
      responses["401"] = error_ref("Not authenticated");
      responses["403"] = error_ref("Insufficient permissions");
      op["security"] = OJson::array({{{"bearerAuth", OJson::array()}}});
    }
    responses["422"] = error_ref("Validation error");
    responses["default"] = error_ref("Error");
    op["responses"] = responses;
    paths[r.path][lower(r.method)] = op;
  }
  doc["paths"] = paths;
  OJson field_error = {{"type", "object"},
                       {"properties",
                        {{"loc", {{"type", "array"}, {"items", {{"type", "string"}}}}}, {"msg", {{"type", "string"}}}}},
                       {"required", {"loc", "msg"}}};
  OJson envelope = {
      {"type", "object"},
      {"properties",
       {{"error",
         {{"type", "object"},
          {"properties",
           {{"message", {{"type", "string"}}},
            {"status_code", {{"type", "integer"}}},
            {"retryable", {{"type", "boolean"}}},
            {"detail", {{"oneOf", {{{"type", "string"}}, {{"type", "array"}, {"items", field_error}}}}}},
            {"request_id", {{"type", "string"}}}}},
          {"required", {"message", "status_code", "retryable", "detail", "request_id"}}}},
        {"detail", {{"type", "string"}}}}},
      {"required", {"error", "detail"}}};
  doc["components"] = {
      {"schemas", {{"ErrorEnvelope", envelope}}},
      {"securitySchemes", {{"bearerAuth", {{"type", "http"}, {"scheme", "bearer"}}}}}};
  return doc.dump();
}

}  // namespace secplat::http
