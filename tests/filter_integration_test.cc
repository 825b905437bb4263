// Root integration test of -filter: a few hundred real sockets in a network
// namespace of its own (listening, established, FIN-WAIT-2, CLOSE-WAIT,
// TIME-WAIT; IPv4, IPv6 and v4-mapped; addresses in 10.77.0.0/16 and
// fd77::/16), hundreds of random expressions, and for each the sockets the
// kernel selects with our queries (states + bytecode), the ones our
// user-space program and the parsed expression select, and the ones `ss`
// itself prints for the same expression must be the same. Then a daemon
// with -filter archives exactly the sockets its expression selects.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "collector/dump_socket.h"
#include "filter/bytecode.h"
#include "filter/parser.h"
#include "filter/program.h"
#include "gtest/gtest.h"
#include "inetdiag/inet_diag.h"
#include "tests/testutil/farm.h"
#include "tests/testutil/paths.h"
#include "tests/testutil/temp_dir.h"

namespace {

const char* const kV4[] = {"10.77.0.1", "10.77.0.2", "10.77.1.1",
                           "10.77.200.9"};
const char* const kV6[] = {"fd77::1", "fd77::2", "fd77:1::1", "fd77:ff::5"};
const uint16_t kListenPorts[] = {22, 80, 443, 8080, 8443, 9000};

struct Listener {
  bool v6;
  const char* address;  // nullptr: the wildcard (v6: dual-stack)
  uint16_t port;
  int fd = -1;
};

// A socket's identity in all three views: its family and ports (every
// socket here has its own: each client binds a port of its own).
std::string Key(bool v6, uint16_t sport, uint16_t dport) {
  return absl::StrCat(v6 ? "v6 " : "v4 ", sport, " ", dport);
}

std::string Key(const inetdiag::Msg& m) {
  return Key(m.family == inetdiag::kAfInet6, ntohs(m.id.sport_be),
             ntohs(m.id.dport_be));
}

sockaddr_storage SocketAddress(bool v6, const char* address, uint16_t port) {
  sockaddr_storage s{};
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&s);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    a->sin6_addr = in6addr_any;
    if (address != nullptr) inet_pton(AF_INET6, address, &a->sin6_addr);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&s);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (address != nullptr) inet_pton(AF_INET, address, &a->sin_addr);
  }
  return s;
}

socklen_t SocketLength(bool v6) {
  return v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

class FilterIntegration : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ns_ = absl::StrCat("tifilt", getpid() % 100000);
    const std::string log = ::testing::TempDir() + "/filter_netns.log";
    const std::string ip = "/usr/sbin/ip";
    std::vector<std::vector<std::string>> setup = {
        {ip, "netns", "add", ns_},
        {ip, "-n", ns_, "link", "set", "lo", "up"},
    };
    for (const char* a : kV4) {
      setup.push_back(
          {ip, "-n", ns_, "addr", "add", absl::StrCat(a, "/32"), "dev", "lo"});
    }
    for (const char* a : kV6) {
      setup.push_back({ip, "-n", ns_, "addr", "add", absl::StrCat(a, "/128"),
                       "dev", "lo", "nodad"});
    }
    for (const auto& argv : setup) {
      ASSERT_EQ(testutil::Run(argv, log), 0)
          << absl::StrJoin(argv, " ") << ": " << testutil::ReadText(log);
    }
    testutil::InNamespace(Path(), [] { MakeSockets(); });
  }

  static void TearDownTestSuite() {
    for (int fd : fds_) close(fd);
    fds_.clear();
    if (!ns_.empty()) {
      testutil::Run({"/usr/sbin/ip", "netns", "del", ns_},
                    ::testing::TempDir() + "/filter_netns.log");
    }
  }

  static std::string Path() { return "/var/run/netns/" + ns_; }

  static void MakeSockets() {
    std::vector<Listener> listeners = {
        {false, kV4[0], 22},    {false, kV4[1], 80},   {false, kV4[2], 443},
        {false, nullptr, 8080}, {true, kV6[0], 22},    {true, kV6[1], 443},
        {true, kV6[2], 8443},   {true, nullptr, 9000}, {true, kV6[3], 80},
    };
    for (Listener& l : listeners) {
      l.fd = socket(l.v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
      ASSERT_GE(l.fd, 0);
      fds_.push_back(l.fd);
      const int zero = 0;
      if (l.v6)
        setsockopt(l.fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
      testutil::SetTimeouts(l.fd);
      const sockaddr_storage a = SocketAddress(l.v6, l.address, l.port);
      ASSERT_EQ(
          bind(l.fd, reinterpret_cast<const sockaddr*>(&a), SocketLength(l.v6)),
          0)
          << std::strerror(errno);
      ASSERT_EQ(listen(l.fd, 256), 0);
    }
    std::mt19937 rng(16);
    constexpr int kConnections = 130;
    for (int i = 0; i < kConnections; ++i) {
      const Listener& l = listeners[rng() % listeners.size()];
      // The dual-stack listener also takes IPv4 clients (v4-mapped).
      const bool v6 = l.v6 && !(l.address == nullptr && rng() % 2 == 0);
      const char* const* addresses = v6 ? kV6 : kV4;
      const char* local = addresses[rng() % 4];
      const char* remote =
          l.address != nullptr ? l.address : addresses[rng() % 4];
      const int c = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
      ASSERT_GE(c, 0);
      fds_.push_back(c);
      testutil::SetTimeouts(c);
      const uint16_t port = static_cast<uint16_t>(20000 + i * 7);
      const sockaddr_storage from = SocketAddress(v6, local, port);
      ASSERT_EQ(
          bind(c, reinterpret_cast<const sockaddr*>(&from), SocketLength(v6)),
          0)
          << std::strerror(errno);
      const sockaddr_storage to = SocketAddress(v6, remote, l.port);
      ASSERT_EQ(
          connect(c, reinterpret_cast<const sockaddr*>(&to), SocketLength(v6)),
          0)
          << std::strerror(errno);
      const int s = accept(l.fd, nullptr, nullptr);
      ASSERT_GE(s, 0) << std::strerror(errno);
      fds_.push_back(s);
      switch (i % 10) {
        case 0:
        case 1:  // client FIN-WAIT-2, server CLOSE-WAIT
          shutdown(c, SHUT_WR);
          break;
        case 2:  // server FIN-WAIT-2, client CLOSE-WAIT
          shutdown(s, SHUT_WR);
          break;
        case 3:  // client TIME-WAIT, server gone
          shutdown(c, SHUT_WR);
          usleep(2000);
          shutdown(s, SHUT_WR);
          break;
        default:
          break;
      }
    }
    usleep(300 * 1000);  // let every FIN be acknowledged
  }

  // The sockets the kernel selects with `queries`, each dump checked to be
  // complete (a query whose bytecode it rejected would not be).
  static std::set<std::string> KernelSelects(
      const std::vector<inetdiag::DumpQuery>& queries,
      std::vector<inetdiag::Msg>* messages = nullptr) {
    std::set<std::string> keys;
    absl::StatusOr<std::unique_ptr<collector::DumpSocket>> s =
        collector::DumpSocket::OpenWithQueries(queries, 0);
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok()) return keys;
    for (uint8_t family : {inetdiag::kAfInet, inetdiag::kAfInet6}) {
      const collector::DumpResult r =
          (*s)->Dump(family, [&](const collector::DumpMessage& m) {
            inetdiag::Msg msg;
            std::memcpy(&msg, m.payload, sizeof(msg));
            EXPECT_TRUE(keys.insert(Key(msg)).second) << Key(msg);
            if (messages != nullptr) messages->push_back(msg);
          });
      EXPECT_TRUE(r.complete) << collector::DescribeDumpIssues(r);
    }
    return keys;
  }

  // What `ss -tanH STATES EXPR` prints in the namespace.
  static std::set<std::string> SsSelects(const std::string& states,
                                         const std::string& expr) {
    const std::string command = absl::StrCat(
        "/usr/sbin/ip netns exec ", ns_, " ss -tanH ", states,
        expr.empty() ? "" : absl::StrCat(" '", expr, "'"), " 2>&1");
    std::set<std::string> keys;
    FILE* p = popen(command.c_str(), "r");
    EXPECT_NE(p, nullptr);
    if (p == nullptr) return keys;
    std::string output;
    char line[512];
    while (fgets(line, sizeof(line), p) != nullptr) {
      output += line;
      // ss leaves out the state column when one state is asked for.
      const std::vector<std::string> f =
          absl::StrSplit(line, ' ', absl::SkipWhitespace());
      int skip = 0;
      if (f.size() == 4) {
        skip = -1;
      } else if (f.size() != 5) {
        continue;
      }
      auto port = [](const std::string& a) -> uint16_t {
        int p = 0;
        if (!absl::SimpleAtoi(a.substr(a.rfind(':') + 1), &p)) return 0;
        return static_cast<uint16_t>(p);
      };
      const std::string& local = f[3 + skip];
      const bool v6 = local[0] == '[' || local[0] == '*';
      keys.insert(Key(v6, port(local), port(f[4 + skip])));
    }
    EXPECT_EQ(pclose(p), 0) << command << "\n" << output;
    return keys;
  }

  static std::string ns_;
  static std::vector<int> fds_;
};

std::string FilterIntegration::ns_;
std::vector<int> FilterIntegration::fds_;

// Random expressions, each in our syntax and in ss's (tcpdump primitives
// spelled out as ss conditions).
class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  struct Expr {
    std::string ours, ss;
  };

  Expr Make(int depth) {
    const int r = Pick(10);
    if (depth >= 3 || r < 4) return Atom();
    if (r < 6) {
      Expr a = Make(depth + 1);
      const char* n = Pick(2) ? "not " : "! ";
      return {n + a.ours, n + a.ss};
    }
    // A chain of two or three without parentheses (left to right), in
    // parentheses half the time.
    Expr e = Make(depth + 1);
    const int terms = 2 + Pick(2);
    for (int i = 1; i < terms; ++i) {
      static const char* const kOps[] = {" and ", " or ", " && ", " || ",
                                         " ",     " & ",  " | "};
      const char* op = kOps[Pick(7)];
      Expr b = Make(depth + 1);
      e = {e.ours + op + b.ours, e.ss + op + b.ss};
    }
    if (Pick(2)) e = {"( " + e.ours + " )", "( " + e.ss + " )"};
    return e;
  }

  // Leading ss state clauses ("" half the time).
  std::string States() {
    if (Pick(2)) return "";
    static const char* const kNames[] = {
        "established", "listening", "fin-wait-2",   "close-wait",
        "time-wait",   "connected", "synchronized", "bucket",
        "big",         "all",       "syn-sent",     "closed"};
    std::string s;
    for (int i = 0, n = 1 + Pick(2); i < n; ++i) {
      absl::StrAppend(&s, i ? " " : "", Pick(3) ? "state " : "exclude ",
                      kNames[Pick(12)]);
    }
    return s;
  }

  // A bare state name or group, for expressions only we understand.
  std::string StateAtom() {
    static const char* const kNames[] = {"established", "listening",
                                         "fin-wait-2",  "close-wait",
                                         "time-wait",   "connected"};
    return kNames[Pick(6)];
  }

  int Pick(int n) { return static_cast<int>(rng_() % n); }

 private:
  std::string Port() {
    const int r = Pick(4);
    const int p = r == 0   ? kListenPorts[Pick(6)]
                  : r == 1 ? 20000 + 7 * Pick(130)
                  : r == 2 ? kListenPorts[Pick(6)] + Pick(3) - 1
                           : Pick(30000);
    return absl::StrCat(p);
  }
  std::string Address(bool prefix_ok) {
    static const char* const kPrefixes[] = {
        "10.77.0.0/16", "10.77.0.0/24", "10.77.1.0/24",
        "10.76.0.0/15", "10.77.0.0/31", "fd77::/16",
        "fd77:1::/32",  "fd77::/64",    "fd77::/127"};
    static const char* const kAddresses[] = {
        "10.77.0.1",   "10.77.0.2",    "10.77.1.1",
        "10.77.200.9", "[fd77::1]",    "[fd77::2]",
        "[fd77:1::1]", "[fd77:ff::5]", "[::ffff:10.77.0.1]"};
    if (prefix_ok && Pick(3) == 0) return kPrefixes[Pick(9)];
    return kAddresses[Pick(9)];
  }
  static std::string Unbracketed(const std::string& a) {
    return a[0] == '[' ? a.substr(1, a.size() - 2) : a;
  }

  Expr Atom() {
    const char* side = Pick(2) ? "src" : "dst";
    const char* pside = side[0] == 's' ? "sport" : "dport";
    switch (Pick(8)) {
      case 0:
      case 1: {
        static const char* const kOps[] = {"= ",  "== ", "!= ", "< ",   "> ",
                                           "<= ", ">= ", "eq ", "neq ", "lt ",
                                           "gt ", "le ", "ge ", ""};
        const std::string e = absl::StrCat(pside, " ", kOps[Pick(14)],
                                           Pick(2) ? ":" : "", Port());
        return {e, e};
      }
      case 2:
      case 3: {
        const int form = Pick(5);
        std::string h;
        if (form == 0) {
          h = ":" + Port();
        } else if (form == 1) {
          h = Pick(4) ? "*:" + Port() : "*";
        } else {
          h = Address(true);
          if (form == 2) h += ":" + Port();
        }
        const std::string e = absl::StrCat(side, " ", h);
        return {e, e};
      }
      case 4: {  // [src|dst] host A
        const std::string a = Address(false);
        if (Pick(2)) {
          return {absl::StrCat(side, " host ", Unbracketed(a)),
                  absl::StrCat(side, " ", a)};
        }
        return {absl::StrCat("host ", Unbracketed(a)),
                absl::StrCat("( src ", a, " or dst ", a, " )")};
      }
      case 5: {  // [src|dst] net P
        static const char* const kNets[] = {"10.77.0.0/16", "10.77.1.0/24",
                                            "fd77::/16", "fd77:ff::/32",
                                            "10.77.0.2/32"};
        const std::string n = kNets[Pick(5)];
        if (Pick(2)) {
          return {absl::StrCat(side, " net ", n), absl::StrCat(side, " ", n)};
        }
        return {absl::StrCat("net ", n),
                absl::StrCat("( src ", n, " or dst ", n, " )")};
      }
      case 6: {  // [src|dst] port N
        const std::string p = Port();
        if (Pick(2)) {
          return {absl::StrCat(side, " port ", p),
                  absl::StrCat(pside, " = :", p)};
        }
        return {absl::StrCat("port ", p),
                absl::StrCat("( sport = :", p, " or dport = :", p, " )")};
      }
      default: {  // [src|dst] portrange A-B
        const int a = std::stoi(Port());
        const int b = std::min(65535, a + Pick(3000));
        const std::string one = absl::StrCat("( ", pside, " >= :", a, " and ",
                                             pside, " <= :", b, " )");
        if (Pick(2)) {
          return {absl::StrCat(side, " portrange ", a, "-", b), one};
        }
        return {absl::StrCat("portrange ", a, "-", b),
                absl::StrCat("( ( sport >= :", a, " and sport <= :", b,
                             " ) or ( dport >= :", a, " and dport <= :", b,
                             " ) )")};
      }
    }
  }

  std::mt19937 rng_;
};

TEST_F(FilterIntegration, KernelUserSpaceAndSsSelectTheSameSockets) {
  testutil::InNamespace(Path(), [] {
    std::vector<inetdiag::Msg> all;
    const std::set<std::string> every =
        KernelSelects({{filter::kAllStates, {}}}, &all);
    ASSERT_GE(all.size(), 250u);
    std::set<int> states;
    for (const inetdiag::Msg& m : all) states.insert(m.state);
    for (int s : {1, 5, 6, 8, 10}) EXPECT_TRUE(states.contains(s)) << s;
    ASSERT_EQ(SsSelects("", ""), every);

    Generator g(20261204);
    int nonempty = 0, partial = 0;
    for (int i = 0; i < 300; ++i) {
      const std::string states = g.States();
      const Generator::Expr e = g.Make(0);
      const std::string ours =
          states.empty() ? e.ours : absl::StrCat(states, " ( ", e.ours, " )");
      SCOPED_TRACE(ours + "  ||  ss " + states + " '" + e.ss + "'");
      absl::StatusOr<filter::Program> p = filter::Program::Create(ours);
      ASSERT_TRUE(p.ok()) << p.status();
      const std::vector<inetdiag::DumpQuery> q = p->Queries(filter::kAllStates);
      for (const inetdiag::DumpQuery& d : q) {
        ASSERT_TRUE(filter::Audit(d.bytecode).ok());
      }
      const std::set<std::string> kernel = KernelSelects(q);
      std::set<std::string> user, evaluated;
      for (const inetdiag::Msg& m : all) {
        if (p->Matches(m)) user.insert(Key(m));
        if (filter::Evaluate(p->expression(), m)) evaluated.insert(Key(m));
      }
      EXPECT_EQ(kernel, user);
      EXPECT_EQ(kernel, evaluated);
      // ss takes an empty state set ("state x exclude x") for no state
      // filter at all; we select nothing.
      if (!states.empty() && (*filter::Parse(states))->states == 0) {
        EXPECT_TRUE(kernel.empty());
      } else {
        EXPECT_EQ(kernel, SsSelects(states, e.ss));
      }
      nonempty += !kernel.empty();
      partial += !kernel.empty() && kernel.size() < all.size();
    }
    // The expressions must tell sockets apart, not select all or nothing.
    EXPECT_GE(partial, 100);

    // States anywhere in the expression (ss only takes them in front).
    for (int i = 0; i < 150; ++i) {
      Generator::Expr e = g.Make(1);
      const std::string ours =
          g.Pick(2) ? absl::StrCat(g.StateAtom(), g.Pick(2) ? " or " : " and ",
                                   e.ours)
                    : absl::StrCat("( ", e.ours, " ) or not ", g.StateAtom());
      SCOPED_TRACE(ours);
      absl::StatusOr<filter::Program> p = filter::Program::Create(ours);
      ASSERT_TRUE(p.ok()) << p.status();
      const std::set<std::string> kernel =
          KernelSelects(p->Queries(filter::kAllStates));
      std::set<std::string> user, evaluated;
      for (const inetdiag::Msg& m : all) {
        if (p->Matches(m)) user.insert(Key(m));
        if (filter::Evaluate(p->expression(), m)) evaluated.insert(Key(m));
      }
      EXPECT_EQ(kernel, user);
      EXPECT_EQ(kernel, evaluated);
    }
  });
}

// A daemon with -filter archives the connections its expression selects
// (among those it dumps: not TIME-WAIT), and no other.
TEST_F(FilterIntegration, AFilteredDaemonArchivesOnlyTheSelectedConnections) {
  testutil::TempDir dir;
  const std::string prefix = "filtertest";
  {
    FILE* f = std::fopen((dir.path() + "/prefix").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(prefix.c_str(), f);
    std::fclose(f);
  }
  const std::string expr = "dport = :443 or src net fd77::/16 and sport > 9000";
  const int rc = testutil::Run(
      {"/usr/sbin/ip", "netns", "exec", ns_, testutil::BinaryPath("tcp-info"),
       "-filter=" + expr, "-output=" + dir.path() + "/out",
       "-uuid-prefix-file=" + dir.path() + "/prefix", "-reps=3",
       "-interval=10ms",
       "-prometheusx.listen-address=", "-destroy-events=false"},
      dir.path() + "/daemon.log");
  ASSERT_EQ(rc, 0) << testutil::ReadText(dir.path() + "/daemon.log");
  std::set<uint64_t> expected;
  int dumped = 0;
  testutil::InNamespace(Path(), [&] {
    std::vector<inetdiag::Msg> all;
    KernelSelects({{inetdiag::kDumpStates, {}}}, &all);
    absl::StatusOr<filter::Program> p = filter::Program::Create(expr);
    ASSERT_TRUE(p.ok());
    for (const inetdiag::Msg& m : all) {
      ++dumped;
      if (p->Matches(m)) expected.insert(inetdiag::Cookie(m.id));
    }
  });
  std::set<uint64_t> archived;
  for (const auto& [cookie, files] :
       testutil::ListArchives(dir.path() + "/out", prefix)) {
    archived.insert(cookie);
  }
  EXPECT_GE(expected.size(), 10u);
  EXPECT_LT(expected.size(), static_cast<size_t>(dumped) / 2);
  EXPECT_EQ(archived, expected);
}

}  // namespace
