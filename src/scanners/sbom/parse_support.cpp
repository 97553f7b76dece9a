#include "scanners/sbom/parse_support.h"

#include <cctype>

namespace secplat::scanners::sbom::detail {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    auto line = text.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line);
    start = nl + 1;
  }
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

Component make_component(std::string_view ecosystem, std::string name, std::string version,
                         const std::string& source) {
  Component c;
  c.ecosystem = std::string(ecosystem);
  c.purl = make_purl(ecosystem, name, version);
  c.name = std::move(name);
  c.version = std::move(version);
  c.sources.push_back(source);
  return c;
}

void resolve_by_name(std::vector<Component>& comps,
                     const std::vector<std::vector<std::string>>& dep_names,
                     const std::map<std::string, std::string>& purl_by_name) {
  for (size_t i = 0; i < comps.size() && i < dep_names.size(); ++i) {
    for (const auto& n : dep_names[i]) {
      auto it = purl_by_name.find(n);
      if (it != purl_by_name.end()) comps[i].depends_on.push_back(it->second);
    }
  }
}

Error malformed(const std::string& source, std::string_view why) {
  return Error::bad_request(source + ": malformed lockfile: " + std::string(why));
}

namespace {

class TomlCursor {
 public:
  explicit TomlCursor(std::string_view t) : t_(t) {}
  bool eof() const { return i_ >= t_.size(); }
  char peek() const { return eof() ? '\0' : t_[i_]; }
  size_t line() const {
    size_t n = 1;
    for (size_t k = 0; k < i_ && k < t_.size(); ++k) n += t_[k] == '\n';
    return n;
  }
  // Skips spaces/tabs, and with `newlines` also newlines and comments.
  void skip_ws(bool newlines) {
    while (!eof()) {
      char c = t_[i_];
      if (c == ' ' || c == '\t' || c == '\r') { ++i_; continue; }
      if (newlines && c == '\n') { ++i_; continue; }
      if (newlines && c == '#') { skip_line(); continue; }
      break;
    }
  }
  bool consume(char c) {
    skip_ws(false);
    if (peek() != c) return false;
    ++i_;
    return true;
  }
  void skip_line() {
    while (!eof() && t_[i_] != '\n') ++i_;
  }
  bool at_line_end() {
    skip_ws(false);
    if (peek() == '#') skip_line();
    return eof() || peek() == '\n';
  }
  // Parses a quoted string at the cursor; false when malformed.
  bool string(std::string& out) {
    char q = peek();
    if (q != '"' && q != '\'') return false;
    if (t_.substr(i_, 3) == std::string_view(q == '"' ? "\"\"\"" : "'''")) {
      i_ += 3;
      auto end = t_.find(t_.substr(i_ - 3, 3), i_);
      if (end == std::string_view::npos) return false;
      out = std::string(t_.substr(i_, end - i_));
      i_ = end + 3;
      return true;
    }
    ++i_;
    out.clear();
    while (!eof()) {
      char c = t_[i_++];
      if (c == q) return true;
      if (c == '\n') return false;
      if (c == '\\' && q == '"' && !eof()) {
        char e = t_[i_++];
        switch (e) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          default: out += '\\'; out += e; break;
        }
        continue;
      }
      out += c;
    }
    return false;
  }
  bool key(std::string& out) {
    skip_ws(false);
    out.clear();
    while (!eof()) {
      char c = peek();
      if (c == '"' || c == '\'') {
        std::string part;
        if (!string(part)) return false;
        out += part;
      } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') {
        out += c;
        ++i_;
      } else {
        break;
      }
      skip_ws(false);
    }
    return !out.empty();
  }
  // Skips a value we do not keep (inline table, array of non-strings, bare word). Strings inside
  // arrays are collected into `strings` when non-null.
  bool value(std::string* scalar, std::vector<std::string>* strings, bool& is_string,
             bool& is_array) {
    skip_ws(false);
    is_string = false;
    is_array = false;
    char c = peek();
    if (c == '"' || c == '\'') {
      std::string s;
      if (!string(s)) return false;
      if (scalar) *scalar = std::move(s);
      is_string = true;
      return true;
    }
    if (c == '[' || c == '{') {
      is_array = c == '[';
      return nested(strings, 0);
    }
    // bare: number, bool, date — up to end of line/comment/comma/closing bracket
    size_t start = i_;
    while (!eof() && peek() != '\n' && peek() != '#' && peek() != ',' && peek() != ']' &&
           peek() != '}') {
      ++i_;
    }
    return trim(t_.substr(start, i_ - start)).size() > 0;
  }

 private:
  // At '[' or '{': consumes the balanced structure; top-level string elements of an array go to
  // `strings`.
  bool nested(std::vector<std::string>* strings, int depth) {
    if (depth > 64) return false;
    char open = t_[i_++];
    char close = open == '[' ? ']' : '}';
    while (true) {
      skip_ws(true);
      if (eof()) return false;
      char c = peek();
      if (c == close) { ++i_; return true; }
      if (c == ',') { ++i_; continue; }
      if (c == '"' || c == '\'') {
        std::string s;
        if (!string(s)) return false;
        if (open == '[' && strings) strings->push_back(std::move(s));
        continue;
      }
      if (c == '[' || c == '{') {
        if (!nested(nullptr, depth + 1)) return false;
        continue;
      }
      if (c == ']' || c == '}') return false;
      ++i_;  // bare words, '=' inside inline tables, ...
    }
  }

  std::string_view t_;
  size_t i_ = 0;
};

}  // namespace

Result<std::vector<TomlTable>> parse_toml_tables(std::string_view text) {
  std::vector<TomlTable> tables(1);
  TomlCursor cur(text);
  auto bad = [&](std::string_view why) {
    return Error::bad_request("TOML line " + std::to_string(cur.line()) + ": " + std::string(why));
  };
  while (true) {
    cur.skip_ws(true);
    if (cur.eof()) break;
    if (cur.consume('[')) {
      bool array = cur.consume('[');
      std::string header;
      if (!cur.key(header)) return bad("expected a table name");
      if (!cur.consume(']') || (array && !cur.consume(']'))) return bad("unclosed table header");
      if (!cur.at_line_end()) return bad("text after table header");
      TomlTable t;
      t.header = std::move(header);
      tables.push_back(std::move(t));
      continue;
    }
    std::string key;
    if (!cur.key(key)) return bad("expected a key");
    if (!cur.consume('=')) return bad("expected '='");
    std::string scalar;
    std::vector<std::string> strings;
    bool is_string = false, is_array = false;
    if (!cur.value(&scalar, &strings, is_string, is_array)) return bad("malformed value");
    if (!cur.at_line_end()) return bad("text after value");
    TomlTable& t = tables.back();
    t.keys.push_back(key);
    if (is_string) t.strings[key] = std::move(scalar);
    if (is_array) t.arrays[key] = std::move(strings);
  }
  return tables;
}

}  // namespace secplat::scanners::sbom::detail
