#include "tests/testutil/daemon_fixture.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/testutil/paths.h"

namespace testutil {

namespace fs = std::filesystem;

void DaemonTest::SetUp() {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
  const std::string test =
      ::testing::UnitTest::GetInstance()->current_test_info()->name();
  dir_ = absl::StrCat(::testing::TempDir(), "/", setup_.dir_name, "_", getpid(),
                      "_", test.substr(0, 12));
  fs::remove_all(dir_);
  fs::create_directories(dir_ + "/out");
  prefix_ = absl::StrCat(setup_.prefix, getpid());
  std::ofstream(dir_ + "/prefix") << prefix_ << "\n";
  if (setup_.farm_tag.empty()) return;
  ASSERT_NO_FATAL_FAILURE(UpFarm(setup_.farm_tag));
  if (setup_.port != 0) ListenOnServer(*farm_, setup_.port, listeners_);
}

void DaemonTest::TearDown() {
  for (int& fd : listeners_) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
  {
    ProcessGuard guard{&daemon_};  // SIGKILL if still running
  }
  farm_.reset();  // connfarm down
  if (!HasFailure() && !dir_.empty()) fs::remove_all(dir_);
}

void DaemonTest::UpFarm(const std::string& tag) {
  farm_ = std::make_unique<Farm>(dir_, tag);
  ASSERT_TRUE(farm_->Up()) << ReadText(farm_->log());
}

void DaemonTest::StartDaemon(const std::vector<std::string>& flags,
                             const std::vector<std::string>& wrapper) {
  std::vector<std::string> argv = {ConnfarmPath(), "exec", "--name",
                                   farm_->name(), "--"};
  argv.insert(argv.end(), wrapper.begin(), wrapper.end());
  argv.insert(argv.end(),
              {BinaryPath("tcp-info"), "-output=" + dir_ + "/out",
               "-uuid-prefix-file=" + dir_ + "/prefix", "-interval=10ms",
               // Not the default :9990 on every address: a farm client may
               // hold local port 9990, and the daemon would not start.
               absl::StrCat("-prometheusx.listen-address=127.0.0.1:",
                            kDefaultMetricsPort)});
  argv.insert(argv.end(), flags.begin(), flags.end());
  daemon_ = Spawn(argv, daemon_log());
  ASSERT_TRUE(WaitForExe(daemon_, "tcp-info", absl::Seconds(10)))
      << ReadText(daemon_log());
}

void DaemonTest::StartPollingDaemon(const std::vector<std::string>& flags,
                                    const std::vector<std::string>& wrapper) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon(flags, wrapper));
  ASSERT_TRUE(WaitUntilPolling(daemon_, absl::Seconds(15)))
      << "daemon not polling: " << ReadText(daemon_log());
}

void DaemonTest::StopDaemon() {
  ASSERT_EQ(kill(daemon_, SIGTERM), 0);
  const int status = WaitFor(daemon_, absl::Seconds(10));
  ASSERT_GE(status, 0) << "daemon ignored SIGTERM";
  daemon_ = -1;
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << ReadText(daemon_log());
}

std::map<uint64_t, std::vector<ArchiveFile>> DaemonTest::Archives() const {
  return ListArchives(dir_ + "/out", prefix_);
}

}  // namespace testutil
