#include "metrics/metrics.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "metrics/labelled_counters.h"
#include "prometheus/metric_family.h"

namespace metrics {

namespace {

// The reference's bounds (m-lab/tcp-info metrics/metrics.go).
std::vector<double> SyscallTimeBounds() {
  return {0.001,  0.00125, 0.0016, 0.002,  0.0025, 0.0032, 0.004, 0.005,
          0.0063, 0.0079,  0.01,   0.0125, 0.016,  0.02,   0.025, 0.032,
          0.04,   0.05,    0.063,  0.079,  0.1,    0.125,  0.16,  0.2};
}

std::vector<double> CountBounds() {
  return {1,     2,     3,     4,     5,     6,     8,     10,
          12.5,  16,    20,    25,    32,    40,    50,    63,
          79,    100,   125,   160,   200,   250,   320,   400,
          500,   630,   790,   1000,  1250,  1600,  2000,  2500,
          3200,  4000,  5000,  6300,  7900,  10000, 12500, 16000,
          20000, 25000, 32000, 40000, 50000, 63000, 79000, 10000000};
}

std::vector<double> RateBounds() {
  return {0,          1,          10,         100,        1000,
          1580,       2510,       3980,       6310,       10000,
          15800,      25100,      39800,      63100,      100000,
          158000,     251000,     398000,     631000,     1000000,
          1580000,    2510000,    3980000,    6310000,    10000000,
          15800000,   25100000,   39800000,   63100000,   100000000,
          158000000,  251000000,  398000000,  631000000,  1000000000,
          1260000000, 1580000000, 2000000000, 2510000000, 3160000000,
          3980000000, 5010000000, 6310000000, 7940000000, 10000000000};
}

prometheus::ClientMetric::Label Label(std::string name, std::string value) {
  return {std::move(name), std::move(value)};
}

const char* AfName(int af) { return af == 0 ? "ipv4" : "ipv6"; }

// Counters of one family keyed by one label's values, in creation order.
class LabeledCounters {
 public:
  Counter& Get(absl::string_view value) {
    std::lock_guard<std::mutex> lock(mu_);
    for (Entry& e : entries_) {
      if (e.value == value) return e.counter;
    }
    return entries_.emplace_back(value).counter;
  }
  void AppendTo(const std::string& label, prometheus::MetricFamily* family) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Entry& e : entries_) {
      prometheus::ClientMetric m;
      m.label.push_back(Label(label, e.value));
      m.counter.value = static_cast<double>(e.counter.value());
      family->metric.push_back(std::move(m));
    }
  }

 private:
  struct Entry {
    explicit Entry(absl::string_view v) : value(v) {}
    std::string value;
    Counter counter;
  };
  std::mutex mu_;
  std::deque<Entry> entries_;  // stable addresses
};

}  // namespace

class Metrics::Families : public prometheus::Collectable {
 public:
  explicit Families(absl::string_view version)
      : version(version),
        syscall_time{Histogram(SyscallTimeBounds()),
                     Histogram(SyscallTimeBounds())},
        polling_interval(LinearBuckets(0, 0.001, 30)),
        connection_count{Histogram(CountBounds()), Histogram(CountBounds())},
        cache_count(CountBounds()),
        send_rate(RateBounds()),
        receive_rate(RateBounds()) {
    flow_open = &flow_events.Get("open");
    flow_close = &flow_events.Get("close");
  }

  std::vector<prometheus::MetricFamily> Collect() const override;

  std::string version;
  Histogram syscall_time[2];
  Histogram polling_interval;
  Histogram connection_count[2];
  Histogram cache_count;
  Histogram send_rate;
  Histogram receive_rate;
  Counter snapshots;
  Counter new_files;
  mutable LabeledCounters flow_events;
  Counter* flow_open;  // resolved once: no lock on the hot path
  Counter* flow_close;
  // -netns: flow events by event and namespace, instead of flow_events.
  std::unique_ptr<LabelledCounters> flow_events_by_netns;
  mutable LabeledCounters errors;
  mutable LabeledCounters large_netlink;
  mutable LabeledCounters netlink_skipped;
  std::atomic<int> destroy_events_enabled{0};
  Counter destroy_events;
  Counter destroy_event_archives;
  Counter destroy_events_lost;
  Counter full_dumps;
  Counter exact_requests;
  Counter exact_gone;
  Counter poll_fallbacks;
};

namespace {

prometheus::MetricFamily Family(const char* name, const char* help,
                                prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

prometheus::ClientMetric HistogramMetric(const Histogram& h,
                                         const char* af = nullptr) {
  prometheus::ClientMetric m;
  if (af != nullptr) m.label.push_back(Label("af", af));
  m.histogram = h.Snapshot();
  return m;
}

prometheus::ClientMetric CounterMetric(const Counter& c) {
  prometheus::ClientMetric m;
  m.counter.value = static_cast<double>(c.value());
  return m;
}

}  // namespace

std::vector<prometheus::MetricFamily> Metrics::Families::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;

  auto af_histogram = [&out](const char* name, const char* help,
                             const Histogram(&h)[2]) {
    auto f = Family(name, help, MetricType::Histogram);
    for (int af = 0; af < 2; ++af) {
      f.metric.push_back(HistogramMetric(h[af], AfName(af)));
    }
    out.push_back(std::move(f));
  };
  auto histogram = [&out](const char* name, const char* help,
                          const Histogram& h) {
    auto f = Family(name, help, MetricType::Histogram);
    f.metric.push_back(HistogramMetric(h));
    out.push_back(std::move(f));
  };
  auto counter = [&out](const char* name, const char* help, const Counter& c) {
    auto f = Family(name, help, MetricType::Counter);
    f.metric.push_back(CounterMetric(c));
    out.push_back(std::move(f));
  };
  auto labeled = [&out](const char* name, const char* help,
                        LabeledCounters& counters) {
    auto f = Family(name, help, MetricType::Counter);
    counters.AppendTo("type", &f);
    if (!f.metric.empty()) out.push_back(std::move(f));
  };

  histogram("tcpinfo_cache_count_histogram", "cache connection count histogram",
            cache_count);
  af_histogram("tcpinfo_connection_count_histogram",
               "connection count histogram", connection_count);
  if (flow_events_by_netns != nullptr) {
    for (prometheus::MetricFamily& f : flow_events_by_netns->Collect()) {
      out.push_back(std::move(f));
    }
  } else {
    auto f =
        Family("tcpinfo_flow_events_total",
               "Number of flow events by event type.", MetricType::Counter);
    flow_events.AppendTo("event", &f);
    out.push_back(std::move(f));
  }
  counter("tcpinfo_new_file_total", "Number of files created.", new_files);
  histogram("tcpinfo_polling_interval_histogram",
            "netlink polling interval distribution (seconds)",
            polling_interval);
  histogram("tcpinfo_receive_rate_histogram", "receive rate histogram",
            receive_rate);
  histogram("tcpinfo_send_rate_histogram", "send rate histogram", send_rate);
  counter("tcpinfo_snapshot_total", "Number of snapshots taken.", snapshots);
  af_histogram("tcpinfo_syscall_time_histogram",
               "netlink syscall latency distribution (seconds)", syscall_time);
  labeled("tcpinfo_error_total", "The total number of errors encountered.",
          errors);
  labeled("large_netlink_total", "Number of oversize netlink messages.",
          large_netlink);
  labeled("netlink_skipped_total", "Number of skipped netlink messages.",
          netlink_skipped);
  {
    auto f = Family("tcpinfo_destroy_events_enabled",
                    "1 when the kernel's TCP socket destroy events are "
                    "received (needs CAP_NET_ADMIN), else 0.",
                    MetricType::Gauge);
    prometheus::ClientMetric m;
    m.gauge.value = destroy_events_enabled.load(std::memory_order_relaxed);
    f.metric.push_back(std::move(m));
    out.push_back(std::move(f));
  }
  counter("tcpinfo_destroy_events_total",
          "Number of TCP socket destroy events received from the kernel.",
          destroy_events);
  counter("tcpinfo_destroy_event_archives_total",
          "Number of archives created from a destroy event alone (connections "
          "no poll saw).",
          destroy_event_archives);
  counter("tcpinfo_destroy_events_lost_total",
          "Number of times the kernel dropped destroy events (ENOBUFS).",
          destroy_events_lost);
  counter("tcpinfo_poll_full_dumps_total",
          "Number of polling cycles that dumped every TCP socket.", full_dumps);
  counter("tcpinfo_poll_exact_requests_total",
          "Number of exact inet_diag requests (one socket each) sent by "
          "adaptive polling.",
          exact_requests);
  counter("tcpinfo_poll_exact_gone_total",
          "Number of exact inet_diag requests answered: no such socket.",
          exact_gone);
  counter("tcpinfo_poll_fallbacks_total",
          "Number of exact-request cycles that fell back to a full dump (a "
          "truncated, lost or refused reply).",
          poll_fallbacks);
  {
    auto f = Family("tcpinfo_build_info",
                    "A metric with a constant '1' value labeled by the "
                    "version of tcp-info that is running.",
                    MetricType::Gauge);
    prometheus::ClientMetric m;
    m.label.push_back(Label("version", version));
    m.gauge.value = 1;
    f.metric.push_back(std::move(m));
    out.push_back(std::move(f));
  }
  return out;
}

Metrics::Metrics(absl::string_view version)
    : families_(std::make_shared<Families>(version)),
      rates_(std::make_unique<RateTracker>(&families_->send_rate,
                                           &families_->receive_rate)) {}

Metrics::~Metrics() = default;

void Metrics::ObserveSyscallTime(AddressFamily af, double seconds) {
  families_->syscall_time[static_cast<int>(af)].Observe(seconds);
}
void Metrics::ObservePollingInterval(double seconds) {
  families_->polling_interval.Observe(seconds);
}
void Metrics::ObserveConnectionCount(AddressFamily af, size_t connections) {
  families_->connection_count[static_cast<int>(af)].Observe(
      static_cast<double>(connections));
}
void Metrics::ObserveCacheCount(size_t connections) {
  families_->cache_count.Observe(static_cast<double>(connections));
}
void Metrics::CountSnapshots(uint64_t n) { families_->snapshots.Increment(n); }
void Metrics::CountNewFiles(uint64_t n) { families_->new_files.Increment(n); }
void Metrics::CountFlowOpen() { families_->flow_open->Increment(); }
void Metrics::CountFlowClose() { families_->flow_close->Increment(); }
void Metrics::LabelFlowEventsByNamespace() {
  LabelledCountersOptions o;
  o.families = {{"tcpinfo_flow_events_total",
                 "Number of flow events by event type and network namespace."}};
  o.label_names = {"event", "netns"};
  o.max_series = 2000;  // open and close of 1,000 namespaces
  o.overflow_name = "tcpinfo_netns_series_overflow_total";
  o.overflow_help =
      "Flow events counted under netns=\"other\" (too many namespaces).";
  families_->flow_events_by_netns =
      std::make_unique<LabelledCounters>(std::move(o));
}
void Metrics::CountFlowOpen(absl::string_view netns) {
  const absl::string_view labels[2] = {"open", netns};
  const uint64_t one = 1;
  families_->flow_events_by_netns->Add(labels, {&one, 1});
}
void Metrics::CountFlowClose(absl::string_view netns) {
  const absl::string_view labels[2] = {"close", netns};
  const uint64_t one = 1;
  families_->flow_events_by_netns->Add(labels, {&one, 1});
}
void Metrics::SetDestroyEventsEnabled(bool enabled) {
  families_->destroy_events_enabled.store(enabled ? 1 : 0,
                                          std::memory_order_relaxed);
}
void Metrics::CountDestroyEvent(bool event_only) {
  families_->destroy_events.Increment();
  if (event_only) families_->destroy_event_archives.Increment();
}
void Metrics::CountDestroyEventsLost() {
  families_->destroy_events_lost.Increment();
}

void Metrics::CountFullDump() { families_->full_dumps.Increment(); }
void Metrics::CountExactRequests(uint64_t requests, uint64_t gone) {
  families_->exact_requests.Increment(requests);
  families_->exact_gone.Increment(gone);
}
void Metrics::CountPollFallback() { families_->poll_fallbacks.Increment(); }

Counter& Metrics::Error(absl::string_view type) {
  return families_->errors.Get(type);
}
Counter& Metrics::LargeNetlink(absl::string_view type) {
  return families_->large_netlink.Get(type);
}
Counter& Metrics::NetlinkSkipped(absl::string_view type) {
  return families_->netlink_skipped.Get(type);
}

RateTracker& Metrics::rates() { return *rates_; }

std::shared_ptr<prometheus::Collectable> Metrics::collectable() const {
  return families_;
}

}  // namespace metrics
