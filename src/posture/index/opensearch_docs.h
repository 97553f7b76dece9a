// The OpenSearch wire shapes of the posture mirror (pure functions, no I/O).
//
// Documents follow the reference system's indices (secplat.md §1.3), so dashboards written for it
// keep working:
//   * `secplat-events`: one document per health event, `_id` = event_id — `@timestamp` (UTC, second
//     precision, `YYYY-MM-DDTHH:MM:SSZ`), `service`, `asset`, `level` "health", `message`
//     "healthcheck", `status` up|down, `status_num` 1|-2, `code`, `latency_ms`; then our prober's
//     `error_class`, `error`, `tls_version`, `cert_not_after` (RFC 3339), `remote_ip`, each only when
//     present.
//   * `secplat-asset-status`: one document per asset, `_id` = asset_key, replaced whole each time —
//     every reference field (`@timestamp`, `asset_key`, `name`, `type`, `environment`, `owner`,
//     `owner_team`, `criticality` as an integer, `status`, `status_num`, `code`, `latency_ms`,
//     `last_seen`, `source_event_timestamp`, `staleness_seconds`, `posture_score`, `posture_state`,
//     `last_status_change`; null where the reference writes null) plus the derived fields the
//     reference lacked (`reason`, `previous_status`, `flapping`, `confidence`, `confidence_reason`,
//     `last_good_at`, `last_good_code`, `last_good_latency_ms`, `error_class`, `tls_version`,
//     `cert_not_after`), null when unknown.
// Requests: `_bulk` bodies (NDJSON `index` actions) and the two composable index templates.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "posture/derive_rules.h"

namespace secplat::posture::opensearch {

inline constexpr std::string_view kEventsIndex = "secplat-events";
inline constexpr std::string_view kStatusIndex = "secplat-asset-status";

// The inventory fields a status document copies from the asset.
struct AssetFields {
  std::string name;
  std::string type;
  std::string environment = "dev";
  std::string owner;       // "" when unset (the reference's default)
  std::string owner_team;  // "" when unset
  std::string criticality = "medium";  // free text as stored
};

// `2026-02-02T22:06:01Z`: UTC, whole seconds (the fraction is dropped, never rounded up).
std::string timestamp_seconds(int64_t epoch_ms);

// The reference's integer criticality: a number 1..5 as given; text critical 1, high 2, medium 3,
// low 4; anything else 3 (the reference's fallback). Lower is more critical.
int criticality_number(std::string_view criticality);

// Compact JSON of one `secplat-events` document.
std::string event_document(const HealthEvent& e);

// Compact JSON of one `secplat-asset-status` document. `as_of_ms` is its @timestamp (the row's
// derived_at, or the time of a periodic refresh); staleness_seconds is measured against it.
std::string status_document(const AssetState& s, const AssetFields& asset, int64_t as_of_ms);

// One `index` action of a bulk request; `source` is the document's compact JSON (no newlines).
struct BulkItem {
  std::string index;
  std::string id;
  std::string source;
};

// NDJSON: per item `{"index":{"_index":...,"_id":...}}\n<source>\n`. Ends with a newline.
std::string bulk_body(const std::vector<BulkItem>& items);

enum class ItemOutcome {
  indexed,  // 2xx
  retry,    // 429 or 5xx: send this item again later
  failed,   // any other status: the document is refused for good
};

struct ItemResult {
  ItemOutcome outcome = ItemOutcome::failed;
  int status = 0;
  std::string error_type;    // error.type, when the item failed
  std::string error_reason;  // error.reason (truncated to 300 bytes)
};

// Parses a 2xx `_bulk` reply for a request of `expected` items: one result per item, in request
// order. A reply that is not JSON, has no `items` array of that length, or an item without a
// numeric `status` is Errc::unavailable (the caller retries the whole request).
Result<std::vector<ItemResult>> parse_bulk_response(std::string_view body, std::size_t expected);

// Bodies of `PUT /_index_template/secplat-events` and `PUT /_index_template/secplat-asset-status`.
std::string events_index_template();
std::string status_index_template();

}  // namespace secplat::posture::opensearch
