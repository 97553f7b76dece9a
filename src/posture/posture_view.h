// The read side of posture: derived asset states joined with their asset's attributes, as one
// immutable snapshot shared by every reader.
//
// The API never recomputes posture: a snapshot is one query over `asset_status ⋈ assets`, rebuilt
// at most once per `ttl_ms` (and at once after invalidate(), which the in-process deriver calls
// when it wrote). Readers get a shared_ptr to an immutable snapshot, so a rebuild never blocks them,
// and responses rendered from a snapshot can be cached on it (render()).
//
// Threading: all methods are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "posture/derive_rules.h"
#include "store/db.h"

namespace secplat::posture {

struct PostureItem {
  AssetState state;
  int64_t asset_id = 0;
  std::string name;
  std::optional<std::string> owner;
  std::string environment;
  std::string criticality;    // normalised high/medium/low
  std::string asset_type;
  int64_t interval_seconds = 60;  // probe interval (60 when not probed)
  int64_t staleness_seconds = 0;  // at snapshot time; 0 without any event
};

struct PostureFilter {
  std::vector<std::string> environment, criticality, owner, status;  // lower-cased; empty = any
  bool empty() const { return environment.empty() && criticality.empty() && owner.empty() && status.empty(); }
  bool matches(const PostureItem& item) const;
  // Reference syntax: each parameter a comma-separated list, trimmed, case-insensitive.
  static PostureFilter from_query(const std::function<std::optional<std::string>(const char*)>& get);
};

class PostureSnapshot {
 public:
  int64_t built_ms = 0;
  std::vector<PostureItem> items;  // worst first: posture_score asc, then asset_key
  std::map<std::string, std::size_t> by_key;

  const PostureItem* find(const std::string& asset_key) const;

  // Renders once per snapshot and key (e.g. the unfiltered list body), then serves the copy.
  std::shared_ptr<const std::string> render(const std::string& key, const std::function<std::string()>& build) const;

 private:
  mutable std::mutex mu_;
  mutable std::map<std::string, std::shared_ptr<const std::string>> rendered_;
};

struct PostureSummary {
  int64_t green = 0, amber = 0, red = 0;
  std::optional<double> posture_score_avg;   // 1 decimal; null without scores
  std::vector<std::string> down_assets;      // red asset keys
  std::vector<std::string> flapping_assets;
  int64_t total = 0;
};
PostureSummary summarise(const std::vector<const PostureItem*>& items);

class PostureView {
 public:
  PostureView(store::Db& db, const Clock& clock, int64_t ttl_ms = 1000) : db_(db), clock_(clock), ttl_ms_(ttl_ms) {}

  Result<std::shared_ptr<const PostureSnapshot>> snapshot();
  void invalidate() { generation_.fetch_add(1); }

 private:
  Result<std::shared_ptr<const PostureSnapshot>> build();

  store::Db& db_;
  const Clock& clock_;
  int64_t ttl_ms_;
  std::atomic<uint64_t> generation_{0};
  std::mutex mu_;        // guards current_ and built_generation_
  std::mutex build_mu_;  // one rebuild at a time
  std::shared_ptr<const PostureSnapshot> current_;
  uint64_t built_generation_ = 0;
  int64_t built_steady_ms_ = 0;
};

}  // namespace secplat::posture
