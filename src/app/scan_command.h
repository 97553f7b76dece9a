// `secplat scan PATH|GIT_URL [--manifest F] [--profile P] [--out DIR] [--key K]`: one scan, run
// offline by the same ScanPipeline the server uses (same sources, manifests, scanners, bundle and
// signatures), without the HTTP server, the queue or a data directory: the scan's store lives in
// a temporary directory that is removed afterwards.
//
// Progress goes to stderr as the pipeline's events arrive (one updating line on a terminal, plain
// lines otherwise); the per-tool summary table, the policy outcome and the bundle path go to
// stdout. Ctrl-C cancels the scan (running tools' process groups are killed).
//
// Exit codes: 0 the policy passed; 1 the policy failed, or the scan failed or was cancelled;
// 2 usage (bad path, unreadable manifest or key, unknown profile, --out already exists).
#pragma once

#include <string>

namespace secplat::app {

struct ScanCommandOptions {
  std::string target;         // a directory, or a git URL (https://, ssh://, user@host:path, file://)
  std::string manifest_file;  // JSON or YAML; "" = the built-in profile with default thresholds
  std::string profile = "light";
  std::string out_dir;        // "" = ./secplat-scan-<test_id>
  std::string key_file;       // PEM P-256 private key; "" = an ephemeral key, public half written to <out>.pub.pem
};

int run_scan(const ScanCommandOptions& options);

}  // namespace secplat::app
