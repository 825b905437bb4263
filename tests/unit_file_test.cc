// The systemd unit in cmd/tcp-info (issue 7, least privilege): systemd
// itself accepts it without a warning (`systemd-analyze verify`), rates its
// sandbox as exposed little (`systemd-analyze security --offline`), grants
// CAP_NET_ADMIN and nothing else to a dedicated user, its ExecStart flags
// are valid tcp-info flags that fit the sandbox (metrics on loopback,
// archives and the event socket in the only writable directories), and
// every system call tcp-info makes (traced with strace while it polls,
// serves metrics and an event client) passes its SystemCallFilter.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "collector/flags.h"
#include "gtest/gtest.h"
#include "tests/eventsocket_reader.h"
#include "tests/metrics_scrape.h"
#include "tests/testutil/farm.h"
#include "tests/testutil/paths.h"

namespace {

namespace fs = std::filesystem;

constexpr char kSystemdAnalyze[] = "/usr/bin/systemd-analyze";
constexpr char kStrace[] = "/usr/bin/strace";
constexpr char kInstalledBinary[] = "/usr/local/bin/tcp-info";
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

std::string UnitPath() {
  return testutil::SourceDir() + "/cmd/tcp-info/tcp-info.service";
}

// A unit file as systemd reads it: "Section.Key" -> every value assigned,
// in order; continuation lines joined, comments dropped.
using Unit = std::map<std::string, std::vector<std::string>>;

Unit ParseUnit(const std::string& text) {
  Unit unit;
  std::string section;
  std::string pending;
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    absl::string_view stripped = absl::StripAsciiWhitespace(raw);
    if (pending.empty() &&
        (stripped.empty() || stripped[0] == '#' || stripped[0] == ';')) {
      continue;
    }
    if (absl::ConsumeSuffix(&stripped, "\\")) {
      absl::StrAppend(&pending, stripped, " ");
      continue;
    }
    const std::string line = absl::StrCat(pending, stripped);
    pending.clear();
    if (line.front() == '[' && line.back() == ']') {
      section = line.substr(1, line.size() - 2);
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    unit[absl::StrCat(section, ".",
                      absl::StripAsciiWhitespace(line.substr(0, eq)))]
        .push_back(
            std::string(absl::StripAsciiWhitespace(line.substr(eq + 1))));
  }
  return unit;
}

// The one value of `key`, "" if absent; fails the test if set twice.
std::string One(const Unit& unit, const std::string& key) {
  const auto it = unit.find(key);
  if (it == unit.end()) return "";
  EXPECT_EQ(it->second.size(), 1u) << key << " is set more than once";
  return it->second.back();
}

// Every whitespace-separated word of every value of `key`.
std::set<std::string> Words(const Unit& unit, const std::string& key) {
  std::set<std::string> out;
  const auto it = unit.find(key);
  if (it == unit.end()) return out;
  for (const std::string& v : it->second) {
    for (absl::string_view w : absl::StrSplit(v, ' ', absl::SkipEmpty())) {
      out.insert(std::string(w));
    }
  }
  return out;
}

// `systemd-analyze syscall-filter` output: group ("@name") -> members, each
// a system call or another group.
using FilterGroups = std::map<std::string, std::vector<std::string>>;

FilterGroups ParseFilterGroups(const std::string& text) {
  FilterGroups groups;
  std::string group;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty()) {
      group.clear();
    } else if (line[0] == '@') {
      group = std::string(absl::StripAsciiWhitespace(line));
    } else if (!group.empty() && absl::StartsWith(line, " ")) {
      const absl::string_view member = absl::StripAsciiWhitespace(line);
      if (!member.empty() && member[0] != '#') {
        groups[group].push_back(std::string(member));
      }
    }
  }
  return groups;
}

// The system calls of `name` (a call, or a group expanded recursively).
void Expand(const FilterGroups& groups, const std::string& name,
            std::set<std::string>* out) {
  if (name[0] != '@') {
    out->insert(name);
    return;
  }
  const auto it = groups.find(name);
  EXPECT_NE(it, groups.end()) << "unknown group " << name;
  if (it == groups.end()) return;
  for (const std::string& member : it->second) Expand(groups, member, out);
}

class UnitFile : public ::testing::Test {
 protected:
  void SetUp() override {
    text_ = testutil::ReadFileOrDie(UnitPath());
    unit_ = ParseUnit(text_);
    dir_ = absl::StrCat(::testing::TempDir(), "/unit_file_", getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // The unit with ExecStart pointing at the built binary (verify checks
  // that the command exists), in a directory of its own; its path.
  std::string UnitForVerify() {
    EXPECT_TRUE(absl::StrContains(text_, kInstalledBinary));
    const std::string path = dir_ + "/tcp-info.service";
    std::ofstream(path) << absl::StrReplaceAll(
        text_, {{kInstalledBinary, testutil::BinaryPath("tcp-info")}});
    return path;
  }

  // Runs systemd-analyze with `args`; its exit code, output in *output.
  int Analyze(const std::vector<std::string>& args, std::string* output) {
    std::vector<std::string> argv = {kSystemdAnalyze};
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string log = dir_ + "/analyze.log";
    fs::remove(log);
    const int rc = testutil::Run(argv, log);
    *output = testutil::ReadText(log);
    return rc;
  }

  std::string text_;
  Unit unit_;
  std::string dir_;
};

TEST_F(UnitFile, SystemdAnalyzeVerifiesItWithoutAWarning) {
  ASSERT_TRUE(fs::exists(kSystemdAnalyze))
      << kSystemdAnalyze << " missing: install the Debian package systemd";
  const std::string path = UnitForVerify();
  std::string output;
  // Unknown keys and bad values are warnings with exit code 0: the output
  // must be empty too.
  EXPECT_EQ(Analyze({"verify", "--man=no", "--generators=no", path}, &output),
            0)
      << output;
  EXPECT_EQ(output, "");
}

TEST_F(UnitFile, SystemdAnalyzeSecurityRatesItExposedLittle) {
  ASSERT_TRUE(fs::exists(kSystemdAnalyze))
      << kSystemdAnalyze << " missing: install the Debian package systemd";
  const std::string path = UnitForVerify();
  std::string output;
  // --threshold is in tenths: exit 1 above an exposure of 2.0 ("OK" is
  // below 5.0; an unhardened service scores 9.6).
  EXPECT_EQ(Analyze({"security", "--offline=true", "--man=no", "--no-pager",
                     "--threshold=20", path},
                    &output),
            0)
      << output;
  const size_t at =
      output.find("Overall exposure level for tcp-info.service: ");
  ASSERT_NE(at, std::string::npos) << output;
  double exposure = 99;
  const std::string rest = output.substr(at + 45);
  ASSERT_TRUE(absl::SimpleAtod(rest.substr(0, rest.find(' ')), &exposure))
      << rest;
  std::cout << "systemd-analyze security: exposure " << exposure << "\n";
  EXPECT_LE(exposure, 2.0);
}

TEST_F(UnitFile, EverySystemCallOfTheDaemonPassesItsFilter) {
  ASSERT_TRUE(fs::exists(kSystemdAnalyze))
      << kSystemdAnalyze << " missing: install the Debian package systemd";
  ASSERT_TRUE(fs::exists(kStrace))
      << kStrace << " missing: install the Debian package strace";
  // What the unit allows: its first SystemCallFilter= minus the groups of
  // its "~" lines (SystemCallErrorNumber=EPERM: a call outside it fails).
  std::string listing;
  ASSERT_EQ(Analyze({"syscall-filter", "--no-pager"}, &listing), 0);
  const FilterGroups groups = ParseFilterGroups(listing);
  const std::vector<std::string>& filters =
      unit_.at("Service.SystemCallFilter");
  std::set<std::string> allowed, denied;
  for (const std::string& filter : filters) {
    const bool deny = absl::StartsWith(filter, "~");
    for (absl::string_view name : absl::StrSplit(absl::StripPrefix(filter, "~"),
                                                 ' ', absl::SkipEmpty())) {
      Expand(groups, std::string(name), deny ? &denied : &allowed);
    }
  }
  ASSERT_GT(allowed.size(), 100u) << listing;
  ASSERT_FALSE(denied.empty());

  // The daemon, traced: start-up, a second of polling, a metrics scrape,
  // an event client, SIGTERM.
  const std::string trace = dir_ + "/strace.txt";
  const int port = 20000 + getpid() % 20000;
  const std::string socket_path = dir_ + "/events.sock";
  fs::create_directories(dir_ + "/out");
  // LeakSanitizer cannot work under ptrace: off for the traced daemon.
  const char* asan = std::getenv("ASAN_OPTIONS");
  const std::string saved = asan != nullptr ? asan : "";
  if (kSanitized) {
    setenv("ASAN_OPTIONS", testutil::AsanOptionsWith("detect_leaks=0").c_str(),
           1);
  }
  pid_t daemon = testutil::Spawn(
      {kStrace, "-f", "-qq", "-o", trace, testutil::BinaryPath("tcp-info"),
       "-output=" + dir_ + "/out", "-interval=10ms",
       absl::StrCat("-prometheusx.listen-address=127.0.0.1:", port),
       "-tcpinfo.eventsocket=" + socket_path},
      dir_ + "/tcp-info.log");
  if (kSanitized) {
    if (asan != nullptr) {
      setenv("ASAN_OPTIONS", saved.c_str(), 1);
    } else {
      unsetenv("ASAN_OPTIONS");
    }
  }
  testutil::ProcessGuard guard{&daemon};
  // tcp-info, strace's child: killed first when the test ends early, since
  // strace killed by the guard would detach it and leave it running.
  auto traced_pid = [&daemon] {
    int64_t pid = 0;
    if (!absl::SimpleAtoi(
            absl::StripAsciiWhitespace(testutil::ReadText(
                absl::StrCat("/proc/", daemon, "/task/", daemon, "/children"))),
            &pid)) {
      return pid_t{-1};
    }
    return static_cast<pid_t>(pid);
  };
  struct TracedGuard {
    const pid_t* daemon;
    std::function<pid_t()> traced;
    ~TracedGuard() {
      if (*daemon <= 0) return;
      const pid_t pid = traced();
      if (pid > 0) kill(pid, SIGKILL);
    }
  } traced_guard{&daemon, traced_pid};
  ASSERT_TRUE(testutil::WaitUntilListening(socket_path))
      << testutil::ReadText(dir_ + "/tcp-info.log");
  {
    testutil::ReadingClient client(socket_path);
    EXPECT_NE(testutil::HttpGet("127.0.0.1", port, "/metrics"), "");
    absl::SleepFor(absl::Seconds(1));
  }
  // SIGTERM to tcp-info itself, strace's child; strace exits after it.
  const pid_t traced = traced_pid();
  ASSERT_GT(traced, 0);
  ASSERT_EQ(kill(traced, SIGTERM), 0);
  const int status = testutil::WaitFor(daemon, absl::Seconds(20));
  ASSERT_GE(status, 0);
  daemon = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << testutil::ReadText(dir_ + "/tcp-info.log");
  EXPECT_TRUE(absl::StrContains(testutil::ReadText(dir_ + "/tcp-info.log"),
                                "stopped by signal"));

  // "PID name(args...) = result", "PID <... name resumed>...", "+++ ...".
  std::set<std::string> calls;
  for (absl::string_view line :
       absl::StrSplit(testutil::ReadText(trace), '\n', absl::SkipEmpty())) {
    const size_t space = line.find(' ');
    if (space == absl::string_view::npos) continue;
    absl::string_view rest =
        absl::StripLeadingAsciiWhitespace(line.substr(space + 1));
    if (!absl::ConsumePrefix(&rest, "<... ")) {
      if (rest.empty() || !std::islower(static_cast<unsigned char>(rest[0]))) {
        continue;
      }
    }
    calls.insert(std::string(rest.substr(0, rest.find_first_of("( "))));
  }
  ASSERT_GT(calls.size(), 20u) << testutil::ReadText(trace).substr(0, 2000);
  EXPECT_TRUE(calls.count("socket") && calls.count("recvmsg") &&
              calls.count("accept4"))
      << absl::StrJoin(calls, " ");
  for (const std::string& call : calls) {
    EXPECT_TRUE(allowed.count(call) == 1 && denied.count(call) == 0)
        << call << " is " << (allowed.count(call) ? "denied" : "not allowed")
        << " by the unit's SystemCallFilter";
  }
  std::cout << calls.size()
            << " distinct system calls: " << absl::StrJoin(calls, " ") << "\n";
}

TEST_F(UnitFile, GrantsOnlyNetAdminToADedicatedUser) {
  EXPECT_EQ(One(unit_, "Service.User"), "tcp-info");
  EXPECT_EQ(One(unit_, "Service.Group"), "tcp-info");
  EXPECT_EQ(unit_.count("Service.DynamicUser"), 0u);
  EXPECT_EQ(One(unit_, "Service.AmbientCapabilities"), "CAP_NET_ADMIN");
  EXPECT_EQ(One(unit_, "Service.CapabilityBoundingSet"), "CAP_NET_ADMIN");
  EXPECT_EQ(One(unit_, "Service.NoNewPrivileges"), "yes");
  // It must see and may subscribe in the host's network namespace.
  EXPECT_EQ(unit_.count("Service.PrivateNetwork"), 0u);
  EXPECT_EQ(unit_.count("Service.PrivateUsers"), 0u);
  EXPECT_EQ(
      Words(unit_, "Service.RestrictAddressFamilies"),
      (std::set<std::string>{"AF_NETLINK", "AF_UNIX", "AF_INET", "AF_INET6"}));
  for (const char* key :
       {"ProtectHome", "PrivateTmp", "PrivateDevices", "MemoryDenyWriteExecute",
        "LockPersonality", "RestrictNamespaces", "ProtectKernelTunables",
        "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups",
        "RestrictSUIDSGID", "RestrictRealtime"}) {
    EXPECT_EQ(One(unit_, absl::StrCat("Service.", key)), "yes") << key;
  }
  EXPECT_EQ(One(unit_, "Service.ProtectSystem"), "strict");
  EXPECT_EQ(unit_.at("Service.SystemCallFilter").front(), "@system-service");
  EXPECT_EQ(One(unit_, "Service.UMask"), "0027");
  EXPECT_EQ(One(unit_, "Service.Restart"), "on-failure");

  // The user and the archive directory come from the snippets beside it.
  const std::string sysusers = testutil::ReadFileOrDie(
      testutil::SourceDir() + "/cmd/tcp-info/tcp-info.sysusers");
  EXPECT_TRUE(absl::StrContains(sysusers, "\nu tcp-info - ")) << sysusers;
  const std::string tmpfiles = testutil::ReadFileOrDie(
      testutil::SourceDir() + "/cmd/tcp-info/tcp-info.tmpfiles");
  EXPECT_TRUE(absl::StrContains(
      tmpfiles, "\nd /var/spool/tcp-info 0750 tcp-info tcp-info -\n"))
      << tmpfiles;
}

TEST_F(UnitFile, ExecStartFlagsAreValidAndFitTheSandbox) {
  const std::vector<std::string> exec =
      absl::StrSplit(One(unit_, "Service.ExecStart"), ' ', absl::SkipEmpty());
  ASSERT_GE(exec.size(), 2u);
  EXPECT_EQ(exec[0], kInstalledBinary);
  absl::StatusOr<collector::Config> config = collector::ParseFlags(
      std::vector<std::string>(exec.begin() + 1, exec.end()),
      [](const std::string&) -> std::optional<std::string> {
        return std::nullopt;
      });
  ASSERT_TRUE(config.ok()) << config.status();

  // Metrics on loopback only.
  EXPECT_EQ(config->prometheus_listen_address, "localhost:9990");
  // The event socket in the runtime directory, which is writable.
  const std::string runtime = "/run/" + One(unit_, "Service.RuntimeDirectory");
  EXPECT_EQ(runtime, "/run/tcp-info");
  EXPECT_EQ(config->eventsocket, runtime + "/events.sock");
  EXPECT_EQ(One(unit_, "Service.RuntimeDirectoryMode"), "0750");
  // Archives in the other writable directory, which tmpfiles.d creates.
  EXPECT_EQ(config->output, "/var/spool/tcp-info");
  EXPECT_EQ(Words(unit_, "Service.ReadWritePaths"),
            (std::set<std::string>{config->output, runtime}));
  // Stopping finishes every archive: SIGTERM, and time for it.
  EXPECT_EQ(One(unit_, "Service.KillSignal"), "SIGTERM");
}

}  // namespace
