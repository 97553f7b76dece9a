#include "scanners/tools/tool_locator.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

namespace secplat::scanners {

ToolLocator::ToolLocator(std::vector<std::string> dirs) {
  for (auto& d : dirs)
    if (!d.empty() && d[0] == '/') dirs_.push_back(std::move(d));
}

ToolLocator ToolLocator::from_environment() {
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::vector<std::string> dirs;
  std::size_t start = 0;
  while (start <= p.size()) {
    std::size_t colon = p.find(':', start);
    if (colon == std::string::npos) colon = p.size();
    dirs.push_back(p.substr(start, colon - start));
    start = colon + 1;
  }
  return ToolLocator(std::move(dirs));
}

std::optional<std::string> ToolLocator::find(std::string_view name) const {
  if (name.empty() || name.find('/') != std::string_view::npos) return std::nullopt;
  for (const auto& d : dirs_) {
    std::string candidate = d + (d.back() == '/' ? "" : "/") + std::string(name);
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return std::nullopt;
}

std::string ToolLocator::search_path() const {
  std::string out;
  for (const auto& d : dirs_) out += (out.empty() ? "" : ":") + d;
  return out;
}

}  // namespace secplat::scanners
