#include "posture/asset_repo.h"

#include <algorithm>
#include <cctype>

#include "core/encoding.h"
#include "core/json.h"
#include "store/sql_text.h"

namespace secplat::posture {
namespace {

constexpr const char* kColumns =
    "asset_id, asset_key, type, name, owner, owner_team, owner_email, asset_type, environment, criticality, "
    "verified, verification_method, verification_token, address, port, is_active, tags, metadata, probe, "
    "parent_asset_key, created_at, updated_at";

std::string probe_to_text(const Probe& p) {
  Json codes = Json::array();
  for (const auto& r : p.expected_status) codes.push_back(Json::array({r.from, r.to}));
  return Json{{"url", p.url},
              {"method", p.method},
              {"expected_status", codes},
              {"keyword", p.keyword ? Json(*p.keyword) : Json(nullptr)},
              {"interval_seconds", p.interval_seconds},
              {"timeout_ms", p.timeout_ms}}
      .dump();
}

// Stored probes were validated on the way in; a damaged one reads as "no probe" rather than failing reads.
std::optional<Probe> probe_from_text(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  Json j = Json::parse(*text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  try {
    Probe p;
    p.url = j.at("url").get<std::string>();
    p.method = j.value("method", "GET");
    p.expected_status.clear();
    for (const auto& r : j.at("expected_status")) p.expected_status.push_back({r.at(0).get<int>(), r.at(1).get<int>()});
    if (j.contains("keyword") && j["keyword"].is_string()) p.keyword = j["keyword"].get<std::string>();
    p.interval_seconds = j.value("interval_seconds", 60);
    p.timeout_ms = j.value("timeout_ms", 5000);
    return p;
  } catch (const Json::exception&) {
    return std::nullopt;
  }
}

std::optional<int64_t> opt_int(const store::Row& row, std::string_view col) { return row.opt_i64(col); }

Asset to_asset(const store::Row& row) {
  Asset a;
  a.asset_id = row.i64("asset_id");
  a.asset_key = row.str("asset_key");
  a.type = row.str("type");
  a.name = row.str("name");
  a.owner = row.opt_str("owner");
  a.owner_team = row.opt_str("owner_team");
  a.owner_email = row.opt_str("owner_email");
  a.asset_type = row.str("asset_type");
  a.environment = row.str("environment");
  a.criticality = row.str("criticality");
  a.verified = row.i64("verified") != 0;
  a.verification_method = row.opt_str("verification_method");
  a.verification_token = row.opt_str("verification_token");
  a.address = row.opt_str("address");
  a.port = opt_int(row, "port");
  a.is_active = row.i64("is_active") != 0;
  a.tags = string_list_from_json(row.str("tags", "[]"));
  a.metadata_json = row.str("metadata", "{}");
  a.probe = probe_from_text(row.opt_str("probe"));
  a.parent_asset_key = row.opt_str("parent_asset_key");
  a.created_ms = row.i64("created_at");
  a.updated_ms = row.i64("updated_at");
  return a;
}

store::Value opt(const std::optional<std::string>& v) { return v ? store::Value(*v) : store::null(); }
store::Value opt(const std::optional<int64_t>& v) { return v ? store::Value(*v) : store::null(); }

// 24 characters [A-Za-z0-9] from the CSPRNG (rejection sampling keeps the distribution uniform).
std::string verification_token() {
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  while (out.size() < 24) {
    for (unsigned char b : random_bytes(32)) {
      if (b < 248 && out.size() < 24) out += kAlphabet[b % 62];
    }
  }
  return out;
}

Result<std::optional<Asset>> find_by_key(store::Tx& tx, const std::string& key) {
  auto rows = tx.query(std::string("SELECT ") + kColumns + " FROM assets WHERE asset_key = $1", {key});
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return std::optional<Asset>();
  return std::optional<Asset>(to_asset(rows->front()));
}

std::string tags_text(const std::vector<std::string>& tags) { return Json(tags).dump(); }

}  // namespace

bool Probe::accepts(int status) const {
  return std::any_of(expected_status.begin(), expected_status.end(),
                     [&](const StatusRange& r) { return status >= r.from && status <= r.to; });
}

bool is_valid_asset_type(std::string_view type) {
  return type == "user" || type == "host" || type == "external_web" || type == "app";
}

Result<int64_t> AssetRepo::ensure(const std::string& asset_key, const std::string& asset_type,
                                  const std::string& name) {
  if (asset_key.empty()) return Error::invalid({"asset_key"}, "Field required");
  const bool api_type = is_valid_asset_type(asset_type);
  const std::string type = api_type ? asset_type : "app";
  const std::string kind = api_type || asset_type.empty() ? "service" : asset_type;
  const int64_t now = clock_.now_ms();
  int64_t id = 0;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    auto n = tx.exec(
        "INSERT INTO assets (asset_key, type, name, asset_type, verification_token, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (asset_key) DO NOTHING",
        {asset_key, type, name.empty() ? asset_key : name, kind,
         type == "external_web" ? store::Value(verification_token()) : store::null(), now});
    if (!n.ok()) return std::move(n).take_error();
    auto rows = tx.query("SELECT asset_id FROM assets WHERE asset_key = $1", {asset_key});
    if (!rows.ok()) return std::move(rows).take_error();
    if (rows->empty()) return Error::internal("asset vanished during ensure");
    id = rows->front().i64("asset_id");
    return ok_status();
  });
  if (!st.ok()) return std::move(st).take_error();
  return id;
}

Result<Asset> AssetRepo::create(const Asset& in, const AuditHook& audit) {
  Asset a = in;
  a.created_ms = a.updated_ms = clock_.now_ms();
  if (a.type == "external_web" && !a.verification_token) a.verification_token = verification_token();
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    auto existing = find_by_key(tx, a.asset_key);
    if (!existing.ok()) return std::move(existing).take_error();
    if (existing->has_value()) {
      return Error::conflict("Asset already exists: asset_key " + a.asset_key + " has asset_id " +
                             std::to_string((*existing)->asset_id));
    }
    auto rows = tx.query(
        "INSERT INTO assets (asset_key, type, name, owner, owner_team, owner_email, asset_type, environment, "
        "criticality, verified, verification_method, verification_token, address, port, is_active, tags, metadata, "
        "probe, parent_asset_key, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $20) "
        "RETURNING asset_id",
        {a.asset_key, a.type, a.name, opt(a.owner), opt(a.owner_team), opt(a.owner_email), a.asset_type,
         a.environment, a.criticality, int64_t{a.verified ? 1 : 0}, opt(a.verification_method),
         opt(a.verification_token), opt(a.address), opt(a.port), int64_t{a.is_active ? 1 : 0}, tags_text(a.tags),
         a.metadata_json, a.probe ? store::Value(probe_to_text(*a.probe)) : store::null(), opt(a.parent_asset_key),
         a.created_ms});
    if (!rows.ok()) {
      // Lost a race with a concurrent create of the same key.
      if (rows.error().code == Errc::conflict) return Error::conflict("Asset already exists: " + a.asset_key);
      return std::move(rows).take_error();
    }
    a.asset_id = rows->front().i64("asset_id");
    if (audit) return audit(tx, a);
    return ok_status();
  });
  if (!st.ok()) return std::move(st).take_error();
  return a;
}

Result<Asset> AssetRepo::get(int64_t asset_id) {
  auto rows = db_.query(std::string("SELECT ") + kColumns + " FROM assets WHERE asset_id = $1", {asset_id});
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return Error::not_found("Asset not found");
  return to_asset(rows->front());
}

Result<Asset> AssetRepo::get_by_key(const std::string& key) {
  auto rows = db_.query(std::string("SELECT ") + kColumns + " FROM assets WHERE asset_key = $1", {key});
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return Error::not_found("Asset not found");
  return to_asset(rows->front());
}

Result<AssetPage> AssetRepo::list(const AssetFilter& filter) {
  store::Params params;
  std::string where = " WHERE 1 = 1";
  auto eq = [&](const char* col, const std::optional<std::string>& v) {
    if (!v) return;
    params.push_back(*v);
    where += std::string(" AND ") + col + " = $" + std::to_string(params.size());
  };
  eq("type", filter.type);
  eq("environment", filter.environment);
  eq("criticality", filter.criticality);
  if (filter.q && !filter.q->empty()) {
    std::string pattern = store::like_contains(*filter.q);
    params.push_back(pattern);
    const std::string n = "$" + std::to_string(params.size());
    where += " AND (LOWER(asset_key) LIKE " + n + " ESCAPE '\\' OR LOWER(name) LIKE " + n +
             " ESCAPE '\\' OR LOWER(COALESCE(owner, '')) LIKE " + n + " ESCAPE '\\')";
  }
  AssetPage page;
  auto count = db_.query("SELECT COUNT(*) AS n FROM assets" + where, params);
  if (!count.ok()) return std::move(count).take_error();
  page.total = count->front().i64("n");
  params.push_back(filter.limit);
  params.push_back(filter.offset);
  auto rows = db_.query(std::string("SELECT ") + kColumns + " FROM assets" + where +
                            " ORDER BY asset_id DESC LIMIT $" + std::to_string(params.size() - 1) + " OFFSET $" +
                            std::to_string(params.size()),
                        params);
  if (!rows.ok()) return std::move(rows).take_error();
  for (const auto& r : *rows) page.items.push_back(to_asset(r));
  return page;
}

Result<std::vector<Asset>> AssetRepo::list_probed() {
  auto rows = db_.query(std::string("SELECT ") + kColumns +
                        " FROM assets WHERE probe IS NOT NULL AND is_active = 1 ORDER BY asset_id");
  if (!rows.ok()) return std::move(rows).take_error();
  std::vector<Asset> out;
  for (const auto& r : *rows) {
    Asset a = to_asset(r);
    if (a.probe) out.push_back(std::move(a));
  }
  return out;
}

Result<Asset> AssetRepo::update(const std::string& key, const std::function<Status(Asset&)>& change,
                                const AuditHook& audit) {
  Asset a;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    auto existing = find_by_key(tx, key);
    if (!existing.ok()) return std::move(existing).take_error();
    if (!existing->has_value()) return Error::not_found("Asset not found");
    a = std::move(**existing);
    const Asset before = a;
    SECPLAT_TRY(change(a));
    a.asset_id = before.asset_id;
    a.asset_key = before.asset_key;
    a.created_ms = before.created_ms;
    a.updated_ms = std::max(clock_.now_ms(), before.updated_ms);
    if (a.type == "external_web" && !a.verification_token) a.verification_token = verification_token();
    auto n = tx.exec(
        "UPDATE assets SET type = $1, name = $2, owner = $3, owner_team = $4, owner_email = $5, asset_type = $6, "
        "environment = $7, criticality = $8, verified = $9, verification_method = $10, verification_token = $11, "
        "address = $12, port = $13, is_active = $14, tags = $15, metadata = $16, probe = $17, "
        "parent_asset_key = $18, updated_at = $19 WHERE asset_id = $20",
        {a.type, a.name, opt(a.owner), opt(a.owner_team), opt(a.owner_email), a.asset_type, a.environment,
         a.criticality, int64_t{a.verified ? 1 : 0}, opt(a.verification_method), opt(a.verification_token),
         opt(a.address), opt(a.port), int64_t{a.is_active ? 1 : 0}, tags_text(a.tags), a.metadata_json,
         a.probe ? store::Value(probe_to_text(*a.probe)) : store::null(), opt(a.parent_asset_key), a.updated_ms,
         a.asset_id});
    if (!n.ok()) return std::move(n).take_error();
    if (audit) return audit(tx, a);
    return ok_status();
  });
  if (!st.ok()) return std::move(st).take_error();
  return a;
}

Result<Asset> AssetRepo::remove(const std::string& key, const AuditHook& audit) {
  Asset a;
  Status st = db_.transact([&](store::Tx& tx) -> Status {
    auto existing = find_by_key(tx, key);
    if (!existing.ok()) return std::move(existing).take_error();
    if (!existing->has_value()) return Error::not_found("Asset not found");
    a = std::move(**existing);
    auto refs = tx.query("SELECT COUNT(*) AS n FROM findings WHERE asset_id = $1", {a.asset_id});
    if (!refs.ok()) return std::move(refs).take_error();
    if (int64_t n = refs->front().i64("n"); n > 0) {
      return Error::conflict("Could not delete asset: " + std::to_string(n) + " findings reference it");
    }
    auto n = tx.exec("DELETE FROM assets WHERE asset_id = $1", {a.asset_id});
    if (!n.ok()) {
      // Another module's table still references the asset (foreign key).
      if (n.error().code == Errc::bad_request) return Error::conflict("Could not delete asset: it is still referenced");
      return std::move(n).take_error();
    }
    if (audit) return audit(tx, a);
    return ok_status();
  });
  if (!st.ok()) return std::move(st).take_error();
  return a;
}

}  // namespace secplat::posture
