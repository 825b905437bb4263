// IpfixWriter against real decoders: libfixbuf-tools' ipfixDump reads what
// the writer sent over UDP and TCP to a socket of the test (every element,
// the enterprise ones named through their RFC 5610 type records), and
// nfdump's nfcapd, a real IPFIX collector, takes it over UDP, nfdump then
// printing the standard fields it decoded. Loopback only; every collector
// is killed and every temporary directory removed however a test ends.
#include "sinks/ipfix_writer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "collector/ip_address.h"
#include "flows/flow_record.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sinks/net_client.h"
#include "sinks/sink_url.h"
#include "sinks/writers.h"
#include "tests/testutil/ipfix_dump.h"
#include "tests/testutil/temp_dir.h"

extern char** environ;

namespace sinks {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using testutil::IpfixDump;
using testutil::IpfixRecord;
using testutil::ParseIpfixDump;
using testutil::TempDir;
using testutil::UdpSink;
using Decoded = IpfixRecord;

// Output of `command` run by sh under `timeout 20`, stderr included.
std::string RunCommand(const std::string& command) {
  std::string out;
  FILE* p = popen(absl::StrCat("timeout 20 ", command, " 2>&1").c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

flows::FlowRecord Ipv4Record() {
  flows::FlowRecord r;
  r.uuid = "host_0000000000000A01";
  r.cookie = 0xA01;
  r.seq = 3;
  r.kind = flows::RecordKind::kFinal;
  r.end_reason = flows::EndReason::kDestroyed;
  r.local = *collector::ParseIpAddress("10.77.0.1");
  r.remote = *collector::ParseIpAddress("10.77.0.2");
  r.local_port = 40001;
  r.remote_port = 443;
  r.direction = flows::Direction::kOut;
  r.congestion_algorithm = "cubic";
  r.state = 7;
  r.start_time = parse::Timestamp{1764842400, 123000000};  // ms precision
  r.end_time = parse::Timestamp{1764842460, 456000000};
  r.total = {.bytes_acked = 1000001,
             .bytes_received = 2000002,
             .bytes_sent = 1000501,
             .bytes_retrans = 500,
             .segs_out = 30003,
             .segs_in = 40004,
             .data_segs_out = 20005,
             .data_segs_in = 30006,
             .retrans_segs = 7,
             .busy_us = 800008,
             .rwnd_limited_us = 9009,
             .sndbuf_limited_us = 1010};
  r.delta = {.bytes_acked = 100011,
             .bytes_received = 200012,
             .bytes_sent = 100513,
             .bytes_retrans = 14,
             .segs_out = 3015,
             .segs_in = 4016,
             .data_segs_out = 2017,
             .data_segs_in = 3018,
             .retrans_segs = 1,
             .busy_us = 80020,
             .rwnd_limited_us = 921,
             .sndbuf_limited_us = 122};
  r.min_rtt_us = 1523;
  r.rtt_us = 2524;
  r.max_delivery_rate = 12500025;
  r.limited_by = flows::LimitedBy::kReceiver;
  r.owner = {.pid = 4242,
             .comm = "curl",
             .uid = 1000,
             .user = "alice",
             .cgroup = "/user.slice/user-1000.slice/session-2.scope",
             .container = "",
             .unit = "session-2.scope"};
  return r;
}

flows::FlowRecord Ipv6Record() {
  flows::FlowRecord r = Ipv4Record();
  r.owner = {};  // unknown, as without -owners
  r.uuid = "host_0000000000000B02";
  r.cookie = 0xB02;
  r.seq = 0;
  r.kind = flows::RecordKind::kInterim;
  r.end_reason = flows::EndReason::kInterim;
  r.local = *collector::ParseIpAddress("fd77::1");
  r.remote = *collector::ParseIpAddress("fd77::2:3");
  r.local_port = 5201;
  r.remote_port = 51002;
  r.direction = flows::Direction::kIn;
  r.congestion_algorithm = "bbr";
  r.state = 1;
  r.delta.bytes_sent = 777031;
  r.delta.bytes_received = 888032;
  r.delta.segs_out = 933;
  r.delta.segs_in = 1034;
  r.limited_by = flows::LimitedBy::kNetwork;
  return r;
}

SinkUrl Url(const std::string& scheme, const std::string& hosts) {
  SinkUrl url;
  url.scheme = scheme;
  url.hosts = hosts;
  url.redacted = scheme + "://" + hosts;
  return url;
}

// What every element of `r` must decode to, written from the README's
// element table (not from the writer's code).
Decoded Expected(const flows::FlowRecord& r) {
  auto n = [](uint64_t v) { return absl::StrCat(v); };
  Decoded e;
  e["tcpinfoUuid"] = absl::StrCat("(len: ", r.uuid.size(), ") ", r.uuid);
  e["tcpinfoCongestionAlgorithm"] = absl::StrCat(
      "(len: ", r.congestion_algorithm.size(), ") ", r.congestion_algorithm);
  e["flowStartMilliseconds"] = testutil::IpfixDumpTime(r.start_time);
  e["flowEndMilliseconds"] = testutil::IpfixDumpTime(r.end_time);
  e["flowId"] = n(r.cookie);
  e["octetDeltaCount"] = n(r.delta.bytes_sent);
  e["packetDeltaCount"] = n(r.delta.segs_out);
  e["reverseOctetDeltaCount"] = n(r.delta.bytes_received);
  e["reversePacketDeltaCount"] = n(r.delta.segs_in);
  e["tcpinfoOctetTotalCount"] = n(r.total.bytes_sent);
  e["reverseTcpinfoOctetTotalCount"] = n(r.total.bytes_received);
  e["tcpinfoPacketTotalCount"] = n(r.total.segs_out);
  e["reverseTcpinfoPacketTotalCount"] = n(r.total.segs_in);
  e["tcpinfoAckedOctetDeltaCount"] = n(r.delta.bytes_acked);
  e["tcpinfoAckedOctetTotalCount"] = n(r.total.bytes_acked);
  e["tcpinfoRetransOctetDeltaCount"] = n(r.delta.bytes_retrans);
  e["tcpinfoRetransOctetTotalCount"] = n(r.total.bytes_retrans);
  e["tcpinfoRetransPacketDeltaCount"] = n(r.delta.retrans_segs);
  e["tcpinfoRetransPacketTotalCount"] = n(r.total.retrans_segs);
  e["tcpinfoDataPacketDeltaCount"] = n(r.delta.data_segs_out);
  e["reverseTcpinfoDataPacketDeltaCount"] = n(r.delta.data_segs_in);
  e["tcpinfoDataPacketTotalCount"] = n(r.total.data_segs_out);
  e["reverseTcpinfoDataPacketTotalCount"] = n(r.total.data_segs_in);
  e["tcpinfoBusyMicrosecondsDelta"] = n(r.delta.busy_us);
  e["tcpinfoBusyMicrosecondsTotal"] = n(r.total.busy_us);
  e["tcpinfoRwndLimitedMicrosecondsDelta"] = n(r.delta.rwnd_limited_us);
  e["tcpinfoRwndLimitedMicrosecondsTotal"] = n(r.total.rwnd_limited_us);
  e["tcpinfoSndbufLimitedMicrosecondsDelta"] = n(r.delta.sndbuf_limited_us);
  e["tcpinfoSndbufLimitedMicrosecondsTotal"] = n(r.total.sndbuf_limited_us);
  e["tcpinfoMaxDeliveryRate"] = n(r.max_delivery_rate);
  if (r.local.family == AF_INET6) {
    e["sourceIPv6Address"] = testutil::IpfixDumpIpv6(r.local);
    e["destinationIPv6Address"] = testutil::IpfixDumpIpv6(r.remote);
  } else {
    e["sourceIPv4Address"] = collector::FormatIpAddress(r.local);
    e["destinationIPv4Address"] = collector::FormatIpAddress(r.remote);
  }
  e["tcpinfoRecordSeq"] = n(r.seq);
  e["tcpinfoMinRttMicroseconds"] = n(r.min_rtt_us);
  e["tcpinfoRttMicroseconds"] = n(r.rtt_us);
  e["sourceTransportPort"] = n(r.local_port);
  e["destinationTransportPort"] = n(r.remote_port);
  e["protocolIdentifier"] = "6";
  // flowEndReason: 2 active timeout (interim), 3 end of flow (destroyed,
  // absent), 4 forced end (daemon_stop).
  const char* end_reason[] = {"2", "3", "3", "4"};
  e["flowEndReason"] = end_reason[static_cast<int>(r.end_reason)];
  // biflowDirection: 1 initiator (we connected out), 2 reverse initiator.
  e["biflowDirection"] = r.direction == flows::Direction::kOut ? "1" : "2";
  e["tcpinfoTcpState"] = n(r.state);
  e["tcpinfoEndReason"] = n(static_cast<int>(r.end_reason));
  e["tcpinfoLimitedBy"] = n(static_cast<int>(r.limited_by));
  auto text = [](const std::string& v) {
    return absl::StrCat("(len: ", v.size(), ") ", v);
  };
  e["tcpinfoProcessId"] = n(r.owner.pid);
  e["tcpinfoProcessName"] = text(r.owner.comm);
  e["tcpinfoUserId"] = n(r.owner.uid);
  e["tcpinfoUserName"] = text(r.owner.user);
  e["tcpinfoCgroupPath"] = text(r.owner.cgroup);
  e["tcpinfoContainerId"] = text(r.owner.container);
  e["tcpinfoSystemdUnit"] = text(r.owner.unit);
  return e;
}

void ExpectDecodes(const std::string& dump,
                   const std::vector<flows::FlowRecord>& records) {
  std::vector<Decoded> decoded = ParseIpfixDump(dump);
  ASSERT_EQ(decoded.size(), records.size()) << dump;
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(decoded[i], Expected(records[i])) << "record " << i;
  }
}

TEST(IpfixWriter, UdpRecordsDecodeInIpfixDumpWithEveryElement) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  UdpSink sink("127.0.0.1");
  // Made as the daemon makes it, from the -sink URL.
  absl::StatusOr<SinkUrl> url =
      ParseSinkUrl(absl::StrCat("ipfix://127.0.0.1:", sink.port()));
  ASSERT_TRUE(url.ok()) << url.status();
  absl::StatusOr<std::unique_ptr<SinkWriter>> made = MakeWriter(*url);
  ASSERT_TRUE(made.ok()) << made.status();
  std::unique_ptr<SinkWriter> writer = std::move(*made);
  absl::Status connected = writer->Connect();
  ASSERT_TRUE(connected.ok()) << connected;
  std::vector<flows::FlowRecord> records = {Ipv4Record(), Ipv6Record(),
                                            Ipv4Record()};
  records[2].end_reason = flows::EndReason::kDaemonStop;
  records[2].direction = flows::Direction::kIn;
  SinkWriter::WriteResult result = writer->Write(records);
  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(result.written, 3u);
  std::string dump = IpfixDump(dir.path() + "/udp.ipfix", sink.Drain());
  ExpectDecodes(dump, records);
  EXPECT_THAT(dump, Not(HasSubstr("_alienInformationElement")));
  EXPECT_THAT(dump, Not(HasSubstr("WARNING")));
}

TEST(IpfixWriter, ManyRecordsSplitIntoDatagramsWithinTheMessageSize) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  UdpSink sink("::1");
  IpfixOptions options;
  std::unique_ptr<SinkWriter> writer = NewIpfixWriter(
      Url("ipfix", absl::StrCat("[::1]:", sink.port())), options);
  ASSERT_TRUE(writer->Connect().ok());
  std::vector<flows::FlowRecord> records;
  for (int i = 0; i < 500; ++i) {
    records.push_back(i % 3 ? Ipv6Record() : Ipv4Record());
    records.back().seq = i;
    records.back().uuid += absl::StrCat("_", i);  // lengths vary
  }
  SinkWriter::WriteResult result = writer->Write(records);
  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(result.written, records.size());
  std::vector<std::string> datagrams = sink.Drain();
  ASSERT_GT(datagrams.size(), 50u);
  for (const std::string& d : datagrams) {
    EXPECT_LE(d.size(), options.udp_message_bytes);
  }
  std::string dump = IpfixDump(dir.path() + "/many.ipfix", datagrams);
  ExpectDecodes(dump, records);
  EXPECT_THAT(dump, Not(HasSubstr("WARNING")));  // no sequence gap either
}

// A TCP listener of the test on ::1; Accept() takes one connection and
// keeps all it reads until the peer closes.
class TcpSink {
 public:
  TcpSink() {
    fd_ = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    socklen_t len = sizeof(a);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), len), 0);
    EXPECT_EQ(listen(fd_, 4), 0);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin6_port);
  }
  ~TcpSink() { close(fd_); }
  uint16_t port() const { return port_; }

  // Accepts one connection within 10 s; returns its fd or -1.
  int Accept() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 10000) != 1) return -1;
    return accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  }
  // Reads `conn` until EOF (at most 10 s), then closes it.
  static std::string ReadAll(int conn) {
    std::string out;
    pollfd p{conn, POLLIN, 0};
    char buf[65536];
    while (poll(&p, 1, 10000) == 1) {
      ssize_t n = read(conn, buf, sizeof(buf));
      if (n <= 0) break;
      out.append(buf, n);
    }
    close(conn);
    return out;
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

TEST(IpfixWriter, TcpRecordsDecodeInIpfixDumpWithEveryElement) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  TcpSink sink;
  std::string stream;
  std::thread reader([&] {
    int conn = sink.Accept();
    if (conn >= 0) stream = TcpSink::ReadAll(conn);
  });
  std::unique_ptr<SinkWriter> writer = NewIpfixWriter(
      Url("ipfix+tcp", absl::StrCat("[::1]:", sink.port())), IpfixOptions());
  std::vector<flows::FlowRecord> records;
  for (int i = 0; i < 400; ++i) {  // several messages of 8 KiB
    records.push_back(i % 2 ? Ipv6Record() : Ipv4Record());
    records.back().seq = i;
  }
  absl::Status connected = writer->Connect();
  SinkWriter::WriteResult result{0, absl::OkStatus()};
  if (connected.ok()) result = writer->Write(records);
  writer->Close(absl::Now() + absl::Seconds(5));
  writer.reset();
  reader.join();
  ASSERT_TRUE(connected.ok()) << connected;
  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(result.written, records.size());
  std::string dump = IpfixDump(dir.path() + "/tcp.ipfix", {stream});
  ExpectDecodes(dump, records);
  EXPECT_THAT(dump, Not(HasSubstr("WARNING")));
}

TEST(IpfixWriter, RefusedTcpConnectionIsAnError) {
  uint16_t port;
  {
    TcpSink closed;  // a port that was free a moment ago
    port = closed.port();
  }
  std::unique_ptr<SinkWriter> writer = NewIpfixWriter(
      Url("ipfix+tcp", absl::StrCat("[::1]:", port)), IpfixOptions());
  absl::Status connected = writer->Connect();
  EXPECT_TRUE(absl::IsUnavailable(connected)) << connected;
  EXPECT_THAT(connected.message(), HasSubstr("refused"));
  SinkWriter::WriteResult result = writer->Write({Ipv4Record()});
  EXPECT_EQ(result.written, 0u);
  EXPECT_FALSE(result.status.ok());
}

TEST(IpfixWriter, TcpReconnectsWithNewTemplatesAfterTheCollectorCloses) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  TcpSink sink;
  std::unique_ptr<SinkWriter> writer = NewIpfixWriter(
      Url("ipfix+tcp", absl::StrCat("[::1]:", sink.port())), IpfixOptions());
  ASSERT_TRUE(writer->Connect().ok());
  int first = sink.Accept();
  ASSERT_GE(first, 0);
  close(first);  // the collector goes away
  // The first sends may still reach the kernel; one fails within a few.
  bool failed = false;
  for (int i = 0; i < 50 && !failed; ++i) {
    SinkWriter::WriteResult r = writer->Write({Ipv4Record()});
    failed = !r.status.ok();
    if (failed) {
      EXPECT_EQ(r.written, 0u);
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(failed) << "writes to a closed connection kept succeeding";
  std::string stream;
  std::thread reader([&] {
    int conn = sink.Accept();
    if (conn >= 0) stream = TcpSink::ReadAll(conn);
  });
  absl::Status connected = writer->Connect();
  std::vector<flows::FlowRecord> records = {Ipv6Record(), Ipv4Record()};
  SinkWriter::WriteResult result{0, absl::OkStatus()};
  if (connected.ok()) result = writer->Write(records);
  writer.reset();
  reader.join();
  ASSERT_TRUE(connected.ok()) << connected;
  EXPECT_EQ(result.written, 2u) << result.status;
  // The new connection carries its own templates: it decodes alone.
  ExpectDecodes(IpfixDump(dir.path() + "/tcp2.ipfix", {stream}), records);
}

// A collector that accepts and then never reads: each Write returns within
// about io_timeout with an error instead of blocking the sink's thread.
TEST(IpfixWriter, TcpWritesToAStuckCollectorFailWithinTheTimeout) {
  TcpSink sink;
  IpfixOptions options;
  options.io_timeout = absl::Milliseconds(300);
  std::unique_ptr<SinkWriter> writer = NewIpfixWriter(
      Url("ipfix+tcp", absl::StrCat("[::1]:", sink.port())), options);
  ASSERT_TRUE(writer->Connect().ok());
  int conn = sink.Accept();  // and never read
  ASSERT_GE(conn, 0);
  std::vector<flows::FlowRecord> batch(1000, Ipv4Record());
  bool failed = false;
  for (int i = 0; i < 200 && !failed; ++i) {  // fills both socket buffers
    absl::Time start = absl::Now();
    SinkWriter::WriteResult r = writer->Write(batch);
    absl::Duration took = absl::Now() - start;
    EXPECT_LT(took, absl::Seconds(2)) << "write " << i;
    if (!r.status.ok()) {
      failed = true;
      EXPECT_TRUE(absl::IsUnavailable(r.status)) << r.status;
      EXPECT_LT(r.written, batch.size());
    }
  }
  close(conn);
  EXPECT_TRUE(failed) << "200 batches fit in the socket buffers";
}

// nfdump's nfcapd collecting on 127.0.0.1:port into a directory of its own;
// killed (SIGKILL) if still running when destroyed.
class Nfcapd {
 public:
  explicit Nfcapd(uint16_t port) : port_(port) {
    out_ = dir_.path() + "/flows";
    std::filesystem::create_directory(out_);
    std::string p = absl::StrCat(port);
    std::vector<std::string> args = {"nfcapd", "-w",        out_, "-p", p,
                                     "-b",     "127.0.0.1", "-t", "600"};
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string log = dir_.path() + "/nfcapd.log";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    if (posix_spawnp(&pid_, "nfcapd", &actions, nullptr, argv.data(),
                     environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Nfcapd() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // True once nfcapd's socket is bound (/proc/net/udp), within 10 s.
  bool WaitListening() {
    std::string needle = absl::StrFormat(":%04X ", port_);
    for (int i = 0; i < 200 && pid_ > 0; ++i) {
      std::ifstream udp("/proc/net/udp");
      std::string line;
      while (std::getline(udp, line)) {
        if (absl::StrContains(line, "0100007F" + needle)) return true;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  // Stops nfcapd (SIGTERM: it closes its file) and prints what it
  // collected as nfdump's CSV.
  std::string StopAndDump() {
    if (pid_ <= 0) return "";
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return RunCommand(
        absl::StrCat("env TZ=UTC nfdump -q -R ", out_, " -o csv -O tstart"));
  }

 private:
  TempDir dir_;
  std::string out_;
  uint16_t port_;
  pid_t pid_ = -1;
};

uint16_t FreeUdpPort() {
  UdpSink probe("127.0.0.1");
  return probe.port();
}

// nfdump's CSV line of a flow, from the fields a record carries: start,
// end, addresses, ports, protocol, in packets and bytes (ours: sent), out
// packets and bytes (ours: received). nfdump prints times in local time:
// the test runs it with TZ=UTC.
std::string NfdumpLine(const flows::FlowRecord& r) {
  auto sec = [](parse::Timestamp t) {
    return absl::FormatTime("%Y-%m-%d %H:%M:%S",
                            absl::FromUnixSeconds(t.seconds),
                            absl::UTCTimeZone());
  };
  return absl::StrCat(sec(r.start_time), ",", sec(r.end_time), ",",
                      collector::FormatIpAddress(r.local), ",",
                      collector::FormatIpAddress(r.remote), ",", r.local_port,
                      ",", r.remote_port, ",TCP,", r.delta.segs_out, ",",
                      r.delta.bytes_sent, ",", r.delta.segs_in, ",",
                      r.delta.bytes_received);
}

// The same fields of each flow nfdump printed (-o csv: ts,te,td,sa,da,sp,
// dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,...).
std::vector<std::string> NfdumpLines(const std::string& csv) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(csv, '\n')) {
    std::vector<std::string> f = absl::StrSplit(line, ',');
    if (f.size() < 15) continue;
    lines.push_back(absl::StrJoin(
        {f[0], f[1], f[3], f[4], f[5], f[6], f[7], f[11], f[12], f[13], f[14]},
        ","));
  }
  return lines;
}

TEST(IpfixWriter, NfcapdDecodesTheStandardFields) {
  uint16_t port = FreeUdpPort();
  Nfcapd nfcapd(port);
  ASSERT_TRUE(nfcapd.WaitListening());
  std::unique_ptr<SinkWriter> writer = NewIpfixWriter(
      Url("ipfix", absl::StrCat("127.0.0.1:", port)), IpfixOptions());
  ASSERT_TRUE(writer->Connect().ok());
  std::vector<flows::FlowRecord> records = {Ipv4Record(), Ipv6Record()};
  SinkWriter::WriteResult result = writer->Write(records);
  ASSERT_TRUE(result.status.ok()) << result.status;
  absl::SleepFor(absl::Milliseconds(300));
  std::string csv = nfcapd.StopAndDump();
  EXPECT_THAT(NfdumpLines(csv), ::testing::ElementsAre(NfdumpLine(records[0]),
                                                       NfdumpLine(records[1])))
      << csv;
  // Its duration column has the milliseconds: 60.333 s.
  EXPECT_THAT(csv, HasSubstr(",60.333,"));
}

// A collector that starts after the templates went out decodes nothing
// until they are sent again, one template_interval later.
TEST(IpfixWriter, UdpTemplatesAreResentForACollectorThatStartsLate) {
  uint16_t port = FreeUdpPort();
  IpfixOptions options;
  options.template_interval = absl::Seconds(1);
  std::unique_ptr<SinkWriter> writer =
      NewIpfixWriter(Url("ipfix", absl::StrCat("127.0.0.1:", port)), options);
  ASSERT_TRUE(writer->Connect().ok());  // templates to nobody
  Nfcapd nfcapd(port);
  ASSERT_TRUE(nfcapd.WaitListening());
  flows::FlowRecord before = Ipv4Record();
  ASSERT_TRUE(writer->Write({before}).status.ok());
  absl::SleepFor(absl::Milliseconds(1100));
  flows::FlowRecord after = Ipv6Record();
  ASSERT_TRUE(writer->Write({after}).status.ok());  // templates first
  absl::SleepFor(absl::Milliseconds(300));
  std::string csv = nfcapd.StopAndDump();
  // `before` had no templates at the collector and is lost; `after` decodes.
  EXPECT_THAT(NfdumpLines(csv), ::testing::ElementsAre(NfdumpLine(after)))
      << csv;
}

}  // namespace
}  // namespace sinks
