// Flags of tcp-info: Go-compatible syntax, environment variables, errors.
#include "collector/flags.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

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

TEST(Flags, AcceptsTheOlderReferenceFlags) {
  absl::StatusOr<Config> c = Parse({"-prom=:9090", "-trace"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->prometheus_listen_address, ":9090");
  EXPECT_TRUE(c->trace);
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
        "-destroy-events", "-trace", "-help"}) {
    EXPECT_THAT(usage, HasSubstr(flag));
  }
  EXPECT_THAT(usage, HasSubstr("$PROMETHEUSX_LISTEN_ADDRESS"));
  EXPECT_THAT(usage, HasSubstr("(default 10ms)"));
}

TEST(Flags, OutputDirectoryMustExistBeADirectoryAndWritable) {
  const std::string dir =
      ::testing::TempDir() + "/flags_out_" + std::to_string(getpid());
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  EXPECT_TRUE(CheckOutputDirectory(dir).ok());
  absl::Status missing = CheckOutputDirectory(dir + "/missing");
  EXPECT_THAT(std::string(missing.message()), HasSubstr("No such file"));
  const std::string file = dir + "/file";
  std::ofstream(file) << "x";
  EXPECT_THAT(std::string(CheckOutputDirectory(file).message()),
              HasSubstr("not a directory"));
  std::remove(file.c_str());
  rmdir(dir.c_str());
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

}  // namespace
}  // namespace collector
