#include "tests/testutil/reaper.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/testutil/farm.h"

namespace testutil {

Reaper::~Reaper() { Finish(absl::Seconds(20)); }

absl::Status Reaper::Start(const std::string& script) {
  if (pid_ > 0) return absl::FailedPreconditionError("reaper already started");
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe2");
  const pid_t pid = fork();
  if (pid == 0) {
    setsid();  // outlives a kill of the test's process group
    dup2(fds[0], 0);
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    const std::string wait_then = "read _; " + script;
    execl("/bin/sh", "sh", "-c", wait_then.c_str(), nullptr);
    _exit(127);
  }
  close(fds[0]);
  if (pid < 0) {
    close(fds[1]);
    return absl::InternalError("fork");
  }
  pid_ = pid;
  pipe_ = fds[1];
  return absl::OkStatus();
}

void Reaper::Finish(absl::Duration timeout) {
  if (pid_ <= 0) return;
  close(pipe_);
  if (WaitFor(pid_, timeout) < 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  pid_ = -1;
  pipe_ = -1;
}

}  // namespace testutil
