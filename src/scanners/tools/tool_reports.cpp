#include "scanners/tools/tool_reports.h"

#include <cctype>
#include <cstdlib>

#include "core/encoding.h"
#include "core/json.h"

namespace secplat::scanners {
namespace {

Result<Json> parse_json(std::string_view text, const char* what) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded()) return Error::bad_request(std::string(what) + " is not valid JSON");
  if (!j.is_object()) return Error::bad_request(std::string(what) + " is not a JSON object");
  return j;
}

std::string str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int num(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return 0;
  double v = it->get<double>();
  return v > 0 && v < 1e9 ? static_cast<int>(v) : 0;
}

const Json* path_of(const Json& j, std::initializer_list<const char*> keys) {
  const Json* cur = &j;
  for (const char* k : keys) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(k);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

std::string text_at(const Json& j, std::initializer_list<const char*> keys) {
  const Json* v = path_of(j, keys);
  return v && v->is_string() ? v->get<std::string>() : std::string();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string cwe_tag(const std::string& id) { return "external/cwe/cwe-" + id; }

// ---- cppcheck XML: just enough of XML for its report format --------------------------------

struct XmlTag {
  std::string name;
  bool closing = false;
  bool self_closing = false;
  std::map<std::string, std::string> attrs;
};

std::string xml_unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    std::size_t semi = s.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10) {
      out.push_back('&');
      continue;
    }
    std::string_view ent = s.substr(i + 1, semi - i - 1);
    if (ent == "lt") out += '<';
    else if (ent == "gt") out += '>';
    else if (ent == "amp") out += '&';
    else if (ent == "quot") out += '"';
    else if (ent == "apos") out += '\'';
    else if (!ent.empty() && ent[0] == '#') {
      unsigned long cp = ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X')
                             ? std::strtoul(std::string(ent.substr(2)).c_str(), nullptr, 16)
                             : std::strtoul(std::string(ent.substr(1)).c_str(), nullptr, 10);
      append_utf8(out, cp);  // code points past U+10FFFF are dropped
    } else {
      out.append(s.substr(i, semi - i + 1));
    }
    i = semi;
  }
  return out;
}

// Reads the tag starting at t[i] == '<'; advances i past it. Comments, declarations and
// processing instructions come back with an empty name.
Result<XmlTag> read_tag(std::string_view t, std::size_t& i) {
  XmlTag tag;
  auto skip_to = [&](std::string_view end) -> Status {
    std::size_t e = t.find(end, i);
    if (e == std::string_view::npos) return Error::bad_request("cppcheck XML is truncated");
    i = e + end.size();
    return ok_status();
  };
  if (t.substr(i, 4) == "<!--") {
    SECPLAT_TRY(skip_to("-->"));
    return tag;
  }
  if (t.substr(i, 2) == "<?") {
    SECPLAT_TRY(skip_to("?>"));
    return tag;
  }
  if (t.substr(i, 2) == "<!") {
    SECPLAT_TRY(skip_to(">"));
    return tag;
  }
  ++i;
  if (i < t.size() && t[i] == '/') {
    tag.closing = true;
    ++i;
  }
  auto is_name = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == ':' || c == '.'; };
  while (i < t.size() && is_name(t[i])) tag.name.push_back(t[i++]);
  for (;;) {
    while (i < t.size() && std::isspace(static_cast<unsigned char>(t[i]))) ++i;
    if (i >= t.size()) return Error::bad_request("cppcheck XML is truncated");
    if (t[i] == '>') {
      ++i;
      return tag;
    }
    if (t[i] == '/' && i + 1 < t.size() && t[i + 1] == '>') {
      tag.self_closing = true;
      i += 2;
      return tag;
    }
    std::string key;
    while (i < t.size() && is_name(t[i])) key.push_back(t[i++]);
    if (key.empty()) return Error::bad_request("cppcheck XML has a malformed tag <" + tag.name + ">");
    while (i < t.size() && std::isspace(static_cast<unsigned char>(t[i]))) ++i;
    if (i >= t.size() || t[i] != '=') return Error::bad_request("cppcheck XML has a malformed attribute " + key);
    ++i;
    while (i < t.size() && std::isspace(static_cast<unsigned char>(t[i]))) ++i;
    if (i >= t.size() || (t[i] != '"' && t[i] != '\'')) return Error::bad_request("cppcheck XML has an unquoted attribute " + key);
    char q = t[i++];
    std::size_t end = t.find(q, i);
    if (end == std::string_view::npos) return Error::bad_request("cppcheck XML is truncated");
    tag.attrs[key] = xml_unescape(t.substr(i, end - i));
    i = end + 1;
  }
}

bool cppcheck_status_message(const std::string& id) {
  static const char* const kIds[] = {"missingInclude", "missingIncludeSystem", "unmatchedSuppression", "checkersReport",
                                     "toomanyconfigs", "noValidConfiguration", "internalAstError", "internalError",
                                     "syntaxError", "preprocessorErrorDirective", "unknownMacro",
                                     "normalCheckLevelMaxBranches", "bailoutUninitVar", "purgedConfiguration"};
  for (const char* k : kIds)
    if (id == k) return true;
  return false;
}

std::string cppcheck_severity(const std::string& s) {
  if (s == "error") return "high";
  if (s == "warning") return "medium";
  if (s == "style" || s == "performance" || s == "portability") return "low";
  return "info";
}

std::string shellcheck_severity(const std::string& level) {
  if (level == "error") return "high";
  if (level == "warning") return "medium";
  if (level == "info") return "low";
  return "info";  // style
}

// ---- SARIF ----------------------------------------------------------------------------------

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::strtoul(std::string(s.substr(i + 1, 2)).c_str(), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// A SARIF URI → a path (absolute for file:// URIs, else as written), percent-decoded.
std::string uri_to_path(const std::string& uri) {
  std::string u = uri;
  if (u.starts_with("file://")) {
    u = u.substr(7);
    if (!u.starts_with("/")) {  // file://host/path
      auto slash = u.find('/');
      u = slash == std::string::npos ? "" : u.substr(slash);
    }
  }
  return percent_decode(u);
}

std::optional<double> security_severity(const Json& holder) {
  const Json* v = path_of(holder, {"properties", "security-severity"});
  if (!v) return std::nullopt;
  if (v->is_number()) return v->get<double>();
  if (v->is_string()) {
    const std::string& s = v->get_ref<const std::string&>();
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size()) return d;
  }
  return std::nullopt;
}

std::string severity_property(const Json& holder) {
  for (const char* key : {"severity", "problem.severity"}) {
    const Json* v = path_of(holder, {"properties", key});
    if (v && v->is_string()) {
      std::string s = normalize_severity(v->get<std::string>());
      if (!s.empty()) return s;
    }
  }
  return "";
}

std::string severity_from_level(const std::string& level) {
  if (level == "error") return "high";
  if (level == "note") return "low";
  if (level == "none") return "info";
  return "medium";
}

// "{0}"-style placeholders of a SARIF message filled from its arguments.
std::string fill_arguments(std::string text, const Json& message) {
  auto args = message.find("arguments");
  if (args == message.end() || !args->is_array()) return text;
  for (std::size_t k = 0; k < args->size(); ++k) {
    if (!(*args)[k].is_string()) continue;
    std::string ph = "{" + std::to_string(k) + "}";
    const std::string& value = (*args)[k].get_ref<const std::string&>();
    for (std::size_t p = text.find(ph); p != std::string::npos; p = text.find(ph, p + value.size()))
      text.replace(p, ph.size(), value);
  }
  return text;
}

}  // namespace

std::string normalize_severity(std::string_view s) {
  std::string l = lower(s);
  if (l == "critical" || l == "blocker") return "critical";
  if (l == "high" || l == "error" || l == "major") return "high";
  if (l == "medium" || l == "moderate" || l == "warning" || l == "warn") return "medium";
  if (l == "low" || l == "note" || l == "minor") return "low";
  if (l == "info" || l == "informational" || l == "none" || l == "unknown") return "info";
  return "";
}

std::string severity_from_score(double score) {
  if (score >= 9.0) return "critical";
  if (score >= 7.0) return "high";
  if (score >= 4.0) return "medium";
  if (score > 0.0) return "low";
  return "info";
}

Result<std::vector<ToolFinding>> read_bandit_json(std::string_view text) {
  auto doc = parse_json(text, "bandit report");
  if (!doc) return std::move(doc).take_error();
  auto results = doc->find("results");
  if (results == doc->end() || !results->is_array()) return Error::bad_request("bandit report has no results array");
  std::vector<ToolFinding> out;
  for (const Json& r : *results) {
    if (!r.is_object()) continue;
    ToolFinding f;
    f.rule_id = str(r, "test_id");
    if (f.rule_id.empty()) continue;
    f.rule_name = str(r, "test_name");
    f.help_uri = str(r, "more_info");
    f.severity = normalize_severity(str(r, "issue_severity"));
    if (f.severity.empty()) f.severity = "low";
    f.message = str(r, "issue_text");
    f.path = str(r, "filename");
    f.region.start_line = num(r, "line_number");
    if (r.contains("col_offset") && r["col_offset"].is_number_integer() && f.region.start_line > 0)
      f.region.start_column = r["col_offset"].get<int>() + 1;
    if (const Json* cwe = path_of(r, {"issue_cwe", "id"}); cwe && cwe->is_number_integer() && cwe->get<int>() > 0)
      f.tags.push_back(cwe_tag(std::to_string(cwe->get<int>())));
    if (std::string conf = lower(str(r, "issue_confidence")); !conf.empty()) f.tags.push_back("confidence:" + conf);
    out.push_back(std::move(f));
  }
  return out;
}

Result<std::vector<ToolFinding>> read_shellcheck_json1(std::string_view text) {
  auto doc = parse_json(text, "shellcheck report");
  if (!doc) return std::move(doc).take_error();
  auto comments = doc->find("comments");
  if (comments == doc->end() || !comments->is_array())
    return Error::bad_request("shellcheck report has no comments array");
  std::vector<ToolFinding> out;
  for (const Json& c : *comments) {
    if (!c.is_object() || !c.contains("code") || !c["code"].is_number_integer()) continue;
    ToolFinding f;
    std::string code = std::to_string(c["code"].get<int>());
    f.rule_id = "SC" + code;
    f.help_uri = "https://www.shellcheck.net/wiki/SC" + code;
    f.severity = shellcheck_severity(str(c, "level"));
    f.message = str(c, "message");
    f.path = str(c, "file");
    f.region.start_line = num(c, "line");
    f.region.start_column = num(c, "column");
    int end_line = num(c, "endLine");
    int end_col = num(c, "endColumn");
    if (end_line > f.region.start_line) f.region.end_line = end_line;
    if (end_col > 0 && (end_line > f.region.start_line || end_col > f.region.start_column)) f.region.end_column = end_col;
    if (f.region.end_column > 0 && f.region.end_line == 0) f.region.end_line = f.region.start_line;
    out.push_back(std::move(f));
  }
  return out;
}

Result<std::vector<ToolFinding>> read_cppcheck_xml(std::string_view t) {
  std::vector<ToolFinding> out;
  bool saw_results = false;
  bool in_error = false;
  bool has_location = false;
  ToolFinding cur;
  std::size_t i = 0;
  while ((i = t.find('<', i)) != std::string_view::npos) {
    auto tag = read_tag(t, i);
    if (!tag) return std::move(tag).take_error();
    if (tag->name == "results") saw_results = true;
    if (tag->name == "error" && !tag->closing) {
      in_error = !tag->self_closing;  // an error without a location names no place in the code
      has_location = false;
      cur = ToolFinding{};
      cur.rule_id = tag->attrs["id"];
      cur.rule_name = cur.rule_id;
      cur.severity = cppcheck_severity(tag->attrs["severity"]);
      cur.message = tag->attrs["msg"];
      cur.rule_description = cur.message;
      if (const auto& cwe = tag->attrs["cwe"]; !cwe.empty() && cwe != "0") cur.tags.push_back(cwe_tag(cwe));
      if (cur.rule_id.empty() || cppcheck_status_message(cur.rule_id)) in_error = false;
    } else if (tag->name == "location" && in_error && !has_location) {
      has_location = true;
      cur.path = tag->attrs["file"];
      cur.region.start_line = std::atoi(tag->attrs["line"].c_str());
      cur.region.start_column = std::atoi(tag->attrs["column"].c_str());
      if (cur.region.start_line < 0) cur.region.start_line = 0;
      if (cur.region.start_column < 0 || cur.region.start_line == 0) cur.region.start_column = 0;
    } else if (tag->name == "error" && tag->closing) {
      if (in_error && has_location && !cur.path.empty()) out.push_back(std::move(cur));
      in_error = false;
    }
  }
  if (!saw_results) return Error::bad_request("cppcheck report has no <results> element");
  return out;
}

Result<std::vector<ToolFinding>> read_sarif_log(std::string_view text) {
  auto doc = parse_json(text, "SARIF report");
  if (!doc) return std::move(doc).take_error();
  auto runs = doc->find("runs");
  if (runs == doc->end() || !runs->is_array()) return Error::bad_request("SARIF report has no runs array");
  std::vector<ToolFinding> out;
  for (const Json& run : *runs) {
    if (!run.is_object()) continue;
    const Json* rules = path_of(run, {"tool", "driver", "rules"});
    std::map<std::string, const Json*> by_id;
    if (rules && rules->is_array())
      for (const Json& r : *rules)
        if (r.is_object() && r.contains("id") && r["id"].is_string()) by_id.emplace(r["id"].get<std::string>(), &r);
    std::map<std::string, std::string> bases;
    if (const Json* b = path_of(run, {"originalUriBaseIds"}); b && b->is_object())
      for (auto it = b->begin(); it != b->end(); ++it) {
        std::string u = text_at(*it, {"uri"});
        if (!u.empty()) bases[it.key()] = uri_to_path(u);
      }
    const Json* artifacts = path_of(run, {"artifacts"});
    auto results = run.find("results");
    if (results == run.end() || !results->is_array()) continue;
    for (const Json& res : *results) {
      if (!res.is_object()) continue;
      ToolFinding f;
      f.rule_id = str(res, "ruleId");
      if (f.rule_id.empty()) f.rule_id = text_at(res, {"rule", "id"});
      const Json* rule = nullptr;
      if (auto it = by_id.find(f.rule_id); it != by_id.end()) rule = it->second;
      if (!rule && res.contains("ruleIndex") && res["ruleIndex"].is_number_unsigned() && rules && rules->is_array() &&
          res["ruleIndex"].get<std::size_t>() < rules->size())
        rule = &(*rules)[res["ruleIndex"].get<std::size_t>()];
      if (f.rule_id.empty() && rule) f.rule_id = str(*rule, "id");
      if (f.rule_id.empty()) continue;
      if (rule) {
        f.rule_name = str(*rule, "name");
        f.rule_description = text_at(*rule, {"shortDescription", "text"});
        if (f.rule_description.empty()) f.rule_description = text_at(*rule, {"fullDescription", "text"});
        f.help_uri = str(*rule, "helpUri");
        if (const Json* tags = path_of(*rule, {"properties", "tags"}); tags && tags->is_array())
          for (const Json& tg : *tags)
            if (tg.is_string()) f.tags.push_back(tg.get<std::string>());
      }
      const Json empty = Json::object();
      const Json& msg = res.contains("message") && res["message"].is_object() ? res["message"] : empty;
      f.message = str(msg, "text");
      if (f.message.empty() && rule && msg.contains("id") && msg["id"].is_string())
        f.message = text_at(*rule, {"messageStrings", msg["id"].get<std::string>().c_str(), "text"});
      f.message = fill_arguments(f.message, msg);
      if (f.message.empty()) f.message = f.rule_description.empty() ? f.rule_id : f.rule_description;

      // Severity: a score, a named severity, then the level.
      std::optional<double> score = security_severity(res);
      if (!score && rule) score = security_severity(*rule);
      if (score) {
        f.severity = severity_from_score(*score);
      } else {
        f.severity = severity_property(res);
        if (f.severity.empty() && rule) f.severity = severity_property(*rule);
        if (f.severity.empty()) {
          std::string level = str(res, "level");
          if (level.empty() && rule) level = text_at(*rule, {"defaultConfiguration", "level"});
          f.severity = severity_from_level(level);
        }
      }

      const Json* loc = path_of(res, {"locations"});
      if (loc && loc->is_array() && !loc->empty()) {
        const Json& phys = (*loc)[0].is_object() && (*loc)[0].contains("physicalLocation")
                               ? (*loc)[0]["physicalLocation"]
                               : empty;
        const Json* art = path_of(phys, {"artifactLocation"});
        if (art && art->is_object()) {
          std::string uri = str(*art, "uri");
          if (uri.empty() && art->contains("index") && art->at("index").is_number_unsigned() && artifacts &&
              artifacts->is_array() && art->at("index").get<std::size_t>() < artifacts->size())
            uri = text_at((*artifacts)[art->at("index").get<std::size_t>()], {"location", "uri"});
          std::string path = uri_to_path(uri);
          std::string base = str(*art, "uriBaseId");
          if (!path.empty() && path[0] != '/' && !base.empty()) {
            if (auto b = bases.find(base); b != bases.end() && !b->second.empty())
              path = b->second + (b->second.back() == '/' ? "" : "/") + path;
          }
          f.path = path;
        }
        if (const Json* region = path_of(phys, {"region"}); region && region->is_object()) {
          f.region.start_line = num(*region, "startLine");
          if (f.region.start_line > 0) {
            f.region.start_column = num(*region, "startColumn");
            int end_line = num(*region, "endLine");
            if (end_line > f.region.start_line) f.region.end_line = end_line;
            f.region.end_column = num(*region, "endColumn");
            if (f.region.end_column > 0 && f.region.end_line == 0) {
              if (f.region.end_column <= f.region.start_column) f.region.end_column = 0;
              else f.region.end_line = f.region.start_line;
            }
          }
        }
      }
      for (const char* key : {"fingerprints", "partialFingerprints"}) {
        auto fp = res.find(key);
        if (fp == res.end() || !fp->is_object()) continue;
        for (auto it = fp->begin(); it != fp->end(); ++it)
          if (it->is_string() && !it->get<std::string>().empty()) f.fingerprints[it.key()] = it->get<std::string>();
      }
      out.push_back(std::move(f));
    }
  }
  return out;
}

}  // namespace secplat::scanners
