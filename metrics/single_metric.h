// SingleMetric: a Prometheus family of one series without labels, for a
// Collectable that builds its families at each scrape.
//
// Pure function; thread-safe.
#ifndef TCPINFO_METRICS_SINGLE_METRIC_H_
#define TCPINFO_METRICS_SINGLE_METRIC_H_

#include "prometheus/metric_family.h"

namespace metrics {

// A family `name` of `type` (Counter or Gauge) holding `value`.
prometheus::MetricFamily SingleMetric(const char* name, const char* help,
                                      prometheus::MetricType type,
                                      double value);

}  // namespace metrics

#endif  // TCPINFO_METRICS_SINGLE_METRIC_H_
