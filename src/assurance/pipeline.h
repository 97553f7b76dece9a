// One scan, start to finish: source → manifest → verify → scanners → bundle → findings → final
// row → `scan_complete`. The bundle is built in <data_dir>/bundles/.tmp-<test_id>/ and renamed to
// <data_dir>/bundles/<test_id>/ only when complete (a failed or cancelled scan leaves nothing).
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
#include <string>
#include <vector>

#include "assurance/scan_events.h"
#include "assurance/scan_store.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/json.h"
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
};

// Tools this build knows by name even when not installed (reported "skipped", not "unsupported").
const std::vector<std::string>& known_tool_ids();

class ScanPipeline {
 public:
  ScanPipeline(ScanStore& store, ScanEventLog& events, const Clock& clock, PipelineOptions options,
               std::vector<std::shared_ptr<scanners::Scanner>> scanners, SarifImporter importer = nullptr);

  // Runs a QUEUED scan to its final state. Does nothing if the scan is not QUEUED (already
  // cancelled, or picked up by another worker). Errors are store failures only.
  Status run(const std::string& test_id);

  // Sets the cancel flag of a scan running in this process; false if it is not running here.
  bool request_cancel(const std::string& test_id);

  const PipelineOptions& options() const { return options_; }
  std::string bundle_dir(const std::string& test_id) const;

 private:
  struct Attempt;
  Status execute(Attempt& a);
  Status write_bundle(Attempt& a);
  void complete(Attempt& a, const Status& outcome);

  ScanStore& store_;
  ScanEventLog& events_;
  const Clock& clock_;
  PipelineOptions options_;
  std::vector<std::shared_ptr<scanners::Scanner>> scanners_;
  SarifImporter importer_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<std::atomic<bool>>> running_;
};

}  // namespace secplat::assurance
