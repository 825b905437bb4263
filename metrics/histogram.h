// Histogram and Counter: Prometheus histogram and counter values that the
// polling thread updates without locks or allocation (one atomic add per
// Increment, two per Observe), read by the scrape thread.
//
// prometheus::Histogram takes a mutex on every Observe; these do not. A
// scrape may see an observation's bucket before its sum; each scrape's
// _count is the sum of its buckets, so the exposition stays consistent.
//
// Thread-safe: any thread may update and read concurrently.
#ifndef TCPINFO_METRICS_HISTOGRAM_H_
#define TCPINFO_METRICS_HISTOGRAM_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "prometheus/client_metric.h"

namespace metrics {

class Counter {
 public:
  void Increment(uint64_t n = 1) {
    value_.fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Histogram {
 public:
  // `upper_bounds`: strictly increasing bucket bounds, without +Inf.
  explicit Histogram(std::vector<double> upper_bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Counts `value` in the first bucket whose bound is >= value (as Go's
  // client does), and adds it to the sum.
  void Observe(double value);

  const std::vector<double>& upper_bounds() const { return upper_bounds_; }
  uint64_t count() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

  // The histogram as prometheus-cpp exposes it: cumulative buckets, the
  // last one +Inf.
  prometheus::ClientMetric::Histogram Snapshot() const;

 private:
  const std::vector<double> upper_bounds_;
  // One more than the bounds: the last counts values above every bound.
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0};
};

// Go's prometheus.LinearBuckets(start, width, count): start, start+width,
// ... accumulated by repeated addition, so the bounds are the same doubles.
std::vector<double> LinearBuckets(double start, double width, int count);

}  // namespace metrics

#endif  // TCPINFO_METRICS_HISTOGRAM_H_
