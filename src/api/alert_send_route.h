// POST /posture/alert/send (reference §8.4.3), restricted to analysts (the reference let any
// viewer trigger notification spam): the red probed assets that nothing suppresses right now are
// announced once — `alert.triggered` on secplat.events.notify (one message per channel; the same
// set again within the notifier's dedupe window is not re-sent) and on secplat.events.correlation
// (each asset's availability incident gets a timeline entry, or opens). Responses keep the
// reference shape: {"queued":true,"down_assets":[…],"incident_key":…,"message":"Alert queued for
// notifier."} or {"sent":false,"down_assets":[],"message":"No down assets; no notification sent."}.
// A queue that refuses the publish is a 503 naming it. Every outcome is audited as posture_alert.send.
#pragma once

#include "auth/audit_log.h"
#include "core/clock.h"
#include "http/route.h"
#include "incidents/suppression.h"
#include "posture/posture_view.h"
#include "queue/queue.h"

namespace secplat::api {

struct AlertSendDeps {
  posture::PostureView& view;
  incidents::Suppression& suppression;
  queue::Queue& queue;
  auth::AuditLog& audit;
  const Clock& clock;
};

http::Route alert_send_route(AlertSendDeps deps);

}  // namespace secplat::api
