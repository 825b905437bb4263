// CollectorObserver: what the polling loop reports as it goes, for metrics
// and the event socket to build on without touching the loop. Every method
// has an empty default; implement the ones needed.
//
// Namespaces (-netns): a connection lives in one network namespace for its
// whole life. The collector reports it once, when the flow opens, through
// OnFlowOpenIn, whose default forwards to OnFlowOpen: an observer that does
// not care implements OnFlowOpen as before; one that does overrides
// OnFlowOpenIn and remembers the namespace per cookie. Without -netns every
// connection is in the agent's own namespace, NamespaceRef{} (id 0, name
// "").
//
// Thread contract: every call comes from the polling thread, in order, and
// must return quickly (it is on the hot path); the views passed are valid
// only during the call.
#ifndef TCPINFO_COLLECTOR_OBSERVER_H_
#define TCPINFO_COLLECTOR_OBSERVER_H_

#include <chrono>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "collector/netlink_dump.h"
#include "parse/change.h"
#include "parse/record_view.h"
#include "parse/timestamp.h"

namespace collector {

// One polling cycle: a dump of AF_INET6 then one of AF_INET. Durations are
// measured on the monotonic clock: a step of the wall clock changes `start`
// only, never a duration.
struct CycleStats {
  int64_t cycle = 0;  // 1 for the first cycle
  absl::Time start;   // when the first dump was requested (wall clock)
  // The same instant on the monotonic clock (CLOCK_MONOTONIC).
  std::chrono::steady_clock::time_point monotonic_start{};
  absl::Duration elapsed;  // both dumps and all processing
  // Start to start, from the previous cycle; zero for the first. Longer
  // than -interval when the previous cycle overran it.
  absl::Duration since_previous;
  DumpResult dumps[2];       // [0] AF_INET6, [1] AF_INET
  bool complete = false;     // both dumps complete: closes were decided
  int64_t skipped = 0;       // connections the filter excluded
  int64_t bad_messages = 0;  // inet_diag messages that did not parse
  int64_t changes = 0;       // snapshots handed to the saver
  int64_t opened = 0;        // connections seen for the first time
  int64_t closed = 0;        // connections gone since the last complete cycle
  int64_t connections = 0;   // connections tracked after the cycle
  // Adaptive polling: whether the cycle dumped (dumps[] are filled only
  // then), and its exact requests (fallback: they were incomplete, and the
  // cycle dumped after them).
  bool full_dump = true;
  bool fallback = false;
  int64_t exact_requests = 0;
  int64_t exact_gone = 0;  // answered ENOENT/ESTALE, or in a left-out state
  // Namespaces dumped (-netns; dumps[] then sums all of them); 0 without.
  int64_t namespaces = 0;
};

// The network namespace of a connection: its nsfs inode and its name (in
// /run/netns, else the inode in decimal). The view is valid only during
// the call.
struct NamespaceRef {
  uint64_t id = 0;
  absl::string_view name;
};

// Why a connection's file was finished.
enum class CloseReason : uint8_t {
  kDestroyed,  // the kernel's destroy event (its final state came with it)
  kAbsent,     // missing from a complete dump (after the destroy grace)
};

class CollectorObserver {
 public:
  virtual ~CollectorObserver() = default;

  // A connection was seen for the first time; `first` is its first
  // snapshot (filtered and anonymized), also passed to OnSnapshot next.
  virtual void OnFlowOpen(uint64_t cookie, parse::Timestamp timestamp,
                          const parse::RecordView& first) {}

  // The same, with the connection's namespace; the collector calls this
  // one. The default calls OnFlowOpen.
  virtual void OnFlowOpenIn(uint64_t cookie, parse::Timestamp timestamp,
                            const parse::RecordView& first,
                            const NamespaceRef& ns) {
    OnFlowOpen(cookie, timestamp, first);
  }

  // A snapshot was handed to the saver because of `change` (kNew for a
  // connection's first).
  virtual void OnSnapshot(uint64_t cookie, parse::Timestamp timestamp,
                          const parse::RecordView& record,
                          parse::Change change) {}

  // A connection is gone (its destroy event, or missing from a complete
  // cycle) and its file was finished. Implementations that need its last
  // snapshot keep what they need from OnSnapshot.
  virtual void OnFlowClose(uint64_t cookie, parse::Timestamp timestamp,
                           CloseReason reason) {}

  // A polling cycle ended.
  virtual void OnCycle(const CycleStats& stats) {}

  // A destroy event was handled; `event_only` when no poll had seen the
  // connection (its archive comes from the event alone).
  virtual void OnDestroyEvent(bool event_only) {}

  // The kernel dropped destroy events (ENOBUFS on the event socket).
  virtual void OnDestroyEventsLost() {}
};

}  // namespace collector

#endif  // TCPINFO_COLLECTOR_OBSERVER_H_
