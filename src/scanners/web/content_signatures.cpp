#include "scanners/web/content_signatures.h"

#include <algorithm>
#include <cctype>

namespace secplat::scanners::web {
namespace {

constexpr std::size_t kMaxDotenvKeys = 20;
constexpr std::size_t kMaxKeyLength = 64;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool contains_ci(std::string_view haystack, std::string_view needle) {
  return lower(haystack).find(lower(needle)) != std::string::npos;
}

bool is_hex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
}

bool is_key_start(unsigned char c) { return std::isalpha(c) != 0 || c == '_'; }
bool is_key_char(unsigned char c) { return std::isalnum(c) != 0 || c == '_' || c == '.' || c == '-'; }

// Splits on '\n', dropping a trailing '\r' from each line.
std::vector<std::string_view> lines_of(std::string_view body) {
  std::vector<std::string_view> out;
  while (!body.empty()) {
    const auto nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line);
    if (nl == std::string_view::npos) break;
    body.remove_prefix(nl + 1);
  }
  return out;
}

}  // namespace

bool looks_like_html(std::string_view body) {
  const std::string head = lower(trim(body.substr(0, 1024)));
  return starts_with(head, "<") &&
         (head.find("<!doctype html") != std::string::npos || head.find("<html") != std::string::npos ||
          head.find("<head") != std::string::npos || head.find("<body") != std::string::npos);
}

std::optional<std::string> git_head_ref(std::string_view body) {
  if (body.size() > 1024) return std::nullopt;  // a HEAD file is one short line
  const std::string_view first = trim(body.substr(0, body.find('\n')));
  if (starts_with(first, "ref:")) {
    const std::string_view ref = trim(first.substr(4));
    if (!starts_with(ref, "refs/")) return std::nullopt;
    return evidence_text(ref, 100);
  }
  if ((first.size() == 40 || first.size() == 64) && is_hex(first)) return std::string(first);
  return std::nullopt;
}

std::vector<std::string> dotenv_keys(std::string_view body) {
  if (body.find('\0') != std::string_view::npos || looks_like_html(body)) return {};
  std::vector<std::string> keys;
  std::size_t assignments = 0;
  std::size_t other = 0;
  for (std::string_view line : lines_of(body)) {
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    if (starts_with(line, "export ")) line = trim(line.substr(7));
    std::size_t i = 0;
    if (i < line.size() && is_key_start(static_cast<unsigned char>(line[i]))) {
      while (i < line.size() && is_key_char(static_cast<unsigned char>(line[i]))) ++i;
      const std::string_view key = line.substr(0, i);
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      if (i < line.size() && line[i] == '=') {
        ++assignments;
        const std::string name(key.substr(0, kMaxKeyLength));
        if (keys.size() < kMaxDotenvKeys && std::find(keys.begin(), keys.end(), name) == keys.end())
          keys.push_back(name);
        continue;
      }
    }
    ++other;
  }
  // Multi-line quoted values make a few lines that are not assignments; prose or code makes many.
  if (assignments == 0 || assignments * 10 < (assignments + other) * 7) return {};
  return keys;
}

bool is_ds_store(std::string_view body) { return starts_with(body, std::string_view("\0\0\0\1Bud1", 8)); }

bool is_apache_server_status(std::string_view body) {
  return contains_ci(body, "Apache Server Status for") || contains_ci(body, "<title>Apache Status</title>");
}

bool is_svn_entries(std::string_view body) {
  if (contains_ci(body.substr(0, 2048), "<wc-entries")) return true;
  // Format 8-12 (SVN 1.4-1.6): the format number on the first line, then entry records.
  const auto lines = lines_of(body.substr(0, 4096));
  if (lines.size() < 3) return false;
  const std::string_view first = trim(lines.front());
  if (first.empty() || first.size() > 2 ||
      !std::all_of(first.begin(), first.end(), [](unsigned char c) { return std::isdigit(c) != 0; }))
    return false;
  return std::find(lines.begin(), lines.end(), std::string_view("dir")) != lines.end();
}

bool is_zip(std::string_view body) {
  return starts_with(body, std::string_view("PK\3\4", 4)) || starts_with(body, std::string_view("PK\5\6", 4));
}

bool is_gzip(std::string_view body) { return starts_with(body, std::string_view("\x1f\x8b\x08", 3)); }

bool is_sql_dump(std::string_view body) {
  if (body.find('\0') != std::string_view::npos || looks_like_html(body)) return false;
  const std::string head = lower(body.substr(0, 2048));
  for (const char* marker : {"-- mysql dump", "-- mariadb dump", "-- postgresql database dump", "-- phpmyadmin sql dump",
                             "pragma foreign_keys=off;\nbegin transaction;"})
    if (head.find(marker) != std::string::npos) return true;
  const std::string all = lower(body);
  return all.find("create table ") != std::string::npos &&
         (all.find("insert into ") != std::string::npos || all.find(");") != std::string::npos);
}

bool is_directory_listing(std::string_view body) {
  const std::string b = lower(body);
  return b.find("<title>index of /") != std::string::npos ||
         b.find("<title>directory listing for /") != std::string::npos ||
         b.find("[to parent directory]") != std::string::npos;
}

bool discloses_version(std::string_view banner) {
  for (std::size_t i = 1; i < banner.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(banner[i]);
    const char before = banner[i - 1];
    if (!std::isdigit(c)) continue;
    // "name/1.2", "name 1.2", "name(1.2", "name v1.2"
    if (before == '/' || before == '(') return true;
    if ((before == ' ' || before == 'v') && i + 1 < banner.size() && banner[i + 1] == '.') return true;
  }
  return false;
}

std::optional<int64_t> hsts_max_age(std::string_view value) {
  std::string_view rest = value;
  while (!rest.empty()) {
    const auto semi = rest.find(';');
    std::string_view directive = trim(rest.substr(0, semi));
    rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
    const auto eq = directive.find('=');
    if (eq == std::string_view::npos || lower(trim(directive.substr(0, eq))) != "max-age") continue;
    std::string_view v = trim(directive.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    if (v.empty() || v.size() > 12 ||
        !std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c) != 0; }))
      return std::nullopt;
    return std::stoll(std::string(v));
  }
  return std::nullopt;
}

bool csp_has_frame_ancestors(std::string_view csp) {
  std::string_view rest = csp;
  while (!rest.empty()) {
    const auto semi = rest.find(';');
    const std::string_view directive = trim(rest.substr(0, semi));
    rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
    const auto space = directive.find_first_of(" \t");
    if (lower(directive.substr(0, space)) == "frame-ancestors") return true;
  }
  return false;
}

std::string evidence_text(std::string_view s, std::size_t max_len) {
  std::string out;
  for (unsigned char c : s) {
    if (out.size() >= max_len) {
      out += "...";
      break;
    }
    out.push_back(c >= 0x20 && c < 0x7F ? static_cast<char>(c) : '?');
  }
  return out;
}

}  // namespace secplat::scanners::web
