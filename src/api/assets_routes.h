// /assets routes (reference §8.5 with our fixes: 201 on create, 409 on a duplicate key naming the
// existing asset_id, 404 for a missing asset on every verb, 422 for validation errors, probe settings).
// Lists are bare JSON arrays (as in the reference) with the match count in the X-Total-Count header.
#pragma once

#include <functional>
#include <vector>

#include "auth/audit_log.h"
#include "findings/findings_service.h"
#include "http/route.h"
#include "core/json.h"
#include "posture/asset_repo.h"

namespace secplat::api {

// Checks ownership of an external_web asset (posture/verification.h); blocking network I/O.
struct VerificationResult {
  bool verified = false;
  Json details;
};
using AssetVerifier = std::function<Result<VerificationResult>(const posture::Asset&, const std::string& method)>;

// Config-as-code (Config::declared_assets_json): creates the declared assets that are missing and
// overwrites the declared fields of existing ones (the file wins), marking them
// metadata.managed_by = "config" so that PATCH and DELETE refuse them (409). Errors name the asset.
Status apply_declared_assets(posture::AssetRepo& assets, findings::FindingsService& findings, auth::AuditLog& audit,
                             const std::string& declared_json);

// All referenced objects must outlive the routes. `findings` is used to recompute finding risk
// after an asset's attributes change. Without a verifier, POST /assets/{id}/verify answers 503.
std::vector<http::Route> asset_routes(posture::AssetRepo& assets, findings::FindingsService& findings,
                                      auth::AuditLog& audit, AssetVerifier verifier = {});

}  // namespace secplat::api
