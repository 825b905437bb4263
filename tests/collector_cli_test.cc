// build/bin/tcp-info as a user meets it: mistakes fail fast with one line
// and exit 2, -help documents every flag, -reps ends the run, and SIGINT or
// SIGTERM end it cleanly with exit 0.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/farm.h"
#include "tests/testutil/paths.h"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Result {
  int exit_code = -1;
  std::string out, err;
};

class TcpInfoCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/tcp_info_cli_", getpid());
    std::filesystem::create_directories(dir_ + "/out");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Starts tcp-info with `args` (metrics off unless given), output to files.
  pid_t Start(std::vector<std::string> args,
              const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), "-prometheusx.listen-address=");
    args.insert(args.begin(), testutil::BinaryPath("tcp-info"));
    const pid_t pid = fork();
    if (pid == 0) {
      const int out =
          open((dir_ + "/stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err =
          open((dir_ + "/stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(out, 1);
      dup2(err, 2);
      for (const std::string& e : env) putenv(const_cast<char*>(e.c_str()));
      std::vector<char*> argv;
      argv.reserve(args.size() + 1);
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    return pid;
  }

  // Waits (at most 20 s) for `pid` and collects its output.
  Result Finish(pid_t pid) {
    Result r;
    int status = 0;
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (waitpid(pid, &status, WNOHANG) == 0) {
      if (absl::Now() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ADD_FAILURE() << "tcp-info did not exit";
        break;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    r.out = testutil::ReadFileOrDie(dir_ + "/stdout");
    r.err = testutil::ReadFileOrDie(dir_ + "/stderr");
    return r;
  }

  Result Run(std::vector<std::string> args,
             const std::vector<std::string>& env = {}) {
    return Finish(Start(std::move(args), env));
  }

  std::string dir_;
};

TEST_F(TcpInfoCli, MistakesFailWithOneLineAndExitTwo) {
  const std::string file = dir_ + "/a_file";
  std::ofstream(file) << "x";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"-no-such-flag"}, "unknown flag -no-such-flag"},
      {{"-reps", "many"}, "invalid value \"many\" for flag -reps"},
      {{"-anonymize.ip=full"}, "-anonymize.ip"},
      {{"-output", dir_ + "/missing"}, "No such file or directory"},
      {{"-output", file}, "not a directory"},
      {{"-output", dir_ + "/out", "-uuid-prefix-file", dir_ + "/none"},
       "-uuid-prefix-file"},
  };
  for (const auto& [args, message] : cases) {
    const Result r = Run(args);
    EXPECT_EQ(r.exit_code, 2) << args[0];
    EXPECT_THAT(r.err, HasSubstr(message));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  const Result env = Run({"-output", dir_ + "/out"}, {"REPS=-3"});
  EXPECT_EQ(env.exit_code, 2);
  EXPECT_THAT(env.err, HasSubstr("$REPS"));
}

TEST_F(TcpInfoCli, BadSinkFailsWithOneLineNamingTheFlagAndExitsTwo) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"-sink=nope:x"}, "tcp-info: -sink=nope:x: unknown scheme \"nope\""},
      {{"-sink=sqlite:" + dir_ + "/missing/flows.db"},
       "tcp-info: -sink=sqlite:" + dir_ + "/missing/flows.db: directory " +
           dir_ + "/missing: No such file or directory"},
      {{"-sink=jsonl:-", "-sink=kafka://k:9092"}, "-sink=kafka://k:9092: "},
      {{"-sink.queue-size=0"}, "-sink.queue-size"},
      {{"-flows.active-timeout=soon"}, "-flows.active-timeout"},
  };
  for (const auto& [args, message] : cases) {
    std::vector<std::string> full = {"-output", dir_ + "/out"};
    full.insert(full.end(), args.begin(), args.end());
    const Result r = Run(full);
    EXPECT_EQ(r.exit_code, 2) << args.back();
    EXPECT_THAT(r.err, HasSubstr(message));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  // From the environment too, and never with the password.
  const Result env = Run({"-output", dir_ + "/out"},
                         {"SINK=jsonl:- kafka://u:s3cret@k:9092/t"});
  EXPECT_EQ(env.exit_code, 2);
  EXPECT_THAT(env.err, HasSubstr("-sink=kafka://u@k:9092/t: "));
  EXPECT_THAT(env.err, Not(HasSubstr("s3cret")));
  EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/out"));
}

TEST_F(TcpInfoCli, HelpDocumentsEveryFlag) {
  const Result r = Run({"-help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag :
       {"-output", "-reps", "-interval", "-exclude-srcport", "-exclude-dstip",
        "-anonymize.ip", "-uuid-prefix-file", "-include-local",
        "-prometheusx.listen-address", "-tcpinfo.eventsocket",
        "-destroy-events", "-sink", "-sink.queue-size",
        "-flows.active-timeout"}) {
    EXPECT_THAT(r.out, HasSubstr(flag));
  }
}

TEST_F(TcpInfoCli, RepsEndsTheRunWithASummary) {
  const absl::Time start = absl::Now();
  const Result r =
      Run({"--output", dir_ + "/out", "-reps=20", "-interval=10ms"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(190));
  EXPECT_THAT(r.err, HasSubstr("cycles=20 "));
  EXPECT_THAT(r.err, HasSubstr("incomplete_cycles=0"));
}

TEST_F(TcpInfoCli, SignalsEndTheRunCleanly) {
  for (int sig : {SIGINT, SIGTERM}) {
    // An interval of a minute: the signal must wake the sleep, not wait it out.
    const pid_t pid =
        Start({"-output", dir_ + "/out", "-reps=0", "-interval=1m"});
    // Signalled once the first cycle ran and the loop sleeps.
    ASSERT_TRUE(testutil::WaitUntilPolling(pid, absl::Seconds(15)))
        << testutil::ReadText(dir_ + "/stderr");
    const absl::Time sent = absl::Now();
    ASSERT_EQ(kill(pid, sig), 0);
    const Result r = Finish(pid);
    EXPECT_LT(absl::Now() - sent, absl::Seconds(5));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.err, HasSubstr("stopped by signal"));
    EXPECT_THAT(r.err, HasSubstr("cycles=1 "));
  }
}

}  // namespace
