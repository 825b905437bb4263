// A fixture for root integration tests of build/bin/tcp-info: a directory of
// the test's own with an output tree and a uuid prefix file, a connfarm farm,
// listeners of the test's own server in it, and the daemon running in its
// client namespace, all torn down however the test ends.
//
// Threading: like any gtest fixture, it belongs to the test's thread. Its
// helpers use gtest assertions that are fatal in that helper only: wrap them
// in ASSERT_NO_FATAL_FAILURE where the test must stop.
#ifndef TCPINFO_TESTS_TESTUTIL_DAEMON_FIXTURE_H_
#define TCPINFO_TESTS_TESTUTIL_DAEMON_FIXTURE_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testutil/farm.h"

namespace testutil {

// What a DaemonTest makes in SetUp.
struct DaemonTestSetup {
  // The directory: <TempDir>/<dir_name>_<pid>_<first 12 chars of the test>.
  std::string dir_name;
  // The uuid prefix the daemon is given: <prefix><pid>.
  std::string prefix;
  // The farm's tag (see Farm), brought up in SetUp; "" for none (the test
  // calls UpFarm itself).
  std::string farm_tag;
  // With a farm, the port ListenOnServer listens on in SetUp; 0 for none.
  uint16_t port = 0;
};

class DaemonTest : public ::testing::Test {
 protected:
  // Where StartDaemon has the daemon serve metrics unless told otherwise.
  static constexpr uint16_t kDefaultMetricsPort = 9990;

  explicit DaemonTest(DaemonTestSetup setup) : setup_(std::move(setup)) {}

  // Skips the test unless root. Makes dir_ afresh with dir_/out and
  // dir_/prefix (holding prefix_), then the farm and listeners the setup
  // asks for; fails the test if they cannot be made.
  void SetUp() override;
  // Closes the listeners, SIGKILLs the daemon if it still runs, takes the
  // farm down (connfarm down --force) and, unless the test failed, removes
  // dir_.
  void TearDown() override;

  // Makes farm_ (tag `tag`) and brings it up; fails the test otherwise.
  void UpFarm(const std::string& tag);

  // Starts tcp-info in the farm's client namespace, run by `wrapper` (a
  // command line ending where tcp-info's begins; none if empty), with
  // -output=dir_/out -uuid-prefix-file=dir_/prefix -interval=10ms
  // -prometheusx.listen-address=127.0.0.1:kDefaultMetricsPort, then `flags`
  // (a later flag wins), appending to daemon_log(); waits (at most 10 s)
  // until it runs there. Sets daemon_; fails the test if it does not run.
  // REQUIRES: farm_ is up, no daemon runs.
  void StartDaemon(const std::vector<std::string>& flags,
                   const std::vector<std::string>& wrapper = {});
  // StartDaemon, then waits (at most 15 s) until the daemon is past start-up
  // (flags, prefix file, sockets) and polls (WaitUntilPolling); fails the
  // test otherwise.
  void StartPollingDaemon(const std::vector<std::string>& flags,
                          const std::vector<std::string>& wrapper = {});
  // SIGTERM: the daemon must exit within 10 s, with status 0 (it finishes
  // every file). Sets daemon_ to -1 once it is reaped.
  void StopDaemon();

  // The archives the daemon wrote under dir_/out with prefix_.
  std::map<uint64_t, std::vector<ArchiveFile>> Archives() const;

  std::string daemon_log() const { return dir_ + "/tcp-info.log"; }

  std::string dir_;
  std::string prefix_;
  std::unique_ptr<Farm> farm_;
  int listeners_[2] = {-1, -1};
  pid_t daemon_ = -1;

 private:
  DaemonTestSetup setup_;
};

}  // namespace testutil

#endif  // TCPINFO_TESTS_TESTUTIL_DAEMON_FIXTURE_H_
