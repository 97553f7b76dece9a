// One scan, start to finish: source → manifest → verify → scanners → bundle → findings → final
// row → `scan_complete`. The bundle is built in <data_dir>/bundles/.tmp-<test_id>-<attempt>/ and
// renamed to <data_dir>/bundles/<test_id>/ only when complete (a failed or cancelled scan leaves
// nothing).
//
// Leases (several workers): run() claims the scan with a lease that renew_leases() extends while
// it runs. A worker that stops renewing (killed, stalled) loses the scan once the lease expires;
// the worker that reclaims its queue message runs it again from the start, and the stalled one,
// should it wake, finds its lease gone, stops and leaves no trace (no final row, no events).
//
// Order guarantees: the scan row is final (SUCCEEDED/FAILED, or CANCELLED by whoever cancelled)
// before `scan_complete` is appended; every event before it is in the bundle's stream.jsonl.
//
// Threading: run() may be called from several threads at once for different scans.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "assurance/manifest.h"
#include "assurance/scan_events.h"
#include "assurance/scan_ledger.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/json.h"
#include "core/metrics.h"
#include "scanners/scanner.h"

namespace secplat::assurance {

// Imports one SARIF log as findings on the component's asset. `tool` is the producing scanner.
using SarifImporter = std::function<Status(const std::string& component_id, const Json& sarif,
                                           const std::string& tool, const std::string& test_id)>;

struct PipelineOptions {
  std::string data_dir;                       // bundles in <data_dir>/bundles, uploads in <data_dir>/uploads
  std::vector<std::string> allowed_source_roots;
  AssuranceConfig limits;
  std::string signing_private_pem;            // instance key; empty = no manifest.sig / attestation
  std::string signing_public_pem;
  std::string temp_dir;                       // clones/extractions; "" = <data_dir>/work
  RemoteManifestSource* remote_manifests = nullptr;  // s3:// and oci:// manifest URIs; null = refused
  // git for shallow fetches (sources.h): unset = git on PATH (if any); "" = none, libgit2 clones only.
  std::optional<std::string> git_cli = std::nullopt;
  // secplat_scanner_duration_seconds{scanner}, secplat_scanner_bytes_total{scanner},
  // secplat_scanner_files_total{scanner}, secplat_scans_total{status} and
  // secplat_job_duration_seconds{type="security_scan",outcome}. Must outlive the pipeline; null = none.
  Metrics* metrics = nullptr;
};

// Tools this build knows by name even when not installed (reported "skipped", not "unsupported").
const std::vector<std::string>& known_tool_ids();

class ScanPipeline {
 public:
  ScanPipeline(ScanLedger& store, ScanEventLog& events, const Clock& clock, PipelineOptions options,
               std::vector<std::shared_ptr<scanners::Scanner>> scanners, SarifImporter importer = nullptr);

  // Runs a QUEUED scan (or a RUNNING one whose lease expired) to its final state, as `owner`.
  // Does nothing if the scan is final. Errc::unavailable when another worker holds a live lease on
  // it, or it is already running in this process (try again later); other errors are store failures.
  Status run(const std::string& test_id, const std::string& owner = "local", int64_t lease_ms = 30000);

  // Sets the cancel flag of a scan running in this process; false if it is not running here.
  bool request_cancel(const std::string& test_id);

  // Extends the lease of every scan running in this process; a scan whose lease is gone (cancelled
  // elsewhere, or taken over after this process stalled) is told to stop.
  void renew_leases();

  const PipelineOptions& options() const { return options_; }
  std::string bundle_dir(const std::string& test_id) const;

 private:
  struct Attempt;
  Status execute(Attempt& a);
  Status write_bundle(Attempt& a);
  void complete(Attempt& a, const Status& outcome);
  void close_log_if_open(const std::string& test_id);

  ScanLedger& store_;
  ScanEventLog& events_;
  const Clock& clock_;
  PipelineOptions options_;
  std::vector<std::shared_ptr<scanners::Scanner>> scanners_;
  SarifImporter importer_;
  // Metric series, looked up at construction (read-only afterwards; empty without metrics).
  struct ScannerSeries {
    Histogram* duration = nullptr;
    Counter* bytes = nullptr;
    Counter* files = nullptr;
  };
  std::map<std::string, ScannerSeries> scanner_series_;  // by scanner id
  std::map<std::string, std::pair<Counter*, Histogram*>> outcome_series_;  // by final status
  struct Running {
    std::shared_ptr<std::atomic<bool>> cancelled;
    std::shared_ptr<std::atomic<bool>> lost;  // the lease went to another worker
    std::string owner;
    int64_t lease_ms = 0;
  };
  std::mutex mu_;
  std::map<std::string, Running> running_;
};

}  // namespace secplat::assurance
