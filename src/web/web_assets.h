// The web dashboard's static files, embedded in the binary at build time (scripts/embed_web.py turns
// web/ and the npm vendor files into a generated table). Lookup is by the path under /ui/.
// Threading: the table is immutable; every function may be called from any thread.
#pragma once

#include <span>
#include <string_view>

namespace secplat::web {

struct WebAsset {
  std::string_view path;          // under /ui/, no leading slash: "app.js", "vendor/uPlot.iife.min.js"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view body;
  std::string_view gzip_body;     // a gzipped copy of body, empty when gzip would not save enough
  std::string_view etag;          // strong, quoted: "\"<16 hex digits of sha256(body)>\""
};

// Every embedded file, sorted by path (defined in the generated source).
std::span<const WebAsset> web_asset_table();

// The file served at /ui/<path>, or null.
const WebAsset* find_web_asset(std::string_view path);

}  // namespace secplat::web
