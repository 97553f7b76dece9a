#include "store/sql_script.h"

#include <cctype>

#include "store/db.h"

namespace secplat::store {
namespace {

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::string upper(std::string_view w) {
  std::string out(w);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// A statement piece that is only whitespace and comments carries nothing to run.
bool has_code(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {
      while (i < s.size() && s[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
      std::size_t end = s.find("*/", i + 2);
      i = end == std::string_view::npos ? s.size() : end + 2;
    } else {
      return true;
    }
  }
  return false;
}

}  // namespace

std::vector<std::string> split_sql_script(std::string_view sql) {
  std::vector<std::string> out;
  std::size_t start = 0;
  std::vector<std::string> leading_words;  // first words of the current statement (up to 3)
  bool in_trigger = false;
  int depth = 0;  // BEGIN/CASE ... END nesting inside a trigger body

  auto finish = [&](std::size_t end) {
    std::string_view piece = sql.substr(start, end - start);
    if (has_code(piece)) out.emplace_back(trim(piece));
    start = end + 1;
    leading_words.clear();
    in_trigger = false;
    depth = 0;
  };

  std::size_t i = 0;
  while (i < sql.size()) {
    char c = sql[i];
    if (c == '\'' || c == '"') {
      // Quoted literal or identifier; a doubled quote is an escaped quote.
      ++i;
      while (i < sql.size()) {
        if (sql[i] == c) {
          if (i + 1 < sql.size() && sql[i + 1] == c) {
            i += 2;
            continue;
          }
          break;
        }
        ++i;
      }
      ++i;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      while (i < sql.size() && sql[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      std::size_t end = sql.find("*/", i + 2);
      i = end == std::string_view::npos ? sql.size() : end + 2;
    } else if (c == '$' && (i == 0 || !is_word_char(sql[i - 1]))) {
      // $tag$ ... $tag$ (PostgreSQL dollar quoting); $1 placeholders are not tags.
      std::size_t j = i + 1;
      while (j < sql.size() && is_word_char(sql[j]) &&
             !(j == i + 1 && std::isdigit(static_cast<unsigned char>(sql[j])))) {
        ++j;
      }
      if (j < sql.size() && sql[j] == '$') {
        std::string_view tag = sql.substr(i, j - i + 1);
        std::size_t end = sql.find(tag, j + 1);
        i = end == std::string_view::npos ? sql.size() : end + tag.size();
      } else {
        ++i;
      }
    } else if (is_word_char(c)) {
      std::size_t j = i;
      while (j < sql.size() && is_word_char(sql[j])) ++j;
      std::string word = upper(sql.substr(i, j - i));
      if (leading_words.size() < 3) {
        leading_words.push_back(word);
        if (leading_words.size() >= 2 && leading_words[0] == "CREATE" && word == "TRIGGER" &&
            (leading_words.size() == 2 || leading_words[1] == "TEMP" || leading_words[1] == "TEMPORARY")) {
          in_trigger = true;
        }
      }
      if (in_trigger) {
        if (word == "BEGIN" || word == "CASE") ++depth;
        if (word == "END" && depth > 0) --depth;
      }
      i = j;
    } else if (c == ';') {
      if (in_trigger && depth > 0) {
        ++i;
      } else {
        finish(i);
        ++i;
      }
    } else {
      ++i;
    }
  }
  if (start < sql.size()) finish(sql.size());
  return out;
}

Status Tx::exec_script(std::string_view sql) {
  for (const std::string& statement : split_sql_script(sql)) {
    auto r = exec(statement);
    if (!r.ok()) return std::move(r).take_error();
  }
  return ok_status();
}

}  // namespace secplat::store
