// CostModel: whether the adaptive poller's next cycle asks about its active
// connections one by one (exact requests) or dumps the kernel's whole
// socket table, whichever costs less CPU.
//
// Both costs are the polling thread's own CPU time (CLOCK_THREAD_CPUTIME_ID:
// user and kernel time, the kernel's work for a netlink request being done
// in the requesting thread), measured around every poll and kept as moving
// averages (each new measure weighs 1/4):
//   - a full cycle (both dumps and their processing): measured by the first
//     cycle, which is always a full dump, and by every full dump after;
//   - one exact request (send, lookup, reply, receive, processing): from a
//     prior of kPriorExactNanos (an unbatched request measured on a 6.x
//     kernel, an overestimate) until the first exact cycle measures it.
// PreferExact(n) holds when n requests are predicted to cost at most
// kMargin of a full cycle: the margin absorbs the measures' noise, so that
// adaptive polling does not cost more than full polling when they are
// close.
//
// Thread contract: not thread-safe; owned by the polling thread.
#ifndef TCPINFO_COLLECTOR_COST_MODEL_H_
#define TCPINFO_COLLECTOR_COST_MODEL_H_

#include <cstdint>

namespace collector {

class CostModel {
 public:
  static constexpr double kPriorExactNanos = 20000;
  static constexpr double kMargin = 0.8;
  static constexpr double kWeight = 0.25;

  // A full cycle cost `nanos` of CPU.
  void ObserveFull(int64_t nanos);
  // An exact cycle of `requests` (> 0) requests cost `nanos`.
  void ObserveExact(int64_t requests, int64_t nanos);

  // Whether `requests` exact requests are cheaper than a full cycle. False
  // until a full cycle was measured.
  bool PreferExact(int64_t requests) const;

  double full_nanos() const { return full_nanos_; }
  double exact_nanos_per_request() const { return exact_nanos_; }

  // CPU time of the calling thread, user and kernel, in nanoseconds.
  static int64_t ThreadCpuNanos();

 private:
  double full_nanos_ = -1;  // < 0: not measured yet
  double exact_nanos_ = kPriorExactNanos;
  bool exact_measured_ = false;
};

}  // namespace collector

#endif  // TCPINFO_COLLECTOR_COST_MODEL_H_
