// ErrorLog: logs a recurring problem at a bounded rate, so that one that
// recurs every polling cycle is logged every few seconds, not a hundred
// times a second. The first occurrence is let through at once; later ones
// are counted, and the next is let through once the period since the last
// line is over, with the number held back in between.
//
// Report() writes the line itself; Admit() only decides, for callers that
// build a costly line only when it will be written. The period is measured
// on the monotonic clock, so wall-clock jumps neither silence nor flood it.
//
// Thread contract: not thread-safe; one ErrorLog per kind of problem, owned
// by the thread that logs it.
#ifndef TCPINFO_SAVER_ERROR_LOG_H_
#define TCPINFO_SAVER_ERROR_LOG_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace saver {

class ErrorLog {
 public:
  using Clock = std::chrono::steady_clock;

  // Report() lines start with `prefix` and go to `out` (stderr by default).
  explicit ErrorLog(std::string prefix = "",
                    Clock::duration period = std::chrono::seconds(10),
                    std::FILE* out = stderr)
      : prefix_(std::move(prefix)), period_(period), out_(out) {}

  // Counts one occurrence at `now`. If a line may be written (the first
  // occurrence, or `period` is over since the last one let through), returns
  // how many occurrences were held back since that line, and the count
  // restarts; std::nullopt (the occurrence is held back) otherwise.
  std::optional<uint64_t> Admit(Clock::time_point now = Clock::now()) {
    if (last_.has_value() && now - *last_ < period_) {
      ++held_back_;
      return std::nullopt;
    }
    last_ = now;
    return std::exchange(held_back_, 0);
  }

  // Admit(now); if admitted, writes "<prefix>: <message> (errors since the
  // last report: N)", N counting this one too, and returns true.
  bool Report(absl::string_view message, Clock::time_point now = Clock::now()) {
    const std::optional<uint64_t> held_back = Admit(now);
    if (!held_back.has_value()) return false;
    std::fprintf(out_, "%s: %.*s (errors since the last report: %llu)\n",
                 prefix_.c_str(), static_cast<int>(message.size()),
                 message.data(),
                 static_cast<unsigned long long>(*held_back + 1));
    std::fflush(out_);
    return true;
  }

 private:
  std::string prefix_;
  Clock::duration period_;
  std::FILE* out_;
  std::optional<Clock::time_point> last_;  // of the last line let through
  uint64_t held_back_ = 0;                 // since then
};

}  // namespace saver

#endif  // TCPINFO_SAVER_ERROR_LOG_H_
