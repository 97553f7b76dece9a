#include "scanners/web/web_checks.h"

#include <openssl/tls1.h>

#include <algorithm>
#include <cctype>
#include <functional>

#include "core/clock.h"
#include "core/encoding.h"
#include "scanners/web/certificate_facts.h"
#include "scanners/web/content_signatures.h"
#include "scanners/web/guarded_fetcher.h"
#include "scanners/web/target_url.h"

namespace secplat::scanners::web {
namespace {

constexpr std::size_t kRootBodyCap = 64 * 1024;
constexpr std::size_t kProbeBodyCap = 16 * 1024;
// After this many failed requests in a row the target is not asked any further.
constexpr int kMaxConsecutiveFailures = 3;
constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kHstsMinMaxAge = 15'552'000;  // 180 days

// Builds findings for one asset and source; keeps titles fixed so keys are stable.
class FindingSink {
 public:
  FindingSink(std::string asset_key, std::string source, CheckResult& result)
      : asset_key_(std::move(asset_key)), source_(std::move(source)), result_(result) {}

  void add(const std::string& category, const std::string& title, const std::string& severity,
           const std::string& detail, std::string evidence, std::string remediation) {
    WebFinding f;
    f.finding_key = finding_key(asset_key_, category, title, detail);
    f.category = category;
    f.title = title;
    f.severity = severity;
    f.evidence = std::move(evidence);
    f.remediation = std::move(remediation);
    f.source = source_;
    result_.findings.push_back(std::move(f));
  }

  void note(std::string line) { result_.log.push_back(std::move(line)); }

  // A finding this run could not decide either way.
  void inconclusive(const std::string& category, const std::string& title, const std::string& detail) {
    result_.inconclusive_keys.push_back(finding_key(asset_key_, category, title, detail));
  }

 private:
  std::string asset_key_;
  std::string source_;
  CheckResult& result_;
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string date_of(int64_t epoch_ms) { return format_rfc3339(epoch_ms).substr(0, 10); }

// Parses and pre-checks the target: an address literal the guard refuses fails here, before any
// request; names are checked by the guard at connect time, after resolution.
std::optional<TargetUrl> prepare(const std::string& url, bool allow_path, const CheckOptions& o, CheckResult& r) {
  auto t = parse_target_url(url, allow_path);
  if (!t.ok()) {
    r.error = t.error().message;
    r.retryable = false;
    r.log.push_back("Not scanned: " + r.error);
    return std::nullopt;
  }
  if (t->host_is_ip_literal()) {
    if (std::string why = refused_address_reason(t->bare_host(), o.net); !why.empty()) {
      r.error = "target refused: " + why;
      r.retryable = false;
      r.log.push_back("Not scanned: " + r.error);
      return std::nullopt;
    }
  }
  return std::move(t).value();
}

// The target could not be checked at all.
void fail_unreachable(CheckResult& r, const FetchResult& f, const std::string& url) {
  if (f.error_class == "forbidden") {
    r.error = "target refused: " + f.error;
    r.retryable = false;
  } else if (f.error_class == "budget") {
    r.error = f.error;
    r.retryable = false;
  } else if (f.error_class == "tls") {
    // An untrusted certificate does not fix itself by retrying; tls_headers says what is wrong.
    r.error = "tls: " + url + " failed TLS verification (" + f.error + ")";
    r.retryable = false;
  } else {
    r.error = f.error_class + ": " + url + " could not be fetched (" + f.error + ")";
    r.retryable = true;
  }
}

bool is_redirect(int status) { return status >= 300 && status < 400; }

std::string location_of(const FetchResult& f) {
  const std::string* loc = f.header("location");
  return loc == nullptr ? std::string("(no Location)") : evidence_text(redact_query(*loc), 200);
}

// ---- web_exposure -------------------------------------------------------------------------

struct HeaderCheck {
  const char* header;  // lower case
  const char* title;
  const char* severity;
  const char* remediation;
  // True when the response is fine in this respect; `evidence` says what was wrong otherwise.
  std::function<bool(const FetchResult&, std::string& evidence)> ok;
};

bool present(const FetchResult& f, const char* header, std::string& evidence) {
  if (f.header(header) != nullptr) return true;
  evidence = std::string("response to GET / has no ") + header + " header";
  return false;
}

const std::vector<HeaderCheck>& document_header_checks() {
  static const std::vector<HeaderCheck> checks{
      {"content-security-policy", "Missing Content-Security-Policy header", "medium",
       "Send a Content-Security-Policy that restricts script, style and frame sources (start with default-src 'self').",
       [](const FetchResult& f, std::string& ev) { return present(f, "content-security-policy", ev); }},
      {"x-frame-options", "Missing clickjacking protection", "low",
       "Send X-Frame-Options: DENY (or SAMEORIGIN), or a Content-Security-Policy with frame-ancestors.",
       [](const FetchResult& f, std::string& ev) {
         const std::string* csp = f.header("content-security-policy");
         if (f.header("x-frame-options") != nullptr || (csp != nullptr && csp_has_frame_ancestors(*csp))) return true;
         ev = "response to GET / has neither X-Frame-Options nor a CSP frame-ancestors directive";
         return false;
       }},
      {"x-content-type-options", "Missing X-Content-Type-Options header", "low",
       "Send X-Content-Type-Options: nosniff.",
       [](const FetchResult& f, std::string& ev) {
         const std::string* v = f.header("x-content-type-options");
         if (v != nullptr && lower(*v) == "nosniff") return true;
         ev = v == nullptr ? "response to GET / has no x-content-type-options header"
                           : "X-Content-Type-Options is '" + evidence_text(*v, 60) + "', not 'nosniff'";
         return false;
       }},
      {"referrer-policy", "Missing Referrer-Policy header", "low",
       "Send Referrer-Policy: strict-origin-when-cross-origin (or stricter).",
       [](const FetchResult& f, std::string& ev) { return present(f, "referrer-policy", ev); }},
      {"permissions-policy", "Missing Permissions-Policy header", "info",
       "Send a Permissions-Policy that disables browser features the site does not use (camera, microphone, "
       "geolocation, ...).",
       [](const FetchResult& f, std::string& ev) { return present(f, "permissions-policy", ev); }},
  };
  return checks;
}

void check_headers(const TargetUrl& t, const FetchResult& root, FindingSink& out) {
  if (is_redirect(root.status)) {
    out.add("transport", "Root path redirects", "info", "/",
            "GET " + t.with_path("/") + " -> " + std::to_string(root.status) + " Location: " + location_of(root) +
                " (not followed; document headers not checked)",
            "Point the asset at the URL the site redirects to, so its pages can be checked.");
    for (const auto& c : document_header_checks()) out.inconclusive("security_headers", c.title, c.header);
  } else if (root.status >= 500) {
    // A proxy's error page says nothing about the application's own headers.
    out.note("Document headers not judged on HTTP " + std::to_string(root.status));
    for (const auto& c : document_header_checks()) out.inconclusive("security_headers", c.title, c.header);
  } else {
    for (const auto& c : document_header_checks()) {
      std::string evidence;
      if (!c.ok(root, evidence)) out.add("security_headers", c.title, c.severity, c.header, evidence, c.remediation);
    }
  }
  if (t.https() && root.header("strict-transport-security") == nullptr)
    out.add("security_headers", "Missing Strict-Transport-Security header", "medium", "strict-transport-security",
            "HTTPS response to GET / has no strict-transport-security header",
            "Send Strict-Transport-Security: max-age=31536000; includeSubDomains on every HTTPS response.");
}

void check_banners(const FetchResult& root, FindingSink& out) {
  if (const std::string* server = root.header("server"); server != nullptr && discloses_version(*server))
    out.add("banner", "Server header discloses software version", "low", "server",
            "Server: " + evidence_text(*server, 100),
            "Hide the version in the Server header (nginx: server_tokens off; Apache: ServerTokens Prod).");
  if (const std::string* powered = root.header("x-powered-by"))
    out.add("banner", "X-Powered-By header discloses technology", "low", "x-powered-by",
            "X-Powered-By: " + evidence_text(*powered, 100),
            "Remove the X-Powered-By header (PHP: expose_php = Off; Express: app.disable('x-powered-by')).");
  for (const char* h : {"x-aspnet-version", "x-aspnetmvc-version"}) {
    if (const std::string* v = root.header(h))
      out.add("banner", "ASP.NET version header discloses version", "low", h,
              std::string(h) + ": " + evidence_text(*v, 60),
              "Remove the header (web.config: <httpRuntime enableVersionHeader=\"false\" />; "
              "MvcHandler.DisableMvcResponseHeader = true).");
  }
}

// A file that must not be served, recognised by its content.
struct ExposureCheck {
  const char* path;
  const char* title;
  const char* severity;
  const char* remediation;
  // What the body shows (for evidence), or nullopt when it is not the file.
  std::function<std::optional<std::string>(std::string_view body)> match;
};

std::optional<std::string> when(bool matched, const char* what) {
  return matched ? std::optional<std::string>(what) : std::nullopt;
}

const std::vector<ExposureCheck>& exposure_checks() {
  static const char* kBlockVcs =
      "Deny access to version-control directories in the web server and deploy without them (e.g. nginx: "
      "location ~ /\\.(git|svn) { deny all; }); rotate any credentials the history contains.";
  static const char* kBackup = "Remove backups and dumps from the web root and keep them in non-public storage.";
  static const std::vector<ExposureCheck> checks{
      {"/.git/HEAD", "Git repository exposed", "critical", kBlockVcs,
       [](std::string_view b) -> std::optional<std::string> {
         auto ref = git_head_ref(b);
         if (!ref) return std::nullopt;
         return "a Git HEAD file (" + *ref + "); the repository and its history can likely be downloaded";
       }},
      {"/.env", "Environment file exposed", "critical",
       "Remove the .env file from the web root (or deny dotfiles), then rotate every secret it contained.",
       [](std::string_view b) -> std::optional<std::string> {
         const auto keys = dotenv_keys(b);
         if (keys.empty()) return std::nullopt;
         std::string names;
         for (const auto& k : keys) names += (names.empty() ? "" : ", ") + evidence_text(k, 64);
         return "a dotenv file defining " + names + " (values not recorded)";
       }},
      {"/.svn/entries", "Subversion metadata exposed", "high", kBlockVcs,
       [](std::string_view b) { return when(is_svn_entries(b), "a Subversion entries file"); }},
      {"/.DS_Store", "macOS .DS_Store file exposed", "low",
       "Delete .DS_Store files from the web root and deny dotfiles; they list the directory's file names.",
       [](std::string_view b) { return when(is_ds_store(b), "a .DS_Store file (Bud1 header)"); }},
      {"/server-status", "Apache server-status exposed", "medium",
       "Restrict mod_status to local or admin addresses (Require local / Require ip ...).",
       [](std::string_view b) { return when(is_apache_server_status(b), "an Apache server-status page"); }},
      {"/backup.zip", "Backup archive exposed", "high", kBackup,
       [](std::string_view b) { return when(is_zip(b), "a ZIP archive"); }},
      {"/backup.tar.gz", "Backup archive exposed", "high", kBackup,
       [](std::string_view b) { return when(is_gzip(b), "a gzip archive"); }},
      {"/backup.sql", "Database dump exposed", "critical", kBackup,
       [](std::string_view b) { return when(is_sql_dump(b), "an SQL dump"); }},
      {"/dump.sql", "Database dump exposed", "critical", kBackup,
       [](std::string_view b) { return when(is_sql_dump(b), "an SQL dump"); }},
      {"/database.sql", "Database dump exposed", "critical", kBackup,
       [](std::string_view b) { return when(is_sql_dump(b), "an SQL dump"); }},
  };
  return checks;
}

constexpr const char* kListingTitle = "Directory listing enabled";
constexpr const char* kListingRemediation =
    "Turn off automatic directory indexes (nginx: autoindex off; Apache: Options -Indexes).";
const std::vector<const char*>& listing_dirs() {
  static const std::vector<const char*> dirs{"/uploads/", "/files/", "/backup/", "/backups/", "/static/", "/images/"};
  return dirs;
}

bool served(const FetchResult& f) { return f.responded && (f.status == 200 || f.status == 206); }

}  // namespace

std::string finding_key(std::string_view asset_key, std::string_view category, std::string_view title,
                        std::string_view detail) {
  std::string material;
  material.reserve(asset_key.size() + category.size() + title.size() + detail.size() + 3);
  material.append(asset_key).append(":").append(category).append(":").append(title).append(":").append(detail);
  return sha256_hex(material).substr(0, 32);
}

CheckResult web_exposure(const std::string& asset_key, const std::string& base_url, const CheckOptions& o) {
  CheckResult r;
  const auto t = prepare(base_url, false, o, r);
  if (!t) return r;
  GuardedFetcher http(o, r.log);
  FindingSink out(asset_key, "web_exposure", r);

  const FetchResult root = http.get({t->with_path("/"), kRootBodyCap, false});
  if (!root.responded) {
    fail_unreachable(r, root, t->with_path("/"));
    return r;
  }
  check_headers(*t, root, out);
  check_banners(root, out);
  if (served(root) && is_directory_listing(root.body))
    out.add("exposure", kListingTitle, "medium", "/", "GET / -> " + std::to_string(root.status) + " with a directory index page",
            kListingRemediation);

  // A path that cannot exist shows what the server answers for anything (a SPA's index.html, a
  // custom 404): a signature that matches it too proves nothing about the real path.
  const std::string absent_path = "/secplat-absent-" + hex_encode(random_bytes(6)) + ".txt";
  const FetchResult baseline = http.get({t->with_path(absent_path), kProbeBodyCap, false});
  int failures_in_row = baseline.responded ? 0 : 1;

  auto probe = [&](const std::string& path, std::size_t cap, const std::string& title,
                   const std::function<std::optional<std::string>(std::string_view)>& match, auto&& report) {
    if (failures_in_row >= kMaxConsecutiveFailures || !http.budget_left()) {
      if (failures_in_row >= kMaxConsecutiveFailures)
        r.log.push_back("GET " + t->with_path(path) + " -> skipped after " + std::to_string(failures_in_row) +
                        " failed requests in a row");
      else
        (void)http.get({t->with_path(path), cap, false});  // logs the skip
      out.inconclusive("exposure", title, path);
      return;
    }
    const FetchResult f = http.get({t->with_path(path), cap, false});
    if (!f.responded) {
      ++failures_in_row;
      out.inconclusive("exposure", title, path);
      return;
    }
    failures_in_row = 0;
    if (!served(f)) return;
    const auto what = match(f.body);
    if (!what) return;
    if (served(baseline) && match(baseline.body)) {
      r.log.push_back(path + " matches, but so does " + absent_path + " (a catch-all answer); not reported");
      return;
    }
    report(f, *what);
  };

  for (const auto& c : exposure_checks()) {
    probe(c.path, kProbeBodyCap, c.title, c.match, [&](const FetchResult& f, const std::string& what) {
      out.add("exposure", c.title, c.severity, c.path,
              "GET " + std::string(c.path) + " -> " + std::to_string(f.status) + " with " + what, c.remediation);
    });
  }
  const auto listing = [](std::string_view b) { return when(is_directory_listing(b), "a directory index page"); };
  for (const char* dir : listing_dirs()) {
    probe(dir, kRootBodyCap, kListingTitle, listing, [&](const FetchResult& f, const std::string& what) {
      out.add("exposure", kListingTitle, "medium", dir,
              "GET " + std::string(dir) + " -> " + std::to_string(f.status) + " with " + what, kListingRemediation);
    });
  }
  r.log.push_back("web_exposure: " + std::to_string(http.requests()) + " requests, " +
                  std::to_string(r.findings.size()) + " findings");
  return r;
}

// ---- tls_headers --------------------------------------------------------------------------

namespace {

constexpr const char* kExpired = "Certificate expired";
constexpr const char* kNotYetValid = "Certificate not yet valid";
constexpr const char* kExpires14 = "Certificate expires within 14 days";
constexpr const char* kExpires30 = "Certificate expires within 30 days";
constexpr const char* kUntrusted = "Certificate not trusted";
constexpr const char* kHostMismatch = "Certificate hostname mismatch";
constexpr const char* kVerifyFailed = "Certificate verification failed";
constexpr const char* kOldProtocol = "Outdated TLS protocol";
constexpr const char* kHandshakeFailed = "TLS handshake failed";
constexpr const char* kHstsMissing = "HSTS not enabled";
constexpr const char* kHstsShort = "HSTS max-age too short";
constexpr const char* kRenew =
    "Renew the certificate before it expires and automate renewal (e.g. ACME), then reload the server.";

void mark_certificate_inconclusive(FindingSink& out) {
  for (const char* title : {kExpired, kNotYetValid, kExpires14, kExpires30, kUntrusted, kHostMismatch, kVerifyFailed})
    out.inconclusive("tls", title, "");
}

void mark_hsts_inconclusive(FindingSink& out) {
  out.inconclusive("security_headers", kHstsMissing, "strict-transport-security");
  out.inconclusive("security_headers", kHstsShort, "strict-transport-security");
}

std::string cert_label(const CertificateFacts& c) {
  return "subject " + (c.subject.empty() ? std::string("(empty)") : c.subject) + ", issuer " +
         (c.issuer.empty() ? std::string("(empty)") : c.issuer);
}

void check_validity(const CertificateFacts& c, int64_t now, FindingSink& out) {
  const int64_t left = c.not_after_ms - now;
  const std::string label = cert_label(c);
  if (left <= 0) {
    out.add("tls", kExpired, "critical", "",
            "certificate expired on " + date_of(c.not_after_ms) + " (" + std::to_string(-left / kDayMs) +
                " days ago); " + label,
            kRenew);
  } else if (c.not_before_ms > now) {
    out.add("tls", kNotYetValid, "high", "",
            "certificate is valid only from " + date_of(c.not_before_ms) + "; " + label,
            "Check the server clock and the certificate's validity period; install a currently valid certificate.");
  } else if (left <= 14 * kDayMs) {
    out.add("tls", kExpires14, "high", "",
            "certificate expires on " + date_of(c.not_after_ms) + " (in " + std::to_string(left / kDayMs) +
                " days); " + label,
            kRenew);
  } else if (left <= 30 * kDayMs) {
    out.add("tls", kExpires30, "medium", "",
            "certificate expires on " + date_of(c.not_after_ms) + " (in " + std::to_string(left / kDayMs) +
                " days); " + label,
            kRenew);
  }
}

void check_hsts(const FetchResult& a, FindingSink& out) {
  const std::string* hsts = a.header("strict-transport-security");
  if (hsts == nullptr) {
    out.add("security_headers", kHstsMissing, "medium", "strict-transport-security",
            "HTTPS response to GET / has no Strict-Transport-Security header",
            "Send Strict-Transport-Security: max-age=31536000; includeSubDomains on every HTTPS response.");
    return;
  }
  const auto max_age = hsts_max_age(*hsts);
  if (!max_age || *max_age < kHstsMinMaxAge)
    out.add("security_headers", kHstsShort, "low", "strict-transport-security",
            "Strict-Transport-Security: " + evidence_text(*hsts, 120) + " (max-age below " +
                std::to_string(kHstsMinMaxAge) + " s = 180 days)",
            "Raise max-age to at least 15552000 (180 days); 31536000 (1 year) is common.");
}

void tls_headers_http(const TargetUrl& t, GuardedFetcher& http, FindingSink& out, CheckResult& r) {
  const FetchResult root = http.get({t.with_path("/"), kProbeBodyCap, false});
  if (!root.responded) {
    fail_unreachable(r, root, t.with_path("/"));
    return;
  }
  const std::string* loc = root.header("location");
  const bool to_https = is_redirect(root.status) && loc != nullptr && lower(loc->substr(0, 8)) == "https://";
  std::string evidence = t.origin() + " is served over plain HTTP; GET / -> " + std::to_string(root.status);
  if (to_https)
    evidence += ", redirecting to " + evidence_text(redact_query(*loc), 160) +
                " (HTTPS exists: point the asset at the https URL)";
  else
    evidence += ", no redirect to HTTPS";
  r.log.push_back(to_https ? "HTTP redirects to HTTPS" : "HTTP does not redirect to HTTPS");
  out.add("transport", "No HTTPS", "high", "", evidence,
          "Serve the site over HTTPS with a trusted certificate and redirect every HTTP request to HTTPS.");
}

}  // namespace

CheckResult tls_headers(const std::string& asset_key, const std::string& base_url, const CheckOptions& o) {
  CheckResult r;
  const auto t = prepare(base_url, false, o, r);
  if (!t) return r;
  GuardedFetcher http(o, r.log);
  FindingSink out(asset_key, "tls_headers", r);
  if (!t->https()) {
    tls_headers_http(*t, http, out, r);
    return r;
  }

  const std::string url = t->with_path("/");
  const FetchResult a = http.get({url, kProbeBodyCap, false});
  FetchResult inspected;
  if (!a.responded) {
    if (a.error_class != "tls") {
      fail_unreachable(r, a, url);
      return r;
    }
    // Verification or the handshake failed: look at the certificate without trusting anything.
    inspected = http.get({url, kProbeBodyCap, true});
    if (inspected.peer_chain_der.empty()) {
      if (inspected.error_class != "tls" && inspected.error_class != "connection") {
        fail_unreachable(r, inspected, url);
        return r;
      }
      out.add("tls", kHandshakeFailed, "medium", "", "no TLS session could be established: " + evidence_text(a.error, 240),
              "Check the server's TLS configuration: enable TLS 1.2 and 1.3 with current cipher suites.");
      mark_certificate_inconclusive(out);
      mark_hsts_inconclusive(out);
      out.inconclusive("tls", kOldProtocol, "");
      return r;
    }
  }
  const FetchResult& session = a.responded ? a : inspected;
  if (!session.tls_version.empty()) r.log.push_back("TLS " + session.tls_version);
  if (session.tls_version_code != 0 && session.tls_version_code < TLS1_2_VERSION)
    out.add("tls", kOldProtocol, "high", "", "negotiated " + session.tls_version + " (TLS 1.2 or later expected)",
            "Disable SSLv3, TLS 1.0 and TLS 1.1; offer TLS 1.2 and TLS 1.3 only.");

  const CertificateFacts cert = inspect_certificate(session.peer_chain_der, t->bare_host(), o.ca_file);
  if (!cert.present) {
    r.log.push_back("No certificate could be read from the TLS session");
    mark_certificate_inconclusive(out);
  } else {
    r.log.push_back("Certificate " + cert_label(cert) + ", valid until " + date_of(cert.not_after_ms));
    const int64_t now = SystemClock().now_ms();
    check_validity(cert, now, out);
    if (!a.responded) {
      const bool time_problem = cert.not_after_ms <= now || cert.not_before_ms > now;
      if (!cert.chain_trusted)
        out.add("tls", kUntrusted, "high", "",
                (cert.self_signed ? std::string("self-signed certificate")
                                  : "certificate not issued by a trusted CA (" + cert.trust_error + ")") +
                    "; " + cert_label(cert),
                "Use a certificate issued by a publicly trusted CA (or your organisation's CA for internal "
                "services) and serve the full chain.");
      if (!cert.host_matches) {
        std::string names;
        for (const auto& n : cert.names) names += (names.empty() ? "" : ", ") + n;
        out.add("tls", kHostMismatch, "high", "",
                "certificate is valid for " + (names.empty() ? std::string("no names") : names) + ", not for " +
                    t->bare_host(),
                "Issue a certificate whose subjectAltName covers every host name the site is served under.");
      }
      const bool old_protocol = session.tls_version_code != 0 && session.tls_version_code < TLS1_2_VERSION;
      if (cert.chain_trusted && cert.host_matches && !time_problem && !old_protocol)
        out.add("tls", kVerifyFailed, "high", "", "TLS verification failed: " + evidence_text(a.error, 240),
                "Check the certificate chain the server sends (intermediates, key usage, key strength).");
    }
  }

  if (a.responded) {
    check_hsts(a, out);
  } else {
    r.log.push_back("HSTS not checked: the only response came over an unverified connection");
    mark_hsts_inconclusive(out);
  }
  return r;
}

// ---- health_http --------------------------------------------------------------------------

CheckResult health_http(const std::string& asset_key, const std::string& url, const CheckOptions& o) {
  CheckResult r;
  const auto t = prepare(url, true, o, r);
  if (!t) return r;
  GuardedFetcher http(o, r.log);
  FindingSink out(asset_key, "health_http", r);
  const FetchResult f = http.get({t->url(), kProbeBodyCap, false});
  if (f.error_class == "forbidden" || f.error_class == "budget") {
    fail_unreachable(r, f, t->url());
    return r;
  }
  if (f.responded && f.status < 400) {
    r.log.push_back("Available: HTTP " + std::to_string(f.status) + " in " + std::to_string(f.elapsed_ms) + " ms");
    return r;
  }
  const std::string error_class = f.responded ? "http_error" : f.error_class;
  const std::string detail = f.responded ? "HTTP status " + std::to_string(f.status) : evidence_text(f.error, 200);
  out.add("availability", "Endpoint unavailable", "high", "",
          error_class + ": GET " + redact_query(t->url()) + " failed after " + std::to_string(f.elapsed_ms) + " ms (" + detail + ")",
          "Check that the service is running and reachable from the scanner, and that it answers below HTTP 400.");
  r.log.push_back("Unavailable: " + error_class);
  return r;
}

}  // namespace secplat::scanners::web
