// The asset inventory (table `assets`, created by findings::findings_migrations(), versions 300..399).
// An asset is anything SecPlat watches or scans; `asset_key` is its stable business key and is used
// everywhere else (findings, scans, posture, audit). An asset with a `probe` is health-checked.
//
// Threading: an AssetRepo is safe to share between threads; all state lives in the Db. Every write
// runs in one store transaction, and the optional AuditHook runs inside that same transaction, so the
// change and its audit row commit or roll back together.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "store/db.h"

namespace secplat::posture {

// An inclusive range of HTTP status codes; a single code has from == to.
struct StatusRange {
  int from = 200;
  int to = 399;
  bool operator==(const StatusRange&) const = default;
};

// How the prober checks an asset. JSON shape (POST/PATCH /assets and responses):
//   {"url": "https://x", "method": "GET", "expected_status": [200, "300-399"], "keyword": null,
//    "interval_seconds": 60, "timeout_ms": 5000}
// expected_status entries are an integer code or a "lo-hi" inclusive range string; the default is
// ["200-399"]. Invariants (enforced by parse_probe): url is http(s), method GET or HEAD,
// 1 <= interval_seconds <= 86400, 100 <= timeout_ms <= 60000, codes within 100..599.
struct Probe {
  std::string url;
  std::string method = "GET";
  std::vector<StatusRange> expected_status = {{200, 399}};
  std::optional<std::string> keyword;  // when set, the body must contain it
  int interval_seconds = 60;
  int timeout_ms = 5000;

  bool accepts(int status) const;  // true if status falls in any expected range
  bool operator==(const Probe&) const = default;
};

// The API's `type` values. Anything else is rejected with 422.
bool is_valid_asset_type(std::string_view type);  // user, host, external_web, app

struct Asset {
  int64_t asset_id = 0;
  std::string asset_key;
  std::string type = "app";            // user | host | external_web | app
  std::string name;                    // for external_web: the domain that gets verified/scanned
  std::optional<std::string> owner;
  std::optional<std::string> owner_team;
  std::optional<std::string> owner_email;  // redacted for viewers
  std::string asset_type = "service";  // free text; 'service', 'repository', ...
  std::string environment = "dev";     // free text: dev, staging, prod, ...
  std::string criticality = "medium";  // free text: high/medium/low or "1".."5"
  bool verified = false;
  std::optional<std::string> verification_method;  // dns_txt | well_known once verified
  std::optional<std::string> verification_token;   // 24 chars [A-Za-z0-9]; redacted for viewers
  std::optional<std::string> address;              // optional URL/host; redacted for viewers
  std::optional<int64_t> port;                     // redacted for viewers
  bool is_active = true;
  std::vector<std::string> tags;
  std::string metadata_json = "{}";  // a JSON object as text; {} for viewers
  std::optional<Probe> probe;        // the asset is probed iff set
  std::optional<std::string> parent_asset_key;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
};

struct AssetFilter {
  std::optional<std::string> type;
  std::optional<std::string> environment;
  std::optional<std::string> criticality;
  std::optional<std::string> q;  // substring of asset_key, name or owner (case-insensitive)
  int64_t limit = 100;
  int64_t offset = 0;
};

struct AssetPage {
  std::vector<Asset> items;  // ordered asset_id DESC
  int64_t total = 0;         // rows matching the filter, ignoring limit/offset
};

// Called inside the write transaction with the asset as written (for deletes: as it was).
using AuditHook = std::function<Status(store::Tx&, const Asset&)>;

class AssetRepo {
 public:
  AssetRepo(store::Db& db, const Clock& clock) : db_(db), clock_(clock) {}

  // Creates the asset if missing (type/name used only then) and returns its id. Idempotent and
  // race-free (INSERT ... ON CONFLICT DO NOTHING, then read). `asset_type` may be an API type
  // (user/host/external_web/app → that `type`, asset_type 'service') or any other free-text kind
  // such as "repository" (→ type 'app', asset_type as given).
  Result<int64_t> ensure(const std::string& asset_key, const std::string& asset_type, const std::string& name);

  // Inserts `asset` (asset_id/created/updated ignored). A taken asset_key is Errc::conflict whose
  // message names the existing asset_id. Generates verification_token for external_web when unset.
  Result<Asset> create(const Asset& asset, const AuditHook& audit = {});

  Result<Asset> get(int64_t asset_id);                 // Errc::not_found "Asset not found"
  Result<Asset> get_by_key(const std::string& key);    // Errc::not_found "Asset not found"
  Result<AssetPage> list(const AssetFilter& filter);
  Result<std::vector<Asset>> list_probed();            // active assets with a probe, by asset_id

  // Read-modify-write in one transaction: loads the asset, lets `change` edit it (asset_id,
  // asset_key and created_ms are kept whatever change does), stores it, runs `audit`.
  // An error from `change` aborts without writing.
  Result<Asset> update(const std::string& key, const std::function<Status(Asset&)>& change,
                       const AuditHook& audit = {});

  // Deletes and returns the deleted asset. Errc::not_found when missing; Errc::conflict when
  // findings still reference it.
  Result<Asset> remove(const std::string& key, const AuditHook& audit = {});

 private:
  store::Db& db_;
  const Clock& clock_;
};

}  // namespace secplat::posture
