// ErrorLog: logs a recurring error at a bounded rate. The first occurrence
// is logged at once; later ones are counted and logged at most once per
// period, with the count since the previous line and the latest message.
//
// Thread contract: not thread-safe; one ErrorLog per thread.
#ifndef TCPINFO_SAVER_ERROR_LOG_H_
#define TCPINFO_SAVER_ERROR_LOG_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace saver {

class ErrorLog {
 public:
  // Lines start with `prefix` and go to `out` (stderr by default).
  explicit ErrorLog(
      std::string prefix,
      std::chrono::steady_clock::duration period = std::chrono::seconds(10),
      std::FILE* out = stderr)
      : prefix_(std::move(prefix)), period_(period), out_(out) {}

  // Counts one error; logs it if the period since the last line is over.
  // Returns true if a line was written.
  bool Report(absl::string_view message) {
    ++unlogged_;
    const auto now = std::chrono::steady_clock::now();
    if (logged_once_ && now - last_ < period_) return false;
    std::fprintf(out_, "%s: %.*s (errors since the last report: %llu)\n",
                 prefix_.c_str(), static_cast<int>(message.size()),
                 message.data(), static_cast<unsigned long long>(unlogged_));
    std::fflush(out_);
    logged_once_ = true;
    last_ = now;
    unlogged_ = 0;
    return true;
  }

 private:
  std::string prefix_;
  std::chrono::steady_clock::duration period_;
  std::FILE* out_;
  bool logged_once_ = false;
  std::chrono::steady_clock::time_point last_{};
  uint64_t unlogged_ = 0;
};

}  // namespace saver

#endif  // TCPINFO_SAVER_ERROR_LOG_H_
