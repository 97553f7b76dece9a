// /alerts routes: legacy per-asset alerts (reference §8.10, legacy variant only).
//   GET  /alerts           (any role) {"firing":[…],"acked":[…],"suppressed":[…],"resolved":[…]}
//   POST /alerts/ack       {asset_key, reason?}           → {ok, asset_key, state:"acked"}
//   POST /alerts/suppress  {asset_key, until_iso}         → {ok, asset_key, state:"suppressed", suppressed_until}
//   POST /alerts/resolve   {asset_key}                    → {ok, asset_key, state:"resolved"}
//   POST /alerts/assign    {asset_key, assigned_to?}      → {ok, asset_key, assigned_to}
// Mutations need analyst or admin. Alerting assets come from the posture view: status down or
// posture red, repositories (status scan_based) excluded. Bucketing and its fixes: AlertBook.
// Security alerts (v2, `alert_id`) are not supported: a body with only alert_id → 404
// "Alert not found"; neither field → 400 "asset_key or alert_id is required".
#pragma once

#include <vector>

#include "http/route.h"
#include "incidents/alert_book.h"
#include "incidents/suppression.h"
#include "posture/posture_view.h"

namespace secplat::api {

// All referenced objects must outlive the routes. `open_incidents` may be empty (no incident
// enrichment: counts 0). Dependencies suppress only if `suppression` has a health lookup (see
// posture_health_lookup()).
std::vector<http::Route> alerts_routes(incidents::AlertBook& book, incidents::Suppression& suppression,
                                       posture::PostureView& view, incidents::OpenIncidentsLookup open_incidents = {});

// A HealthLookup over the posture view (state.status of the asset; nullopt when not in the view),
// for Suppression::set_health_lookup(). `view` must outlive the lookup.
incidents::HealthLookup posture_health_lookup(posture::PostureView& view);

}  // namespace secplat::api
