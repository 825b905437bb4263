// End to end, as root: build/bin/tcp-info runs in a connfarm client
// namespace with -tcpinfo.eventsocket and -prometheusx.listen-address. The
// test makes a connection of its own and checks its Open then Close events
// (uuid, addresses, cookie), scrapes /metrics from inside the namespace
// while connfarm churns connections with a client attached that never
// reads, and checks the counters against the events seen.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "parse/timestamp.h"
#include "tests/eventsocket_reader.h"
#include "tests/metrics_scrape.h"
#include "tests/testutil/farm.h"
#include "tests/testutil/paths.h"

namespace {

namespace fs = std::filesystem;

constexpr int kMetricsPort = 19990;  // inside the namespace: always free
constexpr uint16_t kServerPort = 18555;

using testutil::ReadText;

// A child process running `argv`, output appended to `log`; killed (after
// SIGTERM) when destroyed if still running.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::string& log)
      : pid_(testutil::Spawn(argv, log)) {}
  ~Child() {
    if (pid_ <= 0) return;
    Stop(SIGTERM, absl::Seconds(10));
    if (pid_ > 0) Stop(SIGKILL, absl::Seconds(10));
  }
  // Signals the child and waits up to `timeout`; its wait status or -1.
  int Stop(int signal, absl::Duration timeout) {
    if (pid_ <= 0) return -1;
    kill(pid_, signal);
    return Wait(timeout);
  }
  int Wait(absl::Duration timeout) {
    if (pid_ <= 0) return -1;
    const int status = testutil::WaitFor(pid_, timeout);
    if (status >= 0) pid_ = -1;
    return status;
  }
  bool running() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
};

int RunConnfarm(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> argv = {testutil::ConnfarmPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  return testutil::Run(argv, log);
}

// Runs `fn` on a thread inside network namespace `ns` (a /var/run/netns
// name): sockets it creates belong there.
void InNamespace(const std::string& ns, const std::function<void()>& fn) {
  testutil::InNamespace("/var/run/netns/" + ns, fn);
}

double Value(const std::map<std::string, testutil::ScrapedFamily>& families,
             const std::string& family, const std::string& sample) {
  if (!families.count(family)) return -1;
  const auto& samples = families.at(family).samples;
  return samples.count(sample) ? samples.at(sample) : -1;
}

// Counts the events of `lines` by type.
void CountEvents(const std::vector<std::string>& lines, int* opens,
                 int* closes) {
  *opens = *closes = 0;
  for (const std::string& line : lines) {
    if (line.rfind("{\"Event\":0,", 0) == 0) ++*opens;
    if (line.rfind("{\"Event\":1,", 0) == 0) ++*closes;
  }
}

TEST(EventSocketIntegration, OwnConnectionOpenCloseAndMetricsFromLiveDaemon) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
  const std::string dir = absl::StrCat("/tmp/es_it_", getpid());
  fs::remove_all(dir);
  fs::create_directories(dir + "/out");
  const std::string prefix = absl::StrCat("esit", getpid());
  std::ofstream(dir + "/prefix") << prefix << "\n";
  const std::string name = absl::StrCat("e", getpid() % 100000);
  const std::string farm_log = dir + "/farm.log";
  struct FarmGuard {
    std::string name, log;
    ~FarmGuard() { RunConnfarm({"down", "--name", name, "--force"}, log); }
  } guard{name, farm_log};
  ASSERT_EQ(RunConnfarm({"up", "--name", name}, farm_log), 0)
      << ReadText(farm_log);

  const std::string socket_path = dir + "/events.sock";
  const std::string daemon_log = dir + "/tcp-info.log";
  Child daemon(
      {testutil::ConnfarmPath(), "exec", "--name", name, "--",
       testutil::BinaryPath("tcp-info"), "-output=" + dir + "/out",
       "-uuid-prefix-file=" + dir + "/prefix",
       "-tcpinfo.eventsocket=" + socket_path,
       absl::StrCat("-prometheusx.listen-address=localhost:", kMetricsPort)},
      daemon_log);
  auto scrape = [&] {
    return testutil::ParseExposition(testutil::HttpGet(
        "127.0.0.1", kMetricsPort, "/metrics", name + "-cli"));
  };
  std::map<std::string, testutil::ScrapedFamily> metrics;
  for (int i = 0; i < 200 && metrics.empty(); ++i) {
    absl::SleepFor(absl::Milliseconds(50));
    metrics = scrape();
  }
  ASSERT_FALSE(metrics.empty()) << ReadText(daemon_log);
  // The metrics server starts before the event socket (as the reference
  // orders them), so a scrape does not tell that the socket listens.
  ASSERT_TRUE(testutil::WaitUntilListening(socket_path))
      << ReadText(daemon_log);
  struct stat st;
  ASSERT_EQ(stat(socket_path.c_str(), &st), 0) << ReadText(daemon_log);
  EXPECT_EQ(st.st_mode & 0777, 0660u);

  testutil::ReadingClient reader(socket_path);
  const int stalled = testutil::ConnectUnix(socket_path);  // never reads
  ASSERT_GE(stalled, 0);

  // The test's own connection: 10.77.0.2 -> 10.77.0.1:kServerPort.
  int listener = -1, client = -1;
  InNamespace(name + "-srv", [&] {
    listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(kServerPort);
    inet_pton(AF_INET, "10.77.0.1", &a.sin_addr);
    ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    ASSERT_EQ(listen(listener, 4), 0);
  });
  // The open event is made after this (the connection does not exist yet)
  // and before its line is read.
  const parse::Timestamp before_connect = parse::Timestamp::Now();
  InNamespace(name + "-cli", [&] {
    client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(kServerPort);
    inet_pton(AF_INET, "10.77.0.1", &a.sin_addr);
    ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0)
        << std::strerror(errno);
  });
  const int server = accept(listener, nullptr, nullptr);
  ASSERT_GE(server, 0);
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  ASSERT_EQ(getsockopt(client, SOL_SOCKET, SO_COOKIE, &cookie, &len), 0);
  sockaddr_in local{};
  len = sizeof(local);
  getsockname(client, reinterpret_cast<sockaddr*>(&local), &len);
  const std::string data(100000, 'x');
  ASSERT_EQ(send(client, data.data(), data.size(), 0),
            static_cast<ssize_t>(data.size()));
  const std::string uuid = absl::StrFormat("%s_%016X", prefix, cookie);
  const std::string open_prefix = absl::StrCat("{\"Event\":0,\"Timestamp\":\"");
  const std::string open_id = absl::StrCat(
      "\",\"UUID\":\"", uuid, "\",\"ID\":{\"SPort\":", ntohs(local.sin_port),
      ",\"DPort\":", kServerPort,
      ",\"SrcIP\":\"10.77.0.2\",\"DstIP\":\"10.77.0.1\",\"Interface\":0,"
      "\"Cookie\":",
      static_cast<int64_t>(cookie), "}}\n");
  auto find_line = [&reader](const std::string& needle) {
    for (int i = 0; i < 500; ++i) {
      const auto lines = reader.lines();
      for (size_t j = 0; j < lines.size(); ++j) {
        if (lines[j].find(needle) != std::string::npos) return int(j);
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    return -1;
  };
  const int open_index = find_line(open_id);
  ASSERT_GE(open_index, 0) << ReadText(daemon_log);
  EXPECT_EQ(reader.lines()[open_index].rfind(open_prefix, 0), 0u);
  {
    // Stamped when the event was made, with nanoseconds (the snapshot's
    // stamp is a whole millisecond), as the reference stamps it.
    const parse::Timestamp seen = parse::Timestamp::Now();
    const std::string line = reader.lines()[open_index];
    const size_t end = line.find('"', open_prefix.size());
    const std::string text =
        line.substr(open_prefix.size(), end - open_prefix.size());
    absl::StatusOr<parse::Timestamp> stamp = parse::ParseRfc3339(text);
    ASSERT_TRUE(stamp.ok()) << line;
    EXPECT_FALSE(*stamp < before_connect) << text;
    EXPECT_FALSE(seen < *stamp) << text;
    EXPECT_EQ(parse::FormatRfc3339(*stamp), text);
  }

  // Churn hundreds of connections with the stalled client attached. Once
  // its socket buffer is full, a server that writes synchronously (the
  // reference) would stop the polling loop; ours must keep polling at its
  // 10 ms interval.
  Child farm({testutil::ConnfarmPath(), "run", "--name", name, "--conns", "200",
              "--active", "20", "--churn", "150", "--duration", "9",
              "--ready-file", dir + "/ready"},
             farm_log);
  for (int i = 0; i < 300 && !fs::exists(dir + "/ready"); ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(fs::exists(dir + "/ready")) << ReadText(farm_log);
  absl::SleepFor(absl::Seconds(3));
  // Bytes waiting in the stalled client's socket; constant while it is full.
  auto unread = [stalled] {
    int n = 0;
    ioctl(stalled, FIONREAD, &n);
    return n;
  };
  const int unread_before = unread();
  const size_t lines_before = reader.line_count();
  const auto before = scrape();
  const absl::Time t0 = absl::Now();
  absl::SleepFor(absl::Seconds(4));
  const auto during = scrape();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - t0);
  const std::string cycles = "tcpinfo_polling_interval_histogram_count";
  const double rate =
      (Value(during, "tcpinfo_polling_interval_histogram", cycles) -
       Value(before, "tcpinfo_polling_interval_histogram", cycles)) /
      seconds;
  std::printf(
      "polling cycles per second with a stalled client holding %d unread "
      "bytes: %.1f\n",
      unread_before, rate);
  // The stalled socket was full throughout while events kept flowing.
  EXPECT_GT(unread_before, 30000);
  EXPECT_EQ(unread(), unread_before);
  EXPECT_GT(reader.line_count(), lines_before + 500);
  // Nominal 100; a loaded test machine costs some, a blocked loop all.
  EXPECT_GT(rate, 50);
  EXPECT_GT(Value(during, "tcpinfo_snapshot_total", "tcpinfo_snapshot_total"),
            Value(before, "tcpinfo_snapshot_total", "tcpinfo_snapshot_total"));
  EXPECT_GT(Value(during, "tcpinfo_new_file_total", "tcpinfo_new_file_total"),
            Value(before, "tcpinfo_new_file_total", "tcpinfo_new_file_total"));
  EXPECT_GT(Value(during, "tcpinfo_connection_count_histogram",
                  "tcpinfo_connection_count_histogram_sum{af=\"ipv4\"}"),
            Value(before, "tcpinfo_connection_count_histogram",
                  "tcpinfo_connection_count_histogram_sum{af=\"ipv4\"}"));
  const int farm_status = farm.Wait(absl::Seconds(30));
  EXPECT_TRUE(farm_status >= 0 && WIFEXITED(farm_status) &&
              WEXITSTATUS(farm_status) == 0)
      << ReadText(farm_log);

  // Our connection ends: its Close follows its Open.
  close(client);
  close(server);
  close(listener);
  const int own_close =
      find_line(absl::StrCat("\",\"UUID\":\"", uuid, "\",\"ID\":null}\n"));
  ASSERT_GE(own_close, 0) << ReadText(daemon_log);
  EXPECT_GT(own_close, open_index);

  // Once nothing more opens or closes, the flow event counters equal the
  // events the reader got. The farm's closed sockets may linger a while
  // (FIN_WAIT, a lost FIN retransmitted) and end later, so wait until the
  // two agree; a daemon that counts an event it never sends, or sends one
  // it never counts, never gets there.
  const std::string open_series = "tcpinfo_flow_events_total{event=\"open\"}";
  const std::string close_series = "tcpinfo_flow_events_total{event=\"close\"}";
  std::map<std::string, testutil::ScrapedFamily> after;
  int opens = 0, closes = 0;
  const absl::Time quiet_from = absl::Now();
  for (int i = 0; i < 100; ++i) {
    after = scrape();
    CountEvents(reader.lines(), &opens, &closes);
    if (Value(after, "tcpinfo_flow_events_total", open_series) == opens &&
        Value(after, "tcpinfo_flow_events_total", close_series) == closes) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  std::printf("flow event counters agreed with the events after %.1f s\n",
              absl::ToDoubleSeconds(absl::Now() - quiet_from));
  EXPECT_GT(opens, 200);
  EXPECT_EQ(Value(after, "tcpinfo_flow_events_total", open_series), opens);
  EXPECT_EQ(Value(after, "tcpinfo_flow_events_total", close_series), closes);
  EXPECT_GE(Value(after, "tcpinfo_snapshot_total", "tcpinfo_snapshot_total"),
            opens);

  // Shutdown sends a close for every flow still open, then ends the stream.
  const int status = daemon.Stop(SIGTERM, absl::Seconds(20));
  EXPECT_TRUE(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << ReadText(daemon_log);
  EXPECT_TRUE(reader.WaitForEof());
  CountEvents(reader.lines(), &opens, &closes);
  EXPECT_EQ(opens, closes);
  EXPECT_FALSE(fs::exists(socket_path));
  // The event's uuid names the connection's archive.
  bool archived = false;
  for (const auto& e : fs::recursive_directory_iterator(dir + "/out")) {
    archived |= e.path().filename() == uuid + ".00000.jsonl.zst";
  }
  EXPECT_TRUE(archived);
  close(stalled);
  fs::remove_all(dir);
}

}  // namespace
