// TelemetryObserver: the CollectorObserver that feeds the Prometheus
// metrics (metrics::Metrics) and the event socket (eventsocket::Server)
// from the polling loop, with what the reference feeds them:
//
//   OnFlowOpen   -> open event (UUID = the archive's uuid, ID = the first
//                   snapshot's inet_diag_sockid), flow_events{open}
//   OnSnapshot   -> snapshot_total, send/receive rate counters
//                   (tcpi_bytes_sent, tcpi_bytes_received)
//   OnFlowClose  -> close event, flow_events{close}
//   OnCycle      -> poll_full_dumps, poll_exact_requests, poll_exact_gone
//                   and poll_fallbacks; for a cycle that dumped, syscall
//                   time and connection count per family (the
//                   AF_INET6 and AF_INET dumps); cache count, polling
//                   interval (CycleStats::since_previous), rate
//                   observation (once per second of the monotonic clock:
//                   CycleStats::monotonic_start), new files and write errors
//                   (from the saver's stats), dump irregularities as
//                   tcpinfo_error_total{type=<issue>}, unparsable messages
//                   as netlink_skipped_total{type="unparsable"}
//
// It remembers which flows are open so that CloseAllFlows() can send a
// close event for each at shutdown.
//
// Namespaces (-netns, OnFlowOpenIn with a named namespace): the open and
// close events carry the namespace ("Netns"), and flow events are counted
// as tcpinfo_flow_events_total{event,netns} (the caller has called
// metrics::Metrics::LabelFlowEventsByNamespace); the flow's namespace name
// is kept while it is open. Without -netns nothing of this runs.
//
// Clocks: each event is stamped, as the reference stamps it, with the wall
// clock (CLOCK_REALTIME, nanoseconds) read when the event is made, not with
// the snapshot's millisecond timestamp the collector passes: one
// clock_gettime (a vDSO call, no system call) per open or close event, none
// per snapshot, and none without an event socket. Every duration and the
// rate observations' one-second pacing use the monotonic clock, so a step
// of the wall clock adds no absurd observation and never pauses the rates.
//
// Thread contract: as CollectorObserver, every call on the polling thread.
// Cost per call: atomic adds and, for open/close, one uuid string and one
// hash-set update; nothing blocks.
#ifndef TCPINFO_COLLECTOR_TELEMETRY_OBSERVER_H_
#define TCPINFO_COLLECTOR_TELEMETRY_OBSERVER_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "collector/netlink_dump.h"
#include "collector/observer.h"
#include "eventsocket/server.h"
#include "metrics/metrics.h"
#include "saver/saver.h"

namespace collector {

class TelemetryObserver : public CollectorObserver {
 public:
  // `metrics` and `saver` must outlive the observer; `events` may be null
  // (no event socket) and must otherwise outlive it too.
  TelemetryObserver(metrics::Metrics* metrics, eventsocket::Server* events,
                    const saver::Saver* saver);

  void OnFlowOpen(uint64_t cookie, parse::Timestamp timestamp,
                  const parse::RecordView& first) override;
  void OnFlowOpenIn(uint64_t cookie, parse::Timestamp timestamp,
                    const parse::RecordView& first,
                    const NamespaceRef& ns) override;
  void OnSnapshot(uint64_t cookie, parse::Timestamp timestamp,
                  const parse::RecordView& record,
                  parse::Change change) override;
  void OnFlowClose(uint64_t cookie, parse::Timestamp timestamp,
                   CloseReason reason) override;
  void OnCycle(const CycleStats& stats) override;
  void OnDestroyEvent(bool event_only) override;
  void OnDestroyEventsLost() override;

  // Shutdown: a close event (and flow_events{close}) for every flow still
  // open, each stamped when it is made. Returns how many.
  size_t CloseAllFlows();

  // Open events carry their owner from `source` (-owners); null: none.
  // `source` must outlive the observer.
  void SetEventOwners(eventsocket::EventOwnerSource* source) {
    event_owners_ = source;
  }

  size_t open_flows() const { return open_.size(); }

 private:
  // flow_events{close} (by namespace when it has one) and the close event.
  void CountClose(uint64_t cookie, const std::string& netns);

  metrics::Metrics* metrics_;
  eventsocket::Server* events_;
  eventsocket::EventOwnerSource* event_owners_ = nullptr;
  const saver::Saver* saver_;
  absl::flat_hash_set<uint64_t> open_;
  // -netns: the namespace of each open flow that has one.
  absl::flat_hash_map<uint64_t, std::string> netns_of_;
  std::array<metrics::Counter*, kDumpIssueCount> issue_errors_{};
  metrics::Counter* unparsable_;
  metrics::Counter* write_errors_;
  uint64_t files_created_ = 0;  // saver stats at the last cycle
  uint64_t write_errors_seen_ = 0;
  metrics::Counter* repaired_;  // archives cut back to a whole frame
  uint64_t repaired_seen_ = 0;
};

}  // namespace collector

#endif  // TCPINFO_COLLECTOR_TELEMETRY_OBSERVER_H_
