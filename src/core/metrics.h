// A small Prometheus registry (text exposition format 0.0.4).
//
// Series are created once (counter()/gauge()/histogram() return a reference that stays valid for the
// registry's lifetime) and then updated lock-free, so hot paths look a series up once and keep the
// reference. Threading: every member function may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace secplat {

// Label name → value, in the order they are rendered.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(double v = 1.0) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void inc(double v = 1.0) { value_.fetch_add(v, std::memory_order_relaxed); }
  void dec(double v = 1.0) { value_.fetch_sub(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Fixed upper bounds (ascending, +Inf implied). Observations are usually seconds.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // Non-cumulative count of bucket i (i == bounds().size() is the +Inf overflow bucket).
  uint64_t bucket_count(std::size_t i) const { return counts_[i].load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
};

// Default latency buckets in seconds (1 ms .. 10 s).
std::vector<double> default_latency_buckets();

class Metrics {
 public:
  Metrics() = default;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Get-or-create. The first call for a name fixes its help text and type (and, for histograms, its
  // buckets); asking for the same name with another type aborts, as that is a programming error.
  Counter& counter(std::string_view name, std::string_view help, const MetricLabels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const MetricLabels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, const std::vector<double>& bounds,
                       const MetricLabels& labels = {});

  // For values computed at scrape time; the collector appends complete exposition lines
  // (including its own # HELP / # TYPE) to `out`. Called from render(), on the scraping thread.
  void add_collector(std::function<void(std::string& out)> collector);

  // Text format 0.0.4: families sorted by name, series by label set, then collector output.
  std::string render() const;

 private:
  enum class Type { counter, gauge, histogram };
  struct Series {
    MetricLabels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    std::string help;
    Type type;
    std::vector<double> bounds;
    std::map<std::string, Series> series;  // key: rendered label set
  };
  Series& series_for(std::string_view name, std::string_view help, Type type, const MetricLabels& labels,
                     const std::vector<double>* bounds);

  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;
  std::vector<std::function<void(std::string&)>> collectors_;
};

// Renders a label set as `{a="x",b="y"}` ("" when empty), escaping values per the text format.
std::string render_labels(const MetricLabels& labels);
// Renders a sample value the way Prometheus expects (shortest round-trip, +Inf/-Inf/NaN).
std::string render_metric_value(double v);

}  // namespace secplat
