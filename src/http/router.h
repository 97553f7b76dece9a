// Maps (method, raw path) to a route of the table and its path parameters.
//
// Templates are split on '/'; a `{name}` segment matches exactly one non-empty segment. When several
// templates match, the one with a literal at the first differing segment wins (so /users/me beats
// /users/{name}), whatever the registration order. Paths are percent-decoded per segment (so %2F
// stays inside its segment) and must decode to valid UTF-8.
// Threading: immutable after construction; find() may be called from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "http/route.h"

namespace secplat::http {

struct RouteMatch {
  enum class Outcome { found, not_found, method_not_allowed, bad_path };
  Outcome outcome = Outcome::not_found;
  std::size_t index = 0;  // into the route table, when found
  const Route* route = nullptr;  // when found
  std::vector<std::pair<std::string, std::string>> params;
  std::string path;       // decoded path (found / not_found / method_not_allowed)
  std::string allow;      // for method_not_allowed: "GET, POST"
  std::string matched_template;  // for method_not_allowed: a template the path matched
};

class Router {
 public:
  explicit Router(std::vector<Route> routes);

  // raw_path is the target without its query string.
  RouteMatch find(std::string_view method, std::string_view raw_path) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  struct Segment {
    std::string text;  // literal text, or the parameter name
    bool is_param = false;
  };
  struct Compiled {
    std::vector<Segment> segments;
  };

  std::vector<Route> routes_;
  std::vector<Compiled> compiled_;  // parallel to routes_
  // The routes a path can match, by its first segment: those whose template starts with that
  // literal together with those starting with a parameter (or with no segment, "/"), which alone
  // are the candidates of any other first segment. Indexes ascending.
  std::unordered_map<std::string, std::vector<std::size_t>> by_first_literal_;
  std::vector<std::size_t> other_first_;
};

// Splits "/a/b%20c" into decoded segments {"a","b c"}; false on a bad escape or invalid UTF-8.
bool decode_path_segments(std::string_view raw_path, std::vector<std::string>& out);

}  // namespace secplat::http
