#include "posture/index/opensearch_docs.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "core/clock.h"
#include "core/json.h"

namespace secplat::posture::opensearch {
namespace {

template <typename T>
Json opt(const std::optional<T>& v) {
  return v ? Json(*v) : Json(nullptr);
}

Json opt_seconds(const std::optional<int64_t>& ms) { return ms ? Json(timestamp_seconds(*ms)) : Json(nullptr); }
Json opt_rfc3339(const std::optional<int64_t>& ms) { return ms ? Json(format_rfc3339(*ms)) : Json(nullptr); }

// Strings are keywords; `.keyword` sub-fields keep queries written against the reference's dynamic
// mapping (`asset.keyword`, `service.keyword`) working.
Json keyword() { return Json{{"type", "keyword"}, {"fields", {{"keyword", {{"type", "keyword"}}}}}}; }
Json typed(const char* type) { return Json{{"type", type}}; }

}  // namespace

std::string timestamp_seconds(int64_t epoch_ms) {
  int64_t secs = epoch_ms / 1000;
  if (epoch_ms < 0 && epoch_ms % 1000 != 0) --secs;  // floor, also before 1970
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int criticality_number(std::string_view c) {
  std::string l;
  for (char ch : c)
    if (ch != ' ') l.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  if (l.size() == 1 && l[0] >= '1' && l[0] <= '5') return l[0] - '0';
  if (l == "critical") return 1;
  if (l == "high") return 2;
  if (l == "medium") return 3;
  if (l == "low") return 4;
  return 3;
}

std::string event_document(const HealthEvent& e) {
  Json d{{"@timestamp", timestamp_seconds(e.ts_ms)},
         {"service", e.service.empty() ? e.asset_key : e.service},
         {"asset", e.asset_key},
         {"level", "health"},
         {"message", "healthcheck"},
         {"status", event_status_text(e)},
         {"status_num", e.up ? 1 : -2},
         {"code", e.code},
         {"latency_ms", e.latency_ms}};
  if (e.error_class) d["error_class"] = *e.error_class;
  if (e.error) d["error"] = *e.error;
  if (e.tls_version) d["tls_version"] = *e.tls_version;
  if (e.cert_not_after_ms) d["cert_not_after"] = format_rfc3339(*e.cert_not_after_ms);
  if (e.remote_ip) d["remote_ip"] = *e.remote_ip;
  return d.dump();
}

std::string status_document(const AssetState& s, const AssetFields& a, int64_t as_of_ms) {
  const int64_t staleness = s.last_seen_ms ? std::max<int64_t>(0, (as_of_ms - *s.last_seen_ms) / 1000) : 0;
  Json d{{"@timestamp", timestamp_seconds(as_of_ms)},
         {"asset_key", s.asset_key},
         {"name", a.name},
         {"type", a.type},
         {"environment", a.environment},
         {"owner", a.owner},
         {"owner_team", a.owner_team},
         {"criticality", criticality_number(a.criticality)},
         {"status", s.status},
         {"status_num", s.status_num},
         {"code", opt(s.code)},
         {"latency_ms", opt(s.latency_ms)},
         {"last_seen", opt_seconds(s.last_seen_ms)},
         {"source_event_timestamp", opt_seconds(s.last_seen_ms)},
         {"staleness_seconds", staleness},
         {"posture_score", s.posture_score},
         {"posture_state", s.posture_state},
         {"last_status_change", opt_seconds(s.last_status_change_ms)},
         {"reason", opt(s.reason)},
         {"previous_status", opt(s.previous_status)},
         {"flapping", s.flapping},
         {"confidence", s.confidence},
         {"confidence_reason", s.confidence_reason.empty() ? Json(nullptr) : Json(s.confidence_reason)},
         {"last_good_at", opt_rfc3339(s.last_good_at_ms)},
         {"last_good_code", opt(s.last_good_code)},
         {"last_good_latency_ms", opt(s.last_good_latency_ms)},
         {"error_class", opt(s.error_class)},
         {"tls_version", opt(s.tls_version)},
         {"cert_not_after", opt_rfc3339(s.cert_not_after_ms)}};
  return d.dump();
}

std::string bulk_body(const std::vector<BulkItem>& items) {
  std::string out;
  std::size_t size = 0;
  for (const auto& it : items) size += it.source.size() + it.index.size() + it.id.size() + 40;
  out.reserve(size);
  for (const auto& it : items) {
    out += R"({"index":{"_index":)";
    out += Json(it.index).dump();
    out += R"(,"_id":)";
    out += Json(it.id).dump();
    out += "}}\n";
    out += it.source;
    out += '\n';
  }
  return out;
}

Result<std::vector<ItemResult>> parse_bulk_response(std::string_view body, std::size_t expected) {
  Json j = Json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error::unavailable("bulk reply is not a JSON object");
  if (!j.contains("items") || !j["items"].is_array())
    return Error::unavailable("bulk reply has no items");
  // Every item's status is read, whatever the top-level `errors` flag says.
  const Json& items = j["items"];
  if (items.size() != expected)
    return Error::unavailable("bulk reply has " + std::to_string(items.size()) + " items for " +
                              std::to_string(expected) + " actions");
  std::vector<ItemResult> out;
  out.reserve(expected);
  for (const auto& item : items) {
    // Each item is {"<action>": {...}}; we only send `index`, but read whichever action is there.
    if (!item.is_object() || item.size() != 1) return Error::unavailable("bulk reply item is malformed");
    const Json& r = item.begin().value();
    if (!r.is_object() || !r.contains("status") || !r["status"].is_number_integer())
      return Error::unavailable("bulk reply item has no status");
    ItemResult res;
    res.status = r["status"].get<int>();
    if (res.status >= 200 && res.status < 300) {
      res.outcome = ItemOutcome::indexed;
    } else {
      res.outcome = res.status == 429 || res.status >= 500 ? ItemOutcome::retry : ItemOutcome::failed;
      if (r.contains("error")) {
        const Json& e = r["error"];
        if (e.is_object()) {
          if (e.contains("type") && e["type"].is_string()) res.error_type = e["type"].get<std::string>();
          if (e.contains("reason") && e["reason"].is_string()) res.error_reason = e["reason"].get<std::string>();
        } else if (e.is_string()) {
          res.error_reason = e.get<std::string>();
        }
      }
      if (res.error_reason.size() > 300) res.error_reason.resize(300);
    }
    out.push_back(std::move(res));
  }
  return out;
}

std::string events_index_template() {
  Json props{{"@timestamp", typed("date")},        {"asset", keyword()},           {"service", keyword()},
             {"status", keyword()},                {"level", keyword()},           {"code", typed("integer")},
             {"status_num", typed("integer")},     {"latency_ms", typed("integer")}, {"error_class", keyword()},
             {"tls_version", keyword()},           {"cert_not_after", typed("date")}, {"remote_ip", keyword()}};
  Json t{{"index_patterns", Json::array({"secplat-events*"})},
         {"priority", 100},
         {"template", {{"mappings", {{"properties", props}}}}},
         {"_meta", {{"managed_by", "secplat"}}}};
  return t.dump();
}

std::string status_index_template() {
  Json props{{"@timestamp", typed("date")},
             {"asset_key", typed("keyword")},
             {"name", typed("keyword")},
             {"type", typed("keyword")},
             {"environment", typed("keyword")},
             {"owner", typed("keyword")},
             {"owner_team", typed("keyword")},
             {"criticality", typed("integer")},
             {"status", typed("keyword")},
             {"status_num", typed("integer")},
             {"code", typed("integer")},
             {"latency_ms", typed("integer")},
             {"last_seen", typed("date")},
             {"source_event_timestamp", typed("date")},
             {"staleness_seconds", typed("integer")},
             {"posture_score", typed("integer")},
             {"posture_state", typed("keyword")},
             {"last_status_change", typed("date")},
             {"reason", typed("keyword")},
             {"previous_status", typed("keyword")},
             {"flapping", typed("boolean")},
             {"confidence", typed("float")},
             {"confidence_reason", typed("keyword")},
             {"last_good_at", typed("date")},
             {"last_good_code", typed("integer")},
             {"last_good_latency_ms", typed("integer")},
             {"error_class", typed("keyword")},
             {"tls_version", typed("keyword")},
             {"cert_not_after", typed("date")}};
  Json t{{"index_patterns", Json::array({"secplat-asset-status"})},
         {"priority", 100},
         {"template",
          {{"settings", {{"number_of_shards", 1}, {"number_of_replicas", 0}}}, {"mappings", {{"properties", props}}}}},
         {"_meta", {{"managed_by", "secplat"}}}};
  return t.dump();
}

}  // namespace secplat::posture::opensearch
