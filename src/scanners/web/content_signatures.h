// Pure recognisers for what a response actually contains, so an exposed-file finding is only
// reported when the content matches the file's format (a catch-all page answering 200 for every
// path matches none of them). Internal to secplat_web_checks; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace secplat::scanners::web {

// An HTML document (doctype or <html> near the start).
bool looks_like_html(std::string_view body);

// A Git HEAD file: "ref: refs/heads/main" → "refs/heads/main", a detached object id → the id.
std::optional<std::string> git_head_ref(std::string_view body);

// The variable names of a dotenv file (KEY=VALUE lines, comments and blank lines allowed, at
// least 70% of the other lines assignments, not HTML), at most 20; empty when it is not one.
// Values are never returned.
std::vector<std::string> dotenv_keys(std::string_view body);

bool is_ds_store(std::string_view body);              // "\0\0\0\1Bud1"
bool is_apache_server_status(std::string_view body);  // mod_status page
bool is_svn_entries(std::string_view body);           // .svn/entries (text or XML format)
bool is_zip(std::string_view body);
bool is_gzip(std::string_view body);
bool is_sql_dump(std::string_view body);              // mysqldump/pg_dump/sqlite/phpMyAdmin text dumps
bool is_directory_listing(std::string_view body);     // Apache/nginx "Index of /", Python, IIS

// A Server-style banner that names a version: "nginx/1.18.0", "Apache/2.4.41 (Ubuntu)",
// "Jetty(9.4.44)"; not "nginx" or "cloudflare".
bool discloses_version(std::string_view banner);

// max-age of a Strict-Transport-Security value in seconds; nullopt when missing or malformed.
std::optional<int64_t> hsts_max_age(std::string_view value);

// A Content-Security-Policy with a frame-ancestors directive.
bool csp_has_frame_ancestors(std::string_view csp);

// Printable ASCII only (others become '?'), at most max_len characters ("..." marks a cut).
std::string evidence_text(std::string_view s, std::size_t max_len = 160);

}  // namespace secplat::scanners::web
