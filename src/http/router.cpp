#include "http/router.h"

#include <algorithm>
#include <iterator>

#include "core/encoding.h"

namespace secplat::http {

namespace {
std::vector<std::string_view> split_segments(std::string_view p) {
  std::vector<std::string_view> out;
  if (!p.empty() && p.front() == '/') p.remove_prefix(1);
  if (p.empty()) return out;  // "/" has no segments
  std::size_t start = 0;
  for (;;) {
    std::size_t slash = p.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(p.substr(start));
      break;
    }
    out.push_back(p.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}
}  // namespace

bool decode_path_segments(std::string_view raw_path, std::vector<std::string>& out) {
  out.clear();
  for (std::string_view seg : split_segments(raw_path)) {
    if (seg.find('%') == std::string_view::npos) {
      if (!is_valid_utf8(seg)) return false;
      out.emplace_back(seg);
      continue;
    }
    auto decoded = url_decode(seg, false);
    if (!decoded || !is_valid_utf8(*decoded)) return false;
    out.push_back(std::move(*decoded));
  }
  return true;
}

Router::Router(std::vector<Route> routes) : routes_(std::move(routes)) {
  compiled_.reserve(routes_.size());
  for (const Route& r : routes_) {
    Compiled c;
    for (std::string_view seg : split_segments(r.path)) {
      Segment s;
      if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}') {
        s.is_param = true;
        s.text = std::string(seg.substr(1, seg.size() - 2));
      } else {
        s.text = std::string(seg);
      }
      c.segments.push_back(std::move(s));
    }
    const std::size_t index = compiled_.size();
    if (!c.segments.empty() && !c.segments.front().is_param) {
      by_first_literal_[c.segments.front().text].push_back(index);
    } else {
      other_first_.push_back(index);
    }
    compiled_.push_back(std::move(c));
  }
  // Each literal's list also holds the parameter-first routes, in table order (ties go to the earlier).
  for (auto& [first, indexes] : by_first_literal_) {
    std::vector<std::size_t> merged;
    merged.reserve(indexes.size() + other_first_.size());
    std::merge(indexes.begin(), indexes.end(), other_first_.begin(), other_first_.end(), std::back_inserter(merged));
    indexes = std::move(merged);
  }
}

RouteMatch Router::find(std::string_view method, std::string_view raw_path) const {
  RouteMatch m;
  std::vector<std::string> segs;
  if (!decode_path_segments(raw_path, segs)) {
    m.outcome = RouteMatch::Outcome::bad_path;
    return m;
  }
  std::size_t len = 1;
  for (const auto& s : segs) len += s.size() + 1;
  m.path.reserve(len);
  for (const auto& s : segs) {
    m.path.push_back('/');
    m.path.append(s.data(), s.size());
  }
  if (m.path.empty()) m.path.push_back('/');
  // Specificity: bit i set when segment i is a literal; higher (earlier literal) wins.
  auto matches = [&](const Compiled& c) {
    if (c.segments.size() != segs.size()) return false;
    for (std::size_t i = 0; i < segs.size(); ++i) {
      const Segment& s = c.segments[i];
      if (s.is_param ? segs[i].empty() : s.text != segs[i]) return false;
    }
    return true;
  };
  auto more_specific = [](const Compiled& a, const Compiled& b) {
    for (std::size_t i = 0; i < a.segments.size(); ++i)
      if (a.segments[i].is_param != b.segments[i].is_param) return !a.segments[i].is_param;
    return false;
  };

  const Compiled* best = nullptr;
  std::size_t best_index = 0;
  const Compiled* other_best = nullptr;
  std::vector<std::string_view> allowed;
  // Only the routes that can match this first segment.
  const std::vector<std::size_t>* candidates = &other_first_;
  if (!segs.empty())
    if (auto it = by_first_literal_.find(segs.front()); it != by_first_literal_.end()) candidates = &it->second;
  for (const std::size_t i : *candidates) {
    const Compiled& c = compiled_[i];
    if (!matches(c)) continue;
    if (routes_[i].method == method) {
      if (!best || more_specific(c, *best)) {
        best = &c;
        best_index = i;
      }
    } else {
      if (std::find(allowed.begin(), allowed.end(), routes_[i].method) == allowed.end())
        allowed.push_back(routes_[i].method);
      if (!other_best || more_specific(c, *other_best)) {
        other_best = &c;
        m.matched_template = routes_[i].path;
      }
    }
  }

  if (best) {
    m.outcome = RouteMatch::Outcome::found;
    m.index = best_index;
    m.route = &routes_[best_index];
    for (std::size_t i = 0; i < segs.size(); ++i)
      if (best->segments[i].is_param) m.params.emplace_back(best->segments[i].text, std::move(segs[i]));
  } else if (!allowed.empty()) {
    m.outcome = RouteMatch::Outcome::method_not_allowed;
    std::sort(allowed.begin(), allowed.end());
    for (std::size_t i = 0; i < allowed.size(); ++i) {
      if (i) m.allow += ", ";
      m.allow += allowed[i];
    }
  } else {
    m.outcome = RouteMatch::Outcome::not_found;
  }
  return m;
}

}  // namespace secplat::http
