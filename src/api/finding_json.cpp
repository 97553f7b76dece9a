#include "api/finding_json.h"

#include <charconv>
#include <string_view>

#include "api/route_helpers.h"
#include "core/clock.h"
#include "core/encoding.h"

namespace secplat::api {
namespace {

using findings::Finding;

constexpr char kHex[] = "0123456789abcdef";

// A JSON string literal, escaped as nlohmann's serializer does with ensure_ascii off: the two
// characters that must be, the short forms \b \t \n \f \r, \u00xx for other control characters,
// everything else (0x7f and UTF-8 included) as is. Text that is not valid UTF-8 goes through
// nlohmann itself, whose replacement rules are the reference.
void append_string(std::string& out, std::string_view s) {
  if (!is_valid_utf8(s)) {
    out += Json(std::string(s)).dump(-1, ' ', false, Json::error_handler_t::replace);
    return;
  }
  out.push_back('"');
  std::size_t run = 0;  // start of the bytes not yet copied
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\f': out += "\\f"; break;
      case '\r': out += "\\r"; break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

void append_int(std::string& out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_opt(std::string& out, const std::optional<std::string>& s) {
  if (s) append_string(out, *s);
  else out += "null";
}

void append_time(std::string& out, const std::optional<int64_t>& ms) {
  if (ms) append_string(out, format_rfc3339(*ms));
  else out += "null";
}

void append_object_text(std::string& out, const std::string& text) {
  if (text == "{}") out += "{}";  // nearly every finding
  else out += object_or_empty(text).dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

void append_finding_json(std::string& out, const Finding& f, bool viewer) {
  // Keys in the order a Json object (a sorted map) writes them.
  out += "{\"accepted_risk_at\":";
  append_time(out, f.accepted_risk_at_ms);
  out += ",\"accepted_risk_by\":";
  append_opt(out, f.accepted_risk_by);
  out += ",\"accepted_risk_expires_at\":";
  append_time(out, f.accepted_risk_expires_at_ms);
  out += ",\"accepted_risk_reason\":";
  if (viewer) out += "null";
  else append_opt(out, f.accepted_risk_reason);
  out += ",\"asset_id\":";
  append_int(out, f.asset_id);
  out += ",\"asset_key\":";
  append_string(out, f.asset_key);
  out += ",\"asset_name\":";
  append_string(out, f.asset_name);
  out += ",\"category\":";
  append_string(out, f.category);
  out += ",\"confidence\":";
  append_string(out, f.confidence);
  out += ",\"evidence\":";
  if (viewer) out += "null";
  else append_string(out, f.evidence);
  out += ",\"finding_id\":";
  append_int(out, f.finding_id);
  out += ",\"finding_key\":";
  append_string(out, f.finding_key);
  out += ",\"first_seen\":";
  append_string(out, format_rfc3339(f.first_seen_ms));
  out += ",\"fixed_version\":";
  append_opt(out, f.fixed_version);
  out += ",\"last_seen\":";
  append_string(out, format_rfc3339(f.last_seen_ms));
  out += ",\"package_ecosystem\":";
  append_opt(out, f.package_ecosystem);
  out += ",\"package_name\":";
  append_opt(out, f.package_name);
  out += ",\"package_version\":";
  append_opt(out, f.package_version);
  out += ",\"remediation\":";
  append_string(out, f.remediation);
  out += ",\"risk_factors_json\":";
  append_object_text(out, f.risk_factors_json);
  out += ",\"risk_label\":null,\"risk_label_created_at\":null,\"risk_label_created_by\":null,"
         "\"risk_label_source\":null,\"risk_level\":";
  append_string(out, f.risk_level);
  out += ",\"risk_score\":";
  append_int(out, f.risk_score);
  out += ",\"scanner_metadata_json\":";
  append_object_text(out, f.scanner_metadata_json);
  out += ",\"severity\":";
  append_string(out, f.severity);
  out += ",\"source\":";
  append_string(out, f.source);
  out += ",\"status\":";
  append_string(out, f.status);
  out += ",\"time\":";
  append_string(out, format_rfc3339(f.time_ms));
  out += ",\"title\":";
  append_string(out, f.title);
  out += ",\"vulnerability_id\":";
  append_opt(out, f.vulnerability_id);
  out += '}';
}

}  // namespace secplat::api
