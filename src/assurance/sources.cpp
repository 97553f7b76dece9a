#include "assurance/sources.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <git2.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>

#include "core/clock.h"
#include "core/encoding.h"
#include "core/ids.h"
#include "assurance/scan_events.h"
#include "core/scratch.h"
#include "scanners/tools/child_process.h"

namespace fs = std::filesystem;

namespace secplat::assurance {

namespace {

Error field(const char* key, std::string msg) { return Error::invalid({"body", key}, std::move(msg)); }

std::optional<std::string> real_path(const std::string& p) {
  char buf[PATH_MAX];
  if (!::realpath(p.c_str(), buf)) return std::nullopt;
  return std::string(buf);
}

bool stopped(const SourceRun& run) {
  return (run.cancelled && run.cancelled->load()) || (run.deadline_ms > 0 && steady_ms() > run.deadline_ms);
}

Error stopped_error(const SourceRun& run) {
  if (run.cancelled && run.cancelled->load()) return Error{Errc::conflict, "cancelled", {}, 0};
  return Error{Errc::timeout, "source step timed out", {}, 0};
}

class Sha256Stream {
 public:
  Sha256Stream() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }
  void update(std::string_view d) { EVP_DigestUpdate(ctx_.get(), d.data(), d.size()); }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &n);
    return hex_encode(std::string_view(reinterpret_cast<char*>(md), n));
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

bool hash_file_into(Sha256Stream& h, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::string buf(1 << 16, '\0');
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) h.update(std::string_view(buf.data(), static_cast<std::size_t>(in.gcount())));
  }
  return true;
}

Result<std::string> file_sha256(const std::string& path) {
  Sha256Stream h;
  if (!hash_file_into(h, path)) return Error::internal("cannot read " + path);
  return h.hex();
}

void hash_tree(Sha256Stream& h, const fs::path& dir, const std::string& rel) {
  std::vector<std::string> files, dirs;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    std::error_code ec2;
    if (fs::is_directory(it->path(), ec2)) {
      if (!fs::is_symlink(it->symlink_status(ec2))) dirs.push_back(name);  // dir symlinks: not followed
    } else {
      files.push_back(name);
    }
  }
  std::sort(files.begin(), files.end());
  std::sort(dirs.begin(), dirs.end());
  for (const auto& f : files) {
    std::string r = rel.empty() ? f : rel + "/" + f;
    h.update(r);
    hash_file_into(h, (dir / f).string());  // unreadable files contribute only their path
  }
  for (const auto& d : dirs) hash_tree(h, dir / d, rel.empty() ? d : rel + "/" + d);
}

std::string git_error_text() {
  const git_error* e = git_error_last();
  return e && e->message ? redact_line(e->message) : "unknown libgit2 error";  // it may quote the URL
}

void git_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { git_libgit2_init(); });
}

// Scheme of a git URL: "https", "ssh" (also scp-like user@host:path), or "file" (file:// / local path).
std::string git_scheme(const std::string& url) {
  auto pos = url.find("://");
  if (pos != std::string::npos) {
    std::string s = url.substr(0, pos);
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  auto colon = url.find(':');
  auto slash = url.find('/');
  if (colon != std::string::npos && (slash == std::string::npos || colon < slash)) {
    if (url.find("::") != std::string::npos) return "transport-helper";  // "ext::", refused
    return "ssh";
  }
  return "file";
}

std::string local_git_path(const std::string& url) { return url.starts_with("file://") ? url.substr(7) : url; }

bool has_unsafe_chars(const std::string& s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return true;
  return false;
}

std::string make_work_dir(const SourceRun& run) {
  std::string parent = run.temp_parent.empty() ? scratch::root() : run.temp_parent;
  std::error_code ec;
  fs::create_directories(parent, ec);
  std::string tmpl = parent + "/secplat-scan-" + run.test_id + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) return {};
  return std::string(buf.data());
}

// Deletes a source's work dir (a partial clone or extraction) unless it is handed out.
class WorkDirGuard {
 public:
  explicit WorkDirGuard(std::string path) : path_(std::move(path)) {}
  WorkDirGuard(const WorkDirGuard&) = delete;
  WorkDirGuard& operator=(const WorkDirGuard&) = delete;
  ~WorkDirGuard() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  void release() { path_.clear(); }

 private:
  std::string path_;
};

struct ProgressPayload {
  const SourceRun* run;
};

int transfer_progress(const git_indexer_progress*, void* payload) {
  auto* p = static_cast<ProgressPayload*>(payload);
  return stopped(*p->run) ? -1 : 0;
}

bool is_full_commit_id(const std::string& s) {
  return s.size() == 40 && std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

// The last non-empty line of a small file (git's error message), "" if none.
std::string last_line_of(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

// Runs the git CLI in the tool sandbox: argv after "git" and the hardening options. It sees its work
// directory and, for file://, the repository (`local_repo`), not the server's own files.
Status run_git(const SourcePolicy& policy, const SourceRun& run, const std::string& scheme,
               const std::vector<std::string>& args, const std::string& work_dir, const std::string& out_path,
               const std::string& local_repo) {
  scanners::ChildSpec spec;
  spec.argv = {policy.git_cli, "-c", "protocol.allow=never"};
  // Only the schemes the policy allows (file:// and local paths are both "file" to git).
  for (const auto& s : policy.git_schemes) spec.argv.insert(spec.argv.end(), {"-c", "protocol." + s + ".allow=always"});
  spec.argv.insert(spec.argv.end(), {"-c", "credential.helper=", "-c", "core.askPass=", "-c", "core.fsmonitor=false"});
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.env = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C", "LC_ALL=C", "GIT_CONFIG_NOSYSTEM=1",
              "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=/bin/false",
              "SSH_ASKPASS=/bin/false", "GIT_SSH_COMMAND=ssh -o BatchMode=yes", "GIT_PROTOCOL_FROM_USER=0"};
  // ssh keys and agent, and the host's proxy settings, are the service's own.
  for (const char* name : {"HOME", "SSH_AUTH_SOCK", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY",
                           "HTTPS_PROXY", "NO_PROXY"})
    if (const char* v = std::getenv(name)) spec.env.push_back(std::string(name) + "=" + v);
  spec.cwd = work_dir;
  spec.stdout_path = out_path;
  spec.stderr_path = work_dir + "/git.err";
  spec.max_output_bytes = 1 << 20;
  spec.cancelled = run.cancelled;
  spec.deadline_ms = run.deadline_ms;
  spec.sandbox.isolate_network = scheme == "file";
  spec.sandbox.isolate_processes = true;  // git's helpers (ssh, credential helpers) end with it
  spec.sandbox.max_memory_bytes = static_cast<uint64_t>(policy.limits.tool_memory_mb) << 20;
  spec.sandbox.max_file_bytes = static_cast<uint64_t>(policy.limits.tool_file_mb) << 20;
  spec.sandbox.hidden = policy.hidden_paths;
  if (std::string own = scratch::own(); !own.empty()) spec.sandbox.hidden.push_back(own);
  spec.sandbox.visible = {work_dir};
  if (!local_repo.empty()) spec.sandbox.visible.push_back(local_repo);
  auto r = scanners::run_child(spec);
  if (!r) return std::move(r).take_error();
  if (stopped(run)) return stopped_error(run);
  if (r->end == scanners::ChildResult::End::exited && r->exit_code == 0) return ok_status();
  // git repeats the URL in its errors: credentials in it must not reach the scan's errors and log.
  std::string why = redact_line(last_line_of(spec.stderr_path));
  if (r->end == scanners::ChildResult::End::signaled) why = scanners::describe_signal(r->signal);
  return Error::bad_request("git " + args[0] + " failed" + (why.empty() ? "" : ": " + why));
}

// Shallow fetch (depth 1) of what the request names into a new repository at `dir`; the fetched
// commit ends up as refs/secplat/target. `branch` gets the remote HEAD's branch when none was asked.
Status shallow_fetch(const ScanRequest& req, const SourcePolicy& policy, const SourceRun& run,
                     const std::string& url, const std::string& work_dir, const std::string& dir, Json& branch) {
  const std::string scheme = git_scheme(*req.git_url);
  const std::string remote = scheme == "file" ? "file://" + url : url;
  const std::string local_repo = scheme == "file" ? url : "";
  SECPLAT_TRY(run_git(policy, run, scheme, {"init", "-q", "--template=", "--", dir}, work_dir, "", local_repo));
  std::string want;
  if (req.commit) {
    want = *req.commit;
  } else if (req.branch) {
    want = "refs/heads/" + *req.branch;
  } else {
    // Which branch the remote's HEAD is, so the scan can say (one ref advertisement, no objects).
    want = "HEAD";
    const std::string listed = work_dir + "/git.out";
    if (run_git(policy, run, scheme, {"ls-remote", "--symref", "--", remote, "HEAD"}, work_dir, listed, local_repo).ok()) {
      std::string first, target;
      std::ifstream in(listed);
      in >> first >> target;
      if (first == "ref:" && target.starts_with("refs/heads/") && is_safe_branch_name(target.substr(11))) {
        want = target;
        branch = target.substr(11);
      }
    }
  }
  return run_git(policy, run, scheme,
                 {"-C", dir, "fetch", "-q", "--depth=1", "--no-tags", "--no-recurse-submodules", "--no-write-fetch-head",
                  "--", remote, "+" + want + ":refs/secplat/target"},
                 work_dir, "", local_repo);
}

// Checks out commit-ish `rev` of `repo` (detached HEAD).
Status checkout_detached(git_repository* repo, const std::string& rev, const std::string& label) {
  git_object* obj = nullptr;
  if (git_revparse_single(&obj, repo, rev.c_str()) != 0)
    return Error::bad_request("commit '" + label + "' not found in repository: " + git_error_text());
  std::unique_ptr<git_object, decltype(&git_object_free)> o(obj, git_object_free);
  git_object* peeled = nullptr;
  if (git_object_peel(&peeled, o.get(), GIT_OBJECT_COMMIT) != 0)
    return Error::bad_request("'" + label + "' is not a commit: " + git_error_text());
  std::unique_ptr<git_object, decltype(&git_object_free)> c(peeled, git_object_free);
  git_checkout_options co = GIT_CHECKOUT_OPTIONS_INIT;
  co.checkout_strategy = GIT_CHECKOUT_FORCE;
  if (git_checkout_tree(repo, c.get(), &co) != 0 || git_repository_set_head_detached(repo, git_object_id(c.get())) != 0)
    return Error::bad_request("checkout of '" + label + "' failed: " + git_error_text());
  return ok_status();
}

using RepoPtr = std::unique_ptr<git_repository, decltype(&git_repository_free)>;

// Full clone with libgit2 (every branch's history), then the requested commit if any.
Result<RepoPtr> full_clone(const ScanRequest& req, const SourceRun& run, const std::string& url, const std::string& dir) {
  ProgressPayload payload{&run};
  git_clone_options opts = GIT_CLONE_OPTIONS_INIT;
  opts.fetch_opts.callbacks.transfer_progress = transfer_progress;
  opts.fetch_opts.callbacks.payload = &payload;
  if (req.branch) opts.checkout_branch = req.branch->c_str();
  git_repository* raw = nullptr;
  if (git_clone(&raw, url.c_str(), dir.c_str(), &opts) != 0) {
    if (stopped(run)) return stopped_error(run);
    std::string msg = "git clone failed";
    if (req.branch) msg += " (branch '" + *req.branch + "')";
    return Error::bad_request(msg + ": " + git_error_text());
  }
  RepoPtr repo(raw, git_repository_free);
  if (req.commit) SECPLAT_TRY(checkout_detached(repo.get(), *req.commit, *req.commit));
  return repo;
}

Result<PreparedSource> prepare_git(const ScanRequest& req, const SourcePolicy& policy, const SourceRun& run,
                                   const PhaseFn& phase) {
  git_init_once();
  SECPLAT_TRY(check_source(req, policy));  // re-check at run time (roots may have changed)
  std::string url = *req.git_url;
  if (git_scheme(url) == "file") url = *confine_to_roots(local_git_path(url), policy.allowed_roots);
  PreparedSource out;
  out.work_dir = make_work_dir(run);
  if (out.work_dir.empty()) return Error::internal("cannot create a work directory");
  WorkDirGuard guard(out.work_dir);
  out.root = out.work_dir + "/src";
  Json branch = req.branch ? Json(*req.branch) : Json(nullptr);

  // A shallow fetch names a branch, a full commit id or HEAD; anything else needs the history.
  bool shallow = !policy.git_cli.empty() && (!req.commit || is_full_commit_id(*req.commit));
  RepoPtr repo(nullptr, git_repository_free);
  if (shallow) {
    phase("Fetching repository (shallow)", Json::object());
    Status fetched = shallow_fetch(req, policy, run, url, out.work_dir, out.root, branch);
    if (fetched.ok()) {
      git_repository* raw = nullptr;
      if (git_repository_open(&raw, out.root.c_str()) != 0)
        return Error::bad_request("cannot open the fetched repository: " + git_error_text());
      repo.reset(raw);
      SECPLAT_TRY(checkout_detached(repo.get(), "refs/secplat/target", req.commit ? *req.commit : "HEAD"));
    } else {
      if (stopped(run)) return stopped_error(run);
      // Servers that refuse fetching by commit id, a remote without HEAD, an unknown branch: the
      // full clone decides, and its error is the one reported.
      phase("Shallow fetch not possible; cloning in full", {{"reason", fetched.error().message}});
      std::error_code ec;
      fs::remove_all(out.root, ec);
      shallow = false;
      branch = req.branch ? Json(*req.branch) : Json(nullptr);
    }
  }
  if (!shallow) {
    phase("Cloning repository", Json::object());
    auto cloned = full_clone(req, run, url, out.root);
    if (!cloned) return std::move(cloned).take_error();
    repo = std::move(*cloned);
  }

  git_oid head_oid;
  if (git_reference_name_to_id(&head_oid, repo.get(), "HEAD") != 0)
    return Error::bad_request("repository has no HEAD commit: " + git_error_text());
  char sha[GIT_OID_HEXSZ + 1];
  git_oid_tostr(sha, sizeof sha, &head_oid);
  if (git_repository_head_detached(repo.get()) != 1) {
    git_reference* head = nullptr;
    if (git_repository_head(&head, repo.get()) == 0) {
      branch = git_reference_shorthand(head);
      git_reference_free(head);
    }
  }
  out.provenance_id = sha;
  out.info = {{"type", "git"},           {"git_url", *req.git_url},
              {"branch", branch},        {"requested_commit", req.commit ? Json(*req.commit) : Json(nullptr)},
              {"resolved_commit", sha},  {"provenance_id", sha},
              {"shallow", shallow}};
  phase("Clone complete", {{"commit", sha}, {"branch", branch}, {"shallow", shallow}});
  guard.release();
  return out;
}

Result<PreparedSource> prepare_directory(const ScanRequest& req, const SourcePolicy& policy, const PhaseFn& phase) {
  phase("Preparing directory source", Json::object());
  auto real = confine_to_roots(*req.directory_path, policy.allowed_roots);
  if (!real) return Error::bad_request("directory_path is not under an allowed source root");
  if (!fs::is_directory(*real)) return Error::bad_request("Path is not a directory: " + *req.directory_path);
  auto hash = directory_content_hash(*real);
  if (!hash) return std::move(hash).take_error();
  PreparedSource out;
  out.root = *real;
  out.provenance_id = *hash;
  out.info = {{"type", "directory"}, {"directory_path", *req.directory_path}, {"resolved_path", *real},
              {"content_hash", *hash}, {"provenance_id", *hash}};
  phase("Directory prepared", {{"hash", *hash}});
  return out;
}

Json read_sidecar(const std::string& archive_file) {
  std::ifstream in(archive_file + ".json");
  if (!in) return Json::object();
  Json j = Json::parse(in, nullptr, false);
  return j.is_object() ? j : Json::object();
}

Result<PreparedSource> prepare_archive(const ScanRequest& req, const SourcePolicy& policy, const SourceRun& run,
                                       const PhaseFn& phase) {
  auto file = resolve_upload(policy.upload_dir, *req.archive_path);
  if (!file) return Error::bad_request("Archive not found in the upload store: " + *req.archive_path);
  phase("Extracting archive", Json::object());
  auto hash = file_sha256(*file);
  if (!hash) return std::move(hash).take_error();
  PreparedSource out;
  out.work_dir = make_work_dir(run);
  if (out.work_dir.empty()) return Error::internal("cannot create a work directory");
  WorkDirGuard guard(out.work_dir);
  out.root = out.work_dir + "/src";
  fs::create_directories(out.root);
  SECPLAT_TRY(extract_archive(*file, out.root, policy.limits, run));
  Json side = read_sidecar(*file);
  out.provenance_id = *hash;
  out.info = {{"type", "archive"}, {"archive_path", *req.archive_path},
              {"archive_name", side.value("filename", fs::path(*file).filename().string())},
              {"archive_hash", *hash}, {"provenance_id", *hash}};
  phase("Archive extracted", {{"hash", *hash}});
  guard.release();
  return out;
}

Error entry_error(const std::string& name, const std::string& problem) {
  return Error::bad_request("archive entry '" + name + "': " + problem);
}

}  // namespace

std::optional<std::string> confine_to_roots(const std::string& path, const std::vector<std::string>& roots) {
  if (path.empty()) return std::nullopt;
  auto real = real_path(path);
  if (!real) return std::nullopt;
  for (const auto& root : roots) {
    auto r = real_path(root);
    if (!r) continue;
    if (*real == *r || (real->size() > r->size() && real->starts_with(*r) && ((*r == "/") || (*real)[r->size()] == '/')))
      return real;
  }
  return std::nullopt;
}

Status check_source(const ScanRequest& req, const SourcePolicy& policy) {
  if (req.source_type == "directory") {
    if (!confine_to_roots(*req.directory_path, policy.allowed_roots))
      return field("directory_path", "directory_path is not under an allowed source root");
  } else if (req.source_type == "archive") {
    if (!resolve_upload(policy.upload_dir, *req.archive_path))
      return field("archive_path", "archive_path is not an archive from the upload store");
  } else if (req.source_type == "git") {
    const std::string& url = *req.git_url;
    if (url.starts_with("-") || has_unsafe_chars(url)) return field("git_url", "git_url is not a valid repository URL");
    std::string scheme = git_scheme(url);
    if (std::find(policy.git_schemes.begin(), policy.git_schemes.end(), scheme) == policy.git_schemes.end())
      return field("git_url", "git_url scheme '" + scheme + "' is not allowed");
    if (scheme == "file" && !confine_to_roots(local_git_path(url), policy.allowed_roots))
      return field("git_url", "git_url path is not under an allowed source root");
    if (req.branch && !is_safe_branch_name(*req.branch)) return field("branch", "branch is not a valid branch name");
    if (req.commit && !is_safe_commit_ref(*req.commit))
      return field("commit", "commit must be a hex commit id or a valid ref name");
  }
  return ok_status();
}

Result<PreparedSource> prepare_source(const ScanRequest& req, const SourcePolicy& policy, const SourceRun& run,
                                      const PhaseFn& phase) {
  Result<PreparedSource> r = Error::bad_request("Invalid source_type: '" + req.source_type + "'");
  if (req.source_type == "git") r = prepare_git(req, policy, run, phase);
  else if (req.source_type == "directory") r = prepare_directory(req, policy, phase);
  else if (req.source_type == "archive") r = prepare_archive(req, policy, run, phase);
  return r;
}

Result<std::string> directory_content_hash(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return Error::bad_request("Path is not a directory: " + root);
  Sha256Stream h;
  hash_tree(h, root, "");
  return h.hex();
}

Status extract_archive(const std::string& archive_file, const std::string& dest, const AssuranceConfig& limits,
                       const SourceRun& run) {
  std::error_code ec;
  auto packed = static_cast<int64_t>(fs::file_size(archive_file, ec));
  if (ec) return Error::bad_request("cannot read archive: " + ec.message());
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_bzip2(a.get());
  archive_read_support_filter_xz(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  archive_read_support_format_zip(a.get());
  if (archive_read_open_filename(a.get(), archive_file.c_str(), 1 << 16) != ARCHIVE_OK)
    return Error::bad_request("archive format not recognised (expected tar, tar.gz, tar.bz2 or zip): " +
                              std::string(archive_error_string(a.get()) ? archive_error_string(a.get()) : ""));
  int64_t entries = 0, unpacked = 0;
  std::string buf(1 << 16, '\0');
  for (;;) {
    if (stopped(run)) return stopped_error(run);
    archive_entry* e = nullptr;
    int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      const char* msg = archive_error_string(a.get());
      return Error::bad_request(std::string(entries == 0 ? "archive format not recognised: " : "corrupt archive: ") +
                                (msg ? msg : "read error"));
    }
    if (++entries > limits.archive_max_entries)
      return Error::bad_request("archive has more than " + std::to_string(limits.archive_max_entries) + " entries");
    const char* pn = archive_entry_pathname(e);
    std::string name = pn ? pn : "";
    if (name.empty()) return entry_error(name, "empty path");
    if (name[0] == '/' || name[0] == '\\' || (name.size() > 1 && name[1] == ':'))
      return entry_error(name, "absolute path");
    std::string rel;
    {
      std::string part;
      std::vector<std::string> parts;
      for (char c : name + "/") {
        if (c == '/' || c == '\\') {
          if (part == "..") return entry_error(name, "path traversal ('..')");
          if (!part.empty() && part != ".") parts.push_back(part);
          part.clear();
        } else {
          part.push_back(c);
        }
      }
      for (const auto& p : parts) rel += (rel.empty() ? "" : "/") + p;
    }
    if (archive_entry_hardlink(e)) return entry_error(name, "hard link");
    auto type = archive_entry_filetype(e);
    if (type == AE_IFLNK) return entry_error(name, "symbolic link");
    if (type != AE_IFREG && type != AE_IFDIR) return entry_error(name, "special file (device, fifo or socket)");
    if (rel.empty()) continue;  // "./"
    fs::path target = fs::path(dest) / rel;
    if (type == AE_IFDIR) {
      fs::create_directories(target, ec);
      if (ec) return entry_error(name, "cannot create directory: " + ec.message());
      continue;
    }
    fs::create_directories(target.parent_path(), ec);
    if (ec) return entry_error(name, "cannot create directory: " + ec.message());
    int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return entry_error(name, std::string("cannot create file: ") + std::strerror(errno));
    Status st = ok_status();
    for (;;) {
      la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
      if (n == 0) break;
      if (n < 0) {
        const char* msg = archive_error_string(a.get());
        st = entry_error(name, std::string("read error: ") + (msg ? msg : ""));
        break;
      }
      unpacked += n;
      if (unpacked > limits.archive_max_unpacked_bytes) {
        st = entry_error(name, "archive unpacks to more than " + std::to_string(limits.archive_max_unpacked_bytes) +
                                   " bytes");
        break;
      }
      // The ratio check starts after 1 MiB so tiny archives of padding-heavy tars are not refused.
      if (unpacked > (1 << 20) && unpacked > packed * static_cast<int64_t>(limits.archive_max_ratio)) {
        st = entry_error(name, "compression ratio exceeds " + std::to_string(limits.archive_max_ratio) +
                                   " (archive bomb)");
        break;
      }
      if (::write(fd, buf.data(), static_cast<std::size_t>(n)) != n) {
        st = entry_error(name, "write failed");
        break;
      }
      if (stopped(run)) {
        st = stopped_error(run);
        break;
      }
    }
    ::close(fd);
    if (!st) return st;
  }
  return ok_status();
}

Result<StoredUpload> store_upload(const std::string& upload_dir, const std::string& filename,
                                  std::string_view content) {
  if (filename.empty()) return Error::bad_request("Filename is required");
  auto dot = filename.rfind('.');
  std::string ext = dot == std::string::npos ? "" : filename.substr(dot);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext != ".tar" && ext != ".gz" && ext != ".tgz" && ext != ".zip" && ext != ".bz2")
    return Error::bad_request("Unsupported file type. Allowed: .tar, .tar.gz, .tgz, .tar.bz2, .zip");
  auto starts = [&](std::string_view magic) { return content.substr(0, magic.size()) == magic; };
  bool is_tar = content.size() >= 262 && content.substr(257, 5) == "ustar";
  if (!(starts("\x1f\x8b") || starts("BZh") || starts("PK\x03\x04") || starts("PK\x05\x06") || is_tar))
    return Error::bad_request("File content is not a tar, tar.gz, tar.bz2 or zip archive");
  std::error_code ec;
  fs::create_directories(upload_dir, ec);
  if (ec) return Error::internal("Failed to save uploaded file: " + ec.message());
  StoredUpload up;
  up.archive_path = "upl_" + random_hex(16);
  up.archive_hash = sha256_hex(content);
  up.filename = filename;
  up.size = static_cast<int64_t>(content.size());
  std::string final_path = upload_dir + "/" + up.archive_path;
  std::string tmp = final_path + ".part";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    if (!out) {
      fs::remove(tmp, ec);
      return Error::internal("Failed to save uploaded file: write error");
    }
  }
  Json side = {{"filename", filename}, {"archive_hash", up.archive_hash}, {"size", up.size}};
  {
    std::ofstream s(final_path + ".json", std::ios::trunc);
    s << side.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  fs::rename(tmp, final_path, ec);
  if (ec) return Error::internal("Failed to save uploaded file: " + ec.message());
  return up;
}

std::optional<std::string> resolve_upload(const std::string& upload_dir, const std::string& archive_path) {
  std::string name = archive_path;
  std::string prefix = upload_dir + "/";
  if (name.starts_with(prefix)) name = name.substr(prefix.size());
  if (name.size() != 36 || !name.starts_with("upl_") ||
      name.find_first_not_of("0123456789abcdef", 4) != std::string::npos)
    return std::nullopt;
  std::string path = prefix + name;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return path;
}

}  // namespace secplat::assurance
