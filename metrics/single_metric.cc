#include "metrics/single_metric.h"

#include <utility>

#include "prometheus/client_metric.h"

namespace metrics {

prometheus::MetricFamily SingleMetric(const char* name, const char* help,
                                      prometheus::MetricType type,
                                      double value) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  return f;
}

}  // namespace metrics
