// build/bin/tcp-info as a user meets it: mistakes fail fast with one line
// and exit 2, -help documents every flag, -reps ends the run, and SIGINT or
// SIGTERM end it cleanly with exit 0.
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/farm.h"
#include "tests/testutil/paths.h"
#include "tests/testutil/reference_flags.h"

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
  // A daemon a failed assertion left running is killed: no test leaves
  // one behind.
  void TearDown() override {
    for (const pid_t pid : started_) {
      if (waitpid(pid, nullptr, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
      }
    }
    std::filesystem::remove_all(dir_);
  }

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
      umask(022);
      if (!cwd_.empty() && chdir(cwd_.c_str()) != 0) _exit(126);
      if (unprivileged_ && geteuid() == 0 &&
          (setgroups(0, nullptr) != 0 || setgid(65534) != 0 ||
           setuid(65534) != 0)) {
        _exit(125);
      }
      for (const std::string& e : env) putenv(const_cast<char*>(e.c_str()));
      std::vector<char*> argv;
      argv.reserve(args.size() + 1);
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    started_.push_back(pid);
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
  std::vector<pid_t> started_;  // every daemon Start()ed
  std::string cwd_;             // the daemon's working directory if set
  bool unprivileged_ = false;   // run it as uid and gid 65534
};

TEST_F(TcpInfoCli, MistakesFailWithOneLineAndExitTwo) {
  const std::string file = dir_ + "/a_file";
  std::ofstream(file) << "x";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"-no-such-flag"}, "unknown flag -no-such-flag"},
      {{"-reps", "many"}, "invalid value \"many\" for flag -reps"},
      {{"-anonymize.ip=full"}, "-anonymize.ip"},
      {{"-output", file}, "-output " + file + ": not a directory"},
      {{"-output", file + "/sub/deeper"},
       "-output " + file + "/sub/deeper: " + file +
           "/sub: cannot create: Not a directory"},
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
      {{"-sink=kafka://k:9092/t?acks=most"},
       "tcp-info: -sink=kafka://k:9092/t?acks=most: kafka property \"acks\" = "
       "\"most\": Invalid value"},
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
        "-destroy-events", "-logx.debug", "-sink", "-sink.queue-size",
        "-flows.active-timeout"}) {
    EXPECT_THAT(r.out, HasSubstr(flag));
  }
  // Every flag of the reference's own -help, each on its own line.
  const std::vector<testutil::ReferenceFlag> reference =
      testutil::ReferenceFlags();
  ASSERT_FALSE(reference.empty());
  for (const testutil::ReferenceFlag& f : reference) {
    EXPECT_THAT(r.out, HasSubstr("\n  -" + f.name + " ")) << f.name;
  }
}

TEST_F(TcpInfoCli, MissingOutputIsCreatedWithItsParents) {
  const std::string out = dir_ + "/new/a/b";
  Result r = Run({"-output", out, "-reps=1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  struct stat st;
  for (const std::string& d : {dir_ + "/new", dir_ + "/new/a", out}) {
    ASSERT_EQ(stat(d.c_str(), &st), 0) << d;
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0755u) << d;
  }
  // Relative to the daemon's working directory.
  cwd_ = dir_;
  r = Run({"-output=rel/out", "-reps=1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::is_directory(dir_ + "/rel/out"));
  // Through a symbolic link to a directory: created inside its target.
  ASSERT_EQ(symlink("out", (dir_ + "/link").c_str()), 0);
  r = Run({"-output", dir_ + "/link/via/link", "-reps=1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::is_directory(dir_ + "/out/via/link"));
}

TEST_F(TcpInfoCli, UnusableOutputFailsAtStartWithOneLine) {
  // A dangling symbolic link is refused (as by the reference and mkdir -p),
  // not followed to create its target.
  ASSERT_EQ(symlink("gone", (dir_ + "/dangling").c_str()), 0);
  ASSERT_EQ(mkdir((dir_ + "/ro").c_str(), 0555), 0);
  ASSERT_EQ(chmod((dir_ + "/ro").c_str(), 0555), 0);
  ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
  struct Case {
    std::vector<std::string> args;
    std::string line;
    bool unprivileged;
  };
  const std::vector<Case> cases = {
      {{"-output", dir_ + "/dangling/sub"},
       "tcp-info: -output " + dir_ + "/dangling/sub: " + dir_ +
           "/dangling: symbolic link to missing gone\n",
       false},
      {{"-output", dir_ + "/ro"},
       "tcp-info: -output " + dir_ + "/ro: not writable: Permission denied\n",
       true},
      {{"-output", dir_ + "/ro/new"},
       "tcp-info: -output " + dir_ +
           "/ro/new: cannot create: Permission denied\n",
       true},
  };
  for (const Case& c : cases) {
    unprivileged_ = c.unprivileged;
    const Result r = Run(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args[1];
    EXPECT_EQ(r.err, c.line);
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/gone"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/ro/new"));
  chmod((dir_ + "/ro").c_str(), 0755);
}

// A loopback listener of the test's own, and connections to it.
struct Loopback {
  Loopback() {
    listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(address);
    EXPECT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), len), 0);
    EXPECT_EQ(listen(listener, 16), 0);
    getsockname(listener, reinterpret_cast<sockaddr*>(&address), &len);
  }
  ~Loopback() {
    for (const int fd : fds) close(fd);
    close(listener);
  }
  // Connects once; returns the cookies of the connection's two sockets.
  std::vector<uint64_t> Connect() {
    const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_EQ(
        connect(client, reinterpret_cast<sockaddr*>(&address), sizeof(address)),
        0);
    const int server = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    std::vector<uint64_t> cookies;
    for (const int fd : {client, server}) {
      fds.push_back(fd);
      uint64_t cookie = 0;
      socklen_t len = sizeof(cookie);
      EXPECT_EQ(getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len), 0);
      cookies.push_back(cookie);
    }
    return cookies;
  }
  int listener = -1;
  sockaddr_in address{};
  std::vector<int> fds;
};

TEST_F(TcpInfoCli, LogxDebugWritesWhatTheDaemonDoes) {
  const std::string prefix_file = dir_ + "/prefix";
  std::ofstream(prefix_file) << "clitest\n";
  for (const bool from_env : {false, true}) {
    SCOPED_TRACE(from_env ? "LOGX_DEBUG=true" : "-logx.debug true");
    const std::string out = dir_ + (from_env ? "/debug_env" : "/debug");
    std::vector<std::string> args = {"-output",        out,
                                     "-reps=0",        "-interval=10ms",
                                     "-include-local", "-uuid-prefix-file",
                                     prefix_file};
    std::vector<std::string> env;
    if (from_env) {
      env.push_back("LOGX_DEBUG=true");
    } else {
      args.insert(args.end(), {"-logx.debug", "true"});
    }
    Loopback loopback;  // its listener is among the first cycle's opens
    const pid_t pid = Start(args, env);
    ASSERT_TRUE(testutil::WaitUntilPolling(pid, absl::Seconds(15)));
    // Past the first cycle's burst of opens (10 lines a second at most), a
    // new connection is logged with its uuid: either of its two sockets
    // (both open in one cycle; the second line is held back). Other
    // programs' sockets may take the line: up to 10 connections, 300 ms
    // apart, until one is logged.
    std::vector<std::string> open_lines;
    auto logged = [&] {
      const std::string err = testutil::ReadText(dir_ + "/stderr");
      for (const std::string& line : open_lines) {
        if (err.find(line) != std::string::npos) return true;
      }
      return false;
    };
    for (int attempt = 0; attempt < 10 && !logged(); ++attempt) {
      absl::SleepFor(absl::Milliseconds(300));
      for (uint64_t cookie : loopback.Connect()) {
        open_lines.push_back(absl::StrFormat(
            "tcp-info: debug: open clitest_%016X 127.0.0.1:", cookie));
      }
      for (int i = 0; i < 30 && !logged(); ++i) {
        absl::SleepFor(absl::Milliseconds(10));
      }
    }
    kill(pid, SIGTERM);
    const Result r = Finish(pid);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(logged()) << r.err;
    EXPECT_THAT(r.err, HasSubstr("tcp-info: debug: output " + out +
                                 " (created), uuid prefix clitest, interval "
                                 "10ms, reps 0"));
    EXPECT_THAT(r.err, HasSubstr("\ntcp-info: debug: cycle 1: ipv6 "));
  }
  // Off by default: not one debug line.
  const Result quiet = Run({"-output", dir_ + "/out", "-reps=30",
                            "-interval=10ms", "-include-local"});
  EXPECT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_THAT(quiet.err, Not(HasSubstr("debug:")));
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
