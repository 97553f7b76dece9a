#include "assurance/scan_request.h"

#include <git2.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <mutex>

namespace secplat::assurance {

namespace {

bool falsy(const std::optional<std::string>& s) { return !s || s->empty(); }

void opt_to_json(Json& j, const char* key, const std::optional<std::string>& v) {
  j[key] = v ? Json(*v) : Json(nullptr);
}

std::optional<std::string> opt_from_json(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

void append_escaped(std::string& out, const std::string& s) {
  out.push_back('"');
  std::size_t i = 0;
  auto put_u = [&](unsigned cp) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "\\u%04x", cp);
    out += buf;
  };
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
          if (c < 0x20 || c == 0x7f) put_u(c);
          else out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    // Decode one UTF-8 sequence (nlohmann only holds valid UTF-8 after parsing).
    int len = (c >= 0xf0) ? 4 : (c >= 0xe0) ? 3 : 2;
    unsigned cp = (len == 4) ? (c & 0x07) : (len == 3) ? (c & 0x0f) : (c & 0x1f);
    for (int k = 1; k < len && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    i += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      put_u(0xd800 + (cp >> 10));
      put_u(0xdc00 + (cp & 0x3ff));
    } else {
      put_u(cp);
    }
  }
  out.push_back('"');
}

void append_canonical(std::string& out, const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: out += "null"; break;
    case Json::value_t::boolean: out += v.get<bool>() ? "true" : "false"; break;
    case Json::value_t::number_integer: out += std::to_string(v.get<int64_t>()); break;
    case Json::value_t::number_unsigned: out += std::to_string(v.get<uint64_t>()); break;
    case Json::value_t::number_float: out += python_float_repr(v.get<double>()); break;
    case Json::value_t::string: append_escaped(out, v.get_ref<const std::string&>()); break;
    case Json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v) {
        if (!first) out += ", ";
        first = false;
        append_canonical(out, e);
      }
      out.push_back(']');
      break;
    }
    case Json::value_t::object: {
      // nlohmann::json objects are std::map<std::string,...>: byte order of UTF-8 = code point order.
      out.push_back('{');
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out += ", ";
        first = false;
        append_escaped(out, it.key());
        out += ": ";
        append_canonical(out, it.value());
      }
      out.push_back('}');
      break;
    }
    default: out += "null"; break;  // binary/discarded never come from JSON text
  }
}

void git_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { git_libgit2_init(); });
}

}  // namespace

std::string python_float_repr(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, r.ptr);  // shortest round-trip digits: "-1.2345e+03"
  std::string sign;
  if (!sci.empty() && sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  std::size_t epos = sci.find('e');
  std::string mant = sci.substr(0, epos);
  int exp = std::stoi(sci.substr(epos + 1));
  std::string digits;
  for (char c : mant)
    if (c != '.') digits.push_back(c);
  if (exp < -4 || exp >= 16) {
    std::string m = digits.substr(0, 1);
    if (digits.size() > 1) m += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    return sign + m + eb;
  }
  std::string out;
  if (exp < 0) {
    out = "0." + std::string(static_cast<std::size_t>(-exp - 1), '0') + digits;
  } else {
    std::size_t int_len = static_cast<std::size_t>(exp) + 1;
    if (digits.size() <= int_len) {
      out = digits + std::string(int_len - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, int_len) + "." + digits.substr(int_len);
    }
  }
  return sign + out;
}

std::string canonical_manifest_text(const Json& value) {
  std::string out;
  append_canonical(out, value);
  return out;
}

bool is_safe_branch_name(const std::string& s) {
  if (s.empty() || s.size() > 255 || s[0] == '-') return false;
  for (char c : s)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  git_init_once();
  int valid = 0;
  std::string ref = "refs/heads/" + s;
  if (git_reference_name_is_valid(&valid, ref.c_str()) != 0) return false;
  return valid != 0;
}

bool is_safe_commit_ref(const std::string& s) {
  if (s.size() >= 4 && s.size() <= 40 &&
      s.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos)
    return true;
  return is_safe_branch_name(s);
}

Json ScanRequest::to_json() const {
  Json j = Json::object();
  j["workspace_id"] = workspace_id;
  j["component_id"] = component_id;
  j["assessment_id"] = assessment_id;
  j["source_type"] = source_type;
  opt_to_json(j, "git_url", git_url);
  opt_to_json(j, "branch", branch);
  opt_to_json(j, "commit", commit);
  opt_to_json(j, "directory_path", directory_path);
  opt_to_json(j, "archive_path", archive_path);
  opt_to_json(j, "requested_by", requested_by);
  j["profile"] = profile;
  j["manifest"] = manifest ? *manifest : Json(nullptr);
  opt_to_json(j, "manifest_path", manifest_path);
  opt_to_json(j, "manifest_uri", manifest_uri);
  opt_to_json(j, "manifest_signature_uri", manifest_signature_uri);
  opt_to_json(j, "expected_manifest_digest", expected_manifest_digest);
  return j;
}

ScanRequest ScanRequest::from_json(const Json& j) {
  ScanRequest r;
  r.workspace_id = j.value("workspace_id", "");
  r.component_id = j.value("component_id", "");
  r.assessment_id = j.value("assessment_id", "");
  r.source_type = j.value("source_type", "git");
  r.git_url = opt_from_json(j, "git_url");
  r.branch = opt_from_json(j, "branch");
  r.commit = opt_from_json(j, "commit");
  r.directory_path = opt_from_json(j, "directory_path");
  r.archive_path = opt_from_json(j, "archive_path");
  r.requested_by = opt_from_json(j, "requested_by");
  r.profile = j.value("profile", "light");
  if (auto it = j.find("manifest"); it != j.end() && it->is_object()) r.manifest = *it;
  r.manifest_path = opt_from_json(j, "manifest_path");
  r.manifest_uri = opt_from_json(j, "manifest_uri");
  r.manifest_signature_uri = opt_from_json(j, "manifest_signature_uri");
  r.expected_manifest_digest = opt_from_json(j, "expected_manifest_digest");
  return r;
}

Result<ScanRequest> parse_scan_request(const Json& body) {
  Error errors{Errc::validation, "Request validation failed", {}, 0};
  auto field_err = [&](const char* key, const char* msg) { errors.fields.push_back({{"body", key}, msg}); };

  ScanRequest r;
  auto required = [&](const char* key, std::string& out) {
    auto it = body.find(key);
    if (it == body.end()) return field_err(key, "Field required");
    if (!it->is_string()) return field_err(key, "Input should be a valid string");
    out = it->get<std::string>();
  };
  auto with_default = [&](const char* key, std::string& out) {
    auto it = body.find(key);
    if (it == body.end()) return;
    if (!it->is_string()) return field_err(key, "Input should be a valid string");
    out = it->get<std::string>();
  };
  auto optional = [&](const char* key, std::optional<std::string>& out) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return;
    if (!it->is_string()) return field_err(key, "Input should be a valid string");
    out = it->get<std::string>();
  };

  required("workspace_id", r.workspace_id);
  required("component_id", r.component_id);
  required("assessment_id", r.assessment_id);
  with_default("source_type", r.source_type);
  optional("git_url", r.git_url);
  optional("branch", r.branch);
  optional("commit", r.commit);
  optional("directory_path", r.directory_path);
  optional("archive_path", r.archive_path);
  // requested_by in the body is accepted (reference field) but ignored: the principal is recorded.
  std::optional<std::string> ignored_requested_by;
  optional("requested_by", ignored_requested_by);
  with_default("profile", r.profile);
  if (auto it = body.find("manifest"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) field_err("manifest", "Input should be a valid dictionary");
    else r.manifest = *it;
  }
  optional("manifest_path", r.manifest_path);
  optional("manifest_uri", r.manifest_uri);
  optional("manifest_signature_uri", r.manifest_signature_uri);
  optional("expected_manifest_digest", r.expected_manifest_digest);
  if (!errors.fields.empty()) return errors;

  auto value_error = [](const std::string& text) { return Error::invalid({"body"}, "Value error, " + text); };
  if (r.source_type == "git") {
    if (falsy(r.git_url)) return value_error("git_url is required when source_type='git'");
  } else if (r.source_type == "directory") {
    if (falsy(r.directory_path)) return value_error("directory_path is required when source_type='directory'");
  } else if (r.source_type == "archive") {
    if (falsy(r.archive_path)) return value_error("archive_path is required when source_type='archive'");
  } else {
    return value_error("Invalid source_type: '" + r.source_type + "'. Must be 'git', 'directory', or 'archive'");
  }
  bool has_inline = r.manifest && !r.manifest->empty();
  if (!has_inline && falsy(r.manifest_path) && falsy(r.manifest_uri))
    return value_error("Provide one of 'manifest', 'manifest_path', or 'manifest_uri'");
  if (!falsy(r.manifest_uri) && falsy(r.manifest_signature_uri))
    return value_error("'manifest_signature_uri' is required when 'manifest_uri' is set");
  if (!has_inline) r.manifest.reset();  // {} counts as "no manifest" (reference rule 5)
  if (r.expected_manifest_digest) {
    const std::string& d = *r.expected_manifest_digest;
    if (d.size() != 64 || d.find_first_not_of("0123456789abcdef") != std::string::npos)
      return Error::invalid({"body", "expected_manifest_digest"}, "expected_manifest_digest must be 64 lowercase hex digits");
  }
  return r;
}

}  // namespace secplat::assurance
