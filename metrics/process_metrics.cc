#include "metrics/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "metrics/single_metric.h"

namespace metrics {

namespace {

std::optional<std::string> ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<double> BootTimeSeconds() {
  auto stat = ReadFile("/proc/stat");
  if (!stat) return std::nullopt;
  for (absl::string_view line : absl::StrSplit(*stat, '\n')) {
    if (absl::ConsumePrefix(&line, "btime ")) {
      double btime;
      if (absl::SimpleAtod(line, &btime)) return btime;
    }
  }
  return std::nullopt;
}

std::optional<double> CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  double count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count;
}

std::optional<double> MaxFds() {
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
  return static_cast<double>(limit.rlim_cur);
}

}  // namespace

absl::StatusOr<ProcessStats> ParseProcStat(absl::string_view stat,
                                           long ticks_per_second,
                                           long page_size,
                                           double boot_time_seconds) {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
  // fields are counted from the last ')'.
  const size_t paren = stat.rfind(')');
  if (paren == absl::string_view::npos) {
    return absl::InvalidArgumentError("no ')' in /proc/self/stat");
  }
  std::vector<absl::string_view> fields =
      absl::StrSplit(stat.substr(paren + 1), ' ', absl::SkipWhitespace());
  // fields[0] is field 3 (state); field n is fields[n - 3].
  auto field = [&fields](int n, double* value) {
    return n - 3 < static_cast<int>(fields.size()) &&
           absl::SimpleAtod(fields[n - 3], value);
  };
  double utime, stime, starttime, vsize, rss;
  if (!field(14, &utime) || !field(15, &stime) || !field(22, &starttime) ||
      !field(23, &vsize) || !field(24, &rss)) {
    return absl::InvalidArgumentError("short /proc/self/stat");
  }
  ProcessStats s;
  s.cpu_seconds = (utime + stime) / static_cast<double>(ticks_per_second);
  s.start_time_seconds =
      boot_time_seconds + starttime / static_cast<double>(ticks_per_second);
  s.virtual_bytes = vsize;
  s.resident_bytes = rss * static_cast<double>(page_size);
  return s;
}

absl::StatusOr<ProcessStats> ReadProcessStats() {
  auto stat = ReadFile("/proc/self/stat");
  auto boot = BootTimeSeconds();
  if (!stat || !boot) {
    return absl::UnavailableError("cannot read /proc/self/stat or btime");
  }
  auto s =
      ParseProcStat(*stat, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE), *boot);
  if (!s.ok()) return s.status();
  s->open_fds = CountOpenFds();
  s->max_fds = MaxFds();
  return s;
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  auto s = ReadProcessStats();
  if (!s.ok()) return out;
  out.push_back(SingleMetric("process_cpu_seconds_total",
                             "Total user and system CPU time spent in seconds.",
                             MetricType::Counter, s->cpu_seconds));
  if (s->max_fds) {
    out.push_back(SingleMetric("process_max_fds",
                               "Maximum number of open file descriptors.",
                               MetricType::Gauge, *s->max_fds));
  }
  if (s->open_fds) {
    out.push_back(SingleMetric("process_open_fds",
                               "Number of open file descriptors.",
                               MetricType::Gauge, *s->open_fds));
  }
  out.push_back(SingleMetric("process_resident_memory_bytes",
                             "Resident memory size in bytes.",
                             MetricType::Gauge, s->resident_bytes));
  out.push_back(
      SingleMetric("process_start_time_seconds",
                   "Start time of the process since unix epoch in seconds.",
                   MetricType::Gauge, s->start_time_seconds));
  out.push_back(SingleMetric("process_virtual_memory_bytes",
                             "Virtual memory size in bytes.", MetricType::Gauge,
                             s->virtual_bytes));
  return out;
}

}  // namespace metrics
