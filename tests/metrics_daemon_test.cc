// build/bin/tcp-info's /metrics end to end: served on [::1], scrapes
// answered promptly while 50 clients dribble a request byte every half
// second (the case that silenced the civetweb server), `le` spelled as Go
// spells it, and a taken port failing start-up with one line and exit 2.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testutil/http_client.h"
#include "tests/testutil/paths.h"

namespace {

using std::chrono::milliseconds;

// A port free on ::1 a moment ago.
int FreeIpv6Port() {
  const int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  socklen_t length = sizeof(a);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length) != 0) {
    close(fd);
    return 0;
  }
  close(fd);
  return ntohs(a.sin6_port);
}

class MetricsDaemon : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/metrics_daemon_", getpid());
    std::filesystem::create_directories(dir_ + "/out");
  }
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }

  // Starts tcp-info serving metrics on `address`, stderr to dir_/stderr.
  void Start(const std::string& address) {
    std::vector<std::string> args = {
        testutil::BinaryPath("tcp-info"),
        "-output=" + dir_ + "/out",
        "-interval=10ms",
        "-destroy-events=false",
        "-prometheusx.listen-address=" + address,
    };
    pid_ = fork();
    if (pid_ == 0) {
      if (!freopen((dir_ + "/stderr").c_str(), "w", stderr)) _exit(126);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }

  // Waits (at most 20 s) for the daemon's exit; its status, -1 if killed.
  int Wait() {
    int status = 0;
    const auto deadline =
        std::chrono::steady_clock::now() + milliseconds(20000);
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        pid_ = -1;
        return -1;
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string dir_;
  pid_t pid_ = -1;
};

TEST_F(MetricsDaemon, AnswersScrapesOnIpv6LoopbackWhileSlowClientsDribble) {
  const int port = FreeIpv6Port();
  ASSERT_GT(port, 0);
  Start(absl::StrCat("[::1]:", port));
  testutil::Response first;
  for (int i = 0; i < 200 && !first.ok; ++i) {
    std::this_thread::sleep_for(milliseconds(50));
    first = testutil::Scrape(port, nullptr, AF_INET6);
  }
  ASSERT_TRUE(first.ok) << testutil::ReadFileOrDie(dir_ + "/stderr");
  EXPECT_EQ(first.status, 200);
  EXPECT_TRUE(absl::StrContains(
      first.body, "tcpinfo_send_rate_histogram_bucket{le=\"1.58e+06\"} "));
  EXPECT_TRUE(absl::StrContains(first.body,
                                "tcpinfo_polling_interval_histogram_bucket{le="
                                "\"0.010000000000000002\"} "));
  // 50 clients, a byte of a request every 500 ms each.
  std::vector<int> slow;
  for (int i = 0; i < 50; ++i) {
    const int fd = testutil::Connect(port, AF_INET6);
    ASSERT_GE(fd, 0);
    slow.push_back(fd);
  }
  const std::string request = "GET /metrics HTTP/1.1\r\nX-Slow: aaaaaaaaaa";
  int64_t worst = 0;
  for (int round = 0; round < 6; ++round) {
    for (int fd : slow) {
      (void)!send(fd, &request[round], 1, MSG_NOSIGNAL);
    }
    for (int i = 0; i < 2; ++i) {
      std::this_thread::sleep_for(milliseconds(250));
      int64_t ms = 0;
      const testutil::Response r = testutil::Scrape(port, &ms, AF_INET6);
      EXPECT_EQ(r.status, 200);
      EXPECT_LT(ms, 100);
      worst = std::max(worst, ms);
    }
  }
  std::printf("daemon scrape under 50 dribbling clients: worst %ld ms\n",
              static_cast<long>(worst));
  for (int fd : slow) close(fd);
  ASSERT_EQ(kill(pid_, SIGTERM), 0);
  EXPECT_EQ(Wait(), 0) << testutil::ReadFileOrDie(dir_ + "/stderr");
}

TEST_F(MetricsDaemon, TakenPortFailsStartWithOneLineAndExitTwo) {
  const int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  socklen_t length = sizeof(a);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length), 0);
  const std::string address = absl::StrCat("[::1]:", ntohs(a.sin6_port));
  Start(address);
  EXPECT_EQ(Wait(), 2);
  close(fd);
  const std::string err = testutil::ReadFileOrDie(dir_ + "/stderr");
  EXPECT_TRUE(absl::StrContains(err, "cannot serve metrics on " + address))
      << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

}  // namespace
