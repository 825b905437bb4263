#include "metrics/labelled_counters.h"

#include <mutex>
#include <utility>

#include "absl/container/flat_hash_map.h"

namespace metrics {

namespace {

// A label set as one map key: its values joined by a byte no label value
// holds in practice, with each value's length first so that no two sets
// share a key.
std::string KeyOf(absl::Span<const absl::string_view> labels) {
  std::string key;
  for (absl::string_view v : labels) {
    key += std::to_string(v.size());
    key += ':';
    key.append(v.data(), v.size());
  }
  return key;
}

}  // namespace

struct LabelledCounters::Rep {
  LabelledCountersOptions options;
  mutable std::mutex mu;
  absl::flat_hash_map<std::string, size_t> index;  // key -> series number
  // Per series: its label values, then one value per family.
  std::vector<std::vector<std::string>> labels;
  std::vector<std::vector<uint64_t>> values;
  // The overflow series' number, or -1 until it has a value.
  ptrdiff_t overflow_series = -1;
  uint64_t overflowed = 0;
  size_t capped_series = 0;  // series that count against the cap

  size_t NewSeries(absl::Span<const absl::string_view> values_of_labels) {
    labels.emplace_back(values_of_labels.begin(), values_of_labels.end());
    values.emplace_back(options.families.size(), 0);
    return labels.size() - 1;
  }
};

LabelledCounters::LabelledCounters(LabelledCountersOptions options)
    : rep_(std::make_unique<Rep>()) {
  rep_->options = std::move(options);
}

LabelledCounters::~LabelledCounters() = default;

void LabelledCounters::Add(absl::Span<const absl::string_view> labels,
                           absl::Span<const uint64_t> values) {
  Rep& r = *rep_;
  std::string key = KeyOf(labels);
  std::lock_guard<std::mutex> lock(r.mu);
  size_t series;
  const auto it = r.index.find(key);
  if (it != r.index.end()) {
    series = it->second;
  } else if (r.capped_series < r.options.max_series) {
    series = r.NewSeries(labels);
    r.index.emplace(std::move(key), series);
    ++r.capped_series;
  } else {
    ++r.overflowed;
    if (r.overflow_series < 0) {
      const std::vector<absl::string_view> other(r.options.label_names.size(),
                                                 r.options.overflow_value);
      r.overflow_series = static_cast<ptrdiff_t>(r.NewSeries(other));
    }
    series = static_cast<size_t>(r.overflow_series);
  }
  std::vector<uint64_t>& v = r.values[series];
  for (size_t i = 0; i < v.size() && i < values.size(); ++i) v[i] += values[i];
}

size_t LabelledCounters::series() const {
  std::lock_guard<std::mutex> lock(rep_->mu);
  return rep_->labels.size();
}

uint64_t LabelledCounters::overflowed() const {
  std::lock_guard<std::mutex> lock(rep_->mu);
  return rep_->overflowed;
}

uint64_t LabelledCounters::ValueForTest(
    size_t family, absl::Span<const absl::string_view> labels) const {
  std::lock_guard<std::mutex> lock(rep_->mu);
  for (size_t s = 0; s < rep_->labels.size(); ++s) {
    const std::vector<std::string>& l = rep_->labels[s];
    if (l.size() != labels.size()) continue;
    bool same = true;
    for (size_t i = 0; i < l.size() && same; ++i) same = l[i] == labels[i];
    if (same) return rep_->values[s][family];
  }
  return 0;
}

std::vector<prometheus::MetricFamily> LabelledCounters::Collect() const {
  const Rep& r = *rep_;
  std::vector<std::vector<std::string>> labels;
  std::vector<std::vector<uint64_t>> values;
  uint64_t overflowed;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    labels = r.labels;
    values = r.values;
    overflowed = r.overflowed;
  }
  std::vector<prometheus::MetricFamily> out;
  for (size_t f = 0; f < r.options.families.size(); ++f) {
    prometheus::MetricFamily family;
    family.name = r.options.families[f].name;
    family.help = r.options.families[f].help;
    family.type = prometheus::MetricType::Counter;
    for (size_t s = 0; s < labels.size(); ++s) {
      prometheus::ClientMetric m;
      for (size_t i = 0; i < r.options.label_names.size(); ++i) {
        m.label.push_back({r.options.label_names[i], labels[s][i]});
      }
      m.counter.value = static_cast<double>(values[s][f]);
      family.metric.push_back(std::move(m));
    }
    out.push_back(std::move(family));
  }
  if (!r.options.overflow_name.empty()) {
    prometheus::MetricFamily family;
    family.name = r.options.overflow_name;
    family.help = r.options.overflow_help;
    family.type = prometheus::MetricType::Counter;
    prometheus::ClientMetric m;
    m.counter.value = static_cast<double>(overflowed);
    family.metric.push_back(std::move(m));
    out.push_back(std::move(family));
  }
  return out;
}

}  // namespace metrics
