// ProcessCollector: the standard process_* families Go's client exposes
// (prometheus-cpp has none), read from /proc at each scrape:
//
//   process_cpu_seconds_total         user + system CPU time, s (counter)
//   process_resident_memory_bytes     resident set size
//   process_virtual_memory_bytes      virtual memory size
//   process_open_fds                  entries in /proc/self/fd
//   process_max_fds                   RLIMIT_NOFILE soft limit
//   process_start_time_seconds        start time, unix seconds
//
// Thread-safe (stateless); scrapes may run concurrently. A value that
// cannot be read is left out of the scrape rather than reported as 0.
#ifndef TCPINFO_METRICS_PROCESS_METRICS_H_
#define TCPINFO_METRICS_PROCESS_METRICS_H_

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace metrics {

struct ProcessStats {
  double cpu_seconds = 0;
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double start_time_seconds = 0;
  std::optional<double> open_fds;
  std::optional<double> max_fds;
};

// Parses the text of /proc/<pid>/stat given the clock ticks per second, the
// page size and the boot time (btime of /proc/stat, unix seconds).
absl::StatusOr<ProcessStats> ParseProcStat(absl::string_view stat,
                                           long ticks_per_second,
                                           long page_size,
                                           double boot_time_seconds);

// This process's stats, read now.
absl::StatusOr<ProcessStats> ReadProcessStats();

class ProcessCollector : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace metrics

#endif  // TCPINFO_METRICS_PROCESS_METRICS_H_
