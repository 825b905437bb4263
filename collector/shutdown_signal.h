// ShutdownSignal: SIGINT and SIGTERM as a file descriptor. Install() blocks
// both signals in the calling thread and opens a signalfd that becomes
// readable when one arrives, so that the polling loop can sleep in poll()
// and still wake at once, and no signal handler runs in the middle of a
// cycle. Call it before starting any thread, so every thread inherits the
// blocked mask and the signal stays pending for the descriptor.
//
// Thread contract: fd() may be polled from any thread; the object is owned
// by the thread that installed it.
#ifndef TCPINFO_COLLECTOR_SHUTDOWN_SIGNAL_H_
#define TCPINFO_COLLECTOR_SHUTDOWN_SIGNAL_H_

#include <memory>

#include "absl/status/statusor.h"

namespace collector {

class ShutdownSignal {
 public:
  static absl::StatusOr<std::unique_ptr<ShutdownSignal>> Install();
  // Closes the descriptor; the signals stay blocked.
  ~ShutdownSignal();
  ShutdownSignal(const ShutdownSignal&) = delete;
  ShutdownSignal& operator=(const ShutdownSignal&) = delete;

  int fd() const { return fd_; }
  // The pending signal's number (consuming it), or 0 if none is pending.
  int Take();

 private:
  explicit ShutdownSignal(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace collector

#endif  // TCPINFO_COLLECTOR_SHUTDOWN_SIGNAL_H_
