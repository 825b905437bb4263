// Helpers for root integration tests: child processes, a connfarm farm torn
// down however the test ends, sockets made inside its namespaces, and the
// archives a daemon wrote.
//
// Threading: every function may be called from any thread; a Farm or
// ProcessGuard belongs to the thread that made it. Functions that "fail the
// test" use gtest's non-fatal (EXPECT) or fatal-in-that-function (ASSERT)
// assertions, so call them from a test body or a thread joined by one.
#ifndef TCPINFO_TESTS_TESTUTIL_FARM_H_
#define TCPINFO_TESTS_TESTUTIL_FARM_H_

#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "parse/archival_record.h"
#include "tcp/tcp_info.h"

namespace testutil {

// Starts `argv` (argv[0] a path, no PATH lookup) with stdout and stderr
// appended to `log`; returns its pid.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log);

// Waits up to `timeout` for child `pid` to exit; its wait status, or -1 if
// it is still running (or is not our child).
int WaitFor(pid_t pid, absl::Duration timeout);

// Runs `argv` to completion (killed after 60 s); its exit code, or -1.
int Run(const std::vector<std::string>& argv, const std::string& log);

// Waits up to `timeout` until /proc/<pid>/exe is a file named `name` (a
// wrapper such as `connfarm exec` has exec'd it); false on timeout.
bool WaitForExe(pid_t pid, const std::string& name, absl::Duration timeout);

// Waits up to `timeout` until tcp-info `pid` polls: its main thread is seen
// twice in a row, 20 ms apart, blocked in ppoll(), the collector's wait
// between cycles (Collector::Run). By then its sockets (metrics, event
// socket, destroy events) are open and its first cycle ran. False on
// timeout or once the process is gone. Needs to read /proc/<pid>/syscall
// (root or the same user).
bool WaitUntilPolling(pid_t pid, absl::Duration timeout);

// The whole content of a text file, "" if it cannot be read.
std::string ReadText(const std::string& path);

// The value of the /proc/<pid>/status line `key` ("Uid", "CapEff"), its
// words joined by single spaces; "" if there is no such line.
std::string ProcStatusField(pid_t pid, absl::string_view key);

// A size line of /proc/<pid>/status ("VmRSS", "VmHWM": "<n> kB") in KiB;
// -1 if there is none (a zombie has none).
int64_t ProcStatusKib(pid_t pid, absl::string_view key);

// ASAN_OPTIONS as this process has them, then `extra` ("detect_leaks=0"):
// the value for a child that needs one more sanitizer option. Harmless for
// a child built without ASan.
std::string AsanOptionsWith(absl::string_view extra);

// Writes all of `data` to `fd`; false (errno set) if a write fails.
bool WriteAll(int fd, absl::string_view data);

// SIGKILLs and reaps *pid when destroyed if it is still running; set *pid to
// -1 once the test reaped it itself.
struct ProcessGuard {
  pid_t* pid;
  ~ProcessGuard();
};

// A connfarm farm named `<tag><pid % 100000>` (keep `tag` to 2-3 chars),
// logging to `<dir>/farm.log`. The destructor stops `connfarm run` if Start
// began it and runs `connfarm down --force`, however the test ends.
class Farm {
 public:
  Farm(const std::string& dir, const std::string& tag);
  ~Farm();
  Farm(const Farm&) = delete;
  Farm& operator=(const Farm&) = delete;

  const std::string& name() const { return name_; }
  const std::string& log() const { return log_; }
  // The namespace's path, /var/run/netns/<name>-<side> ("cli" or "srv").
  std::string Namespace(const char* side) const;

  // `connfarm up`: true on success (see log() otherwise).
  bool Up();
  // Starts `connfarm run <options>` and waits (at most 30 s) until its
  // connections are established, i.e. `ready_file` exists.
  bool Start(const std::vector<std::string>& options,
             const std::string& ready_file);

 private:
  std::string name_;
  std::string log_;
  pid_t run_pid_ = -1;
};

// Runs `fn` on a new thread that has entered the network namespace at path
// `ns` and joins it: sockets `fn` creates belong to that namespace.
void InNamespace(const std::string& ns, const std::function<void()>& fn);

// 5 s send and receive timeouts on `fd`, so a stuck peer fails, not hangs.
void SetTimeouts(int fd);
// Sends / receives exactly `n` bytes on `fd`; fails the test otherwise.
void SendAll(int fd, size_t n);
void ReceiveAll(int fd, size_t n);

// The farm's server address (10.77.0.1 or fd77::1) with `port`, and the
// length of that sockaddr.
sockaddr_storage Address(bool v6, uint16_t port);
socklen_t Length(bool v6);

// Listening sockets of a test's own server in `farm`'s server namespace:
// fds[0] on 10.77.0.1, fds[1] on fd77::1, both on `port`, with 5 s timeouts
// (accept gives up). Fails the test if one cannot be made.
void ListenOnServer(const Farm& farm, uint16_t port, int fds[2]);

// One connection of a test's own: the client sends `up` bytes, the server
// reads them and answers `down` bytes, the client reads those, waits
// `lifetime` and closes, then the server closes on EOF.
struct Exchange {
  bool v6 = false;
  size_t up = 0;
  size_t down = 0;
  absl::Duration lifetime;
  uint64_t cookie = 0;  // set by RunExchanges: the client socket's cookie
};

// Runs `exchanges`, one after the other, from `farm`'s client namespace to
// the listeners ListenOnServer made on `port`; stops at a fatal failure.
void RunExchanges(const Farm& farm, const int listeners[2], uint16_t port,
                  std::vector<Exchange>* exchanges);

// One archive file named <uuid>.<sequence>.jsonl.zst.
struct ArchiveFile {
  std::string path;
  std::string uuid;
  int64_t sequence;
};
// The archive files under `dir` whose uuid is `<prefix>_<cookie in hex>`,
// by cookie, in no particular order within a cookie.
std::map<uint64_t, std::vector<ArchiveFile>> ListArchives(
    const std::string& dir, const std::string& prefix);

// The decoded records of one archive file; fails the test on a bad line or
// a file not ending in '\n'.
std::vector<parse::ArchivalRecord> Decode(const std::string& path);

// The record's tcp_info attribute, zero-filled if shorter; false if absent.
bool Info(const parse::ArchivalRecord& r, tcp::TcpInfo* info);

}  // namespace testutil

#endif  // TCPINFO_TESTS_TESTUTIL_FARM_H_
