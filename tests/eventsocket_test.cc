#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "eventsocket/bounded_queue.h"
#include "eventsocket/flow_event.h"
#include "eventsocket/server.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "parse/timestamp.h"
#include "tests/eventsocket_reader.h"
#include "tests/testutil/paths.h"

namespace {

using eventsocket::AppendGoIp;
using eventsocket::AppendJsonLine;
using eventsocket::EventType;
using eventsocket::FlowEvent;
using eventsocket::Server;
using eventsocket::ServerOptions;
using testutil::ConnectUnix;
using testutil::ReadingClient;
using testutil::WaitForClients;

inetdiag::SockId MakeId(const char* src, uint16_t sport, const char* dst,
                        uint16_t dport, uint64_t cookie,
                        uint32_t interface = 0) {
  inetdiag::SockId id{};
  id.sport_be = htons(sport);
  id.dport_be = htons(dport);
  const int family = std::strchr(src, ':') ? AF_INET6 : AF_INET;
  EXPECT_EQ(inet_pton(family, src, id.src), 1) << src;
  EXPECT_EQ(inet_pton(family, dst, id.dst), 1) << dst;
  id.interface = interface;
  id.cookie[0] = static_cast<uint32_t>(cookie);
  id.cookie[1] = static_cast<uint32_t>(cookie >> 32);
  return id;
}

std::string GoIp(const char* text) {
  uint32_t address[4] = {0, 0, 0, 0};
  const int family = std::strchr(text, ':') ? AF_INET6 : AF_INET;
  EXPECT_EQ(inet_pton(family, text, address), 1) << text;
  std::string out;
  AppendGoIp(address, &out);
  return out;
}

parse::Timestamp Time(const char* rfc3339) {
  auto t = parse::ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.value_or(parse::Timestamp{});
}

std::string JsonLine(EventType type, const char* time, const char* uuid,
                     const inetdiag::SockId& id = {}) {
  FlowEvent event;
  event.type = type;
  event.timestamp = Time(time);
  event.id = id;
  event.SetUuid(uuid);
  std::string line;
  AppendJsonLine(event, &line);
  return line;
}

TEST(FlowEvent, ReproducesReferenceSampleByteForByte) {
  const std::string sample = testutil::ReadFileOrDie(
      testutil::TestDataDir() + "/reference/eventsocket-sample.jsonl");
  const std::string produced =
      JsonLine(EventType::kOpen, "2026-11-22T01:26:45.264601601Z",
               "vm_1795310322_unsafe_00000000000013FD",
               MakeId("10.77.0.2", 38064, "10.77.0.1", 5001, 5117)) +
      JsonLine(EventType::kOpen, "2026-11-22T01:26:45.264601601Z",
               "vm_1795310322_unsafe_00000000000013FE",
               MakeId("10.77.0.2", 38066, "10.77.0.1", 5001, 5118)) +
      JsonLine(EventType::kClose, "2026-11-22T01:26:46.534682908Z",
               "vm_1795310322_unsafe_00000000000013FE") +
      JsonLine(EventType::kClose, "2026-11-22T01:26:47.784302476Z",
               "vm_1795310322_unsafe_00000000000013FD");
  EXPECT_EQ(produced, sample);
}

// -owners: an open event carries an Owner object after ID; every field the
// reference writes is there unchanged, so a client that ignores unknown
// fields (Go's encoding/json) reads the event as before.
TEST(FlowEvent, OpenEventOwnerIsAnExtraFieldAfterTheReferenceOnes) {
  const inetdiag::SockId id =
      MakeId("10.77.0.2", 38064, "10.77.0.1", 5001, 5117);
  const std::string plain =
      JsonLine(EventType::kOpen, "2026-11-22T01:26:45.264601601Z",
               "vm_1795310322_unsafe_00000000000013FD", id);
  FlowEvent event;
  event.type = EventType::kOpen;
  event.timestamp = Time("2026-11-22T01:26:45.264601601Z");
  event.id = id;
  event.SetUuid("vm_1795310322_unsafe_00000000000013FD");
  event.has_owner = true;
  event.owner.pid = 4242;
  event.owner.uid = 1000;
  event.owner.comm.Set("curl \"x\"");
  event.owner.user.Set("alice");
  event.owner.unit.Set("session-2.scope");
  std::string line;
  AppendJsonLine(event, &line);
  // The reference's line, with the Owner before its final brace.
  const std::string owner =
      ",\"Owner\":{\"PID\":4242,\"Comm\":\"curl \\\"x\\\"\",\"UID\":1000,"
      "\"User\":\"alice\",\"Container\":\"\",\"Unit\":\"session-2.scope\"}";
  EXPECT_EQ(line, plain.substr(0, plain.size() - 2) + owner + "}\n");
  const nlohmann::json with = nlohmann::json::parse(line);
  nlohmann::json without = with;
  without.erase("Owner");
  EXPECT_EQ(without, nlohmann::json::parse(plain));
  EXPECT_EQ(with["Owner"]["Comm"], "curl \"x\"");
  // Close events never carry one.
  event.type = EventType::kClose;
  line.clear();
  AppendJsonLine(event, &line);
  EXPECT_EQ(line.find("Owner"), std::string::npos);
}

TEST(FlowEvent, TimestampIsRfc3339NanosecondsTrimmedAsTheReference) {
  // Go's time.Time.MarshalJSON: UTC, nanoseconds without trailing zeros,
  // no fraction at all when it is zero.
  const std::vector<std::pair<parse::Timestamp, std::string>> cases = {
      {{1795310805, 264601601}, "2026-11-22T01:26:45.264601601Z"},
      {{1795310805, 264601600}, "2026-11-22T01:26:45.2646016Z"},
      {{1795310805, 264600000}, "2026-11-22T01:26:45.2646Z"},
      {{1795310805, 100000000}, "2026-11-22T01:26:45.1Z"},
      {{1795310805, 1}, "2026-11-22T01:26:45.000000001Z"},
      {{1795310805, 0}, "2026-11-22T01:26:45Z"},
  };
  for (const auto& [timestamp, text] : cases) {
    FlowEvent event;
    event.type = EventType::kClose;
    event.timestamp = timestamp;
    event.SetUuid("u");
    std::string line;
    AppendJsonLine(event, &line);
    EXPECT_EQ(line, absl::StrCat("{\"Event\":1,\"Timestamp\":\"", text,
                                 "\",\"UUID\":\"u\",\"ID\":null}\n"));
  }
}

TEST(FlowEvent, WritesCookieInterfaceAndIpv6AsTheReference) {
  // Cookie is Go's int64 (wraps negative); Interface is the host-order
  // kernel field read big-endian; a close event never carries an ID.
  EXPECT_EQ(JsonLine(EventType::kOpen, "2019-04-02T07:32:37.5+02:00", "u",
                     MakeId("fd77::2", 1, "fd77::1", 2, 0xFFFFFFFFFFFFFFFEull,
                            /*interface=*/2)),
            "{\"Event\":0,\"Timestamp\":\"2019-04-02T07:32:37.5+02:00\","
            "\"UUID\":\"u\",\"ID\":{\"SPort\":1,\"DPort\":2,\"SrcIP\":"
            "\"fd77::2\",\"DstIP\":\"fd77::1\",\"Interface\":33554432,"
            "\"Cookie\":-2}}\n");
  EXPECT_EQ(JsonLine(EventType::kClose, "1970-01-01T00:00:00Z", "a\"<b>&\n"),
            "{\"Event\":1,\"Timestamp\":\"1970-01-01T00:00:00Z\","
            "\"UUID\":\"a\\\"\\u003cb\\u003e\\u0026\\n\",\"ID\":null}\n");
}

TEST(FlowEvent, FormatsAddressesAsGoNetIpString) {
  EXPECT_EQ(GoIp("10.77.0.2"), "10.77.0.2");
  EXPECT_EQ(GoIp("::1"), "::1");
  EXPECT_EQ(GoIp("fd77::1"), "fd77::1");
  EXPECT_EQ(GoIp("::ffff:10.1.2.3"), "10.1.2.3");
  EXPECT_EQ(GoIp("2001:db8:0:1:0:0:0:1"), "2001:db8:0:1::1");
  EXPECT_EQ(GoIp("2001:0:1:1:1:1:1:1"), "2001:0:1:1:1:1:1:1");
  EXPECT_EQ(GoIp("1:0:0:1:0:0:1:1"), "1::1:0:0:1:1");  // first run on ties
  EXPECT_EQ(GoIp("1:0:0:0:1:0:0:0"), "1::1:0:0:0");
  EXPECT_EQ(GoIp("fe80::abcd:12"), "fe80::abcd:12");
  // The reference's quirk: bytes 4..15 all zero means IPv4.
  EXPECT_EQ(GoIp("fd77:1::"), "253.119.0.1");
  EXPECT_EQ(GoIp("::"), "0.0.0.0");
}

// A temporary directory for socket files, removed with its content.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/evsock_XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf " + path_).c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::unique_ptr<Server> StartServer(const std::string& path,
                                    ServerOptions options = {}) {
  options.path = path;
  auto server = Server::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? std::move(*server) : nullptr;
}

const parse::Timestamp kT0{1795310805, 264601601};
const inetdiag::SockId kId =
    MakeId("10.77.0.2", 38064, "10.77.0.1", 5001, 5117);
const char kUuid[] = "vm_1795310322_unsafe_00000000000013FD";

TEST(EventSocketServer, TwoClientsEachReceiveOpenThenCloseInOrder) {
  TempDir dir;
  auto server = StartServer(dir.path() + "/events.sock");
  ASSERT_NE(server, nullptr);
  ReadingClient a(server->path()), b(server->path());
  ASSERT_TRUE(WaitForClients(*server, 2));

  server->FlowCreated(kT0, kUuid, kId);
  server->FlowDeleted({kT0.seconds + 1, 5}, kUuid);
  ASSERT_TRUE(server->Flush(absl::Seconds(5)));

  const std::string open =
      "{\"Event\":0,\"Timestamp\":\"2026-11-22T01:26:45.264601601Z\","
      "\"UUID\":\"vm_1795310322_unsafe_00000000000013FD\",\"ID\":{\"SPort\":"
      "38064,\"DPort\":5001,\"SrcIP\":\"10.77.0.2\",\"DstIP\":\"10.77.0.1\","
      "\"Interface\":0,\"Cookie\":5117}}\n";
  const std::string close =
      "{\"Event\":1,\"Timestamp\":\"2026-11-22T01:26:46.000000005Z\","
      "\"UUID\":\"vm_1795310322_unsafe_00000000000013FD\",\"ID\":null}\n";
  for (ReadingClient* client : {&a, &b}) {
    ASSERT_TRUE(client->WaitForLines(2));
    EXPECT_EQ(client->lines(), (std::vector<std::string>{open, close}));
  }
  EXPECT_EQ(server->stats().events_queued, 2u);
  EXPECT_EQ(server->stats().events_sent, 2u);
  EXPECT_EQ(server->stats().clients_accepted, 2u);
}

TEST(EventSocketServer, LateClientGetsOnlyLaterEvents) {
  TempDir dir;
  auto server = StartServer(dir.path() + "/events.sock");
  ASSERT_NE(server, nullptr);
  ReadingClient early(server->path());
  ASSERT_TRUE(WaitForClients(*server, 1));
  server->FlowCreated(kT0, "first", kId);
  ASSERT_TRUE(server->Flush(absl::Seconds(5)));

  ReadingClient late(server->path());
  ASSERT_TRUE(WaitForClients(*server, 2));
  server->FlowDeleted(kT0, "second");
  ASSERT_TRUE(server->Flush(absl::Seconds(5)));

  ASSERT_TRUE(early.WaitForLines(2));
  ASSERT_TRUE(late.WaitForLines(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(late.lines().size(), 1u);
  EXPECT_NE(late.lines()[0].find("\"UUID\":\"second\""), std::string::npos);
  EXPECT_NE(early.lines()[0].find("\"UUID\":\"first\""), std::string::npos);
}

TEST(EventSocketServer, ReplacesStaleSocketFileWithMode0660) {
  TempDir dir;
  const std::string path = dir.path() + "/events.sock";
  {  // A socket file left behind by a dead process: bound, never removed.
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    close(fd);
    ASSERT_EQ(ConnectUnix(path), -1);  // nobody listens there
  }
  auto server = StartServer(path);
  ASSERT_NE(server, nullptr);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  ReadingClient client(path);
  ASSERT_TRUE(WaitForClients(*server, 1));
  server->FlowDeleted(kT0, "x");
  EXPECT_TRUE(client.WaitForLines(1));

  // Stop removes the file it created and ends the clients' streams.
  server->Stop();
  EXPECT_TRUE(client.WaitForEof());
  EXPECT_NE(stat(path.c_str(), &st), 0);
}

TEST(EventSocketServer, RefusesToReplaceAFileThatIsNotASocket) {
  TempDir dir;
  const std::string path = dir.path() + "/precious.txt";
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("keep me", f);
  std::fclose(f);
  auto server = Server::Start({.path = path});
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("not a socket"), std::string::npos)
      << server.status();
  EXPECT_EQ(testutil::ReadFileOrDie(path), "keep me");

  EXPECT_FALSE(Server::Start({.path = ""}).ok());
  EXPECT_FALSE(
      Server::Start({.path = dir.path() + std::string(200, 'x')}).ok());
  EXPECT_FALSE(Server::Start({.path = dir.path() + "/no/such/dir/s"}).ok());
}

TEST(EventSocketServer, StalledClientIsDroppedWithoutSlowingProducerOrReader) {
  TempDir dir;
  ServerOptions options;
  options.queue_capacity = 1 << 17;  // holds every event: none may drop
  options.client_buffer_bytes = 8 << 20;
  auto server = StartServer(dir.path() + "/events.sock", options);
  ASSERT_NE(server, nullptr);

  ReadingClient reader(server->path());
  reader.CountOnly();
  const int stalled = ConnectUnix(server->path());  // connects, never reads
  ASSERT_GE(stalled, 0);
  ASSERT_TRUE(WaitForClients(*server, 2));

  constexpr int kEvents = 100000;  // ~21 MB of JSON: overflows the stalled one
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kEvents; ++i) {
    server->FlowCreated(kT0, kUuid, kId);
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const double ns_per_call =
      std::chrono::duration<double, std::nano>(elapsed).count() / kEvents;
  std::printf("FlowCreated: %.0f ns per call over %d calls\n", ns_per_call,
              kEvents);
  // Never waits for a client: a blocking write would stall here forever.
  EXPECT_LT(elapsed, std::chrono::seconds(1));

  ASSERT_TRUE(server->Flush(absl::Seconds(20)));
  ASSERT_TRUE(reader.WaitForLines(kEvents));
  const auto stats = server->stats();
  EXPECT_EQ(stats.events_queued, static_cast<uint64_t>(kEvents));
  EXPECT_EQ(stats.events_dropped, 0u);
  EXPECT_EQ(stats.clients_overflowed, 1u);
  EXPECT_EQ(stats.clients_connected, 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(reader.line_count(), static_cast<size_t>(kEvents));

  // The stalled client finds its stream cut after what fitted.
  char buf[65536];
  size_t received = 0;
  ssize_t n;
  while ((n = read(stalled, buf, sizeof(buf))) > 0) received += n;
  EXPECT_EQ(n, 0);
  EXPECT_GT(received, 0u);
  EXPECT_LT(received, 21000000u);
  close(stalled);
}

TEST(EventSocketServer, EventsAfterStopAreDroppedAndCounted) {
  TempDir dir;
  auto server = StartServer(dir.path() + "/events.sock");
  ASSERT_NE(server, nullptr);
  server->Stop();
  server->FlowDeleted(kT0, "after stop");
  EXPECT_EQ(server->stats().events_dropped, 1u);
  EXPECT_EQ(server->stats().events_queued, 0u);
}

TEST(BoundedQueue, IsFifoAndRefusesWhenFull) {
  eventsocket::BoundedQueue<int> queue(3);
  ASSERT_EQ(queue.capacity(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(queue.TryPush(i));
  EXPECT_FALSE(queue.TryPush(99));
  int v = -1;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(queue.TryPop(&v));
    EXPECT_EQ(v, i);
  }
  EXPECT_FALSE(queue.TryPop(&v));
  EXPECT_TRUE(queue.TryPush(5));  // wraps around
  ASSERT_TRUE(queue.TryPop(&v));
  EXPECT_EQ(v, 5);
}

TEST(BoundedQueue, ConcurrentProducersLoseNothing) {
  eventsocket::BoundedQueue<uint64_t> queue(64);
  constexpr int kProducers = 4;
  constexpr uint64_t kPerProducer = 50000;
  std::vector<std::thread> producers;
  producers.reserve(kProducers);
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&queue, p] {
      for (uint64_t i = 1; i <= kPerProducer; ++i) {
        while (!queue.TryPush(p * kPerProducer + i)) std::this_thread::yield();
      }
    });
  }
  uint64_t sum = 0, count = 0, v;
  while (count < kProducers * kPerProducer) {
    if (queue.TryPop(&v)) {
      sum += v;
      ++count;
    }
  }
  for (auto& t : producers) t.join();
  const uint64_t n = kProducers * kPerProducer;
  EXPECT_EQ(sum, n * (n + 1) / 2);
  EXPECT_FALSE(queue.TryPop(&v));
}

}  // namespace
