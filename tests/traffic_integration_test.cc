// -traffic against the wire and a real Prometheus: a daemon in a farm's
// client namespace (offloads off, so that every packet on the veth is one
// segment), bulk traffic to two named services (http, https; IPv4 and IPv6)
// and from one (ssh, into a listener of the client namespace), captured by
// tcpdump on the client's veth meanwhile and scraped by Debian's Prometheus.
// ntm_bytes_total per service is within 2 % of the capture's IP total
// lengths, the payload family equals the capture's TCP payload (and what the
// test sent), and every query of network-traffic-metrics' Grafana dashboard
// answers.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/metrics_scrape.h"
#include "tests/testutil/daemon_fixture.h"
#include "tests/testutil/farm.h"
#include "tests/testutil/paths.h"
#include "tests/testutil/prometheus_server.h"

namespace {

constexpr uint16_t kHttp = 80, kHttps = 443, kSsh = 22;
constexpr int kRounds = 12;
const absl::Duration kRoundGap = absl::Milliseconds(250);

// One service's share of the traffic: connections of kRounds rounds, each
// `up` bytes from the client, then `down` from the server.
struct Load {
  uint16_t port;
  const char* service;
  int v4;
  int v6;
  size_t up;
  size_t down;
  uint64_t payload() const {
    return static_cast<uint64_t>(v4 + v6) * kRounds * (up + down);
  }
};

const Load kLoads[] = {
    {kHttp, "http", 2, 1, 2000, 150000},
    {kHttps, "https", 1, 1, 90000, 15000},
    {kSsh, "ssh", 1, 0, 4000, 40000},  // into the client namespace
};

// What a capture saw of one service.
struct Wire {
  uint64_t ip_bytes = 0;  // IP total lengths (IPv6: payload length + 40)
  uint64_t payload = 0;   // TCP payload
  uint64_t packets = 0;
};

uint16_t Be16(const unsigned char* p) { return (p[0] << 8) | p[1]; }

// The pcap file's TCP packets by the service (kLoads) whose port either
// end uses; others are counted under "".
std::map<std::string, Wire> ReadCapture(const std::string& path) {
  std::map<std::string, Wire> out;
  const std::string file = testutil::ReadFileOrDie(path);
  EXPECT_GE(file.size(), 24u);
  if (file.size() < 24) return out;
  uint32_t magic, link;
  std::memcpy(&magic, file.data(), 4);
  std::memcpy(&link, file.data() + 20, 4);
  EXPECT_TRUE(magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) << std::hex << magic;
  EXPECT_EQ(link, 1u);  // Ethernet
  size_t at = 24;
  while (at + 16 <= file.size()) {
    uint32_t caplen;
    std::memcpy(&caplen, file.data() + at + 8, 4);
    at += 16;
    if (at + caplen > file.size()) break;
    const auto* p = reinterpret_cast<const unsigned char*>(file.data() + at);
    at += caplen;
    if (caplen < 14 + 40) continue;
    const uint16_t type = Be16(p + 12);
    const unsigned char* ip = p + 14;
    uint64_t ip_len, ip_hdr;
    if (type == 0x0800 && ip[9] == IPPROTO_TCP) {
      ip_len = Be16(ip + 2);
      ip_hdr = (ip[0] & 15) * 4;
    } else if (type == 0x86DD && ip[6] == IPPROTO_TCP) {
      ip_len = Be16(ip + 4) + 40;
      ip_hdr = 40;
    } else {
      continue;
    }
    if (14 + ip_hdr + 20 > caplen) continue;
    const unsigned char* tcp = ip + ip_hdr;
    const uint16_t sport = Be16(tcp), dport = Be16(tcp + 2);
    std::string service;
    for (const Load& l : kLoads) {
      if (sport == l.port || dport == l.port) service = l.service;
    }
    Wire& w = out[service];
    w.ip_bytes += ip_len;
    w.payload += ip_len - ip_hdr - (tcp[12] >> 4) * 4;
    ++w.packets;
  }
  return out;
}

// `address` (v4 or v6 text) and `port` as a socket address; its length.
socklen_t SocketAddress(const char* address, uint16_t port,
                        sockaddr_storage* s) {
  *s = {};
  if (std::strchr(address, ':') != nullptr) {
    auto* a = reinterpret_cast<sockaddr_in6*>(s);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    inet_pton(AF_INET6, address, &a->sin6_addr);
    return sizeof(*a);
  }
  auto* a = reinterpret_cast<sockaddr_in*>(s);
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  inet_pton(AF_INET, address, &a->sin_addr);
  return sizeof(*a);
}

// A listener on `address` and `port` in the calling thread's namespace.
int Listen(const char* address, uint16_t port) {
  sockaddr_storage s;
  const socklen_t length = SocketAddress(address, port, &s);
  const int fd = socket(s.ss_family, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  testutil::SetTimeouts(fd);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&s), length), 0)
      << address << " " << port << ": " << std::strerror(errno);
  EXPECT_EQ(listen(fd, 16), 0);
  return fd;
}

// A connection to `address` and `port` from the calling thread's namespace.
int ConnectTo(const char* address, uint16_t port) {
  sockaddr_storage s;
  const socklen_t length = SocketAddress(address, port, &s);
  const int fd = socket(s.ss_family, SOCK_STREAM, 0);
  testutil::SetTimeouts(fd);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&s), length), 0)
      << address << " " << port << ": " << std::strerror(errno);
  return fd;
}

class TrafficIntegration : public testutil::DaemonTest {
 protected:
  TrafficIntegration() : DaemonTest({"traffic_it", "traffic", "tr", 0}) {}

  std::string Ns(const char* side) const { return farm_->Namespace(side); }
  std::string NsName(const char* side) const {
    return absl::StrCat(farm_->name(), "-", side);
  }

  // Every packet one segment: no TSO/GSO on send, no GRO on receive.
  void OffloadsOff() {
    for (const char* side : {"cli", "srv"}) {
      const std::string dev =
          absl::StrCat(farm_->name(), side[0] == 'c' ? "-vc" : "-vs");
      ASSERT_EQ(testutil::Run({"/usr/bin/ip", "netns", "exec", NsName(side),
                               "/usr/sbin/ethtool", "-K", dev, "tso", "off",
                               "gso", "off", "gro", "off"},
                              dir_ + "/ethtool.log"),
                0)
          << testutil::ReadText(dir_ + "/ethtool.log");
    }
  }

  // One service's connections, each on threads of its own: the server side
  // in `server_ns` on `server_address`, the client in the other.
  void RunLoad(const Load& l, std::vector<std::thread>* threads) {
    const bool inbound = l.port == kSsh;
    const std::string server_ns = Ns(inbound ? "cli" : "srv");
    const std::string client_ns = Ns(inbound ? "srv" : "cli");
    for (int i = 0; i < l.v4 + l.v6; ++i) {
      const bool v6 = i >= l.v4;
      const int listener = inbound
                               ? (v6 ? ssh_listeners_[1] : ssh_listeners_[0])
                               : listeners_by_port_[l.port][v6];
      const char* server = inbound ? (v6 ? "fd77::2" : "10.77.0.2")
                                   : (v6 ? "fd77::1" : "10.77.0.1");
      threads->emplace_back([=, this] {
        testutil::InNamespace(server_ns, [&] {
          const int fd = accept(listener, nullptr, nullptr);
          ASSERT_GE(fd, 0) << std::strerror(errno);
          testutil::SetTimeouts(fd);
          for (int r = 0; r < kRounds; ++r) {
            testutil::ReceiveAll(fd, l.up);
            testutil::SendAll(fd, l.down);
          }
          char c;
          EXPECT_EQ(recv(fd, &c, 1, 0), 0);  // the client closes first
          close(fd);
        });
      });
      threads->emplace_back([=, this] {
        testutil::InNamespace(client_ns, [&] {
          const int fd = ConnectTo(server, l.port);
          ASSERT_GE(fd, 0);
          for (int r = 0; r < kRounds; ++r) {
            testutil::SendAll(fd, l.up);
            testutil::ReceiveAll(fd, l.down);
            absl::SleepFor(kRoundGap);
          }
          close(fd);
        });
      });
      // Accepts in order: one connection at a time per listener.
      absl::SleepFor(absl::Milliseconds(20));
    }
  }

  void TearDown() override {
    for (int fd : ssh_listeners_) {
      if (fd >= 0) close(fd);
    }
    for (auto& [port, fds] : listeners_by_port_) {
      for (int fd : fds) close(fd);
    }
    prometheus_.reset();
    if (tcpdump_ > 0) {
      kill(tcpdump_, SIGKILL);
      testutil::WaitFor(tcpdump_, absl::Seconds(5));
    }
    DaemonTest::TearDown();
  }

  // The daemon's own /metrics, in its namespace.
  std::string Scrape() {
    return testutil::HttpGet("127.0.0.1", kDefaultMetricsPort, "/metrics",
                             NsName("cli"));
  }

  // sum by (service) of `promql`'s samples.
  std::map<std::string, double> ByService(const std::string& promql) {
    std::map<std::string, double> out;
    absl::StatusOr<std::vector<testutil::PromSample>> r =
        prometheus_->Query(promql);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return out;
    for (const testutil::PromSample& s : *r) {
      out[s.labels.count("service") ? s.labels.at("service") : "?"] += s.value;
    }
    return out;
  }

  int ssh_listeners_[2] = {-1, -1};
  std::map<uint16_t, std::array<int, 2>> listeners_by_port_;
  pid_t tcpdump_ = -1;
  std::unique_ptr<testutil::PrometheusServer> prometheus_;
};

TEST_F(TrafficIntegration,
       CountsMatchTheCaptureAndPrometheusAnswersTheDashboard) {
  ASSERT_NO_FATAL_FAILURE(UpFarm("tr"));
  ASSERT_NO_FATAL_FAILURE(OffloadsOff());
  for (uint16_t port : {kHttp, kHttps}) {
    int fds[2];
    ASSERT_NO_FATAL_FAILURE(testutil::ListenOnServer(*farm_, port, fds));
    listeners_by_port_[port] = {fds[0], fds[1]};
  }
  // Listening before the daemon starts, so that its watcher knows the port.
  testutil::InNamespace(Ns("cli"), [&] {
    ssh_listeners_[0] = Listen("10.77.0.2", kSsh);
    ssh_listeners_[1] = Listen("fd77::2", kSsh);
  });
  ASSERT_FALSE(HasFailure());
  ASSERT_NO_FATAL_FAILURE(StartPollingDaemon({"-traffic", "-interval=100ms"}));

  absl::StatusOr<std::unique_ptr<testutil::PrometheusServer>> prometheus =
      testutil::PrometheusServer::Start(
          {.targets = {absl::StrCat("127.0.0.1:", kDefaultMetricsPort)},
           .scrape_interval = absl::Milliseconds(500),
           .netns = NsName("cli")});
  ASSERT_TRUE(prometheus.ok()) << prometheus.status();
  prometheus_ = *std::move(prometheus);

  const std::string capture = dir_ + "/capture.pcap";
  const std::string tcpdump_log = dir_ + "/tcpdump.log";
  tcpdump_ = testutil::Spawn(
      {"/usr/bin/ip", "netns", "exec", NsName("cli"), "/usr/bin/tcpdump", "-i",
       absl::StrCat(farm_->name(), "-vc"), "-n", "--immediate-mode", "-U", "-s",
       "128", "-B", "16384", "-Z", "root", "-w", capture, "tcp"},
      tcpdump_log);
  for (int i = 0;
       i < 100 && testutil::ReadText(tcpdump_log).find("listening on") ==
                      std::string::npos;
       ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_NE(testutil::ReadText(tcpdump_log).find("listening on"),
            std::string::npos)
      << testutil::ReadText(tcpdump_log);
  // Prometheus scrapes the daemon.
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<std::vector<testutil::PromSample>> up =
        prometheus_->Query("up");
    if (up.ok() && !up->empty() && (*up)[0].value == 1) break;
    absl::SleepFor(absl::Milliseconds(100));
  }

  std::vector<std::thread> threads;
  for (const Load& l : kLoads) RunLoad(l, &threads);
  for (std::thread& t : threads) t.join();
  ASSERT_FALSE(HasFailure());
  // Destroy events and the last polls reach the counters; then the
  // capture ends.
  absl::SleepFor(absl::Seconds(1));
  kill(tcpdump_, SIGTERM);
  ASSERT_NE(testutil::WaitFor(tcpdump_, absl::Seconds(10)), -1);
  tcpdump_ = -1;
  const std::string tcpdump_said = testutil::ReadText(tcpdump_log);
  // Every packet the filter took is in the file.
  const size_t captured = tcpdump_said.find(" packets captured\n");
  const size_t received = tcpdump_said.find(" packets received by filter\n");
  ASSERT_NE(captured, std::string::npos) << tcpdump_said;
  ASSERT_NE(received, std::string::npos) << tcpdump_said;
  const auto number_before = [&](size_t at) {
    const size_t start = tcpdump_said.rfind('\n', at);
    return tcpdump_said.substr(start + 1, at - start - 1);
  };
  EXPECT_EQ(number_before(captured), number_before(received)) << tcpdump_said;
  EXPECT_NE(tcpdump_said.find("\n0 packets dropped by kernel"),
            std::string::npos)
      << tcpdump_said;

  const std::map<std::string, Wire> wire = ReadCapture(capture);
  // Prometheus holds what the daemon now exposes.
  const auto exposed_payload = [&] {
    const std::map<std::string, testutil::ScrapedFamily> families =
        testutil::ParseExposition(Scrape());
    const auto it = families.find("tcpinfo_traffic_payload_bytes_total");
    double sum = 0;
    if (it == families.end()) return sum;
    for (const auto& [key, value] : it->second.samples) sum += value;
    return sum;
  };
  const double exposed = exposed_payload();
  double scraped = -1;
  for (int i = 0; i < 100 && scraped != exposed; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    const std::map<std::string, double> s =
        ByService("sum(tcpinfo_traffic_payload_bytes_total)");
    scraped = s.empty() ? -1 : s.begin()->second;
  }
  ASSERT_EQ(scraped, exposed);

  const std::map<std::string, double> bytes =
      ByService("sum by (service) (ntm_bytes_total)");
  const std::map<std::string, double> payload =
      ByService("sum by (service) (tcpinfo_traffic_payload_bytes_total)");
  const std::map<std::string, double> packets =
      ByService("sum by (service) (ntm_packets_total)");
  for (const Load& l : kLoads) {
    SCOPED_TRACE(l.service);
    ASSERT_TRUE(wire.count(l.service));
    const Wire& w = wire.at(l.service);
    const double b = bytes.count(l.service) ? bytes.at(l.service) : 0;
    const double p = packets.count(l.service) ? packets.at(l.service) : 0;
    std::printf(
        "%-6s capture: %llu IP bytes, %llu payload, %llu packets; "
        "prometheus: %.0f bytes (%+.3f %%), %.0f payload, %.0f packets "
        "(%+.3f %%)\n",
        l.service, static_cast<unsigned long long>(w.ip_bytes),
        static_cast<unsigned long long>(w.payload),
        static_cast<unsigned long long>(w.packets), b,
        100.0 * (b - w.ip_bytes) / w.ip_bytes,
        payload.count(l.service) ? payload.at(l.service) : 0, p,
        100.0 * (p - w.packets) / w.packets);
    // What the test sent, and any retransmission (in both counts).
    EXPECT_GE(w.payload, l.payload());
    EXPECT_LE(w.payload, l.payload() + l.payload() / 50);
    EXPECT_EQ(payload.count(l.service) ? payload.at(l.service) : -1,
              static_cast<double>(w.payload));
    EXPECT_LE(std::fabs(b - w.ip_bytes), 0.02 * w.ip_bytes);
    EXPECT_LE(std::fabs(p - w.packets), 0.02 * w.packets);
  }
  // Nothing else was counted.
  EXPECT_EQ(bytes.size(), std::size(kLoads));

  // Every query of network-traffic-metrics' dashboard, its variables as
  // Grafana would fill them: the service and proto lists from their
  // label_values queries, LocalIPs this host's addresses (the dashboard's
  // regex keeps its author's LAN), ExcludedServers its default, $__range
  // the last ten minutes.
  const nlohmann::json dashboard =
      nlohmann::json::parse(testutil::ReadFileOrDie(
          testutil::TestDataDir() +
          "/neighbours/network-traffic-metrics-grafana.json"));
  std::map<std::string, std::string> variables = {
      {"$LocalIPs", "10\\\\.77\\\\.0\\\\.2|fd77::2"}, {"$__range", "10m"}};
  for (const nlohmann::json& v : dashboard["templating"]["list"]) {
    const std::string name = v["name"];
    if (v["type"] == "textbox") {
      variables["$" + name] = v["query"].get<std::string>();
      continue;
    }
    if (name == "LocalIPs") continue;
    // label_values(ntm_bytes_total, LABEL)
    const std::string q = v["query"];
    const size_t comma = q.find(',');
    const std::string label = q.substr(comma + 2, q.size() - comma - 3);
    absl::StatusOr<std::vector<std::string>> values =
        prometheus_->LabelValues(label, "ntm_bytes_total");
    ASSERT_TRUE(values.ok()) << values.status();
    ASSERT_FALSE(values->empty()) << q;
    variables["$" + name] = absl::StrJoin(*values, "|");
  }
  EXPECT_EQ(variables["$Protos"], "tcp");
  EXPECT_EQ(variables["$Services"], "http|https|ssh");
  int queries = 0;
  std::vector<const nlohmann::json*> panels = {&dashboard};
  while (!panels.empty()) {
    const nlohmann::json* p = panels.back();
    panels.pop_back();
    if (p->contains("panels")) {
      for (const nlohmann::json& child : (*p)["panels"])
        panels.push_back(&child);
    }
    if (!p->contains("targets")) continue;
    for (const nlohmann::json& t : (*p)["targets"]) {
      std::string expr = t["expr"];
      // Longest names first ($__range before any shorter one).
      for (const char* name : {"$ExcludedServers", "$LocalIPs", "$Services",
                               "$Protos", "$__range"}) {
        absl::StrReplaceAll({{name, variables[name]}}, &expr);
      }
      ASSERT_EQ(expr.find('$'), std::string::npos) << expr;
      absl::StatusOr<std::vector<testutil::PromSample>> r =
          prometheus_->Query(expr);
      ++queries;
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_FALSE(r->empty()) << (*p)["title"] << ": " << expr;
      for (const testutil::PromSample& s : *r) EXPECT_GT(s.value, 0) << expr;
    }
  }
  EXPECT_EQ(queries, 8);
}

}  // namespace
