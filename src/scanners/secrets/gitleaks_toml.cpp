#include "scanners/secrets/gitleaks_toml.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include "core/encoding.h"

namespace secplat::scanners::secrets {
namespace {

struct Value {
  enum class Kind { string, number, boolean, array } kind = Kind::string;
  std::string str;
  double num = 0;
  bool is_integer = false;
  bool boolean = false;
  std::vector<Value> items;
};

class Reader {
 public:
  Reader(std::string_view text, std::string_view origin) : t_(text), origin_(origin) {}

  Error error(std::string_view what) const { return error_at(line_, what); }
  Error error_at(int line, std::string_view what) const {
    return Error::bad_request(std::string(origin_) + ":" + std::to_string(line) + ": " +
                              std::string(what));
  }
  int line() const { return line_; }
  bool eof() const { return p_ >= t_.size(); }
  char peek(size_t k = 0) const { return p_ + k < t_.size() ? t_[p_ + k] : '\0'; }
  bool starts(std::string_view s) const { return t_.substr(p_, s.size()) == s; }
  void advance(size_t k = 1) {
    for (size_t i = 0; i < k && p_ < t_.size(); ++i, ++p_)
      if (t_[p_] == '\n') ++line_;
  }
  void skip_blanks() {
    while (peek() == ' ' || peek() == '\t') advance();
  }
  void skip_comment() {
    if (peek() == '#')
      while (!eof() && peek() != '\n') advance();
  }
  // Whitespace, newlines and comments (between statements and inside arrays).
  void skip_space() {
    for (;;) {
      skip_blanks();
      skip_comment();
      if (peek() == '\n' || peek() == '\r') {
        advance();
        continue;
      }
      return;
    }
  }
  // After a statement: blanks, optional comment, then newline or end of file.
  Status end_of_line() {
    skip_blanks();
    skip_comment();
    if (peek() == '\r') advance();
    if (eof()) return ok_status();
    if (peek() != '\n') return error(std::string("unexpected '") + peek() + "' after value");
    advance();
    return ok_status();
  }

  Result<std::string> key() {
    skip_blanks();
    std::string k;
    for (;;) {
      if (peek() == '"' || peek() == '\'') {
        auto s = string_value();
        if (!s) return s;
        k += *s;
      } else {
        size_t start = p_;
        while (std::isalnum(static_cast<unsigned char>(peek())) || peek() == '_' || peek() == '-')
          advance();
        if (p_ == start) return error("expected a key");
        k += t_.substr(start, p_ - start);
      }
      skip_blanks();
      if (peek() != '.') return k;
      advance();
      skip_blanks();
      k += '.';
    }
  }

  Result<std::string> string_value() {
    if (starts("'''")) return multiline_literal();
    if (starts("\"\"\"")) return basic(true);
    if (peek() == '\'') {
      advance();
      size_t start = p_;
      while (!eof() && peek() != '\'' && peek() != '\n') advance();
      if (peek() != '\'') return error("unterminated literal string");
      std::string s(t_.substr(start, p_ - start));
      advance();
      return s;
    }
    if (peek() == '"') return basic(false);
    return error("expected a string");
  }

  Result<Value> value() {
    skip_blanks();
    Value v;
    char c = peek();
    if (c == '"' || c == '\'') {
      auto s = string_value();
      if (!s) return std::move(s).take_error();
      v.str = std::move(*s);
      return v;
    }
    if (c == '[') {
      int open_line = line_;
      advance();
      v.kind = Value::Kind::array;
      for (;;) {
        skip_space();
        if (eof()) return error_at(open_line, "unterminated array");
        if (peek() == ']') {
          advance();
          return v;
        }
        auto item = value();
        if (!item) return item;
        v.items.push_back(std::move(*item));
        skip_space();
        if (peek() == ',') {
          advance();
        } else if (peek() != ']') {
          return error("expected ',' or ']' in array");
        }
      }
    }
    if (c == '{') return error("inline tables are not supported");
    if (starts("true")) {
      advance(4);
      v.kind = Value::Kind::boolean;
      v.boolean = true;
      return v;
    }
    if (starts("false")) {
      advance(5);
      v.kind = Value::Kind::boolean;
      return v;
    }
    size_t start = p_;
    while (std::isalnum(static_cast<unsigned char>(peek())) || peek() == '+' || peek() == '-' ||
           peek() == '.' || peek() == '_')
      advance();
    std::string num(t_.substr(start, p_ - start));
    num.erase(std::remove(num.begin(), num.end(), '_'), num.end());
    if (num.empty()) return error("expected a value");
    try {
      size_t used = 0;
      v.num = std::stod(num, &used);
      if (used != num.size()) throw std::invalid_argument(num);
    } catch (const std::exception&) {
      return error("invalid value '" + num + "'");
    }
    v.kind = Value::Kind::number;
    v.is_integer = num.find_first_of(".eE") == std::string::npos;
    return v;
  }

 private:
  Result<std::string> multiline_literal() {
    int open_line = line_;
    advance(3);
    if (peek() == '\r' && peek(1) == '\n') advance(2);
    else if (peek() == '\n') advance();
    size_t start = p_;
    while (!eof() && !starts("'''")) advance();
    if (eof()) return error_at(open_line, "unterminated ''' string");
    size_t stop = p_;
    advance(3);
    while (peek() == '\'') {  // up to two quotes may end the content
      ++stop;
      advance();
    }
    return std::string(t_.substr(start, stop - start));
  }

  Result<std::string> basic(bool multi) {
    int open_line = line_;
    advance(multi ? 3 : 1);
    if (multi) {
      if (peek() == '\r' && peek(1) == '\n') advance(2);
      else if (peek() == '\n') advance();
    }
    std::string out;
    for (;;) {
      if (eof()) return error_at(open_line, "unterminated string");
      char c = peek();
      if (multi ? starts("\"\"\"") : c == '"') {
        advance(multi ? 3 : 1);
        return out;
      }
      if (!multi && c == '\n') return error("newline in a single-line string");
      if (c != '\\') {
        out.push_back(c);
        advance();
        continue;
      }
      advance();
      char e = peek();
      switch (e) {
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case 'u':
        case 'U': {
          size_t n = e == 'u' ? 4 : 8;
          std::string hex(t_.substr(p_ + 1, n));
          if (hex.size() != n || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
            return error("invalid \\u escape");
          if (!append_utf8(out, std::stoul(hex, nullptr, 16))) return error("invalid \\U escape: past U+10FFFF");
          advance(n);
          break;
        }
        default:
          if (multi && (e == '\n' || e == ' ' || e == '\t' || e == '\r')) {
            skip_space();
            continue;
          }
          return error(std::string("invalid escape '\\") + e + "' in a \"...\" string (use '...' "
                       "or '''...''' for regexes)");
      }
      advance();
    }
  }

  std::string_view t_;
  std::string_view origin_;
  size_t p_ = 0;
  int line_ = 1;
};

enum class Section { root, rule, rule_allowlist, global_allowlist, ignored };

Result<std::vector<std::string>> strings(const Value& v, const Reader& r, std::string_view key) {
  if (v.kind != Value::Kind::array) return r.error(std::string(key) + " must be an array of strings");
  std::vector<std::string> out;
  for (const auto& item : v.items) {
    if (item.kind != Value::Kind::string)
      return r.error(std::string(key) + " must be an array of strings");
    out.push_back(item.str);
  }
  return out;
}

Status apply_allowlist(SecretAllowlist& a, const std::string& key, const Value& v, const Reader& r) {
  auto append = [&](std::vector<std::string>& dst) -> Status {
    auto s = strings(v, r, key);
    if (!s) return std::move(s).take_error();
    dst.insert(dst.end(), s->begin(), s->end());
    return ok_status();
  };
  if (key == "regexes") return append(a.regexes);
  if (key == "paths") return append(a.paths);
  if (key == "stopwords") return append(a.stopwords);
  if (key == "description" && v.kind == Value::Kind::string) a.description = v.str;
  return ok_status();  // commits, regexTarget, condition, ...: accepted, not used
}

}  // namespace

Result<SecretRuleFile> parse_gitleaks_toml(std::string_view text, std::string_view origin) {
  Reader r(text, origin);
  SecretRuleFile file;
  std::vector<int> rule_lines;
  std::vector<bool> rule_has_path;
  Section section = Section::root;
  for (;;) {
    r.skip_space();
    if (r.eof()) break;
    if (r.peek() == '[') {
      bool array = r.starts("[[");
      r.advance(array ? 2 : 1);
      auto name = r.key();
      if (!name) return std::move(name).take_error();
      if (array ? !r.starts("]]") : r.peek() != ']')
        return r.error(std::string("expected '") + (array ? "]]" : "]") + "' after table name");
      r.advance(array ? 2 : 1);
      if (*name == "rules" && array) {
        file.rules.emplace_back();
        file.rules.back().spans_lines = true;
        rule_lines.push_back(r.line());
        rule_has_path.push_back(false);
        section = Section::rule;
      } else if (*name == "rules.allowlist" || *name == "rules.allowlists") {
        if (file.rules.empty()) return r.error("[" + *name + "] before any [[rules]]");
        section = Section::rule_allowlist;
      } else if (*name == "allowlist" && !array) {
        section = Section::global_allowlist;
      } else if (*name == "rules") {
        return r.error("rules must be declared as [[rules]]");
      } else {
        section = Section::ignored;
      }
      SECPLAT_TRY(r.end_of_line());
      continue;
    }
    auto key = r.key();
    if (!key) return std::move(key).take_error();
    if (r.peek() != '=') return r.error("expected '=' after key '" + *key + "'");
    r.advance();
    auto value = r.value();
    if (!value) return std::move(value).take_error();
    const Value& v = *value;
    switch (section) {
      case Section::rule: {
        SecretRule& rule = file.rules.back();
        auto need_string = [&](std::string& dst) -> Status {
          if (v.kind != Value::Kind::string) return r.error(*key + " must be a string");
          dst = v.str;
          return ok_status();
        };
        if (*key == "id") {
          SECPLAT_TRY(need_string(rule.id));
        } else if (*key == "description") {
          SECPLAT_TRY(need_string(rule.description));
        } else if (*key == "regex") {
          SECPLAT_TRY(need_string(rule.regex));
        } else if (*key == "path") {
          rule_has_path.back() = true;
        } else if (*key == "secretGroup") {
          if (v.kind != Value::Kind::number || !v.is_integer || v.num < 0)
            return r.error("secretGroup must be a non-negative integer");
          rule.secret_group = static_cast<int>(v.num);
        } else if (*key == "entropy") {
          if (v.kind != Value::Kind::number) return r.error("entropy must be a number");
          rule.entropy = v.num;
        } else if (*key == "keywords") {
          auto s = strings(v, r, *key);
          if (!s) return std::move(s).take_error();
          for (auto& kw : *s)
            for (auto& c : kw) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          rule.keywords = std::move(*s);
        } else if (*key == "tags") {
          auto s = strings(v, r, *key);
          if (!s) return std::move(s).take_error();
          rule.tags = std::move(*s);
        } else if (key->rfind("allowlist.", 0) == 0) {
          SECPLAT_TRY(apply_allowlist(rule.allowlist, key->substr(10), v, r));
        }
        break;
      }
      case Section::rule_allowlist:
        SECPLAT_TRY(apply_allowlist(file.rules.back().allowlist, *key, v, r));
        break;
      case Section::global_allowlist:
        SECPLAT_TRY(apply_allowlist(file.allowlist, *key, v, r));
        break;
      case Section::root:
      case Section::ignored:
        break;
    }
    SECPLAT_TRY(r.end_of_line());
  }
  std::set<std::string> ids;
  for (size_t i = 0; i < file.rules.size(); ++i) {
    auto& rule = file.rules[i];
    if (rule.id.empty()) return r.error_at(rule_lines[i], "[[rules]] entry has no id");
    if (rule.regex.empty())
      return r.error_at(rule_lines[i], "rule '" + rule.id + "' has no regex" +
                                           (rule_has_path[i] ? " (path-only rules are not supported)" : ""));
    if (!ids.insert(rule.id).second)
      return r.error_at(rule_lines[i], "duplicate rule id '" + rule.id + "'");
    if (rule.description.empty()) rule.description = rule.id;
  }
  return file;
}

Result<SecretRuleFile> load_gitleaks_toml(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::bad_request("cannot read rule file " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_gitleaks_toml(ss.str(), path);
}

}  // namespace secplat::scanners::secrets
