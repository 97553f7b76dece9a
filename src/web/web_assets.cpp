#include "web/web_assets.h"

#include <algorithm>

namespace secplat::web {

const WebAsset* find_web_asset(std::string_view path) {
  auto table = web_asset_table();
  auto it = std::lower_bound(table.begin(), table.end(), path,
                             [](const WebAsset& a, std::string_view p) { return a.path < p; });
  if (it == table.end() || it->path != path) return nullptr;
  return &*it;
}

}  // namespace secplat::web
