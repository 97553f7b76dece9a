// nlohmann::json under a short name. Include only in .cpp files and headers that must hold JSON
// values; use <nlohmann/json_fwd.hpp> where a declaration is enough.
#pragma once

#include <nlohmann/json.hpp>

namespace secplat {
using Json = nlohmann::json;
}  // namespace secplat
