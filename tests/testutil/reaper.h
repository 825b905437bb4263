// Reaper: a shell, in a session of its own, that runs a cleanup script
// (stop a test's server, remove its directory) when its owner is done or
// gone: it waits for end of file on a pipe whose write end only the
// owner's process holds (O_CLOEXEC), so the script runs however the owner
// ends -- Finish(), a crash, SIGKILL, a ctest timeout that kills the test's
// process group.
//
// Threading: belongs to the owner's thread. Not copyable.
#ifndef TCPINFO_TESTS_TESTUTIL_REAPER_H_
#define TCPINFO_TESTS_TESTUTIL_REAPER_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace testutil {

class Reaper {
 public:
  Reaper() = default;
  // Finish(absl::Seconds(20)) if started.
  ~Reaper();
  Reaper(const Reaper&) = delete;
  Reaper& operator=(const Reaper&) = delete;

  // Forks the shell that will run `script` (sh -c, output discarded).
  absl::Status Start(const std::string& script);
  // Lets the script run now and waits up to `timeout` for it (SIGKILL
  // after).
  void Finish(absl::Duration timeout);

 private:
  pid_t pid_ = -1;
  int pipe_ = -1;  // the write end
};

}  // namespace testutil

#endif  // TCPINFO_TESTS_TESTUTIL_REAPER_H_
