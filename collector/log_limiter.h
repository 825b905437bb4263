// LogLimiter: lets through at most one log line per period and counts the
// lines it held back, so that a problem that recurs every polling cycle is
// logged every few seconds, not a hundred times a second.
//
// Thread contract: not thread-safe; one instance per kind of problem, owned
// by the thread that logs it.
#ifndef TCPINFO_COLLECTOR_LOG_LIMITER_H_
#define TCPINFO_COLLECTOR_LOG_LIMITER_H_

#include <cstdint>

#include "absl/time/time.h"

namespace collector {

class LogLimiter {
 public:
  explicit LogLimiter(absl::Duration period = absl::Seconds(10))
      : period_(period) {}

  // True if a line may be written at `now`; then *suppressed is the number
  // of lines held back since the last one let through, and the count
  // restarts. False (and the line is counted) otherwise.
  bool Admit(absl::Time now, int64_t* suppressed) {
    if (now - last_ < period_) {
      ++suppressed_;
      return false;
    }
    last_ = now;
    *suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }

 private:
  absl::Duration period_;
  absl::Time last_ = absl::InfinitePast();
  int64_t suppressed_ = 0;
};

}  // namespace collector

#endif  // TCPINFO_COLLECTOR_LOG_LIMITER_H_
