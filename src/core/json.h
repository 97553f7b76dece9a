// nlohmann::json under a short name. Include only in .cpp files and headers that must hold JSON
// values; use <nlohmann/json_fwd.hpp> where a declaration is enough.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace secplat {
using Json = nlohmann::json;

// The strings of a JSON array kept as text (e.g. a `tags` column); anything else yields none.
inline std::vector<std::string> string_list_from_json(std::string_view text) {
  std::vector<std::string> out;
  Json j = Json::parse(text, nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& v : j)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}
}  // namespace secplat
