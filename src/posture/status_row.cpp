#include "posture/status_row.h"

#include "core/json.h"

namespace secplat::posture {
namespace {

std::optional<int> opt_int(const store::Row& r, std::string_view c) {
  auto v = r.opt_i64(c);
  return v ? std::optional<int>(static_cast<int>(*v)) : std::nullopt;
}

std::vector<RawSample> parse_history(const std::string& text) {
  std::vector<RawSample> out;
  Json a = Json::parse(text, nullptr, false);
  if (!a.is_array()) return out;
  for (const auto& e : a) {
    if (!e.is_array() || e.size() != 4) continue;
    out.push_back({e[0].get<int64_t>(), e[1].get<int>() != 0, e[2].get<int>(), e[3].get<int64_t>()});
  }
  return out;
}

}  // namespace

AssetState asset_state_from_row(const store::Row& r, bool with_history) {
  AssetState s;
  s.asset_key = r.str("asset_key");
  s.derived_at_ms = r.i64("derived_at");
  s.status = r.str("status");
  s.status_num = static_cast<int>(r.i64("status_num"));
  s.code = opt_int(r, "code");
  s.latency_ms = r.opt_i64("latency_ms");
  s.last_seen_ms = r.opt_i64("last_seen");
  s.posture_score = static_cast<int>(r.i64("posture_score"));
  s.posture_state = r.str("posture_state");
  s.reason = r.opt_str("reason");
  s.error_class = r.opt_str("error_class");
  s.previous_status = r.opt_str("previous_status");
  s.last_status_change_ms = r.opt_i64("last_status_change");
  s.flapping = r.i64("flapping") != 0;
  s.confidence = r.f64("confidence");
  s.confidence_reason = r.str("confidence_reason");
  s.last_good_at_ms = r.opt_i64("last_good_at");
  s.last_good_code = opt_int(r, "last_good_code");
  s.last_good_latency_ms = r.opt_i64("last_good_latency_ms");
  s.pending = static_cast<int>(r.i64("pending"));
  if (with_history) s.history = parse_history(r.str("history", "[]"));
  s.tls_version = r.opt_str("tls_version");
  s.cert_not_after_ms = r.opt_i64("cert_not_after");
  return s;
}

}  // namespace secplat::posture
