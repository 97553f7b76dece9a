// Finds external tools by name on a search path: the process's PATH by default, or an explicit
// list (tests inject an empty one to see every tool as missing). Only absolute directories are
// searched, so a tool is never picked up from the working directory or the scanned tree.
//
// Threading: immutable after construction; find() may be called from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace secplat::scanners {

class ToolLocator {
 public:
  explicit ToolLocator(std::vector<std::string> dirs);

  // $PATH of this process ("/usr/local/bin:/usr/bin:/bin" when unset).
  static ToolLocator from_environment();

  // Absolute path of an executable regular file `name` in the first directory holding one.
  std::optional<std::string> find(std::string_view name) const;

  const std::vector<std::string>& dirs() const { return dirs_; }
  // The directories joined with ':' (the PATH given to children).
  std::string search_path() const;

 private:
  std::vector<std::string> dirs_;
};

}  // namespace secplat::scanners
