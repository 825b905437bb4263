// FlowTracker: the CollectorObserver that turns the collector's snapshots
// into flow records (flow_record.h) and hands them to a RecordConsumer.
//
//   OnFlowOpen   -> a flow: start_time (first sighting), addresses, ports;
//                   OnFlowOpenIn also its namespace (-netns).
//                   LISTEN-state sockets are not flows and are ignored.
//   OnSnapshot   -> its latest counters (32-bit ones extended across their
//                   wrap), RTT, lowest min_rtt, highest delivery rate,
//                   state, congestion control (the last one named: a
//                   destroy event names none); fields a shorter tcp_info
//                   lacks read as zero
//   OnFlowClose  -> its final record (kDestroyed or kAbsent), end_time its
//                   last snapshot's time
//   OnCycle      -> interim records (see below)
//   FinishAll    -> at shutdown, a final record (kDaemonStop) for each
//                   flow still open
//
// Interim records. A flow is due active_timeout after its previous record
// (after the first cycle that saw it, for its first), on the monotonic clock
// of CycleStats::monotonic_start. A due flow whose counters moved since its
// previous record gets an interim record at that cycle; one that did not
// (idle: every delta would be zero) gets none, and its next counter change
// makes it get one at the next cycle. Flows wait in a queue ordered by due
// time, so a cycle costs nothing per flow that is not due.
//
// limited_by, over the record's interval (its deltas): the kernel's
// busy_time includes rwnd_limited and sndbuf_limited (it is the sum of the
// three chronos), so with delta busy == 0 it is kNone, else the largest of
// rwnd_limited (kReceiver), sndbuf_limited (kSender) and busy - rwnd -
// sndbuf (kNetwork: sending, limited by the congestion window); ties go to
// kNetwork, then kReceiver.
//
// Direction. Listening sockets are not flows. Instead a thread of the
// tracker's own (ListeningPorts) dumps the namespace's listening sockets once
// a second and remembers each listening port for 60 s after it last saw it.
// A flow is kIn if its local port is in that set when the flow's first
// record is made (any family, any local address), else kOut; every later
// record of the flow carries the same direction.
//
// Memory: one heap block of 280 bytes per open flow (two sets of twelve
// 64-bit counters are 192 of them: the latest, and those at the previous
// record, which exact deltas need), its table slot and 16 bytes in the
// queue: about 340 bytes of heap per open flow (bench/flows_bench). The
// block is allocated when the flow opens; nothing per snapshot.
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
  // Names each record's owner (-owners); none: owners unknown. Must
  // outlive the tracker.
  OwnerSource* owners = nullptr;
};

// The limited_by rule above, on a record's deltas.
LimitedBy LimitedByOf(const FlowCounters& delta);

class FlowTracker : public collector::CollectorObserver {
 public:
  // `consumer` must outlive the tracker. With watch_listeners, dumps the
  // listening sockets of the calling thread's network namespace once before
  // returning, then starts the watcher thread; if the dump socket cannot be
  // opened, logs one line to stderr and every flow is kOut.
  FlowTracker(FlowTrackerOptions options, RecordConsumer* consumer);
  ~FlowTracker() override;
  FlowTracker(const FlowTracker&) = delete;
  FlowTracker& operator=(const FlowTracker&) = delete;

  void OnFlowOpen(uint64_t cookie, parse::Timestamp timestamp,
                  const parse::RecordView& first) override;
  // Keeps the flow's namespace for its records' netns column.
  void OnFlowOpenIn(uint64_t cookie, parse::Timestamp timestamp,
                    const parse::RecordView& first,
                    const collector::NamespaceRef& ns) override;
  void OnSnapshot(uint64_t cookie, parse::Timestamp timestamp,
                  const parse::RecordView& record,
                  parse::Change change) override;
  void OnFlowClose(uint64_t cookie, parse::Timestamp timestamp,
                   collector::CloseReason reason) override;
  void OnCycle(const collector::CycleStats& stats) override;

  // Shutdown: a final record (kDaemonStop) for every flow still open, which
  // the tracker then forgets. Returns how many.
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
