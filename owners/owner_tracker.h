// OwnerTracker: -owners. The CollectorObserver that names each connection's
// owner (owner.h) and sums its traffic per owner:
//
//   OnFlowOpen   the socket's key (cookie, inode, uid, INET_DIAG_CGROUP_ID)
//                goes to the resolver thread (OwnerResolver: /proc, the
//                cgroup2 tree, the kernel hook); the polling thread never
//                reads /proc or sysfs. LISTEN sockets are skipped.
//   OnSnapshot   the connection's exact totals (flows/counters.h); their
//                change is credited to its owner once the owner is known
//                (bytes moved before are credited then, so nothing is lost
//                to the resolution's delay).
//   OnFlowClose  the connection is forgotten at the next cycle, after its
//                owner got its final deltas (one still being resolved
//                waits for its answer; with the hook, one that neither a
//                scan nor the hook names yet, an accepted one before its
//                first send or receive, is asked again for up to 1 s).
//   OnCycle      answers from the resolver are taken; each owner's new
//                traffic goes to the Prometheus families below; every
//                `interval` one kProcessTraffic measurement per process
//                name that moved bytes (Netgraph's network_data) goes to
//                `measurements`.
//
// Families (labels capped at max_series each; the rest under "other", the
// Adds that went there counted by ..._series_overflow_total):
//   tcpinfo_owner_process_{sent,received}_{bytes,segments}_total{process}
//   tcpinfo_owner_user_{sent,received}_{bytes,segments}_total{user}
//   tcpinfo_owner_group_{sent,received}_{bytes,segments}_total{group}
// bytes: tcpi_bytes_sent (retransmissions included) / tcpi_bytes_received;
// segments: tcpi_segs_out / tcpi_segs_in. process is the comm, user the
// user name, group "container:<id>", else "unit:<systemd unit>", else
// "none" (a cgroup that shows neither); "unknown" where not known. Also
// tcpinfo_owners_hook{state} (1 for the state: "bpf", or "proc_only") and
// tcpinfo_owners_proc_scans_total, tcpinfo_owners_proc_quick_scans_total.
//
// It is also the flow tracker's OwnerSource (flow record columns) and the
// event socket's EventOwnerSource (open events): both get what is known at
// the time; a connection not yet resolved gets its uid and the user and
// cgroup already known for them, and its process from the kernel hook.
//
// Memory: about 430 bytes of heap per open connection (its totals and a
// pointer to its Owner, which the connections of one process, user and
// cgroup share; bench/owners_bench).
// Thread contract: the observer and source calls on the polling thread;
// collectable() from any; one resolver thread of its own
// ("tcpinfo-owners" in /proc/PID/task/*/comm).
#ifndef TCPINFO_OWNERS_OWNER_TRACKER_H_
#define TCPINFO_OWNERS_OWNER_TRACKER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "collector/observer.h"
#include "eventsocket/flow_event.h"
#include "flows/flow_record.h"
#include "flows/measurement.h"
#include "owners/owner.h"
#include "owners/owner_resolver.h"
#include "prometheus/collectable.h"

namespace owners {

struct OwnerTrackerOptions {
  OwnerResolverOptions resolver;  // its hook, if any, is also used here
  // tcpinfo_owners_hook's state label: "bpf" or "proc_only".
  std::string hook_state = "proc_only";
  size_t max_series = 500;                             // -owners.max-series
  absl::Duration interval = absl::Seconds(10);         // -owners.interval
  flows::MeasurementConsumer* measurements = nullptr;  // optional
};

class OwnerTracker : public collector::CollectorObserver,
                     public flows::OwnerSource,
                     public eventsocket::EventOwnerSource {
 public:
  // Starts the resolver thread.
  explicit OwnerTracker(OwnerTrackerOptions options);
  // Stops and joins it.
  ~OwnerTracker() override;
  OwnerTracker(const OwnerTracker&) = delete;
  OwnerTracker& operator=(const OwnerTracker&) = delete;

  void OnFlowOpen(uint64_t cookie, parse::Timestamp timestamp,
                  const parse::RecordView& first) override;
  void OnSnapshot(uint64_t cookie, parse::Timestamp timestamp,
                  const parse::RecordView& record,
                  parse::Change change) override;
  void OnFlowClose(uint64_t cookie, parse::Timestamp timestamp,
                   collector::CloseReason reason) override;
  void OnCycle(const collector::CycleStats& stats) override;

  void FillOwner(uint64_t cookie, flows::FlowOwner* owner) override;
  bool OwnerAtOpen(uint64_t cookie, const parse::RecordView& first,
                   eventsocket::EventOwner* owner) override;

  // The families above; valid as long as the tracker.
  std::shared_ptr<prometheus::Collectable> collectable() const;

  // The owner resolved for an open connection, or nullptr (unknown cookie,
  // or not resolved yet). Polling thread.
  const Owner* Find(uint64_t cookie) const;
  // Connections tracked (open, and closed ones not yet credited).
  size_t connections() const;
  // Waits until the resolver has answered every connection opened so far
  // (the answers are taken at the next OnCycle). For tests and shutdown.
  bool WaitResolved(absl::Duration timeout);

  // The label values for an owner (the rules above).
  static std::string ProcessLabel(const Owner& owner);
  static std::string UserLabel(const Owner& owner);
  static std::string GroupLabel(const Owner& owner);

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace owners

#endif  // TCPINFO_OWNERS_OWNER_TRACKER_H_
