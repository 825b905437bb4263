// Gateway mode in a real routed topology: three LAN devices (two behind a
// bridge, one on a second LAN interface; one with IPv6) route through a
// router namespace that masquerades to a WAN server. tcp-info runs in the
// router with -gateway.lan for both LAN interfaces and writes device_usage
// to SQLite and PostgreSQL; each device's totals must equal the IP-layer
// bytes it exchanged (payload and the headers of every segment, from
// TCP_INFO's segment counts) within 0.1 %, UDP exactly as the test sent it,
// and the tcp-info nftables table must be gone after stop.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sqlite3.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tcp/tcp_info.h"
#include "tests/metrics_scrape.h"
#include "tests/testutil/farm.h"
#include "tests/testutil/paths.h"
#include "tests/testutil/postgres_server.h"
#include "tests/testutil/temp_dir.h"

namespace {

constexpr char kIp[] = "/usr/sbin/ip";
constexpr char kNft[] = "/usr/sbin/nft";
constexpr char kEthtool[] = "/usr/sbin/ethtool";
constexpr uint16_t kTcpPort = 5001;
constexpr uint16_t kUdpPort = 5002;
constexpr int kMetricsPort = 9997;

struct Device {
  std::string name;  // namespace suffix
  std::string mac;
  std::string ipv4;
  std::string ipv6;  // "" for none
  std::string router_port;
};

const Device kDevices[] = {
    {"d1", "02:77:00:00:00:01", "10.77.1.11", "fd77:1::11", "p1"},
    {"d2", "02:77:00:00:00:02", "10.77.1.12", "", "p2"},
    {"d3", "02:77:00:00:00:03", "10.77.2.13", "", "lan1"},
};

// The namespaces, removed however the test ends.
class Topology {
 public:
  explicit Topology(const std::string& log)
      : log_(log), prefix_(absl::StrCat("gw", getpid() % 100000)) {}
  ~Topology() {
    for (const std::string& ns : made_) {
      testutil::Run({kIp, "netns", "del", ns}, log_);
    }
  }

  std::string Ns(const std::string& part) const {
    return absl::StrCat(prefix_, part);
  }
  std::string Path(const std::string& part) const {
    return "/var/run/netns/" + Ns(part);
  }

  // Runs `argv` inside namespace `part` ("" for this one).
  bool In(const std::string& part, std::vector<std::string> argv) {
    std::vector<std::string> full = {kIp, "netns", "exec", Ns(part)};
    full.insert(full.end(), argv.begin(), argv.end());
    const int rc = testutil::Run(full, log_);
    if (rc != 0) ADD_FAILURE() << absl::StrJoin(argv, " ") << ": " << rc;
    return rc == 0;
  }
  bool Ip(std::vector<std::string> argv) {
    argv.insert(argv.begin(), kIp);
    const int rc = testutil::Run(argv, log_);
    if (rc != 0) ADD_FAILURE() << absl::StrJoin(argv, " ") << ": " << rc;
    return rc == 0;
  }

  void Build() {
    for (const char* part : {"r", "w", "d1", "d2", "d3"}) {
      ASSERT_TRUE(Ip({"netns", "add", Ns(part)}));
      made_.push_back(Ns(part));
      ASSERT_TRUE(In(part, {kIp, "link", "set", "lo", "up"}));
    }
    const std::string r = Ns("r");
    // Router: br0 (ports p1, p2) and lan1 on the LAN side, wan0 to the
    // server.
    ASSERT_TRUE(In("r", {kIp, "link", "add", "br0", "type", "bridge"}));
    for (const Device& d : kDevices) {
      ASSERT_TRUE(
          Ip({"link", "add", d.router_port, "netns", r, "type", "veth", "peer",
              "name", "eth0", "netns", Ns(d.name), "address", d.mac}));
      if (d.router_port != "lan1") {
        ASSERT_TRUE(
            In("r", {kIp, "link", "set", d.router_port, "master", "br0"}));
      }
    }
    ASSERT_TRUE(Ip({"link", "add", "wan0", "netns", r, "type", "veth", "peer",
                    "name", "eth0", "netns", Ns("w")}));
    ASSERT_TRUE(In("r", {kIp, "addr", "add", "10.77.1.1/24", "dev", "br0"}));
    ASSERT_TRUE(
        In("r", {kIp, "addr", "add", "fd77:1::1/64", "dev", "br0", "nodad"}));
    ASSERT_TRUE(In("r", {kIp, "addr", "add", "10.77.2.1/24", "dev", "lan1"}));
    ASSERT_TRUE(In("r", {kIp, "addr", "add", "10.77.200.1/24", "dev", "wan0"}));
    ASSERT_TRUE(In(
        "r", {kIp, "addr", "add", "fd77:200::1/64", "dev", "wan0", "nodad"}));
    ASSERT_TRUE(In("w", {kIp, "addr", "add", "10.77.200.2/24", "dev", "eth0"}));
    ASSERT_TRUE(In(
        "w", {kIp, "addr", "add", "fd77:200::2/64", "dev", "eth0", "nodad"}));
    for (const char* dev : {"br0", "p1", "p2", "lan1", "wan0"}) {
      ASSERT_TRUE(In("r", {kIp, "link", "set", dev, "up"}));
    }
    for (const char* dev : {"p1", "p2", "lan1", "wan0"}) {
      ASSERT_TRUE(In("r", {kEthtool, "-K", dev, "tso", "off", "gso", "off",
                           "gro", "off"}));
    }
    ASSERT_TRUE(In("r", {"/usr/sbin/sysctl", "-qw", "net.ipv4.ip_forward=1",
                         "net.ipv6.conf.all.forwarding=1"}));
    ASSERT_TRUE(In("w", {kIp, "link", "set", "eth0", "up"}));
    ASSERT_TRUE(In("w", {kEthtool, "-K", "eth0", "tso", "off", "gso", "off",
                         "gro", "off"}));
    for (const Device& d : kDevices) {
      if (d.ipv6.empty()) {
        ASSERT_TRUE(In(d.name, {"/usr/sbin/sysctl", "-qw",
                                "net.ipv6.conf.all.disable_ipv6=1",
                                "net.ipv6.conf.default.disable_ipv6=1"}));
      }
      const std::string subnet = d.router_port == "lan1" ? "2" : "1";
      ASSERT_TRUE(
          In(d.name, {kIp, "addr", "add", d.ipv4 + "/24", "dev", "eth0"}));
      if (!d.ipv6.empty()) {
        ASSERT_TRUE(In(d.name, {kIp, "addr", "add", d.ipv6 + "/64", "dev",
                                "eth0", "nodad"}));
      }
      ASSERT_TRUE(In(d.name, {kIp, "link", "set", "eth0", "up"}));
      ASSERT_TRUE(In(d.name, {kEthtool, "-K", "eth0", "tso", "off", "gso",
                              "off", "gro", "off"}));
      ASSERT_TRUE(In(d.name, {kIp, "route", "add", "default", "via",
                              absl::StrCat("10.77.", subnet, ".1")}));
      if (!d.ipv6.empty()) {
        ASSERT_TRUE(In(d.name, {kIp, "-6", "route", "add", "default", "via",
                                "fd77:1::1"}));
      }
    }
    // Masquerading to the WAN, in tables of the test's own.
    const std::string nat =
        "table ip nat { chain post { type nat hook postrouting priority 100; "
        "oifname \"wan0\" masquerade; }; };"
        "table ip6 nat { chain post { type nat hook postrouting priority "
        "100; oifname \"wan0\" masquerade; }; }";
    ASSERT_TRUE(In("r", {kNft, nat}));
  }

 private:
  std::string log_;
  std::string prefix_;
  std::vector<std::string> made_;
};

// Enters namespace `path` on this thread.
bool Enter(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = setns(fd, CLONE_NEWNET) == 0;
  close(fd);
  return ok;
}

// The WAN server: TCP (a client sends the 8-byte count it wants back, then
// its upload until EOF; the server answers that many bytes and closes) and
// UDP echo, on both families.
class WanServer {
 public:
  explicit WanServer(const std::string& ns) : stop_(eventfd(0, EFD_CLOEXEC)) {
    std::atomic<int> ready{0};
    thread_ = std::thread([this, ns, &ready] {
      if (!Enter(ns)) {
        ready = -1;
        return;
      }
      int fds[4];
      for (int i = 0; i < 4; ++i) {
        const bool v6 = i % 2 == 1, udp = i >= 2;
        fds[i] =
            socket(v6 ? AF_INET6 : AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
        const int one = 1;
        setsockopt(fds[i], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (v6)
          setsockopt(fds[i], IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        sockaddr_storage a = testutil::Address(v6, udp ? kUdpPort : kTcpPort);
        // testutil::Address gives the farm's server address; bind any.
        if (v6) {
          reinterpret_cast<sockaddr_in6*>(&a)->sin6_addr = in6addr_any;
        } else {
          reinterpret_cast<sockaddr_in*>(&a)->sin_addr.s_addr = INADDR_ANY;
        }
        if (bind(fds[i], reinterpret_cast<sockaddr*>(&a),
                 testutil::Length(v6)) != 0 ||
            (!udp && listen(fds[i], 16) != 0)) {
          ready = -1;
          return;
        }
      }
      ready = 1;
      Serve(fds);
      for (int fd : fds) close(fd);
    });
    while (ready == 0) absl::SleepFor(absl::Milliseconds(5));
    ok_ = ready == 1;
  }
  ~WanServer() {
    const uint64_t one = 1;
    (void)!write(stop_, &one, sizeof(one));
    thread_.join();
    close(stop_);
  }
  bool ok() const { return ok_; }

 private:
  void Serve(const int fds[4]) {
    std::vector<char> buffer(65536);
    while (true) {
      pollfd p[5] = {{stop_, POLLIN, 0}};
      for (int i = 0; i < 4; ++i) p[i + 1] = {fds[i], POLLIN, 0};
      if (poll(p, 5, 10000) <= 0) continue;
      if (p[0].revents != 0) return;
      for (int i = 0; i < 4; ++i) {
        if (p[i + 1].revents == 0) continue;
        if (i >= 2) {
          sockaddr_storage from;
          socklen_t len = sizeof(from);
          const ssize_t n = recvfrom(fds[i], buffer.data(), buffer.size(), 0,
                                     reinterpret_cast<sockaddr*>(&from), &len);
          if (n > 0) {
            sendto(fds[i], buffer.data(), n, 0,
                   reinterpret_cast<sockaddr*>(&from), len);
          }
          continue;
        }
        const int c = accept(fds[i], nullptr, nullptr);
        if (c < 0) continue;
        testutil::SetTimeouts(c);
        uint64_t want = 0;
        size_t got = 0;
        while (got < sizeof(want)) {
          const ssize_t n = recv(c, reinterpret_cast<char*>(&want) + got,
                                 sizeof(want) - got, 0);
          if (n <= 0) break;
          got += n;
        }
        while (recv(c, buffer.data(), buffer.size(), 0) > 0) {
        }
        testutil::SendAll(c, want);
        close(c);
      }
    }
  }

  int stop_;
  std::thread thread_;
  bool ok_ = false;
};

sockaddr_storage Wan(bool v6, uint16_t port) {
  sockaddr_storage a = {};
  if (v6) {
    auto* s = reinterpret_cast<sockaddr_in6*>(&a);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    inet_pton(AF_INET6, "fd77:200::2", &s->sin6_addr);
  } else {
    auto* s = reinterpret_cast<sockaddr_in*>(&a);
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    inet_pton(AF_INET, "10.77.200.2", &s->sin_addr);
  }
  return a;
}

// IP-layer bytes a device sent (upload) and received (download).
struct Octets {
  int64_t out = 0;
  int64_t in = 0;
};

// From a device: uploads `up` bytes over TCP and downloads `down`; adds
// the IP bytes of every segment both ways to *octets: payload (tcpi_bytes_*)
// plus, per segment (tcpi_segs_*, counted after segmentation), IP and TCP
// headers with the timestamp option, and the SYN's and SYN-ACK's 8 more
// bytes of options (MSS, SACK permitted, window scale). Retransmissions
// (tail loss probes) are in both counts; none is lost on veth, so no ACK
// carries SACK blocks.
void Tcp(bool v6, size_t up, uint64_t down, Octets* octets) {
  const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  testutil::SetTimeouts(fd);
  sockaddr_storage a = Wan(v6, kTcpPort);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), testutil::Length(v6)),
            0)
      << std::strerror(errno);
  ASSERT_EQ(send(fd, &down, sizeof(down), 0), 8);
  testutil::SendAll(fd, up);
  shutdown(fd, SHUT_WR);
  testutil::ReceiveAll(fd, down);
  char c;
  EXPECT_EQ(recv(fd, &c, 1, 0), 0);
  tcp::TcpInfo info = {};
  socklen_t len = sizeof(info);
  ASSERT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len), 0);
  ASSERT_GE(len, offsetof(tcp::TcpInfo, bytes_sent) + sizeof(info.bytes_sent));
  const int64_t header = v6 ? 40 + 32 : 20 + 32;
  octets->out += info.bytes_sent + info.segs_out * header + 8;
  octets->in += info.bytes_received + info.segs_in * header + 8;
  close(fd);
}

// From a device: `count` datagrams of `size` bytes, each echoed; adds their
// IP bytes to *octets.
void Udp(bool v6, int count, size_t size, Octets* octets) {
  const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  testutil::SetTimeouts(fd);
  sockaddr_storage a = Wan(v6, kUdpPort);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), testutil::Length(v6)),
            0);
  std::vector<char> data(size, 'u');
  for (int i = 0; i < count; ++i) {
    ASSERT_EQ(send(fd, data.data(), size, 0), static_cast<ssize_t>(size));
    ASSERT_EQ(recv(fd, data.data(), size, 0), static_cast<ssize_t>(size));
    const int64_t bytes = size + 8 + (v6 ? 40 : 20);
    octets->out += bytes;
    octets->in += bytes;
  }
  close(fd);
}

struct Usage {
  int64_t rows = 0;
  int64_t download = 0;
  int64_t upload = 0;
  std::string ipv4, ipv6;
};

std::map<std::string, Usage> SqliteUsage(const std::string& path) {
  std::map<std::string, Usage> out;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) !=
      SQLITE_OK) {
    ADD_FAILURE() << "open " << path;
    sqlite3_close(db);
    return out;
  }
  sqlite3_stmt* stmt = nullptr;
  const char* sql =
      "SELECT mac, count(*), sum(download), sum(upload), "
      "(SELECT coalesce(ipv4, '') FROM device_usage l WHERE l.mac = u.mac "
      "ORDER BY time DESC LIMIT 1), "
      "(SELECT coalesce(ipv6, '') FROM device_usage l WHERE l.mac = u.mac "
      "ORDER BY time DESC LIMIT 1) FROM device_usage u GROUP BY mac";
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sqlite3_errmsg(db);
  }
  while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
    Usage& u = out[reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))];
    u.rows = sqlite3_column_int64(stmt, 1);
    u.download = sqlite3_column_int64(stmt, 2);
    u.upload = sqlite3_column_int64(stmt, 3);
    u.ipv4 = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 4));
    u.ipv6 = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 5));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

// The value of `family`{direction,mac} on a /metrics page; -1 if absent.
int64_t Sample(const std::string& page, const std::string& family,
               const std::string& direction, const std::string& mac) {
  const std::string series = absl::StrCat(family, "{direction=\"", direction,
                                          "\",mac=\"", mac, "\"} ");
  const size_t at = page.find(series);
  if (at == std::string::npos) return -1;
  // Written as a double (4.814472e+06): exact below 2^53.
  return std::llround(std::stod(page.substr(at + series.size())));
}

void ExpectClose(int64_t got, int64_t want, const std::string& what) {
  EXPECT_GT(want, 0) << what;
  EXPECT_LE(std::llabs(got - want), want / 1000)
      << what << ": got " << got << ", want " << want;
}

TEST(GatewayIntegrationTest, DevicesUsageEqualsTheirIpBytesInBothSqlSinks) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  testutil::TempDir dir;
  const std::string log = dir.path() + "/commands.log";
  Topology topo(log);
  ASSERT_NO_FATAL_FAILURE(topo.Build()) << testutil::ReadText(log);
  WanServer server(topo.Path("w"));
  ASSERT_TRUE(server.ok());

  absl::StatusOr<std::unique_ptr<testutil::PostgresServer>> pg =
      testutil::PostgresServer::Start("secret");
  ASSERT_TRUE(pg.ok()) << pg.status();

  // A stale table of the name (a crashed older run's) is replaced.
  ASSERT_TRUE(topo.In("r", {kNft,
                            "add table inet tcp_info; add chain inet "
                            "tcp_info stale"}));

  const std::string db = dir.path() + "/gw.db";
  const std::string daemon_log = dir.path() + "/tcp-info.log";
  pid_t pid = testutil::Spawn(
      {kIp, "netns", "exec", topo.Ns("r"), testutil::BinaryPath("tcp-info"),
       "-output=" + dir.path() + "/out", "-interval=1s",
       absl::StrCat("-prometheusx.listen-address=127.0.0.1:", kMetricsPort),
       "-gateway.lan=br0", "-gateway.lan=lan1", "-gateway.interval=1s",
       "-sink=sqlite:" + db,
       absl::StrCat("-sink=postgres://", testutil::PostgresServer::kUser,
                    "@/postgres?host=", (*pg)->dir(), "&port=", (*pg)->port())},
      daemon_log);
  testutil::ProcessGuard guard{&pid};
  // Up once its table is there.
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    up = testutil::Run({kIp, "netns", "exec", topo.Ns("r"), kNft, "list", "set",
                        "inet", "tcp_info", "mac_up"},
                       log) == 0;
    if (!up) absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(up) << testutil::ReadText(daemon_log);
  EXPECT_NE(testutil::Run({kIp, "netns", "exec", topo.Ns("r"), kNft, "list",
                           "chain", "inet", "tcp_info", "stale"},
                          log),
            0);

  // Traffic; the test counts each device's IP bytes.
  std::map<std::string, Octets> sent;
  auto in_device = [&](const Device& d, const std::function<void()>& fn) {
    testutil::InNamespace(topo.Path(d.name), fn);
  };
  Octets* d1 = &sent[kDevices[0].mac];
  Octets* d2 = &sent[kDevices[1].mac];
  Octets* d3 = &sent[kDevices[2].mac];
  in_device(kDevices[0], [&] { Tcp(false, 2'000'000, 3'000'000, d1); });
  absl::SleepFor(absl::Milliseconds(1200));
  in_device(kDevices[0], [&] { Tcp(true, 1'000'000, 1'500'000, d1); });
  in_device(kDevices[0], [&] { Udp(false, 50, 500, d1); });
  // d2: a TCP flow much shorter than an interval, and UDP.
  in_device(kDevices[1], [&] { Tcp(false, 100'000, 200'000, d2); });
  in_device(kDevices[1], [&] { Udp(false, 20, 1200, d2); });
  // d3 (the second LAN interface): UDP only, 200 datagrams of 1000 bytes
  // each way.
  in_device(kDevices[2], [&] { Udp(false, 200, 1000, d3); });
  EXPECT_EQ(d3->out, 200 * 1028);
  absl::SleepFor(absl::Milliseconds(1500));
  // Every byte is counted by now (intervals of 1 s).
  const std::string metrics =
      testutil::HttpGet("127.0.0.1", kMetricsPort, "/metrics", topo.Ns("r"));
  ASSERT_TRUE(kill(pid, SIGTERM) == 0);
  const int status = testutil::WaitFor(pid, absl::Seconds(15));
  pid = -1;
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << status << testutil::ReadText(daemon_log);

  // The table went with the daemon; the test's own stayed.
  EXPECT_NE(testutil::Run({kIp, "netns", "exec", topo.Ns("r"), kNft, "list",
                           "table", "inet", "tcp_info"},
                          log),
            0);
  EXPECT_EQ(testutil::Run({kIp, "netns", "exec", topo.Ns("r"), kNft, "list",
                           "table", "ip", "nat"},
                          log),
            0);

  const std::map<std::string, Usage> sqlite = SqliteUsage(db);
  absl::StatusOr<std::vector<std::vector<std::string>>> pg_rows = (*pg)->Query(
      "SELECT mac::text, count(*), sum(download), sum(upload), "
      "(SELECT coalesce(host(ipv4), '') FROM device_usage l WHERE l.mac = "
      "u.mac ORDER BY time DESC LIMIT 1), "
      "(SELECT coalesce(host(ipv6), '') FROM device_usage l WHERE l.mac = "
      "u.mac ORDER BY time DESC LIMIT 1) FROM device_usage u GROUP BY mac");
  ASSERT_TRUE(pg_rows.ok())
      << pg_rows.status() << testutil::ReadText(daemon_log);
  std::map<std::string, Usage> postgres;
  for (const std::vector<std::string>& r : *pg_rows) {
    ASSERT_EQ(r.size(), 6u);
    postgres[r[0]] = {std::stoll(r[1]), std::stoll(r[2]), std::stoll(r[3]),
                      r[4], r[5]};
  }
  EXPECT_EQ(sqlite.size(), 3u);
  EXPECT_EQ(postgres.size(), 3u);
  for (const Device& d : kDevices) {
    const int64_t upload = sent[d.mac].out;
    const int64_t download = sent[d.mac].in;
    for (const std::map<std::string, Usage>* sink :
         {&sqlite,
          static_cast<const std::map<std::string, Usage>*>(&postgres)}) {
      const std::string name = sink == &sqlite ? "sqlite " : "postgres ";
      auto it = sink->find(d.mac);
      ASSERT_NE(it, sink->end()) << name << d.mac;
      ExpectClose(it->second.upload, upload, name + d.mac + " upload");
      ExpectClose(it->second.download, download, name + d.mac + " download");
      // The last row carries the device's last addresses (IPv6: the
      // global one once the router has seen it, not the link-local).
      EXPECT_EQ(it->second.ipv4, d.ipv4) << name << d.mac;
      EXPECT_EQ(it->second.ipv6, d.ipv6) << name << d.mac;
    }
    // Prometheus holds the same totals, and packets.
    for (const char* direction : {"download", "upload"}) {
      const int64_t want = direction[0] == 'd' ? sqlite.at(d.mac).download
                                               : sqlite.at(d.mac).upload;
      EXPECT_EQ(Sample(metrics, "tcpinfo_gateway_device_bytes_total", direction,
                       d.mac),
                want)
          << direction << " " << d.mac << "\n"
          << metrics;
      EXPECT_GT(Sample(metrics, "tcpinfo_gateway_device_packets_total",
                       direction, d.mac),
                0)
          << direction << " " << d.mac;
    }
    if (d.name == "d3") {
      EXPECT_EQ(sqlite.at(d.mac).upload, 200 * 1028);
      EXPECT_EQ(sqlite.at(d.mac).download, 200 * 1028);
    }
    if (d.name == "d1") {
      // Its traffic spanned more than one interval: several rows.
      EXPECT_GE(sqlite.at(d.mac).rows, 2);
    }
  }
  // Speedy's column types.
  absl::StatusOr<std::vector<std::vector<std::string>>> types = (*pg)->Query(
      "SELECT column_name, data_type FROM information_schema.columns WHERE "
      "table_name = 'device_usage' ORDER BY ordinal_position");
  ASSERT_TRUE(types.ok()) << types.status();
  const std::vector<std::vector<std::string>> want = {
      {"time", "timestamp with time zone"},
      {"mac", "macaddr"},
      {"download", "bigint"},
      {"upload", "bigint"},
      {"ipv4", "inet"},
      {"ipv6", "inet"}};
  EXPECT_EQ(*types, want);
}

TEST(GatewayIntegrationTest, WithoutCapNetAdminFailsAtStartWithOneLine) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  testutil::TempDir dir;
  const std::string log = dir.path() + "/tcp-info.log";
  pid_t pid = testutil::Spawn(
      {"/usr/bin/setpriv", "--bounding-set=-net_admin", "--inh-caps=-net_admin",
       testutil::BinaryPath("tcp-info"), "-output=" + dir.path() + "/out",
       "-prometheusx.listen-address=", "-gateway.lan=lo"},
      log);
  testutil::ProcessGuard guard{&pid};
  const int status = testutil::WaitFor(pid, absl::Seconds(10));
  pid = -1;
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 2);
  const std::string text = testutil::ReadText(log);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  EXPECT_NE(text.find("CAP_NET_ADMIN"), std::string::npos) << text;
}

}  // namespace
