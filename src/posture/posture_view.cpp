#include "posture/posture_view.h"

#include <algorithm>
#include <cmath>

#include "core/json.h"
#include "posture/status_row.h"

namespace secplat::posture {
namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> split_list(const std::optional<std::string>& v) {
  std::vector<std::string> out;
  if (!v) return out;
  std::size_t start = 0;
  while (start <= v->size()) {
    std::size_t comma = v->find(',', start);
    if (comma == std::string::npos) comma = v->size();
    std::string part = v->substr(start, comma - start);
    auto b = part.find_first_not_of(" \t");
    auto e = part.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(lower(part.substr(b, e - b + 1)));
    start = comma + 1;
  }
  return out;
}

bool in(const std::vector<std::string>& set, const std::string& v) {
  return set.empty() || std::find(set.begin(), set.end(), lower(v)) != set.end();
}

}  // namespace

bool PostureFilter::matches(const PostureItem& it) const {
  return in(environment, it.environment) && in(criticality, it.criticality) && in(owner, it.owner.value_or("")) &&
         in(status, it.state.posture_state);
}

PostureFilter PostureFilter::from_query(const std::function<std::optional<std::string>(const char*)>& get) {
  PostureFilter f;
  f.environment = split_list(get("environment"));
  f.criticality = split_list(get("criticality"));
  f.owner = split_list(get("owner"));
  f.status = split_list(get("status"));
  return f;
}

const PostureItem* PostureSnapshot::find(const std::string& key) const {
  auto it = by_key.find(key);
  return it == by_key.end() ? nullptr : &items[it->second];
}

std::shared_ptr<const std::string> PostureSnapshot::render(const std::string& key,
                                                           const std::function<std::string()>& build) const {
  {
    std::lock_guard lk(mu_);
    if (auto it = rendered_.find(key); it != rendered_.end()) return it->second;
  }
  auto body = std::make_shared<const std::string>(build());
  std::lock_guard lk(mu_);
  if (rendered_.size() < 256) rendered_.emplace(key, body);  // bounded: filters are user input
  return body;
}

PostureSummary summarise(const std::vector<const PostureItem*>& items) {
  PostureSummary s;
  double sum = 0;
  int64_t n = 0;
  for (const auto* it : items) {
    const auto& st = it->state;
    if (st.posture_state == "green") ++s.green;
    else if (st.posture_state == "amber") ++s.amber;
    else ++s.red;
    if (st.posture_state == "red") s.down_assets.push_back(st.asset_key);
    if (st.flapping) s.flapping_assets.push_back(st.asset_key);
    sum += st.posture_score;
    ++n;
  }
  s.total = static_cast<int64_t>(items.size());
  if (n > 0) s.posture_score_avg = std::round(sum / double(n) * 10.0) / 10.0;
  return s;
}

Result<std::shared_ptr<const PostureSnapshot>> PostureView::snapshot() {
  const uint64_t gen = generation_.load();
  {
    std::lock_guard lk(mu_);
    if (current_ && built_generation_ == gen && steady_ms() - built_steady_ms_ < ttl_ms_) return current_;
  }
  std::lock_guard build_lock(build_mu_);
  {
    std::lock_guard lk(mu_);  // another reader may have rebuilt while we waited
    if (current_ && built_generation_ == generation_.load() && steady_ms() - built_steady_ms_ < ttl_ms_)
      return current_;
  }
  const uint64_t building = generation_.load();
  auto snap = build();
  if (!snap.ok()) return snap;
  std::lock_guard lk(mu_);
  current_ = *snap;
  built_generation_ = building;
  built_steady_ms_ = steady_ms();
  return current_;
}

Result<std::shared_ptr<const PostureSnapshot>> PostureView::build() {
  auto rows = db_.query(
      "SELECT s.*, a.asset_id AS asset_id, a.name AS name, a.owner AS owner, a.environment AS environment, "
      "a.criticality AS criticality, a.asset_type AS asset_type, a.probe AS probe "
      "FROM asset_status s JOIN assets a ON a.asset_key = s.asset_key WHERE a.is_active <> 0");
  if (!rows.ok()) return std::move(rows).take_error();
  auto snap = std::make_shared<PostureSnapshot>();
  snap->built_ms = clock_.now_ms();
  snap->items.reserve(rows->size());
  for (const auto& r : *rows) {
    PostureItem it;
    it.state = asset_state_from_row(r, false);
    const auto& s = it.state;
    it.asset_id = r.i64("asset_id");
    it.name = r.str("name");
    it.owner = r.opt_str("owner");
    it.environment = r.str("environment");
    it.criticality = normalise_criticality(r.str("criticality"));
    it.asset_type = r.str("asset_type");
    if (auto probe = r.opt_str("probe")) {
      Json p = Json::parse(*probe, nullptr, false);
      if (p.is_object() && p.contains("interval_seconds") && p["interval_seconds"].is_number_integer())
        it.interval_seconds = p["interval_seconds"].get<int64_t>();
    }
    it.staleness_seconds = s.last_seen_ms ? std::max<int64_t>(0, (snap->built_ms - *s.last_seen_ms) / 1000) : 0;
    snap->items.push_back(std::move(it));
  }
  std::sort(snap->items.begin(), snap->items.end(), [](const PostureItem& a, const PostureItem& b) {
    if (a.state.posture_score != b.state.posture_score) return a.state.posture_score < b.state.posture_score;
    return a.state.asset_key < b.state.asset_key;
  });
  for (std::size_t i = 0; i < snap->items.size(); ++i) snap->by_key[snap->items[i].state.asset_key] = i;
  return std::shared_ptr<const PostureSnapshot>(std::move(snap));
}

}  // namespace secplat::posture
