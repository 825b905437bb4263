// IpfixWriter against real decoders: libfixbuf-tools' ipfixDump reads what
// the writer sent over UDP and TCP to a socket of the test (every element,
// the enterprise ones named through their RFC 5610 type records), and
// nfdump's nfcapd, a real IPFIX collector, takes it over UDP, nfdump then
// printing the standard fields it decoded. Loopback only; every collector
// is killed and every temporary directory removed however a test ends.
#include "sinks/ipfix_writer.h"

#include <arpa/inet.h>
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
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
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

extern char** environ;

namespace sinks {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = std::filesystem::temp_directory_path() /
                       "ipfix_writer_test_XXXXXX";
    path_ = mkdtemp(tmpl.data()) ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

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
  return r;
}

flows::FlowRecord Ipv6Record() {
  flows::FlowRecord r = Ipv4Record();
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

// A UDP socket of the test on 127.0.0.1 or ::1 that keeps every datagram.
class UdpSink {
 public:
  explicit UdpSink(bool ipv6) {
    fd_ = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_storage ss{};
    socklen_t len;
    if (ipv6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_addr = in6addr_loopback;
      len = sizeof(*a);
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof(*a);
    }
    int big = 8 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    bind(fd_, reinterpret_cast<sockaddr*>(&ss), len);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    port_ = ntohs(ipv6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                       : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  ~UdpSink() { close(fd_); }
  uint16_t port() const { return port_; }

  // Every datagram that arrives within `wait` of the last.
  std::vector<std::string> Drain(absl::Duration wait = absl::Milliseconds(300)) {
    std::vector<std::string> out;
    pollfd p{fd_, POLLIN, 0};
    while (poll(&p, 1, absl::ToInt64Milliseconds(wait)) == 1) {
      std::string buf(65536, '\0');
      ssize_t n = recv(fd_, buf.data(), buf.size(), 0);
      if (n <= 0) break;
      buf.resize(n);
      out.push_back(std::move(buf));
    }
    return out;
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// Writes IPFIX messages one after the other: an IPFIX file (RFC 5655).
std::string WriteMessages(const std::string& path,
                          const std::vector<std::string>& messages) {
  std::ofstream f(path, std::ios::binary);
  for (const std::string& m : messages) f << m;
  return path;
}

SinkUrl Url(const std::string& scheme, const std::string& hosts) {
  SinkUrl url;
  url.scheme = scheme;
  url.hosts = hosts;
  url.redacted = scheme + "://" + hosts;
  return url;
}

TEST(IpfixWriter, UdpRecordsDecodeInIpfixDump) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  UdpSink sink(false);
  std::unique_ptr<SinkWriter> writer = NewIpfixWriter(
      Url("ipfix", absl::StrCat("127.0.0.1:", sink.port())), IpfixOptions());
  absl::Status connected = writer->Connect();
  ASSERT_TRUE(connected.ok()) << connected;
  std::vector<flows::FlowRecord> records = {Ipv4Record(), Ipv6Record()};
  SinkWriter::WriteResult result = writer->Write(records);
  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(result.written, 2u);
  std::string file =
      WriteMessages(dir.path() + "/udp.ipfix", sink.Drain());
  std::string dump = RunCommand("ipfixDump --rfc5610 --in " + file);
  std::cout << dump;
}

}  // namespace
}  // namespace sinks
