#include "core/metrics.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace secplat {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<double> default_latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::string render_metric_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

std::string render_labels(const MetricLabels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out.push_back(',');
    first = false;
    out += k;
    out += "=\"";
    for (char c : v) {
      if (c == '\\') out += "\\\\";
      else if (c == '"') out += "\\\"";
      else if (c == '\n') out += "\\n";
      else out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

Metrics::Series& Metrics::series_for(std::string_view name, std::string_view help, Type type,
                                     const MetricLabels& labels, const std::vector<double>* bounds) {
  std::lock_guard lk(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) {
    Family f{std::string(help), type, bounds ? *bounds : std::vector<double>{}, {}};
    it = families_.emplace(std::string(name), std::move(f)).first;
  }
  Family& fam = it->second;
  if (fam.type != type) {
    std::fprintf(stderr, "metric %.*s registered with two types\n", static_cast<int>(name.size()), name.data());
    std::abort();
  }
  std::string key = render_labels(labels);
  auto sit = fam.series.find(key);
  if (sit == fam.series.end()) {
    Series s;
    s.labels = labels;
    switch (type) {
      case Type::counter: s.counter = std::make_unique<Counter>(); break;
      case Type::gauge: s.gauge = std::make_unique<Gauge>(); break;
      case Type::histogram: s.histogram = std::make_unique<Histogram>(fam.bounds); break;
    }
    sit = fam.series.emplace(std::move(key), std::move(s)).first;
  }
  return sit->second;
}

Counter& Metrics::counter(std::string_view name, std::string_view help, const MetricLabels& labels) {
  return *series_for(name, help, Type::counter, labels, nullptr).counter;
}

Gauge& Metrics::gauge(std::string_view name, std::string_view help, const MetricLabels& labels) {
  return *series_for(name, help, Type::gauge, labels, nullptr).gauge;
}

Histogram& Metrics::histogram(std::string_view name, std::string_view help, const std::vector<double>& bounds,
                              const MetricLabels& labels) {
  return *series_for(name, help, Type::histogram, labels, &bounds).histogram;
}

void Metrics::add_collector(std::function<void(std::string& out)> collector) {
  std::lock_guard lk(mu_);
  collectors_.push_back(std::move(collector));
}

namespace {
void append_help(std::string& out, const std::string& name, const std::string& help) {
  out += "# HELP ";
  out += name;
  out.push_back(' ');
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  out.push_back('\n');
}
}  // namespace

std::string Metrics::render() const {
  std::string out;
  std::vector<std::function<void(std::string&)>> collectors;
  {
    std::lock_guard lk(mu_);
    for (const auto& [name, fam] : families_) {
      append_help(out, name, fam.help);
      out += "# TYPE " + name + (fam.type == Type::counter ? " counter\n"
                                 : fam.type == Type::gauge ? " gauge\n"
                                                           : " histogram\n");
      for (const auto& [key, s] : fam.series) {
        if (s.counter) {
          out += name + key + ' ' + render_metric_value(s.counter->value()) + '\n';
        } else if (s.gauge) {
          out += name + key + ' ' + render_metric_value(s.gauge->value()) + '\n';
        } else {
          const Histogram& h = *s.histogram;
          uint64_t cumulative = 0;
          for (std::size_t i = 0; i <= h.bounds().size(); ++i) {
            cumulative += h.bucket_count(i);
            MetricLabels l = s.labels;
            l.emplace_back("le", i < h.bounds().size() ? render_metric_value(h.bounds()[i]) : "+Inf");
            out += name + "_bucket" + render_labels(l) + ' ' + std::to_string(cumulative) + '\n';
          }
          out += name + "_sum" + key + ' ' + render_metric_value(h.sum()) + '\n';
          out += name + "_count" + key + ' ' + std::to_string(h.count()) + '\n';
        }
      }
    }
    collectors = collectors_;
  }
  for (const auto& c : collectors) c(out);
  return out;
}

}  // namespace secplat
