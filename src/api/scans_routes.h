// Certus-Assurance compatible scan routes (/v1/security-scans..., /stats, /v1/keys/signing.pem).
// Reading needs viewer, submitting/cancelling/retrying/uploading needs analyst, and every scan
// route is confined to the caller's workspace grants (`grants`; admins see all): scans of other
// workspaces are 404, submitting to one is 403.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/error.h"
#include "http/route.h"

namespace secplat::assurance {
class ScanService;
class ScanLedger;
}
namespace secplat::auth {
class WorkspaceGrants;
}

namespace secplat::api {

struct ScanRouteDeps {
  assurance::ScanService& service;   // borrowed; must outlive the server
  std::string signing_public_pem;    // served at /v1/keys/signing.pem ("" → 404)
  std::size_t upload_max_bytes = 512u << 20;  // assurance.upload_max_bytes
  auth::WorkspaceGrants* grants = nullptr;   // borrowed; null = no workspace scoping (tests only)
};

std::vector<http::Route> scan_routes(ScanRouteDeps deps);

// The scan ledger for worker processes without database credentials (service API keys only):
// POST /internal/scans/<op> (assurance/scan_ledger_wire.h), including "import-sarif", which runs
// `import_sarif` (an assurance::SarifImporter: component, SARIF log, tool, test id).
using InternalSarifImport =
    std::function<Status(const std::string&, const nlohmann::json&, const std::string&, const std::string&)>;
std::vector<http::Route> scan_internal_routes(assurance::ScanLedger& ledger, InternalSarifImport import_sarif);

// Multipart helper (exposed for tests): the part named `field` of a multipart/form-data body.
struct MultipartFile {
  std::string filename;
  std::string_view content;  // points into the body
};
Result<std::optional<MultipartFile>> find_multipart_file(std::string_view content_type, std::string_view body,
                                                         std::string_view field);

}  // namespace secplat::api
