#include "api/assets_routes.h"

#include <charconv>

#include "api/route_helpers.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "http/json_body.h"

namespace secplat::api {
namespace {

using posture::Asset;
using posture::Probe;

// The fields PATCH accepts (POST accepts these plus asset_key).
Status reject_unknown_patch_fields(const Json& body) {
  return http::reject_unknown_fields(
      body, {"type", "name", "owner", "owner_team", "owner_email", "asset_type", "environment", "criticality",
             "verified", "verification_method", "verification_token", "address", "port", "is_active", "tags",
             "metadata", "probe", "parent_asset_key"});
}


Json probe_json(const Probe& p, bool viewer) {
  Json codes = Json::array();
  for (const auto& r : p.expected_status) {
    if (r.from == r.to) {
      codes.push_back(r.from);
    } else {
      codes.push_back(std::to_string(r.from) + "-" + std::to_string(r.to));
    }
  }
  return Json{{"url", viewer ? Json(nullptr) : Json(p.url)},
              {"method", p.method},
              {"expected_status", codes},
              {"keyword", opt_text(p.keyword)},
              {"interval_seconds", p.interval_seconds},
              {"timeout_ms", p.timeout_ms}};
}

bool is_viewer(const http::Request& req) { return !req.principal || req.principal->role == http::Role::viewer; }
bool is_admin(const http::Request& req) { return req.principal && req.principal->role == http::Role::admin; }

// Viewers do not see contact data, verification secrets, network locations or metadata.
Json asset_json(const Asset& a, bool viewer) {
  Json meta = Json::parse(a.metadata_json, nullptr, false);
  if (!meta.is_object()) meta = Json::object();
  return Json{{"asset_id", a.asset_id},
              {"asset_key", a.asset_key},
              {"type", a.type},
              {"name", a.name},
              {"owner", opt_text(a.owner)},
              {"owner_team", opt_text(a.owner_team)},
              {"owner_email", viewer ? Json(nullptr) : opt_text(a.owner_email)},
              {"asset_type", a.asset_type},
              {"environment", a.environment},
              {"criticality", a.criticality},
              {"verified", a.verified},
              {"verification_method", opt_text(a.verification_method)},
              {"verification_token", viewer ? Json(nullptr) : opt_text(a.verification_token)},
              {"address", viewer ? Json(nullptr) : opt_text(a.address)},
              {"port", viewer || !a.port ? Json(nullptr) : Json(*a.port)},
              {"is_active", a.is_active},
              {"tags", a.tags},
              {"metadata", viewer ? Json::object() : meta},
              {"probe", a.probe ? probe_json(*a.probe, viewer) : Json(nullptr)},
              {"parent_asset_key", opt_text(a.parent_asset_key)},
              {"created_at", format_rfc3339(a.created_ms)},
              {"updated_at", format_rfc3339(a.updated_ms)}};
}

Error invalid(const std::string& field, const std::string& msg) { return Error::invalid({"body", field}, msg); }

bool valid_key(const std::string& k) {
  if (k.empty() || k.size() > 200) return false;
  for (unsigned char c : k) {
    if (c <= 0x20 || c >= 0x7f || c == '/' || c == '?' || c == '#' || c == '%') return false;
  }
  return true;
}

Result<int> parse_code(const std::string& s, const std::string& field) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 100 || v > 599) {
    return invalid(field, "Status codes must be integers 100..599");
  }
  return v;
}

// expected_status: [200, "300-399", ...] (codes or inclusive "lo-hi" ranges), non-empty.
Result<std::vector<posture::StatusRange>> parse_expected_status(const Json& j) {
  const std::string field = "probe.expected_status";
  if (!j.is_array() || j.empty() || j.size() > 32) {
    return invalid(field, "Must be a non-empty list of status codes or \"lo-hi\" ranges, e.g. [200, \"300-399\"]");
  }
  std::vector<posture::StatusRange> out;
  for (const auto& e : j) {
    if (e.is_number_integer()) {
      auto v = e.get<int64_t>();
      if (v < 100 || v > 599) return invalid(field, "Status codes must be integers 100..599");
      out.push_back({static_cast<int>(v), static_cast<int>(v)});
    } else if (e.is_string()) {
      const std::string s = e.get<std::string>();
      auto dash = s.find('-');
      auto lo = parse_code(s.substr(0, dash), field);
      if (!lo.ok()) return std::move(lo).take_error();
      int hi = *lo;
      if (dash != std::string::npos) {
        auto h = parse_code(s.substr(dash + 1), field);
        if (!h.ok()) return std::move(h).take_error();
        hi = *h;
      }
      if (hi < *lo) return invalid(field, "Range \"" + s + "\" is empty");
      out.push_back({*lo, hi});
    } else {
      return invalid(field, "Entries must be integers or \"lo-hi\" strings");
    }
  }
  return out;
}

// A probe object; fields absent from `j` keep their value in `base` (the asset's current probe or defaults).
Result<Probe> parse_probe(const Json& j, Probe base) {
  if (!j.is_object()) return invalid("probe", "Must be an object or null");
  for (auto it = j.begin(); it != j.end(); ++it) {
    static const std::vector<std::string> allowed = {"url", "method", "expected_status", "keyword",
                                                     "interval_seconds", "timeout_ms"};
    if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
      return invalid("probe." + it.key(), "Extra inputs are not permitted");
    }
  }
  if (j.contains("url")) {
    if (!j["url"].is_string()) return invalid("probe.url", "Must be a string");
    base.url = j["url"].get<std::string>();
  }
  const bool http = base.url.rfind("http://", 0) == 0 || base.url.rfind("https://", 0) == 0;
  const std::size_t scheme = base.url.find("://");
  if (!http || base.url.size() <= scheme + 3 || base.url.size() > 2048 ||
      base.url.find_first_of(" \t\r\n") != std::string::npos) {
    return invalid("probe.url", "Must be an http:// or https:// URL with a host");
  }
  if (j.contains("method")) {
    if (!j["method"].is_string()) return invalid("probe.method", "Must be a string");
    base.method = j["method"].get<std::string>();
    if (base.method != "GET" && base.method != "HEAD") return invalid("probe.method", "Must be GET or HEAD");
  }
  if (j.contains("expected_status")) {
    auto codes = parse_expected_status(j["expected_status"]);
    if (!codes.ok()) return std::move(codes).take_error();
    base.expected_status = std::move(*codes);
  }
  if (j.contains("keyword")) {
    if (j["keyword"].is_null()) {
      base.keyword.reset();
    } else if (j["keyword"].is_string() && !j["keyword"].get<std::string>().empty() &&
               j["keyword"].get<std::string>().size() <= 256) {
      base.keyword = j["keyword"].get<std::string>();
    } else {
      return invalid("probe.keyword", "Must be null or a string of 1..256 characters");
    }
  }
  auto int_in = [&](const char* key, int64_t lo, int64_t hi, int& out) -> Status {
    if (!j.contains(key)) return ok_status();
    const Json& v = j[key];
    if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi) {
      return invalid(std::string("probe.") + key,
                     "Must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
    }
    out = static_cast<int>(v.get<int64_t>());
    return ok_status();
  };
  SECPLAT_TRY(int_in("interval_seconds", 1, 86400, base.interval_seconds));
  SECPLAT_TRY(int_in("timeout_ms", 100, 60000, base.timeout_ms));
  return base;
}

Result<std::optional<std::string>> nullable_text(const Json& body, const char* key, std::size_t max_len = 512) {
  const Json& v = body[key];
  if (v.is_null()) return std::optional<std::string>();
  if (!v.is_string()) return invalid(key, "Must be a string or null");
  if (v.get<std::string>().size() > max_len) return invalid(key, "At most " + std::to_string(max_len) + " characters");
  return std::optional<std::string>(v.get<std::string>());
}

Result<std::string> text(const Json& body, const char* key, std::size_t max_len = 512) {
  const Json& v = body[key];
  if (!v.is_string() || v.get<std::string>().empty()) return invalid(key, "Must be a non-empty string");
  if (v.get<std::string>().size() > max_len) return invalid(key, "At most " + std::to_string(max_len) + " characters");
  return v.get<std::string>();
}

Result<bool> boolean(const Json& body, const char* key) {
  if (!body[key].is_boolean()) return invalid(key, "Must be true or false");
  return body[key].get<bool>();
}

// Applies the body's fields to `a`. Secrets-adjacent verification fields are admin-only (403) so
// analysts cannot mark a domain verified without proving control of it.
Status apply_fields(Asset& a, const Json& body, bool admin) {
  for (const char* k : {"verified", "verification_method", "verification_token"}) {
    if (body.contains(k) && !admin) return Error::forbidden(std::string("Only admins may set ") + k);
  }
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string& k = it.key();
    if (k == "asset_key") continue;
    if (k == "type") {
      if (!it->is_string() || !posture::is_valid_asset_type(it->get<std::string>())) {
        return invalid("type", "Invalid asset type: use one of user, host, external_web, app");
      }
      a.type = it->get<std::string>();
    } else if (k == "name") {
      auto v = text(body, "name", 253);
      if (!v.ok()) return std::move(v).take_error();
      a.name = *v;
    } else if (k == "owner" || k == "owner_team" || k == "owner_email" || k == "address" ||
               k == "verification_method" || k == "verification_token" || k == "parent_asset_key") {
      auto v = nullable_text(body, k.c_str());
      if (!v.ok()) return std::move(v).take_error();
      if (k == "owner_email" && *v && v->value().find('@') == std::string::npos) {
        return invalid(k, "Must be an email address");
      }
      if (k == "verification_method" && *v && **v != "dns_txt" && **v != "well_known") {
        return invalid(k, "Must be dns_txt, well_known or null");
      }
      std::optional<std::string>& field = k == "owner"                 ? a.owner
                                          : k == "owner_team"          ? a.owner_team
                                          : k == "owner_email"         ? a.owner_email
                                          : k == "address"             ? a.address
                                          : k == "verification_method" ? a.verification_method
                                          : k == "verification_token"  ? a.verification_token
                                                                       : a.parent_asset_key;
      field = *v;
    } else if (k == "asset_type" || k == "environment") {
      auto v = text(body, k.c_str(), 64);
      if (!v.ok()) return std::move(v).take_error();
      (k == "asset_type" ? a.asset_type : a.environment) = *v;
    } else if (k == "criticality") {
      std::string c;
      if (it->is_number_integer() && it->get<int64_t>() >= 1 && it->get<int64_t>() <= 5) {
        c = std::to_string(it->get<int64_t>());
      } else if (it->is_string()) {
        c = it->get<std::string>();
      }
      static const std::vector<std::string> ok = {"critical", "high", "medium", "low", "1", "2", "3", "4", "5"};
      if (std::find(ok.begin(), ok.end(), c) == ok.end()) {
        return invalid("criticality", "Must be critical, high, medium, low or an integer 1..5");
      }
      a.criticality = c;
    } else if (k == "verified" || k == "is_active") {
      auto v = boolean(body, k.c_str());
      if (!v.ok()) return std::move(v).take_error();
      (k == "verified" ? a.verified : a.is_active) = *v;
    } else if (k == "port") {
      if (it->is_null()) {
        a.port.reset();
      } else if (it->is_number_integer() && it->get<int64_t>() >= 1 && it->get<int64_t>() <= 65535) {
        a.port = it->get<int64_t>();
      } else {
        return invalid("port", "Must be an integer 1..65535 or null");
      }
    } else if (k == "tags") {
      if (!it->is_array() || it->size() > 64) return invalid("tags", "Must be a list of at most 64 strings");
      std::vector<std::string> tags;
      for (const auto& t : *it) {
        if (!t.is_string() || t.get<std::string>().empty() || t.get<std::string>().size() > 64) {
          return invalid("tags", "Tags must be strings of 1..64 characters");
        }
        tags.push_back(t.get<std::string>());
      }
      a.tags = std::move(tags);
    } else if (k == "metadata") {
      Json m = *it;
      if (m.is_string()) m = Json::parse(m.get<std::string>(), nullptr, false);  // the reference accepts JSON text
      if (!m.is_object()) return invalid("metadata", "Must be an object (or a JSON object as a string)");
      a.metadata_json = m.dump();
    } else if (k == "probe") {
      if (it->is_null()) {
        a.probe.reset();
      } else {
        auto p = parse_probe(*it, a.probe.value_or(Probe{}));
        if (!p.ok()) return std::move(p).take_error();
        a.probe = std::move(*p);
      }
    }
  }
  return ok_status();
}

Result<std::string> key_param(const http::Request& req) {
  std::string key = req.param("asset_key");
  if (key.empty()) return Error::not_found("Asset not found");
  return key;
}

Json audit_changes(const Json& body) {
  Json changes = body;
  if (changes.contains("verification_token")) changes["verification_token"] = "***";
  return changes;
}

http::Route route(std::string method, std::string path, http::Access access, http::Handler h, std::string summary,
                  int success = 200, std::vector<std::string> query = {}) {
  return make_route("assets", std::move(method), std::move(path), access, std::move(h), std::move(summary), success,
                    std::move(query));
}

Result<std::optional<std::string>> query_text(const http::Request& req, const char* name) {
  auto v = req.query_param(name);
  if (!v || v->empty()) return std::optional<std::string>();
  if (v->size() > 200) return Error::invalid({"query", name}, "At most 200 characters");
  return v;
}

bool config_managed(const Asset& a) {
  Json meta = Json::parse(a.metadata_json, nullptr, false);
  return meta.is_object() && meta.value("managed_by", "") == "config";
}

Error managed_conflict(const Asset& a) {
  return Error::conflict("Asset " + a.asset_key + " is declared in the config file; change it there");
}

}  // namespace

Status apply_declared_assets(posture::AssetRepo& assets, findings::FindingsService& findings, auth::AuditLog& audit,
                             const std::string& declared_json) {
  Json list = Json::parse(declared_json, nullptr, false);
  if (!list.is_array()) return Error::bad_request("assets: expected a list");
  for (const auto& item : list) {
    const std::string key = item.value("asset_key", "");
    auto named = [&](const Error& e) {
      std::string what = e.fields.empty() ? e.message : e.fields.front().loc.back() + ": " + e.fields.front().msg;
      return Error::bad_request("config assets (" + key + "): " + what);
    };
    if (!valid_key(key)) return Error::bad_request("config assets (" + key + "): invalid asset_key");
    Json body = item;
    body.erase("asset_key");
    if (auto st = reject_unknown_patch_fields(body); !st.ok()) return named(st.error());
    Json meta = body.contains("metadata") && body["metadata"].is_object() ? body["metadata"] : Json::object();
    meta["managed_by"] = "config";
    body["metadata"] = meta;
    auto existing = assets.get_by_key(key);
    Result<Asset> written = Error::internal("unset");
    if (existing.ok()) {
      written = assets.update(key, [&](Asset& a) { return apply_fields(a, body, true); },
                              [&](store::Tx& tx, const Asset& a) {
                                return audit.append(tx, "asset.update", "config", a.asset_key, audit_changes(body), "");
                              });
    } else if (existing.error().code == Errc::not_found) {
      Asset a;
      a.asset_key = key;
      if (auto st = apply_fields(a, body, true); !st.ok()) return named(st.error());
      if (a.name.empty()) a.name = key;
      written = assets.create(a, [&](store::Tx& tx, const Asset& c) {
        return audit.append(tx, "asset.create", "config", c.asset_key,
                            Json{{"asset_id", c.asset_id}, {"asset_key", c.asset_key}, {"source", "config"}}, "");
      });
    } else {
      return existing.error();
    }
    if (!written.ok()) return named(written.error());
    if (auto st = findings.recompute_risk_for_asset(written->asset_id); !st.ok()) return st;
  }
  return ok_status();
}

std::vector<http::Route> asset_routes(posture::AssetRepo& assets, findings::FindingsService& findings,
                                      auth::AuditLog& audit, AssetVerifier verifier) {
  std::vector<http::Route> routes;

  routes.push_back(route(
      "GET", "/assets/", http::Access::viewer,
      [&assets](http::Request& req) -> Result<http::Response> {
        posture::AssetFilter f;
        for (auto [name, field] : {std::pair{"type", &f.type}, std::pair{"environment", &f.environment},
                                   std::pair{"criticality", &f.criticality}, std::pair{"q", &f.q}}) {
          auto v = query_text(req, name);
          if (!v.ok()) return std::move(v).take_error();
          *field = *v;
        }
        auto limit = http::query_int(req, "limit", 100, 1, 500);
        if (!limit.ok()) return std::move(limit).take_error();
        auto offset = http::query_int(req, "offset", 0, 0, 1'000'000'000);
        if (!offset.ok()) return std::move(offset).take_error();
        f.limit = *limit;
        f.offset = *offset;
        auto page = assets.list(f);
        if (!page.ok()) return std::move(page).take_error();
        Json items = Json::array();
        for (const auto& a : page->items) items.push_back(asset_json(a, is_viewer(req)));
        auto resp = http::Response::json(200, items);
        resp.headers.emplace_back("X-Total-Count", std::to_string(page->total));
        return resp;
      },
      "List assets (newest first); total matches in X-Total-Count", 200,
      {"type", "environment", "criticality", "q", "limit", "offset"}));

  routes.push_back(route(
      "POST", "/assets/", http::Access::analyst,
      [&assets, &audit](http::Request& req) -> Result<http::Response> {
        auto body = http::parse_json_object(req);
        if (!body.ok()) return std::move(body).take_error();
        SECPLAT_TRY(http::reject_unknown_fields(
            *body, {"asset_key", "type", "name", "owner", "owner_team", "owner_email", "asset_type", "environment",
                    "criticality", "verified", "verification_method", "verification_token", "address", "port",
                    "is_active", "tags", "metadata", "probe", "parent_asset_key"}));
        for (const char* k : {"asset_key", "type", "name"}) {
          if (!body->contains(k) || (*body)[k].is_null()) return invalid(k, "Field required");
        }
        if (!(*body)["asset_key"].is_string() || !valid_key((*body)["asset_key"].get<std::string>())) {
          return invalid("asset_key", "Must be 1..200 printable characters without spaces, '/', '?', '#' or '%'");
        }
        Asset a;
        a.asset_key = (*body)["asset_key"].get<std::string>();
        SECPLAT_TRY(apply_fields(a, *body, is_admin(req)));
        const auth::Actor actor = actor_of(req);
        auto created = assets.create(a, [&](store::Tx& tx, const Asset& c) {
          return audit.append(tx, "asset.create", actor.user_name, c.asset_key,
                              Json{{"asset_id", c.asset_id}, {"asset_key", c.asset_key}, {"type", c.type},
                                   {"environment", c.environment}, {"criticality", c.criticality}},
                              actor.request_id);
        });
        if (!created.ok()) return std::move(created).take_error();
        return http::Response::json(201, asset_json(*created, false));
      },
      "Create an asset (409 if the asset_key exists)", 201));

  routes.push_back(route(
      "GET", "/assets/by-key/{asset_key}", http::Access::viewer,
      [&assets](http::Request& req) -> Result<http::Response> {
        auto key = key_param(req);
        if (!key.ok()) return std::move(key).take_error();
        auto a = assets.get_by_key(*key);
        if (!a.ok()) return std::move(a).take_error();
        return http::Response::json(200, asset_json(*a, is_viewer(req)));
      },
      "One asset by its key"));

  routes.push_back(route(
      "GET", "/assets/{asset_id}", http::Access::viewer,
      [&assets](http::Request& req) -> Result<http::Response> {
        const std::string raw = req.param("asset_id");
        int64_t id = 0;
        auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), id);
        if (ec != std::errc() || p != raw.data() + raw.size()) {
          return Error::invalid({"path", "asset_id"}, "Must be an integer");
        }
        auto a = assets.get(id);
        if (!a.ok()) return std::move(a).take_error();
        return http::Response::json(200, asset_json(*a, is_viewer(req)));
      },
      "One asset by its id"));

  routes.push_back(route(
      "PATCH", "/assets/by-key/{asset_key}", http::Access::analyst,
      [&assets, &findings, &audit](http::Request& req) -> Result<http::Response> {
        auto key = key_param(req);
        if (!key.ok()) return std::move(key).take_error();
        auto body = http::parse_json_object(req);
        if (!body.ok()) return std::move(body).take_error();
        if (body->contains("asset_key")) return invalid("asset_key", "asset_key cannot be changed");
        SECPLAT_TRY(reject_unknown_patch_fields(*body));
        if (body->empty()) {
          auto a = assets.get_by_key(*key);  // still 404 for a missing asset
          if (!a.ok()) return std::move(a).take_error();
          return http::Response::json(200, Json{{"ok", true}, {"message", "No changes"}});
        }
        const bool admin = is_admin(req);
        const auth::Actor actor = actor_of(req);
        auto updated = assets.update(
            *key,
            [&](Asset& a) -> Status {
              if (config_managed(a)) return managed_conflict(a);
              return apply_fields(a, *body, admin);
            },
            [&](store::Tx& tx, const Asset& a) {
              return audit.append(tx, "asset.update", actor.user_name, a.asset_key, audit_changes(*body),
                                  actor.request_id);
            });
        if (!updated.ok()) return std::move(updated).take_error();
        if (auto st = findings.recompute_risk_for_asset(updated->asset_id); !st.ok()) {
          log::warn("finding risk recompute failed after asset update",
                    {log::str("asset_key", updated->asset_key), log::str("error", st.error().message)});
        }
        return http::Response::json(200, asset_json(*updated, false));
      },
      "Update an asset's fields (asset_key is immutable)"));

  routes.push_back(route(
      "DELETE", "/assets/by-key/{asset_key}", http::Access::admin,
      [&assets, &audit](http::Request& req) -> Result<http::Response> {
        auto key = key_param(req);
        if (!key.ok()) return std::move(key).take_error();
        const auth::Actor actor = actor_of(req);
        auto removed = assets.remove(*key, [&](store::Tx& tx, const Asset& a) -> Status {
          if (config_managed(a)) return managed_conflict(a);  // rolls the delete back
          return audit.append(tx, "asset.delete", actor.user_name, a.asset_key,
                              Json{{"asset_id", a.asset_id}, {"asset_key", a.asset_key}}, actor.request_id);
        });
        if (!removed.ok()) return std::move(removed).take_error();
        return http::Response::json(
            200, Json{{"ok", true}, {"asset_id", removed->asset_id}, {"asset_key", removed->asset_key}});
      },
      "Delete an asset (409 while findings reference it)"));

  routes.push_back(route(
      "POST", "/assets/{asset_id}/verify", http::Access::analyst,
      [&assets, &findings, &audit, verifier](http::Request& req) -> Result<http::Response> {
        const std::string raw = req.param("asset_id");
        int64_t id = 0;
        auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), id);
        if (ec != std::errc() || p != raw.data() + raw.size()) return Error::invalid({"path", "asset_id"}, "Must be an integer");
        auto body = http::parse_json_object(req);
        if (!body.ok()) return std::move(body).take_error();
        SECPLAT_TRY(http::reject_unknown_fields(*body, {"method"}));
        std::string method = "well_known";
        if (body->contains("method")) {
          if (!(*body)["method"].is_string()) return invalid("method", "Must be well_known or dns_txt");
          method = (*body)["method"].get<std::string>();
        }
        auto a = assets.get(id);
        if (!a.ok()) return std::move(a).take_error();
        if (!verifier) return Error::unavailable("Verification is not available in this process");
        auto outcome = verifier(*a, method);
        if (!outcome.ok()) return std::move(outcome).take_error();
        const auth::Actor actor = actor_of(req);
        if (!outcome->verified) {
          (void)audit.append("asset.verify_failed", actor.user_name, a->asset_key, outcome->details, actor.request_id);
          Json err{{"message", "Verification failed"}, {"status_code", 400}, {"retryable", false},
                   {"detail", outcome->details}, {"request_id", req.request_id}};
          return http::Response::json(400, Json{{"error", err}, {"detail", "Verification failed"}, {"verified", false},
                                                {"details", outcome->details}});
        }
        auto updated = assets.update(
            a->asset_key,
            [&](Asset& x) {
              x.verified = true;
              x.verification_method = method;
              return ok_status();
            },
            [&](store::Tx& tx, const Asset& x) {
              return audit.append(tx, "asset.verify", actor.user_name, x.asset_key,
                                  Json{{"asset_id", x.asset_id}, {"method", method}}, actor.request_id);
            });
        if (!updated.ok()) return std::move(updated).take_error();
        if (auto st = findings.recompute_risk_for_asset(updated->asset_id); !st.ok())
          log::warn("finding risk recompute failed after verification", {log::str("error", st.error().message)});
        return http::Response::json(200, Json{{"asset_id", updated->asset_id},
                                              {"verified", true},
                                              {"verification_method", method}});
      },
      "Verify ownership of an external_web asset (well_known file or DNS TXT) before active scans"));

  return routes;
}

}  // namespace secplat::api
