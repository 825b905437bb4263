// LabelledCounters: counter families that share one label set (e.g. bytes
// and packets by src, dst, service and proto), with a cap on how many label
// sets (series) exist, so that traffic from millions of peers cannot grow
// the exposition or the memory without bound.
//
//   Add(labels, values)  adds values[i] to family i's series for `labels`.
//                        A label set seen for the first time once
//                        max_series exist is added to the overflow series
//                        instead (every label value `overflow_value`,
//                        "other" by default), and the overflow counter
//                        (`overflow_name`, without labels) counts each such
//                        Add. The overflow series does not count against
//                        the cap. Series are never removed: counters only
//                        go up, as Prometheus expects.
//   Collect()            every family with all its series (label sets in
//                        first-seen order), and the overflow counter.
//
// Names are the scraped ones (e.g. "ntm_bytes_total"); values are exact up
// to 2^53 in the exposition (doubles), kept as uint64 here.
//
// Thread contract: Add from one thread at a time (the thread that sums the
// traffic); Collect from any thread (the scrape). Both hold one mutex only
// for O(series) copying of integers, never across I/O, so an Add waits at
// most that long.
#ifndef TCPINFO_METRICS_LABELLED_COUNTERS_H_
#define TCPINFO_METRICS_LABELLED_COUNTERS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace metrics {

struct LabelledCountersOptions {
  struct Family {
    std::string name;  // as scraped, e.g. "ntm_bytes_total"
    std::string help;
  };
  std::vector<Family> families;
  std::vector<std::string> label_names;
  size_t max_series = 1000;
  std::string overflow_value = "other";
  // Counts the Adds that went to the overflow series; "" for none.
  std::string overflow_name;
  std::string overflow_help;
};

class LabelledCounters : public prometheus::Collectable {
 public:
  explicit LabelledCounters(LabelledCountersOptions options);
  ~LabelledCounters() override;
  LabelledCounters(const LabelledCounters&) = delete;
  LabelledCounters& operator=(const LabelledCounters&) = delete;

  // REQUIRES: labels.size() == label_names.size() and
  // values.size() == families.size().
  void Add(absl::Span<const absl::string_view> labels,
           absl::Span<const uint64_t> values);

  // Series that exist (the overflow series included once it has a value).
  size_t series() const;
  uint64_t overflowed() const;

  // The value of family `family`'s series `labels`; 0 when it has none.
  uint64_t ValueForTest(size_t family,
                        absl::Span<const absl::string_view> labels) const;

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace metrics

#endif  // TCPINFO_METRICS_LABELLED_COUNTERS_H_
