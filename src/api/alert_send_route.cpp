#include "api/alert_send_route.h"

#include <algorithm>
#include <ctime>

#include "api/route_helpers.h"
#include "core/encoding.h"
#include "core/json.h"
#include "queue/envelope.h"
#include "queue/streams.h"

namespace secplat::api {
namespace {

// The reference's key: alert:{YYYYMMDDHH UTC}:{first 16 hex of sha1(comma-joined sorted keys)}.
std::string alert_incident_key(const std::vector<std::string>& sorted_keys, int64_t now_ms) {
  std::string joined;
  for (const auto& k : sorted_keys) joined += (joined.empty() ? "" : ",") + k;
  const std::time_t t = static_cast<std::time_t>(now_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char hour[16];
  std::strftime(hour, sizeof hour, "%Y%m%d%H", &tm);
  return "alert:" + std::string(hour) + ":" + sha1_hex(joined).substr(0, 16);
}

}  // namespace

http::Route alert_send_route(AlertSendDeps d) {
  return make_route(
      "posture", "POST", "/posture/alert/send", http::Access::analyst,
      [d](http::Request& req) -> Result<http::Response> {
        auto snap = d.view.snapshot();
        if (!snap.ok()) return std::move(snap).take_error();
        const int64_t now = d.clock.now_ms();
        std::vector<std::string> down;
        for (const auto& item : (*snap)->items) {
          const auto& s = item.state;
          if (s.posture_state != "red" || s.status == "scan_based") continue;
          auto hit = d.suppression.check(s.asset_key, std::nullopt, now);
          if (!hit.ok()) return std::move(hit).take_error();
          if (!*hit) down.push_back(s.asset_key);
        }
        std::sort(down.begin(), down.end());
        const auth::Actor actor = actor_of(req);
        Json out;
        if (down.empty()) {
          out = Json{{"sent", false}, {"down_assets", Json::array()}, {"message", "No down assets; no notification sent."}};
        } else {
          const std::string key = alert_incident_key(down, now);
          Json payload{{"down_assets", down}, {"incident_key", key}, {"requested_by", actor.user_name}};
          auto env = queue::make_envelope("alert.triggered", "", "high", payload, req.request_id, now);
          // The same envelope (one event_id) on both streams: the notifier and the correlator each
          // record it once, however often either stream redelivers it.
          for (auto stream : {queue::kNotifyEvents, queue::kCorrelationEvents}) {
            auto r = d.queue.publish(std::string(stream), env);
            if (!r.ok()) return Error::unavailable("queue: alert not queued on " + std::string(stream) + ": " + r.error().message);
          }
          out = Json{{"queued", true}, {"down_assets", down}, {"incident_key", key}, {"message", "Alert queued for notifier."}};
        }
        SECPLAT_TRY(d.audit.append("posture_alert.send", actor.user_name, "", out, actor.request_id));
        return http::Response::json(200, out);
      },
      "Announce the down assets that nothing suppresses to every notification channel (analyst)");
}

}  // namespace secplat::api
