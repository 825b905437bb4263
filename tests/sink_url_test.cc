#include "sinks/sink_url.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/temp_dir.h"

namespace sinks {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using ::testing::StartsWith;

// The error of `text`, which must not parse: one line naming the flag.
std::string ErrorOf(const std::string& text) {
  absl::StatusOr<SinkUrl> url = ParseSinkUrl(text);
  EXPECT_FALSE(url.ok()) << text;
  if (url.ok()) return "";
  EXPECT_EQ(url.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(url.status().message());
  EXPECT_THAT(message, StartsWith("-sink="));
  EXPECT_THAT(message, Not(HasSubstr("\n")));
  return message;
}

TEST(SinkUrl, SqliteFileInAWritableDirectory) {
  testutil::TempDir dir;
  const std::string path = dir.path() + "/flows.db";
  absl::StatusOr<SinkUrl> url = ParseSinkUrl("sqlite:" + path);
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->scheme, "sqlite");
  EXPECT_EQ(url->path, path);
  EXPECT_EQ(url->redacted, "sqlite:" + path);
  // sqlite:///abs is the same file.
  url = ParseSinkUrl("sqlite://" + path);
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->path, path);
}

TEST(SinkUrl, RelativeFileIsCheckedInTheCurrentDirectory) {
  testutil::TempDir dir;
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  ASSERT_EQ(chdir(dir.path().c_str()), 0);
  absl::StatusOr<SinkUrl> url = ParseSinkUrl("jsonl:flows.jsonl");
  const std::string missing = ErrorOf("jsonl:missing/flows.jsonl");
  ASSERT_EQ(chdir(cwd), 0);
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->path, "flows.jsonl");
  EXPECT_EQ(missing,
            "-sink=jsonl:missing/flows.jsonl: directory missing: No such file "
            "or directory");
}

TEST(SinkUrl, JsonlFileOrStandardOutput) {
  testutil::TempDir dir;
  absl::StatusOr<SinkUrl> url = ParseSinkUrl("jsonl:" + dir.path() + "/f");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->scheme, "jsonl");
  EXPECT_EQ(url->path, dir.path() + "/f");
  url = ParseSinkUrl("jsonl:-");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->path, "-");
  EXPECT_EQ(url->redacted, "jsonl:-");
  EXPECT_THAT(ErrorOf("sqlite:-"), HasSubstr("jsonl only"));
  EXPECT_THAT(ErrorOf("sqlite::memory:"), HasSubstr("in-memory"));
}

TEST(SinkUrl, FileErrorsNameTheFlagAndTheProblem) {
  testutil::TempDir dir;
  EXPECT_EQ(ErrorOf("sqlite:" + dir.path() + "/missing/flows.db"),
            "-sink=sqlite:" + dir.path() + "/missing/flows.db: directory " +
                dir.path() + "/missing: No such file or directory");
  EXPECT_THAT(ErrorOf("jsonl:"), HasSubstr("no file name"));
  EXPECT_THAT(ErrorOf("jsonl:" + dir.path() + "/"), HasSubstr("directory"));
  // A directory where the file should be.
  ASSERT_EQ(mkdir((dir.path() + "/d").c_str(), 0755), 0);
  EXPECT_THAT(ErrorOf("sqlite:" + dir.path() + "/d"),
              HasSubstr("not a regular file"));
  // A file where the directory should be.
  EXPECT_THAT(ErrorOf("sqlite:/proc/self/status/x.db"),
              HasSubstr("not a directory"));
}

TEST(SinkUrl, UnwritableDirectoryIsRefused) {
  testutil::TempDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 0555), 0);
  const std::string text = "sqlite:" + dir.path() + "/flows.db";
  if (geteuid() != 0) {
    EXPECT_THAT(ErrorOf(text), HasSubstr("not writable"));
    return;
  }
  // root may write anywhere: check as nobody, in a child.
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
    absl::StatusOr<SinkUrl> url = ParseSinkUrl(text);
    _exit(url.ok()                                                    ? 1
          : absl::StrContains(url.status().message(), "not writable") ? 0
                                                                      : 2);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: accepted, 2: other error";
}

TEST(SinkUrl, PostgresUrlIsKeptWholeAndRedactedWithoutPassword) {
  absl::StatusOr<SinkUrl> url = ParseSinkUrl(
      "postgres://tcpinfo:s3cret@db.example:5432/flows?sslmode=require");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->scheme, "postgres");
  EXPECT_EQ(url->conninfo,
            "postgres://tcpinfo:s3cret@db.example:5432/flows?sslmode=require");
  EXPECT_EQ(url->redacted,
            "postgres://tcpinfo@db.example:5432/flows?sslmode=require");

  url = ParseSinkUrl(
      "postgresql://[fd77::1]:5433,10.77.0.9/flows?password=hunter2&"
      "connect_timeout=5");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->scheme, "postgres");
  EXPECT_THAT(url->conninfo, HasSubstr("password=hunter2"));
  EXPECT_EQ(url->redacted,
            "postgresql://[fd77::1]:5433,10.77.0.9/flows?connect_timeout=5");

  url = ParseSinkUrl("postgres:///flows?password=x");  // unix socket
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->redacted, "postgres:///flows");
}

TEST(SinkUrl, PostgresErrorsNeverShowThePassword) {
  const std::string e = ErrorOf("postgres://u:s3cret@db:99999/flows");
  EXPECT_THAT(e, HasSubstr("\"99999\" is not a port"));
  EXPECT_THAT(e, StartsWith("-sink=postgres://u@db:99999/flows: "));
  EXPECT_THAT(e, Not(HasSubstr("s3cret")));
  EXPECT_THAT(ErrorOf("postgres:flows"), HasSubstr("want postgres://"));
  EXPECT_THAT(ErrorOf("postgres://db/flows?password=s3cret x"),
              Not(HasSubstr("s3cret")));
}

TEST(SinkUrl, KafkaBrokersTopicAndProperties) {
  absl::StatusOr<SinkUrl> url = ParseSinkUrl(
      "kafka://10.77.0.5:9092,[fd77::5]:9093,broker-2.local:9094/tcp.flows?"
      "compression.type=zstd&sasl.username=me&sasl.password=p%26ss&acks=all");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->scheme, "kafka");
  EXPECT_EQ(url->hosts, "10.77.0.5:9092,[fd77::5]:9093,broker-2.local:9094");
  EXPECT_EQ(url->topic, "tcp.flows");
  EXPECT_THAT(
      url->params,
      ElementsAre(Pair("compression.type", "zstd"), Pair("sasl.username", "me"),
                  Pair("sasl.password", "p&ss"), Pair("acks", "all")));
  EXPECT_EQ(url->redacted,
            "kafka://10.77.0.5:9092,[fd77::5]:9093,broker-2.local:9094/"
            "tcp.flows?compression.type=zstd&sasl.username=me&acks=all");
  url = ParseSinkUrl("kafka://k:9092/t");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_TRUE(url->params.empty());
}

TEST(SinkUrl, KafkaErrors) {
  EXPECT_THAT(ErrorOf("kafka://10.77.0.5:9092"), HasSubstr("no topic"));
  EXPECT_THAT(ErrorOf("kafka://10.77.0.5:9092/"), HasSubstr("no topic"));
  EXPECT_THAT(ErrorOf("kafka://10.77.0.5/t"), HasSubstr("want HOST:PORT"));
  EXPECT_THAT(ErrorOf("kafka://10.77.0.5:0/t"), HasSubstr("not a port"));
  EXPECT_THAT(ErrorOf("kafka://10.77.0.5:x/t"), HasSubstr("not a port"));
  EXPECT_THAT(ErrorOf("kafka://:9092/t"), HasSubstr("no host"));
  EXPECT_THAT(ErrorOf("kafka://a:1,/t"), HasSubstr("want HOST:PORT"));
  EXPECT_THAT(ErrorOf("kafka://fd77::5:9092/t"), HasSubstr("in brackets"));
  EXPECT_THAT(ErrorOf("kafka://[fd77::5:9092/t"), HasSubstr("unclosed"));
  EXPECT_THAT(ErrorOf("kafka://[nothex]:9092/t"),
              HasSubstr("not an IPv6 address"));
  EXPECT_THAT(ErrorOf("kafka://k:9092/bad/topic"),
              HasSubstr("not a Kafka topic"));
  EXPECT_THAT(ErrorOf("kafka://k:9092/t?acks"), HasSubstr("property=value"));
  EXPECT_THAT(ErrorOf("kafka://k:9092/t?a=%zz"), HasSubstr("%-escape"));
  const std::string e = ErrorOf("kafka://u:s3cret@k:9092/t");
  EXPECT_THAT(e, HasSubstr("credentials go in the query"));
  EXPECT_THAT(e, Not(HasSubstr("s3cret")));
}

TEST(SinkUrl, IpfixOverUdpAndTcp) {
  absl::StatusOr<SinkUrl> url = ParseSinkUrl("ipfix://10.77.0.7:4739");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->scheme, "ipfix");
  EXPECT_EQ(url->hosts, "10.77.0.7:4739");
  EXPECT_EQ(url->redacted, "ipfix://10.77.0.7:4739");
  url = ParseSinkUrl("ipfix+tcp://[fd77::7]:4739/");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->scheme, "ipfix+tcp");
  EXPECT_EQ(url->hosts, "[fd77::7]:4739");
  url = ParseSinkUrl("ipfix://collector.local:4739");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->hosts, "collector.local:4739");
}

TEST(SinkUrl, IpfixErrors) {
  EXPECT_THAT(ErrorOf("ipfix://10.77.0.7"), HasSubstr("want HOST:PORT"));
  EXPECT_THAT(ErrorOf("ipfix://10.77.0.7:4739/x"), HasSubstr("nothing after"));
  EXPECT_THAT(ErrorOf("ipfix://a:1,b:2"), HasSubstr("not a host name"));
  EXPECT_THAT(ErrorOf("ipfix+tcp://[fd77::7]4739"), HasSubstr("[IPV6]:PORT"));
  EXPECT_THAT(ErrorOf("ipfix:10.77.0.7:4739"), HasSubstr("want ipfix://"));
}

TEST(SinkUrl, InfluxWithCredentialsRedacted) {
  absl::StatusOr<SinkUrl> url =
      ParseSinkUrl("influx://writer:s%3Acret%40x@10.77.0.5:8086/net%20data");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->scheme, "influx");
  EXPECT_EQ(url->hosts, "10.77.0.5:8086");
  EXPECT_EQ(url->user, "writer");
  EXPECT_EQ(url->password, "s:cret@x");
  EXPECT_EQ(url->database, "net data");
  EXPECT_EQ(url->redacted, "influx://writer@10.77.0.5:8086/net%20data");
  url = ParseSinkUrl("influx://[fd77::5]:8086/tcpinfo");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->hosts, "[fd77::5]:8086");
  EXPECT_EQ(url->user, "");
  EXPECT_EQ(url->database, "tcpinfo");
}

TEST(SinkUrl, Influx2OrgAndBucket) {
  absl::StatusOr<SinkUrl> url =
      ParseSinkUrl("influx2://localhost:8086/my%20org/netgraph");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->scheme, "influx2");
  EXPECT_EQ(url->hosts, "localhost:8086");
  EXPECT_EQ(url->org, "my org");
  EXPECT_EQ(url->database, "netgraph");
  EXPECT_EQ(url->redacted, "influx2://localhost:8086/my%20org/netgraph");
}

TEST(SinkUrl, InfluxErrors) {
  EXPECT_THAT(ErrorOf("influx://h:8086"), HasSubstr("/DATABASE"));
  EXPECT_THAT(ErrorOf("influx://h:8086/"), HasSubstr("/DATABASE"));
  EXPECT_THAT(ErrorOf("influx://h:8086/a/b"), HasSubstr("/DATABASE"));
  EXPECT_THAT(ErrorOf("influx://h/db"), HasSubstr("want HOST:PORT"));
  EXPECT_THAT(ErrorOf("influx://h:8086/db?u=x"), HasSubstr("no query"));
  EXPECT_THAT(ErrorOf("influx://:pw@h:8086/db"), HasSubstr("empty user"));
  EXPECT_THAT(ErrorOf("influx://h:8086/d%zz"), HasSubstr("bad %-escape"));
  EXPECT_THAT(ErrorOf("influx2://h:8086/org"), HasSubstr("/ORG/BUCKET"));
  EXPECT_THAT(ErrorOf("influx2://h:8086/org/b/c"), HasSubstr("/ORG/BUCKET"));
  const std::string e = ErrorOf("influx2://u:secret@h:8086/org/b");
  EXPECT_THAT(e, HasSubstr("INFLUX_TOKEN"));
  EXPECT_THAT(e, Not(HasSubstr("secret")));
  EXPECT_THAT(ErrorOf("influx:h:8086/db"), HasSubstr("want influx://"));
}

TEST(SinkUrl, UnknownOrMissingScheme) {
  EXPECT_EQ(ErrorOf("mysql://u:pw@h/db"),
            "-sink=mysql://u@h/db: unknown scheme \"mysql\" (want "
            "sqlite:PATH, jsonl:PATH, jsonl:-, postgres://..., "
            "kafka://HOST:PORT/TOPIC, ipfix://HOST:PORT, "
            "ipfix+tcp://HOST:PORT, influx://HOST:PORT/DATABASE or "
            "influx2://HOST:PORT/ORG/BUCKET)");
  EXPECT_THAT(ErrorOf("flows.db"), HasSubstr("no scheme"));
  EXPECT_THAT(ErrorOf(""), StartsWith("-sink=: no scheme"));
  EXPECT_THAT(ErrorOf(":x"), HasSubstr("no scheme"));
  EXPECT_THAT(ErrorOf("SQLITE:x.db"), HasSubstr("unknown scheme"));
}

}  // namespace
}  // namespace sinks
