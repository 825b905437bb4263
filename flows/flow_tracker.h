// FlowTracker: the CollectorObserver that turns the collector's snapshots
// into flow records (flow_record.h) and hands them to a RecordConsumer.
//
//   OnFlowOpen   -> a flow: start_time, addresses, ports
//   OnSnapshot   -> its latest counters, RTT, state, congestion control
//                   (only what it needs, a few hundred bytes per flow)
//   OnFlowClose  -> its final record (kDestroyed or kAbsent)
//   OnCycle      -> interim records of flows whose last record is
//                   active_timeout old and that changed since (idle flows
//                   get none: their deltas would all be zero)
//   FinishAll    -> at shutdown, a final record (kDaemonStop) for each
//                   flow still open
//
// Interim scheduling is a queue ordered by due time (monotonic clock), so a
// cycle costs nothing per flow that is not due.
//
// Direction. Listening sockets are not flows (the collector's filter drops
// most of them: their remote address is unspecified). Instead a thread of
// the tracker's own dumps the namespace's listening sockets once a second
// (a LISTEN-only inet_diag dump, which skips the established hash) and a
// flow whose local port a listening socket held (remembered for a minute
// after it was last seen) is kIn; decided when its first record is made.
//
// Thread contract: as CollectorObserver, every call on the polling thread.
#ifndef TCPINFO_FLOWS_FLOW_TRACKER_H_
#define TCPINFO_FLOWS_FLOW_TRACKER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "collector/observer.h"
#include "flows/flow_record.h"

namespace flows {

struct FlowTrackerOptions {
  // The archives' uuid prefix (saver::Saver::uuid_prefix()).
  std::string uuid_prefix;
  // -flows.active-timeout: interim record interval of a live flow.
  absl::Duration active_timeout = absl::Seconds(60);
  // Dump listening sockets on a thread of the tracker's own (false in
  // tests that set the ports with SetListeningPortsForTest).
  bool watch_listeners = true;
};

class FlowTracker : public collector::CollectorObserver {
 public:
  // `consumer` must outlive the tracker.
  FlowTracker(FlowTrackerOptions options, RecordConsumer* consumer);
  ~FlowTracker() override;
  FlowTracker(const FlowTracker&) = delete;
  FlowTracker& operator=(const FlowTracker&) = delete;

  void OnFlowOpen(uint64_t cookie, parse::Timestamp timestamp,
                  const parse::RecordView& first) override;
  void OnSnapshot(uint64_t cookie, parse::Timestamp timestamp,
                  const parse::RecordView& record,
                  parse::Change change) override;
  void OnFlowClose(uint64_t cookie, parse::Timestamp timestamp,
                   collector::CloseReason reason) override;
  void OnCycle(const collector::CycleStats& stats) override;

  // Shutdown: a final record (kDaemonStop) for every flow still open.
  // Returns how many.
  size_t FinishAll();

  size_t open_flows() const;

  // Replaces the listening ports (with watch_listeners false).
  void SetListeningPortsForTest(const std::vector<uint16_t>& ports);

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace flows

#endif  // TCPINFO_FLOWS_FLOW_TRACKER_H_
