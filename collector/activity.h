// ActivityTracker: which connections the adaptive poller (collector.h)
// asks the kernel about between full dumps.
//
// The activity rule: a connection is active at cycle c when a snapshot of
// it was written (it was new or changed, parse::Change != kNone) in one of
// the cycles c - active_cycles .. c - 1. So a connection that moves is
// polled every cycle, as full polling would, and is dropped after
// active_cycles polls in a row without a change; from then on only full
// dumps (every -poll.discovery-interval at least) look at it, and its next
// change is seen by the next one. Changes are reported by the collector
// from every poll, exact or full. The collector's active_cycles is
// max(10, 500 ms / interval) unless set (CollectorOptions).
//
// Cost: one hash-map update per written snapshot, nothing per unchanged
// connection; Collect() visits the tracked (recently changed) connections
// only.
//
// Thread contract: not thread-safe; owned by the polling thread.
#ifndef TCPINFO_COLLECTOR_ACTIVITY_H_
#define TCPINFO_COLLECTOR_ACTIVITY_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "collector/exact_socket.h"
#include "inetdiag/inet_diag.h"

namespace collector {

class ActivityTracker {
 public:
  // REQUIRES: active_cycles >= 1.
  explicit ActivityTracker(int64_t active_cycles)
      : active_cycles_(active_cycles) {}

  // A snapshot of `cookie` (whose socket is `family`/`id`, as the kernel
  // reported it) was written in `cycle`.
  void Changed(uint64_t cookie, uint8_t family, const inetdiag::SockId& id,
               int64_t cycle);

  // The connection is finished (closed, destroyed, gone): not asked again.
  void Forget(uint64_t cookie);

  // Replaces *targets with the connections active at `cycle` and forgets
  // those no longer active.
  void Collect(int64_t cycle, std::vector<ExactTarget>* targets);

  // Connections tracked (active, or not yet found inactive by Collect).
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    ExactTarget target;
    int64_t last_change = 0;
  };
  int64_t active_cycles_;
  absl::flat_hash_map<uint64_t, Entry> entries_;
};

}  // namespace collector

#endif  // TCPINFO_COLLECTOR_ACTIVITY_H_
