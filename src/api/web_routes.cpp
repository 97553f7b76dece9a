#include "api/web_routes.h"

#include <string>
#include <string_view>
#include <utility>

#include "web/web_assets.h"

namespace secplat::api {
namespace {

using http::Request;
using http::Response;

// The /ui/ tree is at most this deep (web/pages/x.js is 2; vendor/ is 2).
constexpr int kMaxDepth = 4;

constexpr std::string_view kCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

// True when the comma-separated If-None-Match list names `etag` (weak comparison, as RFC 9110 asks
// for If-None-Match) or is "*".
bool etag_matches(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    auto comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item.starts_with("W/")) item.remove_prefix(2);
    if (item == "*" || item == etag) return true;
  }
  return false;
}

// True unless the client did not list gzip or refused it with q=0.
bool accepts_gzip(const Request& req) {
  auto ae = req.header("accept-encoding");
  if (!ae) return false;
  std::string_view s = *ae;
  while (!s.empty()) {
    auto comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    std::string_view coding = item.substr(0, item.find(';'));
    while (!coding.empty() && coding.back() == ' ') coding.remove_suffix(1);
    if (coding != "gzip" && coding != "x-gzip") continue;
    auto q = item.find("q=");
    if (q == std::string_view::npos) return true;
    std::string_view v = item.substr(q + 2);
    return !(v.starts_with("0") && v.find_first_of("123456789") == std::string_view::npos);
  }
  return false;
}

Response serve(const web::WebAsset& a, const Request& req, bool entry_page) {
  Response r;
  r.headers.emplace_back("ETag", std::string(a.etag));
  // index.html names the other files by fixed paths, so it must be revalidated every time; the
  // rest may be cached, and is revalidated by ETag when it expires.
  r.headers.emplace_back("Cache-Control", entry_page ? "no-cache" : "public, max-age=3600");
  r.headers.emplace_back("Content-Security-Policy", std::string(kCsp));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  if (!a.gzip_body.empty()) r.headers.emplace_back("Vary", "Accept-Encoding");
  if (auto inm = req.header("if-none-match"); inm && etag_matches(*inm, a.etag)) {
    r.status = 304;
    r.content_type.clear();
    return r;
  }
  r.status = 200;
  r.content_type = std::string(a.content_type);
  if (!a.gzip_body.empty() && accepts_gzip(req)) {
    r.headers.emplace_back("Content-Encoding", "gzip");
    r.body = std::string(a.gzip_body);
  } else {
    r.body = std::string(a.body);
  }
  return r;
}

}  // namespace

std::vector<http::Route> web_routes() {
  std::vector<http::Route> routes;

  http::Route index;
  index.method = "GET";
  index.path = "/";
  index.access = http::Access::public_route;
  index.inline_io = true;  // an in-memory table lookup
  index.doc = {"The web dashboard (index.html)", "web", "", "", {}, 200};
  index.handler = [](Request& req) -> Result<Response> {
    const web::WebAsset* a = web::find_web_asset("index.html");
    if (!a) return Error::not_found("Not Found");
    return serve(*a, req, true);
  };
  routes.push_back(std::move(index));

  // The router matches one segment per {param}, so one template per depth.
  std::string tmpl = "/ui";
  for (int depth = 1; depth <= kMaxDepth; ++depth) {
    tmpl += "/{p" + std::to_string(depth) + "}";
    http::Route file;
    file.method = "GET";
    file.path = tmpl;
    file.access = http::Access::public_route;
    file.inline_io = true;
    file.doc = {"A static file of the web dashboard", "web", "", "", {}, 200};
    file.handler = [depth](Request& req) -> Result<Response> {
      std::string path;
      for (int i = 1; i <= depth; ++i) {
        std::string seg = req.param("p" + std::to_string(i));
        // Table paths are plain; a decoded '/' inside a segment never names a file.
        if (seg.find('/') != std::string::npos) return Error::not_found("Not Found");
        if (i > 1) path += '/';
        path += seg;
      }
      const web::WebAsset* a = web::find_web_asset(path);
      if (!a) return Error::not_found("Not Found");
      return serve(*a, req, path == "index.html");
    };
    routes.push_back(std::move(file));
  }
  return routes;
}

}  // namespace secplat::api
