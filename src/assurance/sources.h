// Where a scan's files come from: an allowed directory (scanned in place), a git repository, or an
// uploaded archive extracted safely.
//
// Git: with the git CLI available (SourcePolicy::git_cli), a shallow fetch of exactly the requested
// branch, full commit id or the remote's HEAD (depth 1, no tags, no submodules) into a fresh
// repository, run out of process in the tool sandbox (scanners/tools/child_process.h: no network
// for file:// sources, limits, protocol allow-list, no user/system git config, no prompts); libgit2
// then resolves and checks out the commit. Libgit2 1.5 (Debian 12) has no fetch depth, so without
// git, or for what a shallow fetch cannot name (an abbreviated commit id, a tag), or when the
// server refuses it, the source is a full libgit2 clone. `source.shallow` says which was done.
//
// Submit-time checks (check_*) turn policy violations into 422s; prepare_source() does the work in
// the worker and fails the scan naming the problem (a failed step leaves no work directory).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "assurance/scan_request.h"
#include "core/config.h"
#include "core/error.h"
#include "core/json.h"

namespace secplat::assurance {

struct SourcePolicy {
  std::vector<std::string> allowed_roots;  // realpaths; directory/file:// sources must lie under one
  std::vector<std::string> git_schemes;    // e.g. https, ssh, file
  std::string upload_dir;                  // <data_dir>/uploads
  AssuranceConfig limits;
  std::string git_cli;                     // absolute path of git for shallow fetches; "" = libgit2 clones only
  // Directories the git CLI must not see (the data directory, assurance.tool_hidden_paths; the
  // process's scratch directory is added): see scanners::ChildSandbox::hidden.
  std::vector<std::string> hidden_paths = {};
};

// The realpath of `path` if it exists and lies under one of `roots` (after resolving symlinks).
std::optional<std::string> confine_to_roots(const std::string& path, const std::vector<std::string>& roots);

// Submit-time validation of the source fields (422 naming the field) beyond the reference rules.
Status check_source(const ScanRequest& req, const SourcePolicy& policy);

// A ready-to-scan tree.
struct PreparedSource {
  std::string root;          // absolute path scanners read
  std::string work_dir;      // temp dir to delete afterwards ("" for in-place directories)
  std::string provenance_id; // resolved commit sha / content hash / archive hash
  Json info;                 // the `source` object of the status and scan.json
};

using PhaseFn = std::function<void(const std::string& message, Json fields)>;

struct SourceRun {
  const std::atomic<bool>* cancelled = nullptr;
  int64_t deadline_ms = 0;       // steady_ms(); 0 = none
  std::string temp_parent;       // where work dirs are created
  std::string test_id;
};

Result<PreparedSource> prepare_source(const ScanRequest& req, const SourcePolicy& policy, const SourceRun& run,
                                      const PhaseFn& phase);

// Reference content hash of a directory tree (sorted walk, sha256 over relpath + bytes).
Result<std::string> directory_content_hash(const std::string& root);

// Safe extraction of a tar/tgz/tar.bz2/zip (detected by content) into an existing empty `dest`.
// Refuses absolute paths, "..", links, devices/fifos; caps entries, unpacked bytes and ratio.
// The error names the offending entry.
Status extract_archive(const std::string& archive, const std::string& dest, const AssuranceConfig& limits,
                       const SourceRun& run);

// The upload store: files under <data_dir>/uploads named "upl_<32 hex>" plus a "<id>.json" sidecar.
struct StoredUpload {
  std::string archive_path;  // the opaque id ("upl_...")
  std::string archive_hash;
  std::string filename;      // the client's name, only as metadata
  int64_t size = 0;
};
// Extension rule of the reference, then content sniffing. 400 with the reference messages.
Result<StoredUpload> store_upload(const std::string& upload_dir, const std::string& filename,
                                  std::string_view content);
// Maps an archive_path (an upload id, or a path inside the upload dir) to the stored file's path.
std::optional<std::string> resolve_upload(const std::string& upload_dir, const std::string& archive_path);

}  // namespace secplat::assurance
