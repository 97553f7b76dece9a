// Runs the real sbom scanner over a directory: sbom_cli <source_root> <output_dir> [osv_db_dir].
// Used by validate_schemas.js; prints the outcome as JSON. Exit 0 only when the scan succeeded.
#include <cstdio>
#include <iostream>

#include "core/json.h"
#include "scanners/sbom/sbom_scanner.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: sbom_cli <source_root> <output_dir> [osv_db_dir]\n";
    return 2;
  }
  secplat::scanners::ScanContext ctx;
  ctx.source_root = argv[1];
  ctx.output_dir = argv[2];
  if (argc > 3) ctx.options["osv_db_dir"] = argv[3];
  ctx.log = [](std::string_view line) { std::cerr << line << '\n'; };
  auto scanner = secplat::scanners::make_sbom_scanner();
  auto r = scanner->run(ctx);
  if (!r.ok()) {
    std::cerr << "error: " << r.error().message << '\n';
    return 1;
  }
  secplat::Json j = {{"status", r->status}, {"findings", r->findings}, {"outputs", r->outputs},
                     {"by_severity", r->by_severity}, {"message", r->message}};
  std::cout << j.dump() << '\n';
  return r->status == "succeeded" ? 0 : 1;
}
