// The event envelope every queue message carries (CONTRACTS.md "Queues and events"; the seed's
// docs/contracts/event-envelope.json): event_id, event_type, ts, org_id, request_id, asset_key,
// severity, payload (JSON text), plus the payload's top-level scalar fields flattened beside it
// for consumers that read single fields (as the reference producers do).
#pragma once

#include <string>

#include "core/clock.h"
#include "core/ids.h"
#include "core/json.h"
#include "queue/queue.h"

namespace secplat::queue {

inline Fields make_envelope(const std::string& event_type, const std::string& asset_key, const std::string& severity,
                            const Json& payload, const std::string& request_id, int64_t now_ms) {
  Fields f;
  if (payload.is_object()) {
    for (const auto& [k, v] : payload.items()) {
      if (v.is_string()) f[k] = v.get<std::string>();
      else if (v.is_number() || v.is_boolean()) f[k] = v.dump();
    }
  }
  f["event_id"] = new_uuid();
  f["event_type"] = event_type;
  f["ts"] = format_rfc3339(now_ms);
  f["org_id"] = "default";
  f["request_id"] = request_id;
  f["asset_key"] = asset_key;
  f["severity"] = severity;
  f["payload"] = payload.dump();
  return f;
}

}  // namespace secplat::queue
