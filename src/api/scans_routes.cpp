#include "api/scans_routes.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>

#include "api/route_helpers.h"
#include "assurance/scan_ledger_wire.h"
#include "assurance/scan_service.h"
#include "auth/workspace_grants.h"
#include "core/encoding.h"
#include "core/json.h"
#include "http/json_body.h"
#include "http/ws_session.h"

namespace fs = std::filesystem;

namespace secplat::api {

using http::Request;
using http::Response;
using http::Route;

namespace {

// A read-only memory map of a spooled request body: the kernel pages it in as the multipart
// parser walks it, so an upload is never copied into the heap.
class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (data_ && size_ > 0) ::munmap(data_, size_);
  }
  bool open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      return false;
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        ::close(fd);
        size_ = 0;
        return false;
      }
      data_ = p;
    }
    ::close(fd);
    return true;
  }
  std::string_view view() const { return {static_cast<const char*>(data_), size_}; }

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

Json submit_body(const assurance::ScanRecord& rec) {
  return {{"test_id", rec.test_id},
          {"workspace_id", rec.request.workspace_id},
          {"component_id", rec.request.component_id},
          {"assessment_id", rec.request.assessment_id},
          {"status", rec.status},
          {"profile", rec.request.profile},
          {"manifest_digest", rec.manifest_digest ? Json(*rec.manifest_digest) : Json(nullptr)},
          {"stream_url", "/v1/security-scans/" + rec.test_id + "/stream"}};
}

Response accepted(int status, const assurance::ScanRecord& rec) {
  Response r = Response::json(status, submit_body(rec));
  r.headers.emplace_back("Location", "/v1/security-scans/" + rec.test_id);
  return r;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Bundle-relative path from path segments; nullopt for anything that could leave the bundle.
std::optional<std::string> safe_relpath(const std::vector<std::string>& segs) {
  std::string rel;
  for (const auto& s : segs) {
    std::string part;
    for (char c : s + "/") {
      if (c == '/') {
        if (part.empty() || part == "." || part == ".." || part.find('\\') != std::string::npos ||
            part.find('\0') != std::string::npos)
          return std::nullopt;
        rel += (rel.empty() ? "" : "/") + part;
        part.clear();
      } else {
        part.push_back(c);
      }
    }
  }
  if (rel.empty()) return std::nullopt;
  return rel;
}

// Opens bundle/rel refusing symlinks anywhere on the way; returns the file bytes.
Result<std::string> read_bundle_file(const std::string& bundle, const std::string& rel) {
  std::string path = bundle;
  std::size_t start = 0;
  while (true) {
    std::size_t slash = rel.find('/', start);
    path += "/" + rel.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return Error::not_found("Artifact not found");
    if (S_ISLNK(st.st_mode)) return Error::not_found("Artifact not found");
    if (slash == std::string::npos) {
      if (!S_ISREG(st.st_mode)) return Error::not_found("Artifact not found");
      break;
    }
    if (!S_ISDIR(st.st_mode)) return Error::not_found("Artifact not found");
    start = slash + 1;
  }
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string content_type_for(const std::string& rel) {
  if (rel.ends_with(".json")) return "application/json";
  if (rel.ends_with(".jsonl") || rel.ends_with(".log") || rel.ends_with(".txt") || rel.ends_with(".sig") ||
      rel.ends_with(".pem"))
    return "text/plain; charset=utf-8";
  if (rel.ends_with(".html")) return "text/plain; charset=utf-8";  // never rendered as HTML
  return "application/octet-stream";
}

Result<std::string> tar_gz_of(const std::string& dir, const std::string& prefix) {
  std::string out;
  std::unique_ptr<archive, decltype(&archive_write_free)> a(archive_write_new(), archive_write_free);
  archive_write_add_filter_gzip(a.get());
  archive_write_set_format_pax_restricted(a.get());
  archive_write_set_bytes_in_last_block(a.get(), 1);
  auto write_cb = [](archive*, void* ud, const void* buf, size_t n) -> la_ssize_t {
    static_cast<std::string*>(ud)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  };
  if (archive_write_open(a.get(), &out, nullptr, write_cb, nullptr) != ARCHIVE_OK)
    return Error::internal("cannot create archive");
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file() && !it->is_symlink()) files.push_back(it->path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(), archive_entry_free);
    std::string name = prefix + "/" + fs::relative(f, dir).generic_string();
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK) return Error::internal("cannot write archive");
    archive_write_data(a.get(), data.data(), data.size());
  }
  archive_write_close(a.get());
  return out;
}

}  // namespace

Result<std::optional<MultipartFile>> find_multipart_file(std::string_view content_type, std::string_view body,
                                                         std::string_view field) {
  std::string ct(content_type);
  if (lower(ct.substr(0, ct.find(';'))) != "multipart/form-data")
    return Error::invalid({"body"}, "Content-Type must be multipart/form-data");
  auto bpos = lower(ct).find("boundary=");
  if (bpos == std::string::npos) return Error::invalid({"body"}, "multipart boundary missing");
  std::string boundary = ct.substr(bpos + 9);
  if (auto semi = boundary.find(';'); semi != std::string::npos) boundary.resize(semi);
  if (boundary.size() >= 2 && boundary.front() == '"' && boundary.back() == '"')
    boundary = boundary.substr(1, boundary.size() - 2);
  if (boundary.empty()) return Error::invalid({"body"}, "multipart boundary missing");
  std::string delim = "--" + boundary;
  std::size_t pos = body.find(delim);
  while (pos != std::string_view::npos) {
    std::size_t hstart = pos + delim.size();
    if (body.substr(hstart, 2) == "--") break;  // closing delimiter
    if (body.substr(hstart, 2) != "\r\n") return Error::invalid({"body"}, "malformed multipart body");
    hstart += 2;
    std::size_t hend = body.find("\r\n\r\n", hstart);
    if (hend == std::string_view::npos) return Error::invalid({"body"}, "malformed multipart body");
    std::string headers(body.substr(hstart, hend - hstart));
    std::size_t cstart = hend + 4;
    std::size_t next = body.find("\r\n" + delim, cstart);
    if (next == std::string_view::npos) return Error::invalid({"body"}, "malformed multipart body");
    std::string lh = lower(headers);
    auto cd = lh.find("content-disposition:");
    if (cd != std::string::npos) {
      std::string line = headers.substr(cd, headers.find("\r\n", cd) - cd);
      auto param = [&](const std::string& key) -> std::optional<std::string> {
        std::string ll = lower(line);
        std::size_t k = 0;
        while ((k = ll.find(key + "=", k)) != std::string::npos) {
          if (k > 0 && (ll[k - 1] == ' ' || ll[k - 1] == ';')) break;
          ++k;
        }
        if (k == std::string::npos) return std::nullopt;
        std::size_t v = k + key.size() + 1;
        if (v < line.size() && line[v] == '"') {
          std::size_t e = line.find('"', v + 1);
          return line.substr(v + 1, e == std::string::npos ? std::string::npos : e - v - 1);
        }
        std::size_t e = line.find(';', v);
        return line.substr(v, e == std::string::npos ? std::string::npos : e - v);
      };
      if (param("name") == std::string(field)) {
        MultipartFile f;
        f.filename = param("filename").value_or("");
        if (auto slash = f.filename.find_last_of("/\\"); slash != std::string::npos)
          f.filename = f.filename.substr(slash + 1);
        f.content = body.substr(cstart, next - cstart);
        return std::optional<MultipartFile>{f};
      }
    }
    pos = next + 2;
  }
  return std::optional<MultipartFile>{};
}

std::vector<Route> scan_routes(ScanRouteDeps deps) {
  auto d = std::make_shared<ScanRouteDeps>(std::move(deps));
  assurance::ScanService& svc = d->service;
  std::vector<Route> routes;

  // The caller's workspace scope (nullopt = all). Every route here is authenticated.
  auto scope_of = [d](const Request& req) -> Result<auth::WorkspaceScope> {
    if (!d->grants) return auth::WorkspaceScope{};
    if (!req.principal) return Error::unauthorized("Not authenticated");
    return d->grants->scope_of(*req.principal);
  };
  // A scan in a workspace the caller has no grant for does not exist for them.
  auto load = [&svc, scope_of](const Request& req) -> Result<assurance::ScanRecord> {
    auto rec = svc.get(req.param("test_id"));
    if (!rec) return rec;
    auto scope = scope_of(req);
    if (!scope) return std::move(scope).take_error();
    if (!auth::scope_allows(*scope, rec->request.workspace_id)) return Error::not_found("Scan not found");
    return rec;
  };

  Route submit;
  submit.method = "POST";
  submit.path = "/v1/security-scans";
  submit.access = http::Access::analyst;
  submit.doc = {"Submit a security scan", "assurance", "", "", {}, 202};
  submit.handler = [&svc, scope_of](Request& req) -> Result<Response> {
    auto body = http::parse_json_object(req);
    if (!body) return std::move(body).take_error();
    // A missing or non-string workspace_id is left to the request validation (422).
    if (auto w = body->find("workspace_id"); w != body->end() && w->is_string()) {
      auto scope = scope_of(req);
      if (!scope) return std::move(scope).take_error();
      if (!auth::scope_allows(*scope, w->get<std::string>()))
        return Error::forbidden("no grant for workspace '" + w->get<std::string>() + "'");
    }
    auto out = svc.submit(*body, req.header("idempotency-key"), actor_of(req));
    if (!out) return std::move(out).take_error();
    return accepted(out->replayed ? 200 : 202, out->record);
  };
  routes.push_back(std::move(submit));

  Route list;
  list.method = "GET";
  list.path = "/v1/security-scans";
  list.access = http::Access::viewer;
  list.doc = {"List security scans", "assurance", "", "", {"workspace_id", "component_id", "status", "limit", "offset"}, 200};
  list.handler = [&svc, scope_of](Request& req) -> Result<Response> {
    assurance::ScanFilter f;
    auto scope = scope_of(req);
    if (!scope) return std::move(scope).take_error();
    f.workspaces = std::move(*scope);
    f.workspace_id = req.query_param("workspace_id");
    f.component_id = req.query_param("component_id");
    f.status = req.query_param("status");
    if (f.status) {
      static const std::vector<std::string> kStates = {"QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"};
      std::string up = *f.status;
      for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (std::find(kStates.begin(), kStates.end(), up) == kStates.end())
        return Error::invalid({"query", "status"}, "status must be one of QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED");
      f.status = up;
    }
    auto limit = http::query_int(req, "limit", 50, 1, 500);
    if (!limit) return std::move(limit).take_error();
    auto offset = http::query_int(req, "offset", 0, 0, 1'000'000'000);
    if (!offset) return std::move(offset).take_error();
    f.limit = *limit;
    f.offset = *offset;
    auto page = svc.list(f);
    if (!page) return std::move(page).take_error();
    Json items = Json::array();
    for (const auto& rec : page->items) items.push_back(assurance::ScanService::status_json(rec));
    return Response::json(200, Json{{"items", items}, {"total", page->total}, {"limit", f.limit}, {"offset", f.offset}});
  };
  routes.push_back(std::move(list));

  Route get;
  get.method = "GET";
  get.path = "/v1/security-scans/{test_id}";
  get.access = http::Access::viewer;
  get.doc = {"Scan status", "assurance", "", "", {}, 200};
  get.handler = [load](Request& req) -> Result<Response> {
    auto rec = load(req);
    if (!rec) return std::move(rec).take_error();
    return Response::json(200, assurance::ScanService::status_json(*rec));
  };
  routes.push_back(std::move(get));

  Route cancel;
  cancel.method = "POST";
  cancel.path = "/v1/security-scans/{test_id}/cancel";
  cancel.access = http::Access::analyst;
  cancel.doc = {"Cancel a queued or running scan", "assurance", "", "", {}, 200};
  cancel.handler = [&svc, load](Request& req) -> Result<Response> {
    SECPLAT_TRY(load(req));
    auto rec = svc.cancel(req.param("test_id"), actor_of(req));
    if (!rec) return std::move(rec).take_error();
    return Response::json(200, assurance::ScanService::status_json(*rec));
  };
  routes.push_back(std::move(cancel));

  Route retry;
  retry.method = "POST";
  retry.path = "/v1/security-scans/{test_id}/retry";
  retry.access = http::Access::analyst;
  retry.doc = {"Re-run a FAILED or CANCELLED scan as a new scan", "assurance", "", "", {}, 202};
  retry.handler = [&svc, load](Request& req) -> Result<Response> {
    SECPLAT_TRY(load(req));
    auto rec = svc.retry(req.param("test_id"), actor_of(req));
    if (!rec) return std::move(rec).take_error();
    return accepted(202, *rec);
  };
  routes.push_back(std::move(retry));

  Route upload_request;
  upload_request.method = "POST";
  upload_request.path = "/v1/security-scans/{test_id}/upload-request";
  upload_request.access = http::Access::analyst;
  upload_request.doc = {"Publish a SUCCEEDED scan's bundle: trust gate, then S3 raw and the OCI registry",
                        "assurance", "", "", {}, 202};
  upload_request.handler = [&svc, load](Request& req) -> Result<Response> {
    SECPLAT_TRY(load(req));
    auto body = http::parse_json_object(req);
    if (!body) return std::move(body).take_error();
    auto reply = svc.request_upload(req.param("test_id"), *body, actor_of(req));
    if (!reply) return std::move(reply).take_error();
    return Response::json(202, *reply);
  };
  routes.push_back(std::move(upload_request));

  Route promote;
  promote.method = "POST";
  promote.path = "/v1/security-scans/{test_id}/promote";
  promote.access = http::Access::admin;
  promote.doc = {"Queue the promotion of an uploaded bundle from S3 raw to golden (every digest re-verified first)",
                 "assurance", "", "", {}, 202};
  promote.handler = [&svc, load](Request& req) -> Result<Response> {
    SECPLAT_TRY(load(req));
    auto rec = svc.promote(req.param("test_id"), actor_of(req));
    if (!rec) return std::move(rec).take_error();
    return Response::json(202, assurance::ScanService::status_json(*rec));
  };
  routes.push_back(std::move(promote));

  Route upload;
  upload.method = "POST";
  upload.path = "/v1/security-scans/upload-archive";
  upload.access = http::Access::analyst;
  upload.max_body_bytes = d->upload_max_bytes + (64u << 10);  // + multipart framing
  upload.spool_body = true;  // streamed to disk by the server; mapped here, never copied into memory
  upload.doc = {"Upload an archive for a later archive scan", "assurance", "", "", {}, 201};
  upload.handler = [d](Request& req) -> Result<Response> {
    MappedFile spooled;
    std::string_view body = req.body;
    if (!req.body_file.empty()) {
      if (!spooled.open(req.body_file)) return Error::internal("could not read the uploaded body");
      body = spooled.view();
    }
    auto part = find_multipart_file(req.header("content-type").value_or(""), body, "file");
    if (!part) return std::move(part).take_error();
    if (!*part) return Error::invalid({"body", "file"}, "Field required");
    if ((*part)->content.size() > d->upload_max_bytes)
      return Error::too_large("Upload larger than " + std::to_string(d->upload_max_bytes) + " bytes");
    auto up = d->service.store_archive((*part)->filename, (*part)->content, actor_of(req));
    if (!up) return std::move(up).take_error();
    return Response::json(201, Json{{"archive_path", up->archive_path}, {"archive_hash", up->archive_hash},
                                    {"filename", up->filename}, {"size", up->size}});
  };
  routes.push_back(std::move(upload));

  auto bundle_of = [&svc, load](const Request& req) -> Result<std::string> {
    auto rec = load(req);
    if (!rec) return std::move(rec).take_error();
    if (rec->status != assurance::kSucceeded)
      return Error::conflict("Scan has no artifacts (status " + rec->status + ")");
    std::string dir = svc.bundles_dir() + "/" + rec->test_id;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return Error::not_found("Artifacts not found");
    return dir;
  };

  Route tarball;
  tarball.method = "GET";
  tarball.path = "/v1/security-scans/{test_id}/artifacts";
  tarball.access = http::Access::viewer;
  tarball.doc = {"The scan bundle as tar.gz", "assurance", "", "", {}, 200};
  tarball.handler = [bundle_of](Request& req) -> Result<Response> {
    auto dir = bundle_of(req);
    if (!dir) return std::move(dir).take_error();
    auto tgz = tar_gz_of(*dir, req.param("test_id"));
    if (!tgz) return std::move(tgz).take_error();
    Response r = Response::text(200, std::move(*tgz), "application/gzip");
    r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + req.param("test_id") + ".tar.gz\"");
    return r;
  };
  routes.push_back(std::move(tarball));

  // One file; the path may be one percent-encoded segment (reports%2Fsast%2Fx.sarif.json) or up to
  // six plain segments.
  std::string tmpl = "/v1/security-scans/{test_id}/artifacts";
  for (int depth = 1; depth <= 6; ++depth) {
    tmpl += "/{p" + std::to_string(depth) + "}";
    Route file;
    file.method = "GET";
    file.path = tmpl;
    file.access = http::Access::viewer;
    file.doc = {"One file of the scan bundle", "assurance", "", "", {}, 200};
    file.handler = [bundle_of, depth](Request& req) -> Result<Response> {
      auto dir = bundle_of(req);
      if (!dir) return std::move(dir).take_error();
      std::vector<std::string> segs;
      for (int i = 1; i <= depth; ++i) segs.push_back(req.param("p" + std::to_string(i)));
      auto rel = safe_relpath(segs);
      if (!rel) return Error::bad_request("Invalid artifact path");
      auto data = read_bundle_file(*dir, *rel);
      if (!data) return std::move(data).take_error();
      std::string etag = "\"" + sha256_hex(*data) + "\"";
      if (auto inm = req.header("if-none-match"); inm && (*inm == etag || *inm == "*")) {
        Response r = Response::text(304, "", "");
        r.headers.emplace_back("ETag", etag);
        return r;
      }
      Response r = Response::text(200, std::move(*data), content_type_for(*rel));
      r.headers.emplace_back("ETag", etag);
      r.headers.emplace_back("X-Content-Type-Options", "nosniff");
      return r;
    };
    routes.push_back(std::move(file));
  }

  Route stream;
  stream.method = "GET";
  stream.path = "/v1/security-scans/{test_id}/stream";
  stream.access = http::Access::viewer;
  stream.doc = {"Live scan events (WebSocket; ?since=SEQ resumes)", "assurance", "", "", {"since"}, 101};
  stream.ws_handler = [&svc, load](const std::shared_ptr<http::WsSession>& session, const Request& req) {
    Request copy = req;
    auto rec = load(copy);
    if (!rec) {
      session->close(4404, "Scan not found");
      return;
    }
    int64_t since = 0;
    if (auto s = req.query_param("since")) {
      try {
        std::size_t used = 0;
        since = std::stoll(*s, &used);
        if (used != s->size() || since < 0) throw std::invalid_argument("since");
      } catch (...) {
        session->close(4400, "since must be a non-negative integer");
        return;
      }
    }
    std::weak_ptr<http::WsSession> weak = session;
    auto sub = svc.events().subscribe(rec->test_id, since, [weak](const std::string& text, bool terminal) {
      auto s = weak.lock();
      if (!s) return false;
      if (!text.empty() && !s->send_text(text)) return false;
      if (terminal) s->close(1000, "scan complete");
      return true;
    });
    if (!sub) {
      session->close(1011, "event log unavailable");
      return;
    }
    if (*sub) {
      std::weak_ptr<assurance::ScanEventLog::Subscription> ws = *sub;
      session->on_close([ws] {
        if (auto s = ws.lock()) s->cancel();
      });
    }
  };
  routes.push_back(std::move(stream));

  Route stats;
  stats.method = "GET";
  stats.path = "/stats";
  stats.access = http::Access::viewer;
  stats.doc = {"Scan counters", "assurance", "", "", {}, 200};
  stats.handler = [&svc, scope_of](Request& req) -> Result<Response> {
    auto scope = scope_of(req);
    if (!scope) return std::move(scope).take_error();
    auto s = svc.stats(*scope);  // counts of the caller's workspaces only
    if (!s) return std::move(s).take_error();
    return Response::json(200, *s);
  };
  routes.push_back(std::move(stats));

  Route key;
  key.method = "GET";
  key.path = "/v1/keys/signing.pem";
  key.access = http::Access::viewer;
  key.doc = {"The instance's bundle-signing public key (PEM)", "assurance", "", "", {}, 200};
  key.handler = [d](Request&) -> Result<Response> {
    if (d->signing_public_pem.empty()) return Error::not_found("Signing key not configured");
    return Response::text(200, d->signing_public_pem, "application/x-pem-file");
  };
  routes.push_back(std::move(key));
  return routes;
}

std::vector<http::Route> scan_internal_routes(assurance::ScanLedger& ledger, InternalSarifImport import_sarif) {
  return internal_op_routes(
      "/internal/scans/", assurance::scan_ledger_ops(), "Scan ledger (for scan worker processes)",
      [&ledger, import_sarif](std::string_view op, const Json& body) {
        return assurance::serve_scan_ledger_op(ledger, import_sarif, op, body);
      },
      // A repository scan's SARIF can be large; the other operations are small.
      [](std::string_view op) -> std::size_t { return op == "import-sarif" ? 64u << 20 : 0; });
}

}  // namespace secplat::api
