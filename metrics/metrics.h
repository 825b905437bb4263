// Metrics: every tcpinfo Prometheus family the reference exposes, with its
// name, type, help text, labels and bucket bounds, plus a build-info gauge:
//
//   tcpinfo_syscall_time_histogram{af}      netlink dump syscall latency, s
//   tcpinfo_polling_interval_histogram      time between polling cycles, s
//   tcpinfo_connection_count_histogram{af}  sockets each dump returned
//   tcpinfo_cache_count_histogram           connections held after a cycle
//   tcpinfo_send_rate_histogram             bits/s sent (see rate_tracker.h)
//   tcpinfo_receive_rate_histogram          bits/s received
//   tcpinfo_snapshot_total                  snapshots archived
//   tcpinfo_new_file_total                  archive files created
//   tcpinfo_flow_events_total{event}        "open" / "close" flow events
//   tcpinfo_error_total{type}               errors, by type
//   large_netlink_total{type}               oversize netlink messages
//   netlink_skipped_total{type}             netlink messages not decoded
//   tcpinfo_build_info{version}             constant 1
//
// af is "ipv4" or "ipv6". Families keyed by a free-form `type` appear once
// a value was resolved, as with the reference's CounterVecs; flow events
// show both values from the start.
//
// Hot path: every update is an atomic add on a value resolved in advance;
// no lock, no allocation. Resolving a labeled counter (Error(),
// LargeNetlink(), NetlinkSkipped()) takes a lock and may allocate the first
// time a label value is seen: resolve them at start-up and keep the
// reference.
//
// Threading: updates from any thread; rates() only from the polling
// thread; the Collectable is read by the HTTP server's thread. The
// Metrics must outlive the server that exposes collectable().
#ifndef TCPINFO_METRICS_METRICS_H_
#define TCPINFO_METRICS_METRICS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "metrics/histogram.h"
#include "metrics/rate_tracker.h"
#include "prometheus/collectable.h"

namespace metrics {

enum class AddressFamily { kIpv4 = 0, kIpv6 = 1 };

class Metrics {
 public:
  // `version` labels tcpinfo_build_info.
  explicit Metrics(absl::string_view version = "unknown");
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  void ObserveSyscallTime(AddressFamily af, double seconds);
  void ObservePollingInterval(double seconds);
  void ObserveConnectionCount(AddressFamily af, size_t connections);
  void ObserveCacheCount(size_t connections);
  void CountSnapshots(uint64_t n = 1);
  void CountNewFiles(uint64_t n = 1);
  void CountFlowOpen();
  void CountFlowClose();
  // -netns: tcpinfo_flow_events_total{event,netns}, the connection's
  // namespace as a second label, replaces the reference's {event} family.
  // Call before the first count and before collectable() is served; then
  // count with the two below (polling
  // thread only; a mutex shared only with a scrape's copy of the counts).
  // At most 1,000 namespaces get series of their own, later ones are
  // summed under netns="other" (tcpinfo_netns_series_overflow_total).
  void LabelFlowEventsByNamespace();
  void CountFlowOpen(absl::string_view netns);
  void CountFlowClose(absl::string_view netns);
  // Destroy events (the kernel's TCP socket destroy broadcasts): whether the
  // daemon is subscribed, events handled, archives created from an event
  // alone, and overflows (events the kernel dropped).
  void SetDestroyEventsEnabled(bool enabled);
  void CountDestroyEvent(bool event_only);
  void CountDestroyEventsLost();
  // Polling (-poll.mode): one full dump cycle (both families); `requests`
  // exact inet_diag requests, `gone` of them answered "no such socket"; an
  // exact cycle that fell back to a full dump.
  void CountFullDump();
  void CountExactRequests(uint64_t requests, uint64_t gone);
  void CountPollFallback();

  // The counter of label value `type`, created on first use. The reference
  // stays valid as long as the Metrics.
  Counter& Error(absl::string_view type);
  Counter& LargeNetlink(absl::string_view type);
  Counter& NetlinkSkipped(absl::string_view type);

  // Send and receive rates; polling thread only.
  RateTracker& rates();

  // All the families above, for MetricsServer (or WriteTextFormat).
  std::shared_ptr<prometheus::Collectable> collectable() const;

 private:
  class Families;
  std::shared_ptr<Families> families_;
  std::unique_ptr<RateTracker> rates_;
};

}  // namespace metrics

#endif  // TCPINFO_METRICS_METRICS_H_
