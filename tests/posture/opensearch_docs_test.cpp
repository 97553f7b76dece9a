// The OpenSearch wire shapes: documents in the reference's field set and types, the exact NDJSON
// of a bulk request, and which items of a bulk reply are retried and which are refused for good.
#include <gtest/gtest.h>

#include "core/json.h"
#include "posture/index/opensearch_docs.h"

namespace secplat::posture::opensearch {
namespace {

constexpr int64_t kT = 1'770'069'961'789;  // 2026-02-02T22:06:01.789Z

HealthEvent up_event() {
  HealthEvent e;
  e.event_id = 42;
  e.asset_key = "secplat-api";
  e.service = "api";
  e.ts_ms = kT;
  e.up = true;
  e.code = 200;
  e.latency_ms = 32;
  return e;
}

TEST(OpenSearchDocs, TimestampsAreUtcWholeSecondsWithZ) {
  EXPECT_EQ(timestamp_seconds(kT), "2026-02-02T22:06:01Z");  // .789 is dropped, not rounded up
  EXPECT_EQ(timestamp_seconds(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(timestamp_seconds(-1), "1969-12-31T23:59:59Z");
}

TEST(OpenSearchDocs, AnUpEventHasExactlyTheReferenceFields) {
  // The reference's own example (secplat.md §2.5), byte for byte apart from key order.
  Json d = Json::parse(event_document(up_event()));
  EXPECT_EQ(d, Json::parse(R"({"@timestamp":"2026-02-02T22:06:01Z","service":"api","asset":"secplat-api",
    "level":"health","message":"healthcheck","status":"up","status_num":1,"code":200,"latency_ms":32})"));
  EXPECT_TRUE(d["code"].is_number_integer());
  EXPECT_TRUE(d["latency_ms"].is_number_integer());
}

TEST(OpenSearchDocs, ADownEventIsMinusTwoAndCarriesOurFieldsOnlyWhenPresent) {
  HealthEvent e = up_event();
  e.up = false;
  e.code = 0;
  e.error_class = "refused";
  e.error = "connection refused";
  e.remote_ip = "10.0.0.7";
  Json d = Json::parse(event_document(e));
  EXPECT_EQ(d["status"], "down");
  EXPECT_EQ(d["status_num"], -2);
  EXPECT_EQ(d["code"], 0);
  EXPECT_EQ(d["error_class"], "refused");
  EXPECT_EQ(d["error"], "connection refused");
  EXPECT_EQ(d["remote_ip"], "10.0.0.7");
  EXPECT_FALSE(d.contains("tls_version"));
  EXPECT_FALSE(d.contains("cert_not_after"));

  HealthEvent tls = up_event();
  tls.tls_version = "TLSv1.3";
  tls.cert_not_after_ms = kT + 1000;
  Json t = Json::parse(event_document(tls));
  EXPECT_EQ(t["tls_version"], "TLSv1.3");
  EXPECT_EQ(t["cert_not_after"], "2026-02-02T22:06:02.789Z");
  EXPECT_FALSE(t.contains("error_class"));
  EXPECT_FALSE(t.contains("error"));
  EXPECT_FALSE(t.contains("remote_ip"));
}

TEST(OpenSearchDocs, AnEventWithoutServiceUsesTheAssetKey) {
  HealthEvent e = up_event();
  e.service.clear();
  EXPECT_EQ(Json::parse(event_document(e))["service"], "secplat-api");
}

TEST(OpenSearchDocs, CriticalityBecomesTheReferenceInteger) {
  EXPECT_EQ(criticality_number("1"), 1);
  EXPECT_EQ(criticality_number("5"), 5);
  EXPECT_EQ(criticality_number("critical"), 1);
  EXPECT_EQ(criticality_number("High"), 2);
  EXPECT_EQ(criticality_number("medium"), 3);
  EXPECT_EQ(criticality_number("low"), 4);
  EXPECT_EQ(criticality_number("whatever"), 3);
  EXPECT_EQ(criticality_number("9"), 3);
  EXPECT_EQ(criticality_number(""), 3);
}

AssetState down_state() {
  AssetState s;
  s.asset_key = "shop";
  s.derived_at_ms = kT + 90'000;
  s.status = "down";
  s.status_num = -2;
  s.code = 503;
  s.latency_ms = 12;
  s.last_seen_ms = kT;
  s.posture_score = 0;
  s.posture_state = "red";
  s.reason = "http_error";
  s.error_class = "http_error";
  s.previous_status = "up";
  s.last_status_change_ms = kT + 60'000;
  s.confidence = 0.75;
  s.confidence_reason = "3/4 agree";
  s.last_good_at_ms = kT - 60'000;
  s.last_good_code = 200;
  s.last_good_latency_ms = 20;
  return s;
}

TEST(OpenSearchDocs, AStatusDocumentHasEveryReferenceFieldWithItsType) {
  AssetFields a;
  a.name = "Shop";
  a.type = "app";
  a.environment = "prod";
  a.owner = "alice";
  a.owner_team = "web";
  a.criticality = "high";
  Json d = Json::parse(status_document(down_state(), a, kT + 90'000));
  EXPECT_EQ(d["@timestamp"], "2026-02-02T22:07:31Z");
  EXPECT_EQ(d["asset_key"], "shop");
  EXPECT_EQ(d["name"], "Shop");
  EXPECT_EQ(d["type"], "app");
  EXPECT_EQ(d["environment"], "prod");
  EXPECT_EQ(d["owner"], "alice");
  EXPECT_EQ(d["owner_team"], "web");
  EXPECT_EQ(d["criticality"], 2);
  EXPECT_TRUE(d["criticality"].is_number_integer());
  EXPECT_EQ(d["status"], "down");
  EXPECT_EQ(d["status_num"], -2);
  EXPECT_EQ(d["code"], 503);
  EXPECT_EQ(d["latency_ms"], 12);
  EXPECT_EQ(d["last_seen"], "2026-02-02T22:06:01Z");  // the event's own @timestamp
  EXPECT_EQ(d["source_event_timestamp"], d["last_seen"]);
  EXPECT_EQ(d["staleness_seconds"], 90);
  EXPECT_EQ(d["posture_score"], 0);
  EXPECT_EQ(d["posture_state"], "red");
  EXPECT_EQ(d["last_status_change"], "2026-02-02T22:07:01Z");
  // Ours.
  EXPECT_EQ(d["reason"], "http_error");
  EXPECT_EQ(d["previous_status"], "up");
  EXPECT_EQ(d["flapping"], false);
  EXPECT_DOUBLE_EQ(d["confidence"].get<double>(), 0.75);
  EXPECT_EQ(d["confidence_reason"], "3/4 agree");
  EXPECT_EQ(d["last_good_at"], "2026-02-02T22:05:01.789Z");
  EXPECT_EQ(d["last_good_code"], 200);
  EXPECT_EQ(d["last_good_latency_ms"], 20);
  EXPECT_EQ(d["error_class"], "http_error");
  EXPECT_TRUE(d["tls_version"].is_null());
  EXPECT_TRUE(d["cert_not_after"].is_null());
}

TEST(OpenSearchDocs, AnAssetNeverProbedHasNullsAndTheReferenceDefaults) {
  AssetState s;  // unknown, never seen
  s.asset_key = "plain";
  AssetFields a;  // environment dev, owner "", criticality medium
  Json d = Json::parse(status_document(s, a, kT));
  EXPECT_EQ(d["status"], "unknown");
  EXPECT_EQ(d["status_num"], -1);
  EXPECT_TRUE(d["code"].is_null());
  EXPECT_TRUE(d["latency_ms"].is_null());
  EXPECT_TRUE(d["last_seen"].is_null());
  EXPECT_TRUE(d["source_event_timestamp"].is_null());
  EXPECT_TRUE(d["last_status_change"].is_null());
  EXPECT_EQ(d["staleness_seconds"], 0);
  EXPECT_EQ(d["environment"], "dev");
  EXPECT_EQ(d["owner"], "");
  EXPECT_EQ(d["owner_team"], "");
  EXPECT_EQ(d["criticality"], 3);
}

TEST(OpenSearchDocs, StalenessIsMeasuredAgainstTheDocumentTime) {
  AssetState s = down_state();
  Json d = Json::parse(status_document(s, AssetFields{}, kT + 600'999));
  EXPECT_EQ(d["staleness_seconds"], 600);
  EXPECT_EQ(d["@timestamp"], "2026-02-02T22:16:02Z");
  // A clock behind the last event never gives a negative staleness.
  EXPECT_EQ(Json::parse(status_document(s, AssetFields{}, kT - 5000))["staleness_seconds"], 0);
}

TEST(OpenSearchDocs, BulkBodyIsExactNdjson) {
  std::vector<BulkItem> items = {{"secplat-events", "1", R"({"a":1})"},
                                 {"secplat-asset-status", "shop \"x\"", R"({"b":"c"})"}};
  EXPECT_EQ(bulk_body(items),
            "{\"index\":{\"_index\":\"secplat-events\",\"_id\":\"1\"}}\n"
            "{\"a\":1}\n"
            "{\"index\":{\"_index\":\"secplat-asset-status\",\"_id\":\"shop \\\"x\\\"\"}}\n"
            "{\"b\":\"c\"}\n");
  EXPECT_EQ(bulk_body({}), "");
}

TEST(OpenSearchDocs, DocumentsAreSingleLines) {
  HealthEvent e = up_event();
  e.up = false;
  e.error = "line one\nline two";
  const std::string d = event_document(e);
  EXPECT_EQ(d.find('\n'), std::string::npos);
  EXPECT_EQ(Json::parse(d)["error"], "line one\nline two");
}

TEST(OpenSearchDocs, BulkReplyItemsAreIndexedRetriedOrRefused) {
  const std::string reply = R"({"took":3,"errors":true,"items":[
    {"index":{"_index":"secplat-events","_id":"1","status":201,"result":"created"}},
    {"index":{"_index":"secplat-events","_id":"2","status":200,"result":"updated"}},
    {"index":{"_index":"secplat-events","_id":"3","status":429,
      "error":{"type":"es_rejected_execution_exception","reason":"rejected execution"}}},
    {"index":{"_index":"secplat-events","_id":"4","status":503,"error":{"type":"unavailable_shards_exception","reason":"x"}}},
    {"index":{"_index":"secplat-events","_id":"5","status":400,
      "error":{"type":"mapper_parsing_exception","reason":"failed to parse field [code]"}}},
    {"index":{"_index":"secplat-events","_id":"6","status":409,"error":{"type":"version_conflict_engine_exception"}}}]})";
  auto r = parse_bulk_response(reply, 6);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 6u);
  EXPECT_EQ((*r)[0].outcome, ItemOutcome::indexed);
  EXPECT_EQ((*r)[1].outcome, ItemOutcome::indexed);
  EXPECT_EQ((*r)[2].outcome, ItemOutcome::retry);
  EXPECT_EQ((*r)[2].status, 429);
  EXPECT_EQ((*r)[3].outcome, ItemOutcome::retry);
  EXPECT_EQ((*r)[4].outcome, ItemOutcome::failed);
  EXPECT_EQ((*r)[4].status, 400);
  EXPECT_EQ((*r)[4].error_type, "mapper_parsing_exception");
  EXPECT_EQ((*r)[4].error_reason, "failed to parse field [code]");
  EXPECT_EQ((*r)[5].outcome, ItemOutcome::failed);
  EXPECT_EQ((*r)[5].error_type, "version_conflict_engine_exception");
}

TEST(OpenSearchDocs, ABulkReplyThatDoesNotMatchTheRequestIsRetriedWhole) {
  const std::string one = R"({"errors":false,"items":[{"index":{"_id":"1","status":201}}]})";
  EXPECT_TRUE(parse_bulk_response(one, 1).ok());
  for (const std::string& bad : {std::string(one), std::string("not json"), std::string(R"({"errors":false})"),
                                std::string(R"({"items":[{"index":{"_id":"1"}}]})"),
                                std::string(R"({"items":[{"index":{"_id":"1","status":"201"}}]})"),
                                std::string(R"([1,2])")}) {
    auto r = parse_bulk_response(bad, bad == one ? 2 : 1);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::unavailable) << bad;
  }
}

TEST(OpenSearchDocs, IndexTemplatesMatchTheReferenceIndices) {
  Json ev = Json::parse(events_index_template());
  EXPECT_EQ(ev["index_patterns"], Json::array({"secplat-events*"}));
  const Json& ep = ev["template"]["mappings"]["properties"];
  EXPECT_EQ(ep["@timestamp"]["type"], "date");
  for (const char* k : {"asset", "service", "status", "level"}) {
    EXPECT_EQ(ep[k]["type"], "keyword") << k;
    EXPECT_EQ(ep[k]["fields"]["keyword"]["type"], "keyword") << k;  // `asset.keyword` queries keep working
  }
  for (const char* k : {"code", "status_num", "latency_ms"}) EXPECT_EQ(ep[k]["type"], "integer") << k;

  Json st = Json::parse(status_index_template());
  EXPECT_EQ(st["index_patterns"], Json::array({"secplat-asset-status"}));
  EXPECT_EQ(st["template"]["settings"]["number_of_shards"], 1);
  EXPECT_EQ(st["template"]["settings"]["number_of_replicas"], 0);
  const Json& sp = st["template"]["mappings"]["properties"];
  // The reference's explicit mapping (secplat.md §1.3), field by field.
  const std::vector<std::pair<const char*, const char*>> reference = {
      {"@timestamp", "date"},        {"asset_key", "keyword"},         {"name", "keyword"},
      {"type", "keyword"},           {"environment", "keyword"},       {"owner", "keyword"},
      {"owner_team", "keyword"},     {"criticality", "integer"},       {"status", "keyword"},
      {"status_num", "integer"},     {"code", "integer"},              {"latency_ms", "integer"},
      {"last_seen", "date"},         {"source_event_timestamp", "date"}, {"staleness_seconds", "integer"},
      {"posture_score", "integer"},  {"posture_state", "keyword"},     {"last_status_change", "date"}};
  for (const auto& [field, type] : reference) EXPECT_EQ(sp[field]["type"], type) << field;
  // Every field of a status document is mapped.
  Json doc = Json::parse(status_document(down_state(), AssetFields{}, kT));
  for (const auto& [k, v] : doc.items()) EXPECT_TRUE(sp.contains(k)) << k;
}

}  // namespace
}  // namespace secplat::posture::opensearch
