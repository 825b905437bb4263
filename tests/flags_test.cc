// Flags of tcp-info: Go-compatible syntax, environment variables, errors.
#include "collector/flags.h"

#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/reference_flags.h"

namespace collector {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Parses `args` with `env` as the whole environment.
absl::StatusOr<Config> Parse(const std::vector<std::string>& args,
                             std::map<std::string, std::string> env = {}) {
  return ParseFlags(
      args, [&env](const std::string& name) -> std::optional<std::string> {
        auto it = env.find(name);
        if (it == env.end()) return std::nullopt;
        return it->second;
      });
}

TEST(Flags, DefaultsMatchTheReference) {
  absl::StatusOr<Config> c = Parse({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->output, "");
  EXPECT_EQ(c->reps, 0);
  EXPECT_EQ(c->interval, absl::Milliseconds(10));
  EXPECT_EQ(c->anonymize, AnonymizeMode::kNone);
  EXPECT_EQ(c->prometheus_listen_address, ":9990");
  EXPECT_EQ(c->eventsocket, "");
  EXPECT_EQ(c->uuid_prefix_file, "");
  EXPECT_FALSE(c->include_local);
  EXPECT_TRUE(c->destroy_events);
  EXPECT_TRUE(c->exclude_srcports.empty());
  EXPECT_TRUE(c->exclude_dstips.empty());
  EXPECT_FALSE(c->help);
}

TEST(Flags, AcceptsOneOrTwoDashesAndBothValueForms) {
  absl::StatusOr<Config> c =
      Parse({"-output=/a", "--reps", "7", "--interval=250ms", "-anonymize.ip",
             "netblock", "--prometheusx.listen-address=:1",
             "-tcpinfo.eventsocket", "/run/ev.sock", "-uuid-prefix-file=/p"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->output, "/a");
  EXPECT_EQ(c->reps, 7);
  EXPECT_EQ(c->interval, absl::Milliseconds(250));
  EXPECT_EQ(c->anonymize, AnonymizeMode::kNetblock);
  EXPECT_EQ(c->prometheus_listen_address, ":1");
  EXPECT_EQ(c->eventsocket, "/run/ev.sock");
  EXPECT_EQ(c->uuid_prefix_file, "/p");
}

TEST(Flags, BooleansStandAloneOrTakeAnExplicitValue) {
  absl::StatusOr<Config> c =
      Parse({"-include-local", "--destroy-events=false", "-trace=1"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->include_local);
  EXPECT_FALSE(c->destroy_events);
  EXPECT_TRUE(c->trace);
  c = Parse({"-include-local=F", "-destroy-events=TRUE"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->include_local);
  EXPECT_TRUE(c->destroy_events);
  // A boolean never takes the next argument, as in Go.
  EXPECT_FALSE(Parse({"-include-local", "false"}).ok());
}

TEST(Flags, RepeatableFlagsCollectEveryValue) {
  absl::StatusOr<Config> c =
      Parse({"-exclude-srcport", "22", "--exclude-srcport=9990,80",
             "-exclude-dstip=10.0.0.1", "-exclude-dstip", "fd77::1"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(c->exclude_srcports, ElementsAre(22, 9990, 80));
  ASSERT_EQ(c->exclude_dstips.size(), 2u);
  EXPECT_EQ(FormatIpAddress(c->exclude_dstips[0]), "10.0.0.1");
  EXPECT_EQ(FormatIpAddress(c->exclude_dstips[1]), "fd77::1");
}

TEST(Flags, GatewayModeIsOffByDefaultAndTakesItsFlagsAndVariables) {
  absl::StatusOr<Config> off = Parse({});
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_TRUE(off->gateway_lan.empty());
  EXPECT_EQ(off->gateway_interval, absl::Seconds(1));
  EXPECT_EQ(off->gateway_max_series, 1000u);
  absl::StatusOr<Config> c = Parse({"-gateway.lan=br0", "-gateway.lan",
                                    "lan1,lan2", "-gateway.interval=500ms"},
                                   {{"GATEWAY_MAX_SERIES", "50"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(c->gateway_lan, ElementsAre("br0", "lan1", "lan2"));
  EXPECT_EQ(c->gateway_interval, absl::Milliseconds(500));
  EXPECT_EQ(c->gateway_max_series, 50u);
  EXPECT_FALSE(Parse({"-gateway.interval=10ms"}).ok());
  EXPECT_FALSE(Parse({"-gateway.max-series=0"}).ok());
}

TEST(Flags, AcceptsTheOlderReferenceFlags) {
  absl::StatusOr<Config> c = Parse({"-prom=:9090", "-trace"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->prometheus_listen_address, ":9090");
  EXPECT_TRUE(c->trace);
}

TEST(Flags, LogxDebugIsAValueFlagTakingABoolean) {
  // The reference's -logx.debug is a flag.Value that is not a bool flag:
  // Go's flag package gives it the next argument when no "=" follows.
  EXPECT_FALSE(Parse({})->logx_debug);
  EXPECT_TRUE(Parse({"-logx.debug=true"})->logx_debug);
  EXPECT_TRUE(Parse({"--logx.debug", "true"})->logx_debug);
  EXPECT_TRUE(Parse({"-logx.debug", "1", "-reps=2"})->logx_debug);
  EXPECT_EQ(Parse({"-logx.debug", "1", "-reps=2"})->reps, 2);
  EXPECT_FALSE(Parse({"-logx.debug", "false"})->logx_debug);
  EXPECT_FALSE(Parse({"-logx.debug=F"})->logx_debug);
  EXPECT_TRUE(Parse({}, {{"LOGX_DEBUG", "true"}})->logx_debug);
  EXPECT_FALSE(
      Parse({"-logx.debug=false"}, {{"LOGX_DEBUG", "true"}})->logx_debug);
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{"-logx.debug"}, "flag needs an argument: -logx.debug"},
           {{"-logx.debug", "-reps=1"},
            "invalid value \"-reps=1\" for flag -logx.debug"},
           {{"-logx.debug=maybe"},
            "invalid value \"maybe\" for flag -logx.debug"},
       }) {
    absl::StatusOr<Config> r = Parse(c.args);
    ASSERT_FALSE(r.ok()) << c.args[0];
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.message));
  }
  absl::StatusOr<Config> r = Parse({}, {{"LOGX_DEBUG", "yes"}});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("$LOGX_DEBUG"));
}

// Every flag of the reference's whole -help is accepted with the reference's
// syntax, on the command line and from the environment.
TEST(Flags, AcceptsEveryReferenceFlagWithItsSyntax) {
  const std::vector<testutil::ReferenceFlag> flags = testutil::ReferenceFlags();
  ASSERT_EQ(flags.size(), 10u);  // the file's flags: the parse found them
  for (const testutil::ReferenceFlag& f : flags) {
    SCOPED_TRACE("-" + f.name);
    const std::string var = EnvName(f.name);
    std::vector<std::vector<std::string>> accepted;
    std::vector<std::vector<std::string>> refused;
    if (f.kind.empty()) {  // a boolean: alone, or with "="
      accepted = {{"-" + f.name},
                  {"--" + f.name},
                  {"-" + f.name + "=true"},
                  {"-" + f.name + "=false", "-reps=1"}};
      refused = {{"-" + f.name, "true"}};  // never takes the next argument
    } else {  // needs a value: with "=" or the next argument
      accepted = {{"-" + f.name + "=" + f.sample},
                  {"--" + f.name + "=" + f.sample},
                  {"-" + f.name, f.sample},
                  {"-" + f.name, f.sample, "-reps=1"}};
      refused = {{"-" + f.name}};
    }
    for (const auto& args : accepted) {
      absl::StatusOr<Config> c = Parse(args);
      EXPECT_TRUE(c.ok()) << args[0] << ": " << c.status();
      if (c.ok() && args.back() == "-reps=1") {
        EXPECT_EQ(c->reps, 1);
      }
    }
    for (const auto& args : refused) {
      EXPECT_FALSE(Parse(args).ok()) << args[0];
    }
    const std::string env_value = f.kind.empty() ? "true" : f.sample;
    absl::StatusOr<Config> c = Parse({}, {{var, env_value}});
    EXPECT_TRUE(c.ok()) << "$" << var << "=" << env_value << ": " << c.status();
    // The variable is read: a bad value in it is an error naming it
    // (strings accept anything, so only the others can be checked so).
    if (f.kind != "string" && f.name != "uuid-prefix-file") {
      absl::StatusOr<Config> bad = Parse({}, {{var, "not,a;value"}});
      ASSERT_FALSE(bad.ok()) << "$" << var;
      EXPECT_THAT(std::string(bad.status().message()), HasSubstr("$" + var));
    }
  }
}

TEST(Flags, HelpListsEveryReferenceFlag) {
  const std::string usage = Usage("tcp-info");
  for (const testutil::ReferenceFlag& f : testutil::ReferenceFlags()) {
    EXPECT_THAT(usage, HasSubstr("\n  -" + f.name + " "));
    EXPECT_THAT(usage, HasSubstr("[$" + EnvName(f.name) + "]"));
  }
}

TEST(Flags, EnvironmentNamesAreUpperCaseWithUnderscores) {
  EXPECT_EQ(EnvName("prometheusx.listen-address"),
            "PROMETHEUSX_LISTEN_ADDRESS");
  EXPECT_EQ(EnvName("exclude-srcport"), "EXCLUDE_SRCPORT");
  EXPECT_EQ(EnvName("anonymize.ip"), "ANONYMIZE_IP");
  EXPECT_EQ(EnvName("output"), "OUTPUT");
}

TEST(Flags, EnvironmentSetsFlagsTheCommandLineDoesNotGive) {
  absl::StatusOr<Config> c =
      Parse({"-reps=3", "-exclude-srcport=1"},
            {{"REPS", "9"},
             {"OUTPUT", "/env/out"},
             {"PROMETHEUSX_LISTEN_ADDRESS", "localhost:9991"},
             {"EXCLUDE_SRCPORT", "2,3"},
             {"EXCLUDE_DSTIP", "192.0.2.1,2001:db8::1"},
             {"INCLUDE_LOCAL", "true"},
             {"INTERVAL", "1s"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->reps, 3);  // the command line wins
  EXPECT_EQ(c->output, "/env/out");
  EXPECT_EQ(c->prometheus_listen_address, "localhost:9991");
  EXPECT_THAT(c->exclude_srcports, ElementsAre(1));
  EXPECT_EQ(c->exclude_dstips.size(), 2u);
  EXPECT_TRUE(c->include_local);
  EXPECT_EQ(c->interval, absl::Seconds(1));
}

TEST(Flags, MistakesAreOneLineErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"-nonsense"}, "unknown flag -nonsense"},
      {{"-reps=x"}, "invalid value \"x\" for flag -reps"},
      {{"-reps=-1"}, "invalid value \"-1\" for flag -reps"},
      {{"-interval=fast"}, "invalid value \"fast\" for flag -interval"},
      {{"-interval=-1s"}, "for flag -interval"},
      {{"-exclude-srcport=70000"}, "for flag -exclude-srcport"},
      {{"-exclude-dstip=10.0.0"}, "for flag -exclude-dstip"},
      {{"-anonymize.ip=full"}, "for flag -anonymize.ip"},
      {{"-output"}, "flag needs an argument: -output"},
      {{"positional"}, "unexpected argument \"positional\""},
      {{"---reps=1"}, "bad flag syntax"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Config> r = Parse(c.args);
    ASSERT_FALSE(r.ok()) << c.args[0];
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.message));
    EXPECT_EQ(std::string(r.status().message()).find('\n'), std::string::npos);
  }
  absl::StatusOr<Config> r = Parse({}, {{"REPS", "many"}});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("$REPS"));
}

TEST(Flags, HelpDocumentsEveryFlagAndItsVariable) {
  absl::StatusOr<Config> c = Parse({"--help", "-nonsense"});
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->help);
  EXPECT_TRUE(Parse({"-h"})->help);
  const std::string usage = Usage("tcp-info");
  for (const char* flag :
       {"-output", "-reps", "-interval", "-exclude-srcport", "-exclude-dstip",
        "-anonymize.ip", "-uuid-prefix-file", "-include-local",
        "-prometheusx.listen-address", "-tcpinfo.eventsocket",
        "-destroy-events", "-logx.debug", "-trace", "-help"}) {
    EXPECT_THAT(usage, HasSubstr(flag));
  }
  EXPECT_THAT(usage, HasSubstr("$PROMETHEUSX_LISTEN_ADDRESS"));
  EXPECT_THAT(usage, HasSubstr("(default 10ms)"));
}

// A fresh directory under the test's temp dir, removed with its contents.
class OutputDirectory : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/flags_out_" + std::to_string(getpid());
    std::filesystem::remove_all(dir_);
    // 0755: a test may run PrepareOutputDirectory as another user.
    ASSERT_EQ(mkdir(dir_.c_str(), 0755), 0);
    ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
  }
  void TearDown() override {
    std::error_code ignored;  // "ro" exists only in some tests
    std::filesystem::permissions(dir_ + "/ro", std::filesystem::perms::all,
                                 ignored);
    std::filesystem::remove_all(dir_);
  }

  // PrepareOutputDirectory(path)'s error message, "" if it succeeded.
  static std::string Error(const std::string& path) {
    absl::StatusOr<bool> r = PrepareOutputDirectory(path);
    return r.ok() ? "" : std::string(r.status().message());
  }

  // Error(path) as an unprivileged user (uid and gid 65534), whom
  // permissions bind; in a child process when the test runs as root.
  static std::string ErrorAsUnprivileged(const std::string& path) {
    if (geteuid() != 0) return Error(path);
    int fds[2];
    if (pipe(fds) != 0) return "pipe failed";
    const pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      std::string message = "setuid failed";
      if (setgroups(0, nullptr) == 0 && setgid(65534) == 0 &&
          setuid(65534) == 0) {
        message = Error(path);
      }
      const ssize_t n = write(fds[1], message.data(), message.size());
      _exit(n == static_cast<ssize_t>(message.size()) ? 0 : 1);
    }
    close(fds[1]);
    std::string message;
    char buf[512];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof(buf))) > 0) message.append(buf, n);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return message;
  }

  std::string dir_;
};

TEST_F(OutputDirectory, MissingOneIsCreatedWithItsParentsMode0755) {
  const mode_t old_umask = umask(022);
  const std::string out = dir_ + "/a/b/c";
  absl::StatusOr<bool> created = PrepareOutputDirectory(out);
  umask(old_umask);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(*created);
  for (const std::string& d : {dir_ + "/a", dir_ + "/a/b", out}) {
    struct stat st;
    ASSERT_EQ(stat(d.c_str(), &st), 0) << d;
    EXPECT_TRUE(S_ISDIR(st.st_mode)) << d;
    EXPECT_EQ(st.st_mode & 07777, 0755u) << d;
  }
  // Existing now: nothing is created; a trailing or doubled slash is fine.
  created = PrepareOutputDirectory(out);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_FALSE(*created);
  EXPECT_EQ(Error(out + "/"), "");
  EXPECT_EQ(Error(dir_ + "//a//b/c/"), "");
  EXPECT_EQ(Error(dir_ + "/a/../x/y"), "");
  EXPECT_TRUE(std::filesystem::is_directory(dir_ + "/x/y"));
}

TEST_F(OutputDirectory, ARelativePathIsUnderTheWorkingDirectory) {
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  ASSERT_EQ(chdir(dir_.c_str()), 0);
  absl::StatusOr<bool> created = PrepareOutputDirectory("rel/out");
  const std::string dot = Error(""), explicit_dot = Error(".");
  const std::string up =
      Error("../" + std::filesystem::path(dir_).filename().string() + "/up");
  ASSERT_EQ(chdir(cwd), 0);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(*created);
  EXPECT_TRUE(std::filesystem::is_directory(dir_ + "/rel/out"));
  EXPECT_EQ(dot, "");  // "" is the working directory, as in the reference
  EXPECT_EQ(explicit_dot, "");
  EXPECT_EQ(up, "");
  EXPECT_TRUE(std::filesystem::is_directory(dir_ + "/up"));
}

TEST_F(OutputDirectory, SymbolicLinksToDirectoriesAreFollowed) {
  ASSERT_EQ(mkdir((dir_ + "/target").c_str(), 0755), 0);
  ASSERT_EQ(symlink("target", (dir_ + "/link").c_str()), 0);
  absl::StatusOr<bool> created = PrepareOutputDirectory(dir_ + "/link");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_FALSE(*created);
  // Through the link: the new directories are made inside its target.
  created = PrepareOutputDirectory(dir_ + "/link/new/sub");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(*created);
  EXPECT_TRUE(std::filesystem::is_directory(dir_ + "/target/new/sub"));
}

TEST_F(OutputDirectory, DanglingSymbolicLinkIsRefusedNotFollowed) {
  // As mkdir -p and Go's os.MkdirAll: the missing target is not created
  // (it may be a mount that has not come up yet).
  ASSERT_EQ(symlink("missing/deeper", (dir_ + "/dangling").c_str()), 0);
  for (const std::string& out : {dir_ + "/dangling", dir_ + "/dangling/sub"}) {
    const std::string error = Error(out);
    EXPECT_THAT(error, HasSubstr("-output " + out + ": "));
    EXPECT_THAT(error, HasSubstr("symbolic link to missing missing/deeper"));
    EXPECT_EQ(error.find('\n'), std::string::npos);
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/missing"));
}

TEST_F(OutputDirectory, UnusablePathsFailWithOneLine) {
  const std::string file = dir_ + "/file";
  std::ofstream(file) << "x";
  ASSERT_EQ(mkdir((dir_ + "/ro").c_str(), 0555), 0);
  ASSERT_EQ(chmod((dir_ + "/ro").c_str(), 0555), 0);
  struct Case {
    std::string path, message;
  };
  const std::vector<Case> cases = {
      {file, "-output " + file + ": not a directory"},
      {file + "/sub",
       "-output " + file + "/sub: cannot create: Not a directory"},
      {file + "/sub/deeper", "-output " + file + "/sub/deeper: " + file +
                                 "/sub: cannot create: Not a directory"},
  };
  for (const Case& c : cases) EXPECT_EQ(Error(c.path), c.message);
  // Permissions: what the daemon's user may not write.
  EXPECT_EQ(ErrorAsUnprivileged(dir_ + "/ro"),
            "-output " + dir_ + "/ro: not writable: Permission denied");
  EXPECT_EQ(ErrorAsUnprivileged(dir_ + "/ro/new/sub"),
            "-output " + dir_ + "/ro/new/sub: " + dir_ +
                "/ro/new: cannot create: Permission denied");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/ro/new"));
  EXPECT_EQ(ErrorAsUnprivileged(dir_),
            "-output " + dir_ + ": not writable: Permission denied");
}

TEST(Flags, UuidPrefixComesFromTheFileWithoutTrailingNewline) {
  const std::string file =
      ::testing::TempDir() + "/prefix_" + std::to_string(getpid());
  std::ofstream(file) << "mlab1-abc01_1553815964\n";
  Config c;
  c.uuid_prefix_file = file;
  absl::StatusOr<std::string> p = UuidPrefix(c);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, "mlab1-abc01_1553815964");
  std::remove(file.c_str());
  EXPECT_FALSE(UuidPrefix(c).ok());
}

TEST(Flags, SinkTakesOneUrlPerUseCommasIncluded) {
  absl::StatusOr<Config> c =
      Parse({"-sink=kafka://10.77.0.5:9092,10.77.0.6:9092/flows", "--sink",
             "sqlite:/var/lib/tcp-info/flows.db"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(c->sinks,
              ElementsAre("kafka://10.77.0.5:9092,10.77.0.6:9092/flows",
                          "sqlite:/var/lib/tcp-info/flows.db"));
  EXPECT_TRUE(Parse({})->sinks.empty());
  EXPECT_EQ(Parse({})->sink_queue_size, 65536u);
  EXPECT_EQ(Parse({})->flows_active_timeout, absl::Seconds(60));
}

TEST(Flags, SinkVariableHoldsUrlsSeparatedByWhiteSpace) {
  absl::StatusOr<Config> c = Parse(
      {},
      {{"SINK", " jsonl:-\n kafka://k1:9092,k2:9092/t?acks=all\tsqlite:x.db "},
       {"SINK_QUEUE_SIZE", "1000"},
       {"FLOWS_ACTIVE_TIMEOUT", "5m"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(c->sinks,
              ElementsAre("jsonl:-", "kafka://k1:9092,k2:9092/t?acks=all",
                          "sqlite:x.db"));
  EXPECT_EQ(c->sink_queue_size, 1000u);
  EXPECT_EQ(c->flows_active_timeout, absl::Minutes(5));
  // The command line wins over $SINK.
  c = Parse({"-sink=jsonl:a"}, {{"SINK", "jsonl:b jsonl:c"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(c->sinks, ElementsAre("jsonl:a"));
}

TEST(Flags, SinkQueueSizeAndActiveTimeoutMistakes) {
  for (const char* arg :
       {"-sink.queue-size=0", "-sink.queue-size=-5", "-sink.queue-size=lots",
        "-sink.queue-size=1000000000"}) {
    absl::StatusOr<Config> r = Parse({arg});
    ASSERT_FALSE(r.ok()) << arg;
    EXPECT_THAT(r.status().message(), HasSubstr("for flag -sink.queue-size"));
  }
  for (const char* arg :
       {"-flows.active-timeout=0s", "-flows.active-timeout=500ms",
        "-flows.active-timeout=60"}) {
    absl::StatusOr<Config> r = Parse({arg});
    ASSERT_FALSE(r.ok()) << arg;
    EXPECT_THAT(r.status().message(),
                HasSubstr("for flag -flows.active-timeout: want a duration "
                          ">= 1s"));
  }
  absl::StatusOr<Config> r = Parse({"-flows.active-timeout=1m30s"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->flows_active_timeout, absl::Seconds(90));
  const std::string usage = Usage("tcp-info");
  for (const char* text :
       {"-sink url  [$SINK]", "-sink.queue-size records", "[$SINK_QUEUE_SIZE]",
        "-flows.active-timeout", "[$FLOWS_ACTIVE_TIMEOUT]", "(default 60s)"}) {
    EXPECT_THAT(usage, HasSubstr(text));
  }
}

TEST(Flags, TrafficFlagsFromTheCommandLineAndTheEnvironment) {
  absl::StatusOr<Config> c = Parse({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->traffic);
  EXPECT_EQ(c->traffic_metric_prefix, "ntm");
  EXPECT_EQ(c->traffic_local_prefix, "");
  EXPECT_EQ(c->traffic_max_series, 1000u);
  EXPECT_FALSE(c->traffic_fqdn);
  c = Parse({"-traffic", "-traffic.metric-prefix=edge",
             "-traffic.local-prefix=24,64", "-traffic.max-series", "50"},
            {{"TRAFFIC_REMOTE_PREFIX", "16"},
             {"TRAFFIC_FQDN", "true"},
             {"TRAFFIC_MAX_SERIES", "7"}});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->traffic);
  EXPECT_EQ(c->traffic_metric_prefix, "edge");
  EXPECT_EQ(c->traffic_local_prefix, "24,64");
  EXPECT_EQ(c->traffic_remote_prefix, "16");
  EXPECT_EQ(c->traffic_max_series, 50u);
  EXPECT_TRUE(c->traffic_fqdn);
  for (const char* arg :
       {"-traffic.metric-prefix=1ntm",
        "-traffic.metric-prefix=", "-traffic.metric-prefix=a-b",
        "-traffic.max-series=0", "-traffic.max-series=x"}) {
    EXPECT_FALSE(Parse({arg}).ok()) << arg;
  }
  const std::string usage = Usage("tcp-info");
  for (const char* text :
       {"-traffic  [$TRAFFIC]", "-traffic.metric-prefix prefix",
        "[$TRAFFIC_LOCAL_PREFIX]", "[$TRAFFIC_REMOTE_PREFIX]",
        "[$TRAFFIC_MAX_SERIES]", "-traffic.fqdn  [$TRAFFIC_FQDN]"}) {
    EXPECT_THAT(usage, HasSubstr(text));
  }
}

}  // namespace
}  // namespace collector
