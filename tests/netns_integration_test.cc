// -netns: one daemon polls several network namespaces the test makes, a
// connfarm pair and plain `ip netns` ones joined by veth, including one
// created after the daemon started, one removed while a connection in it
// is open, and one that cannot be entered (a file in /run/netns with no
// namespace mounted on it). Flow records, events and metrics must carry
// each connection's namespace; the removed namespace's connection must get
// its final record; the bad one must be logged once and counted while the
// others go on. The namespaces get established hashes of their own
// (tcp_child_ehash_entries, set only while they are made): a dump of one
// made without walks the host-wide hash and every socket in it (30-60 ms a
// dump on this loaded VM), and 7 of them at the 500 ms interval would leave
// no time to wait between cycles.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testutil/daemon_fixture.h"
#include "tests/testutil/farm.h"
#include "tests/testutil/http_client.h"

namespace {

constexpr uint16_t kFarmPort = 7310;
constexpr uint16_t kPlainPort = 7311;

// Plain namespaces of the test's own (`ip netns add`), removed however the
// test ends, with veth links between pairs of them.
class PlainNamespaces {
 public:
  explicit PlainNamespaces(std::string log) : log_(std::move(log)) {}
  ~PlainNamespaces() {
    for (const std::string& name : names_) Sh("ip netns del " + name);
    for (const std::string& path : files_) unlink(path.c_str());
  }

  // Adds namespace `name` with its loopback up.
  bool Add(const std::string& name) {
    names_.push_back(name);
    return Sh(absl::StrCat("ip netns add ", name, " && ip -n ", name,
                           " link set lo up"));
  }
  // A veth link between `a` (address 10.77.<net>.1/24) and `b` (.2).
  bool Link(const std::string& a, const std::string& b, int net,
            const std::string& tag) {
    const std::string va = "va" + tag, vb = "vb" + tag;
    return Sh(
        absl::StrCat("ip link add ", va, " netns ", a, " type veth peer name ",
                     vb, " netns ", b, " && ip -n ", a, " addr add 10.77.", net,
                     ".1/24 dev ", va, " && ip -n ", b, " addr add 10.77.", net,
                     ".2/24 dev ", vb, " && ip -n ", a, " link set ", va,
                     " up && ip -n ", b, " link set ", vb, " up"));
  }
  // A file where a namespace name would be, with none mounted on it.
  bool AddEmptyFile(const std::string& path) {
    files_.push_back(path);
    std::ofstream f(path);
    return f.good();
  }
  bool Delete(const std::string& name) { return Sh("ip netns del " + name); }

 private:
  bool Sh(const std::string& command) {
    return testutil::Run({"/bin/sh", "-c", command}, log_) == 0;
  }
  std::string log_;
  std::vector<std::string> names_;
  std::vector<std::string> files_;
};

// A listener on 10.77.<net>.2:<port> inside namespace `ns`.
int ListenIn(const std::string& ns, int net, uint16_t port) {
  int fd = -1;
  testutil::InNamespace(ns, [&] {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    testutil::SetTimeouts(fd);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl((10u << 24) | (77u << 16) | (net << 8) | 2);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0)
        << std::strerror(errno);
    ASSERT_EQ(listen(fd, 8), 0);
  });
  return fd;
}

// A connection from namespace `ns` to 10.77.<net>.2:<port>; its cookie.
int ConnectFrom(const std::string& ns, int net, uint16_t port,
                uint64_t* cookie) {
  int fd = -1;
  testutil::InNamespace(ns, [&] {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    testutil::SetTimeouts(fd);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl((10u << 24) | (77u << 16) | (net << 8) | 2);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0)
        << std::strerror(errno);
    socklen_t len = sizeof(*cookie);
    ASSERT_EQ(getsockopt(fd, SOL_SOCKET, SO_COOKIE, cookie, &len), 0);
  });
  return fd;
}

uint64_t CookieOf(int fd) {
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len);
  return cookie;
}

// A connection from namespace `ns` to `listener` (on 10.77.<net>.2) that
// has carried `bytes` up; both ends and their cookies.
struct Connection {
  int client = -1, server = -1;
  uint64_t client_cookie = 0, server_cookie = 0;
};
Connection Open(const std::string& ns, int listener, int net, size_t bytes) {
  Connection c;
  c.client = ConnectFrom(ns, net, kPlainPort, &c.client_cookie);
  EXPECT_GE(c.client, 0);
  c.server = accept(listener, nullptr, nullptr);
  EXPECT_GE(c.server, 0) << std::strerror(errno);
  if (c.client < 0 || c.server < 0) return c;
  c.server_cookie = CookieOf(c.server);
  testutil::SendAll(c.client, bytes);
  testutil::ReceiveAll(c.server, bytes);
  return c;
}

bool WaitForLog(const std::string& log, const std::string& needle,
                absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (absl::StrContains(testutil::ReadText(log), needle)) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

// The value of series `series` (name and labels as written) in a scrape.
double SeriesValue(const std::string& page, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    if (absl::StartsWith(line, series + " ")) {
      return std::stod(std::string(line.substr(series.size() + 1)));
    }
  }
  return -1;
}

// Sets net.ipv4.tcp_child_ehash_entries of the test's (the host's)
// namespace while it lives, then puts the old value back: namespaces
// created meanwhile get an established hash of their own, which a dump
// walks instead of the host-wide one (see README, Namespaces).
class ChildEhash {
 public:
  explicit ChildEhash(int entries) {
    old_ = testutil::ReadText(kPath);
    std::ofstream(kPath) << entries;
  }
  ~ChildEhash() {
    if (!old_.empty()) std::ofstream(kPath) << old_;
  }

 private:
  static constexpr char kPath[] = "/proc/sys/net/ipv4/tcp_child_ehash_entries";
  std::string old_;
};

class NetnsTest : public testutil::DaemonTest {
 protected:
  NetnsTest()
      : DaemonTest(
            {.dir_name = "netns", .prefix = "nn", .farm_tag = "", .port = 0}) {}
};

TEST_F(NetnsTest, EveryNamespaceCarriedCreatedRemovedAndBadOnes) {
  const std::string tag = absl::StrCat("tn", getpid() % 100000);
  const std::string a = tag + "-a", b = tag + "-b", late = tag + "-late",
                    gone = tag + "-gone", bad = tag + "-bad";
  PlainNamespaces plain(dir_ + "/ip.log");
  {
    ChildEhash own_hashes(1024);
    ASSERT_NO_FATAL_FAILURE(UpFarm("nn"));
    ASSERT_TRUE(plain.Add(a) && plain.Add(b) && plain.Add(gone) &&
                plain.Link(a, b, 200, tag.substr(2) + "a") &&
                plain.Link(gone, b, 202, tag.substr(2) + "g"))
        << testutil::ReadText(dir_ + "/ip.log");
  }
  ASSERT_NO_FATAL_FAILURE(
      testutil::ListenOnServer(*farm_, kFarmPort, listeners_));
  const std::string cli = farm_->name() + "-cli", srv = farm_->name() + "-srv";
  ASSERT_TRUE(plain.AddEmptyFile("/run/netns/" + bad));
  const int plain_listener = ListenIn("/run/netns/" + b, 200, kPlainPort);
  const int gone_listener = ListenIn("/run/netns/" + b, 202, kPlainPort);
  ASSERT_GE(plain_listener, 0);
  ASSERT_GE(gone_listener, 0);

  const std::string events_path = dir_ + "/events.sock";
  const std::string flows_path = dir_ + "/flows.jsonl";
  ASSERT_NO_FATAL_FAILURE(StartPollingDaemon(
      {absl::StrCat("-netns=", cli, ",", srv, ",", a, ",", b, ",", late, ",",
                    gone, ",", bad),
       "-interval=500ms", "-tcpinfo.eventsocket=" + events_path,
       "-sink=jsonl:" + flows_path}));
  for (const std::string& ns : {cli, srv, a, b, gone}) {
    ASSERT_TRUE(
        WaitForLog(daemon_log(), "polling " + ns + " (", absl::Seconds(5)))
        << ns << ": " << testutil::ReadText(daemon_log());
  }
  // The event client, connected before the connections below.
  const int events = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un ua{};
  ua.sun_family = AF_UNIX;
  std::strncpy(ua.sun_path, events_path.c_str(), sizeof(ua.sun_path) - 1);
  ASSERT_EQ(connect(events, reinterpret_cast<sockaddr*>(&ua), sizeof(ua)), 0)
      << std::strerror(errno);

  // A connfarm pair: exchanges of the test's own.
  std::vector<testutil::Exchange> exchanges = {
      {.v6 = false,
       .up = 3000,
       .down = 7000,
       .lifetime = absl::Milliseconds(50)},
      {.v6 = true,
       .up = 4000,
       .down = 9000,
       .lifetime = absl::Milliseconds(50)}};
  ASSERT_NO_FATAL_FAILURE(
      testutil::RunExchanges(*farm_, listeners_, kFarmPort, &exchanges));

  // The plain pair: a -> b, 1234 bytes up.
  const Connection plain_conn =
      Open("/run/netns/" + a, plain_listener, 200, 1234);
  ASSERT_GE(plain_conn.server, 0);

  // A namespace made after the daemon started: polled within a second or so.
  {
    ChildEhash own_hash(1024);
    ASSERT_TRUE(plain.Add(late) &&
                plain.Link(late, b, 201, tag.substr(2) + "l"))
        << testutil::ReadText(dir_ + "/ip.log");
  }
  const int late_server_listener = ListenIn("/run/netns/" + b, 201, kPlainPort);
  ASSERT_GE(late_server_listener, 0);
  ASSERT_TRUE(
      WaitForLog(daemon_log(), "polling " + late + " (", absl::Seconds(3)))
      << testutil::ReadText(daemon_log());
  const Connection late_conn =
      Open("/run/netns/" + late, late_server_listener, 201, 2222);
  ASSERT_GE(late_conn.server, 0);

  // A namespace removed while its connection is open (its socket, held by
  // the test, keeps the namespace alive, but no file or process names it).
  const Connection gone_conn =
      Open("/run/netns/" + gone, gone_listener, 202, 3333);
  ASSERT_GE(gone_conn.server, 0);
  absl::SleepFor(absl::Milliseconds(1200));  // polled with its bytes
  ASSERT_TRUE(plain.Delete(gone));
  ASSERT_TRUE(
      WaitForLog(daemon_log(), "no longer polling " + gone, absl::Seconds(3)))
      << testutil::ReadText(daemon_log());
  // A last dump, a cycle without it, the 1 s destroy grace, a cycle.
  absl::SleepFor(absl::Milliseconds(3000));

  // Metrics, from inside the client namespace where the daemon serves them.
  std::string page;
  testutil::InNamespace(farm_->Namespace("cli"), [&] {
    page = testutil::Scrape(kDefaultMetricsPort).body;
  });
  EXPECT_EQ(SeriesValue(page, "tcpinfo_netns_errors_total"), 1) << page;
  EXPECT_EQ(SeriesValue(page, "tcpinfo_netns_watched"), 5) << page;
  EXPECT_EQ(SeriesValue(page, "tcpinfo_netns_removed_total"), 1) << page;
  EXPECT_EQ(SeriesValue(page, "tcpinfo_netns_added_total"), 6) << page;
  for (const std::string& ns : {cli, srv, a, b, late, gone}) {
    EXPECT_GE(SeriesValue(page,
                          "tcpinfo_flow_events_total{event=\"open\","
                          "netns=\"" +
                              ns + "\"}"),
              1)
        << ns << "\n"
        << page;
  }
  EXPECT_GE(SeriesValue(page,
                        "tcpinfo_flow_events_total{event=\"close\","
                        "netns=\"" +
                            gone + "\"}"),
            1)
      << page;

  // Clients first: each one's FIN is acknowledged before its server's.
  for (const Connection* c : {&plain_conn, &late_conn, &gone_conn}) {
    close(c->client);
  }
  absl::SleepFor(absl::Milliseconds(100));
  for (const Connection* c : {&plain_conn, &late_conn, &gone_conn}) {
    close(c->server);
  }
  absl::SleepFor(absl::Milliseconds(300));
  ASSERT_NO_FATAL_FAILURE(StopDaemon());
  for (int fd : {plain_listener, late_server_listener, gone_listener}) {
    close(fd);
  }

  const std::string log = testutil::ReadText(daemon_log());
  // The bad namespace: logged once, the others went on.
  const std::string bad_line = "cannot enter /run/netns/" + bad;
  EXPECT_TRUE(absl::StrContains(log, bad_line)) << log;
  EXPECT_EQ(log.find(bad_line), log.rfind(bad_line)) << log;

  // Flow records: every connection's, with its namespace; finals exact.
  std::map<uint64_t, std::vector<nlohmann::json>> records;
  {
    std::ifstream in(flows_path);
    std::string line;
    while (std::getline(in, line)) {
      const nlohmann::json j = nlohmann::json::parse(line);
      records[j["cookie"].get<uint64_t>()].push_back(j);
    }
  }
  auto final_of = [&](uint64_t cookie) -> nlohmann::json {
    for (const nlohmann::json& j : records[cookie]) {
      if (j["kind"] == "final") return j;
    }
    return nullptr;
  };
  for (const testutil::Exchange& e : exchanges) {
    const nlohmann::json f = final_of(e.cookie);
    ASSERT_FALSE(f.is_null()) << e.cookie;
    EXPECT_EQ(f["netns"], cli);
    EXPECT_EQ(f["end_reason"], "destroyed");
    EXPECT_EQ(f["bytes_received"].get<uint64_t>(), e.down + 1);
  }
  const nlohmann::json p = final_of(plain_conn.client_cookie);
  ASSERT_FALSE(p.is_null());
  EXPECT_EQ(p["netns"], a);
  EXPECT_EQ(p["end_reason"], "destroyed");
  EXPECT_EQ(p["bytes_acked"].get<uint64_t>(), 1234u + 2);
  const nlohmann::json ps = final_of(plain_conn.server_cookie);
  ASSERT_FALSE(ps.is_null());
  EXPECT_EQ(ps["netns"], b);
  EXPECT_EQ(ps["bytes_received"].get<uint64_t>(), 1234u + 1);
  const nlohmann::json l = final_of(late_conn.client_cookie);
  ASSERT_FALSE(l.is_null());
  EXPECT_EQ(l["netns"], late);
  EXPECT_EQ(l["end_reason"], "destroyed");
  // The removed namespace's connection: ended by its absence, with what it
  // had sent by then.
  const nlohmann::json g = final_of(gone_conn.client_cookie);
  ASSERT_FALSE(g.is_null()) << log;
  EXPECT_EQ(g["netns"], gone);
  EXPECT_EQ(g["end_reason"], "absent");
  EXPECT_EQ(g["bytes_acked"].get<uint64_t>(), 3333u + 1);
  EXPECT_EQ(records[gone_conn.client_cookie].back()["kind"], "final");

  // Events: open and close carry the namespace.
  std::string lines;
  char buffer[65536];
  timeval tv{2, 0};
  setsockopt(events, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  for (ssize_t n; (n = read(events, buffer, sizeof(buffer))) > 0;) {
    lines.append(buffer, static_cast<size_t>(n));
  }
  close(events);
  std::map<std::string, int> opens, closes;
  for (absl::string_view line : absl::StrSplit(lines, '\n')) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line);
    ASSERT_TRUE(j.contains("Netns")) << line;
    (j["Event"] == 0 ? opens : closes)[j["Netns"].get<std::string>()]++;
  }
  for (const std::string& ns : {cli, a, b, late, gone}) {
    EXPECT_GE(opens[ns], 1) << ns << "\n" << lines;
    EXPECT_GE(closes[ns], 1) << ns << "\n" << lines;
  }
}

}  // namespace
