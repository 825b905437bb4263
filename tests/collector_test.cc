// The collector layer: dump request, address classes, filter, anonymizer,
// netlink reply walking (on a real M-Lab dump), the kernel dump socket, and
// the polling loop (scripted and against the kernel).
#include "collector/collector.h"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "collector/anonymizer.h"
#include "collector/dump_socket.h"
#include "collector/filter.h"
#include "collector/ip_address.h"
#include "collector/netlink_dump.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "inetdiag/inet_diag.h"
#include "inetdiag/request.h"
#include "parse/record_view.h"
#include "tcp/tcp_info.h"
#include "tests/collector_fakes.h"
#include "tests/testutil/paths.h"

namespace collector {
namespace {

using collector_test::Concatenate;
using collector_test::DumpBuffer;
using collector_test::Ip;
using collector_test::MakeMessage;
using collector_test::MakeMsg;
using collector_test::RecordingSaver;
using collector_test::ScriptedSource;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

// The messages (netlink header included) of the real M-Lab dump.
std::vector<std::string> RealDumpMessages() {
  const std::string all = testutil::ReadZstdFileOrDie(
      testutil::TestDataDir() + "/mlab/raw-netlink-dump.zst");
  std::vector<std::string> out;
  size_t off = 0;
  while (off + sizeof(nlmsghdr) <= all.size()) {
    nlmsghdr h;
    std::memcpy(&h, all.data() + off, sizeof(h));
    out.push_back(all.substr(off, h.nlmsg_len));
    off += NLMSG_ALIGN(h.nlmsg_len);
  }
  return out;
}

// A control message (DONE, ERROR) with a 4-byte status payload.
std::string ControlMessage(uint16_t type, int32_t status, uint16_t flags = 0) {
  nlmsghdr h{};
  h.nlmsg_len = NLMSG_HDRLEN + (type == NLMSG_ERROR ? sizeof(nlmsgerr) : 4);
  h.nlmsg_type = type;
  h.nlmsg_flags = flags | NLM_F_MULTI;
  std::string out(reinterpret_cast<const char*>(&h), sizeof(h));
  out.append(reinterpret_cast<const char*>(&status), 4);
  out.resize(h.nlmsg_len, '\0');
  return out;
}

constexpr uint32_t kSeq = 77, kPid = 4242;

TEST(DumpRequest, AsksForTheReferenceStatesAndAttributes) {
  const inetdiag::DumpRequest r =
      inetdiag::MakeDumpRequest(inetdiag::kAfInet6, 9);
  EXPECT_EQ(r.header.nlmsg_len, 72u);
  EXPECT_EQ(r.header.nlmsg_type, inetdiag::kSockDiagByFamily);
  EXPECT_EQ(r.header.nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
  EXPECT_EQ(r.header.nlmsg_seq, 9u);
  EXPECT_EQ(r.request.family, inetdiag::kAfInet6);
  EXPECT_EQ(r.request.protocol, IPPROTO_TCP);
  // MEMINFO, INFO, VEGASINFO, CONG, TOS, TCLASS, SKMEMINFO, SHUTDOWN.
  EXPECT_EQ(r.request.ext, 0xff);
  // TCPF_ALL (0xfff) without SYN_RECV, TIME_WAIT and CLOSE.
  EXPECT_EQ(r.request.states, 0xfffu & ~(1u << 3 | 1u << 6 | 1u << 7));
  EXPECT_EQ(r.request.states, 0xf37u);
}

TEST(IpAddress, ClassifiesLocalAddressesAsGoDoes) {
  for (const char* local :
       {"127.0.0.1", "127.255.0.9", "169.254.3.4", "224.0.0.1",
        "239.255.255.250", "0.0.0.0", "::1", "::", "fe80::1", "febf::1",
        "ff02::1", "::ffff:127.0.0.1", "::ffff:0.0.0.0"}) {
    EXPECT_TRUE(Ip(local).IsLocal()) << local;
  }
  for (const char* remote : {"10.77.0.1", "192.0.2.1", "8.8.8.8", "fd77::1",
                             "2001:db8::1", "fec0::1", "::ffff:10.77.0.1"}) {
    EXPECT_FALSE(Ip(remote).IsLocal()) << remote;
  }
}

TEST(IpAddress, ParsesFormatsAndUnmaps) {
  EXPECT_EQ(FormatIpAddress(Ip("10.77.0.2")), "10.77.0.2");
  EXPECT_EQ(FormatIpAddress(Ip("FD77:0::2")), "fd77::2");
  EXPECT_FALSE(ParseIpAddress("10.77.0").ok());
  EXPECT_FALSE(ParseIpAddress("host").ok());
  EXPECT_TRUE(Ip("::ffff:10.1.2.3").IsV4Mapped());
  EXPECT_EQ(Ip("::ffff:10.1.2.3").Unmapped(), Ip("10.1.2.3"));
  EXPECT_EQ(Ip("fd77::2").Unmapped(), Ip("fd77::2"));
}

TEST(Filter, SkipsLocalConnectionsUnlessIncluded) {
  Filter def(FilterOptions{});
  FilterOptions o;
  o.include_local = true;
  Filter all(o);
  const inetdiag::Msg remote =
      MakeMsg("10.77.0.2", 40000, "10.77.0.1", 17000, 1);
  const inetdiag::Msg loopback =
      MakeMsg("127.0.0.1", 40000, "127.0.0.1", 80, 2);
  const inetdiag::Msg listener =
      MakeMsg("0.0.0.0", 22, "0.0.0.0", 0, 3, tcp::kListen);
  const inetdiag::Msg link_local = MakeMsg("fe80::1", 5, "fd77::1", 6, 4);
  const inetdiag::Msg v6 = MakeMsg("fd77::2", 5, "fd77::1", 6, 5);
  EXPECT_FALSE(def.Skip(remote));
  EXPECT_FALSE(def.Skip(v6));
  EXPECT_TRUE(def.Skip(loopback));
  EXPECT_TRUE(def.Skip(listener));
  EXPECT_TRUE(def.Skip(link_local));
  for (const inetdiag::Msg& m : {remote, loopback, listener, link_local, v6}) {
    EXPECT_FALSE(all.Skip(m));
  }
}

TEST(Filter, ExcludesSourcePortsAndDestinations) {
  FilterOptions o;
  o.exclude_srcports = {9990, 22};
  o.exclude_dstips = {Ip("10.77.0.9"), Ip("fd77::9")};
  Filter f(o);
  EXPECT_TRUE(f.Skip(MakeMsg("10.77.0.2", 9990, "10.77.0.1", 1, 1)));
  EXPECT_TRUE(f.Skip(MakeMsg("10.77.0.2", 22, "10.77.0.1", 1, 1)));
  EXPECT_FALSE(f.Skip(MakeMsg("10.77.0.2", 23, "10.77.0.1", 22, 1)));
  EXPECT_TRUE(f.Skip(MakeMsg("10.77.0.2", 1, "10.77.0.9", 1, 1)));
  EXPECT_TRUE(f.Skip(MakeMsg("::ffff:10.77.0.2", 1, "::ffff:10.77.0.9", 1, 1)));
  EXPECT_TRUE(f.Skip(MakeMsg("fd77::2", 1, "fd77::9", 1, 1)));
  EXPECT_FALSE(f.Skip(MakeMsg("fd77::2", 1, "fd77::8", 1, 1)));
  EXPECT_FALSE(f.Skip(MakeMsg("10.77.0.9", 1, "10.77.0.2", 1, 1)));
}

TEST(Anonymizer, NetblockZeroesHostBitsOfAddressesNotOfThisHost) {
  Anonymizer a(AnonymizeMode::kNetblock,
               {Ip("10.77.0.2"), Ip("fd77::2"), Ip("192.0.2.5")});
  struct Case {
    const char *src, *dst, *want_src, *want_dst;
  };
  for (const Case& c : std::vector<Case>{
           {"10.77.0.2", "198.51.100.77", "10.77.0.2", "198.51.100.0"},
           {"fd77::2", "2001:db8:1:2:3:4:5:6", "fd77::2", "2001:db8:1:2::"},
           {"::ffff:10.77.0.2", "::ffff:198.51.100.77", "::ffff:10.77.0.2",
            "::ffff:198.51.100.0"},
           // Neither is ours: both anonymized, as the reference would.
           {"203.0.113.9", "198.51.100.77", "203.0.113.0", "198.51.100.0"},
           {"192.0.2.5", "192.0.2.77", "192.0.2.5", "192.0.2.0"},
       }) {
    inetdiag::Msg m = MakeMsg(c.src, 1234, c.dst, 443, 0xabcdef0123456789);
    const inetdiag::Msg before = m;
    a.Apply(reinterpret_cast<char*>(&m));
    EXPECT_EQ(IpAddress::FromSockId(m.family, m.id.src), Ip(c.want_src));
    EXPECT_EQ(IpAddress::FromSockId(m.family, m.id.dst), Ip(c.want_dst));
    EXPECT_EQ(m.id.sport_be, before.id.sport_be);
    EXPECT_EQ(m.id.dport_be, before.id.dport_be);
    EXPECT_EQ(inetdiag::Cookie(m.id), inetdiag::Cookie(before.id));
  }
  inetdiag::Msg m = MakeMsg("10.77.0.2", 1, "198.51.100.77", 2, 3);
  Anonymizer none(AnonymizeMode::kNone, {});
  none.Apply(reinterpret_cast<char*>(&m));
  EXPECT_EQ(IpAddress::FromSockId(m.family, m.id.dst), Ip("198.51.100.77"));
}

TEST(Anonymizer, ChangesOnlyAddressBytesOfRealMessages) {
  Anonymizer a(AnonymizeMode::kNetblock, {});
  int v4 = 0, v6 = 0;
  for (const std::string& m : RealDumpMessages()) {
    std::string payload = m.substr(NLMSG_HDRLEN);
    a.Apply(payload.data());
    inetdiag::Msg idm;
    std::memcpy(&idm, payload.data(), sizeof(idm));
    for (const uint32_t* words : {idm.id.src, idm.id.dst}) {
      const IpAddress addr = IpAddress::FromSockId(idm.family, words);
      if (idm.family == inetdiag::kAfInet || addr.IsV4Mapped()) {
        EXPECT_EQ(addr.bytes[addr.IsV4Mapped() ? 15 : 3], 0);
        ++v4;
      } else {
        for (int i = 8; i < 16; ++i) EXPECT_EQ(addr.bytes[i], 0);
        ++v6;
      }
    }
    // Everything but the 32 address bytes is as the kernel sent it.
    const std::string original = m.substr(NLMSG_HDRLEN);
    EXPECT_EQ(payload.substr(0, 8), original.substr(0, 8));
    EXPECT_EQ(payload.substr(40), original.substr(40));
  }
  EXPECT_EQ(v4 + v6, 840);
  EXPECT_GT(v4, 0);
  EXPECT_GT(v6, 0);
}

TEST(WalkDumpBuffer, HandsOnEveryMessageOfARealDump) {
  const std::vector<std::string> messages = RealDumpMessages();
  ASSERT_EQ(messages.size(), 420u);
  DumpBuffer b = Concatenate(messages, kSeq, kPid);
  DumpResult r;
  std::vector<std::string> seen;
  const absl::Time t = absl::FromUnixSeconds(1700000000);
  EXPECT_EQ(WalkDumpBuffer(b.data(), b.size, kSeq, kPid, t, &r,
                           [&](const DumpMessage& m) {
                             EXPECT_EQ(m.received, t);
                             seen.emplace_back(m.payload, m.size);
                           }),
            WalkStatus::kMore);
  EXPECT_EQ(r.messages, 420);
  ASSERT_EQ(seen.size(), 420u);
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i], messages[i].substr(NLMSG_HDRLEN));
  }
  for (int64_t n : r.issues) EXPECT_EQ(n, 0);
}

TEST(WalkDumpBuffer, EndsAtDoneAndCountsErrorsCarriedByDoneOrError) {
  const std::vector<std::string> messages = RealDumpMessages();
  auto walk = [&](const std::string& last, DumpResult* r) {
    DumpBuffer b = Concatenate({messages[0], messages[1], last}, kSeq, kPid);
    int n = 0;
    WalkStatus s = WalkDumpBuffer(b.data(), b.size, kSeq, kPid, absl::Now(), r,
                                  [&](const DumpMessage&) { ++n; });
    EXPECT_EQ(n, 2);
    return s;
  };
  DumpResult done;
  EXPECT_EQ(walk(ControlMessage(NLMSG_DONE, 0), &done), WalkStatus::kDone);
  EXPECT_EQ(done.count(DumpIssue::kNetlinkError), 0);
  DumpResult done_error;
  EXPECT_EQ(walk(ControlMessage(NLMSG_DONE, -EBUSY), &done_error),
            WalkStatus::kDone);
  EXPECT_EQ(done_error.count(DumpIssue::kNetlinkError), 1);
  EXPECT_EQ(done_error.error, EBUSY);
  DumpResult error;
  EXPECT_EQ(walk(ControlMessage(NLMSG_ERROR, -ENOMEM), &error),
            WalkStatus::kDone);
  EXPECT_EQ(error.count(DumpIssue::kNetlinkError), 1);
  EXPECT_EQ(error.error, ENOMEM);
}

TEST(WalkDumpBuffer, InterruptedDumpStillDeliversEveryMessage) {
  std::vector<std::string> messages = RealDumpMessages();
  messages.resize(10);
  nlmsghdr h;
  std::memcpy(&h, messages[3].data(), sizeof(h));
  h.nlmsg_flags |= NLM_F_DUMP_INTR;
  std::memcpy(messages[3].data(), &h, sizeof(h));
  messages.push_back(ControlMessage(NLMSG_DONE, 0, NLM_F_DUMP_INTR));
  DumpBuffer b = Concatenate(messages, kSeq, kPid);
  DumpResult r;
  int n = 0;
  EXPECT_EQ(WalkDumpBuffer(b.data(), b.size, kSeq, kPid, absl::Now(), &r,
                           [&](const DumpMessage&) { ++n; }),
            WalkStatus::kDone);
  EXPECT_EQ(n, 10);
  EXPECT_EQ(r.count(DumpIssue::kInterrupted), 1);
}

TEST(WalkDumpBuffer, AbortsOnForeignRepliesAndTruncation) {
  const std::vector<std::string> messages = RealDumpMessages();
  const std::vector<std::string> three(messages.begin(), messages.begin() + 3);
  {
    DumpBuffer b = Concatenate(three, kSeq + 1, kPid);
    DumpResult r;
    EXPECT_EQ(WalkDumpBuffer(b.data(), b.size, kSeq, kPid, absl::Now(), &r,
                             [](const DumpMessage&) {}),
              WalkStatus::kAbort);
    EXPECT_EQ(r.count(DumpIssue::kBadSequence), 1);
    EXPECT_EQ(r.messages, 0);
  }
  {
    DumpBuffer b = Concatenate(three, kSeq, kPid + 1);
    DumpResult r;
    EXPECT_EQ(WalkDumpBuffer(b.data(), b.size, kSeq, kPid, absl::Now(), &r,
                             [](const DumpMessage&) {}),
              WalkStatus::kAbort);
    EXPECT_EQ(r.count(DumpIssue::kBadPortId), 1);
  }
  {
    DumpBuffer b = Concatenate(three, kSeq, kPid);
    DumpResult r;
    int n = 0;
    // The third message is cut short: two are delivered, then the walk stops.
    EXPECT_EQ(WalkDumpBuffer(b.data(), b.size - 40, kSeq, kPid, absl::Now(), &r,
                             [&](const DumpMessage&) { ++n; }),
              WalkStatus::kAbort);
    EXPECT_EQ(n, 2);
    EXPECT_EQ(r.count(DumpIssue::kTruncated), 1);
  }
  {
    std::string odd = ControlMessage(NLMSG_DONE, 0);
    nlmsghdr h;
    std::memcpy(&h, odd.data(), sizeof(h));
    h.nlmsg_type = 99;
    std::memcpy(odd.data(), &h, sizeof(h));
    DumpBuffer b = Concatenate({messages[0], odd, messages[1]}, kSeq, kPid);
    DumpResult r;
    int n = 0;
    EXPECT_EQ(WalkDumpBuffer(b.data(), b.size, kSeq, kPid, absl::Now(), &r,
                             [&](const DumpMessage&) { ++n; }),
              WalkStatus::kMore);
    EXPECT_EQ(n, 2);
    EXPECT_EQ(r.count(DumpIssue::kBadType), 1);
  }
}

// A connected loopback TCP pair (client, accepted server end).
struct LoopbackPair {
  int listener = -1, client = -1, server = -1;
  uint16_t listen_port = 0, client_port = 0;

  LoopbackPair() {
    listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(listen(listener, 4), 0);
    socklen_t len = sizeof(a);
    getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
    listen_port = ntohs(a.sin_port);
    client = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_EQ(connect(client, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    server = accept(listener, nullptr, nullptr);
    sockaddr_in c{};
    len = sizeof(c);
    getsockname(client, reinterpret_cast<sockaddr*>(&c), &len);
    client_port = ntohs(c.sin_port);
  }
  // Resets both ends so that neither lingers in TIME_WAIT.
  void Abort() {
    linger l{1, 0};
    for (int* fd : {&client, &server}) {
      if (*fd < 0) continue;
      setsockopt(*fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
      close(*fd);
      *fd = -1;
    }
  }
  ~LoopbackPair() {
    Abort();
    close(listener);
  }
};

// The parsed view of a dumped socket with `sport` and `dport`, copied out.
struct Found {
  std::string payload;
  parse::RecordView view;
};
bool FindSocket(DumpSource* source, uint16_t sport, uint16_t dport, Found* out,
                DumpResult* result) {
  bool found = false;
  *result = source->Dump(inetdiag::kAfInet, [&](const DumpMessage& m) {
    inetdiag::Msg idm;
    std::memcpy(&idm, m.payload, sizeof(idm));
    if (ntohs(idm.id.sport_be) != sport || ntohs(idm.id.dport_be) != dport) {
      return;
    }
    out->payload.assign(m.payload, m.size);
    found = true;
  });
  if (found) out->view = *parse::SplitMessage(out->payload);
  return found;
}

TEST(DumpSocket, SeesLoopbackConnectionsWithEveryRequestedAttribute) {
  absl::StatusOr<std::unique_ptr<DumpSocket>> s = DumpSocket::Open();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_GE((*s)->kernel_receive_buffer(), 32 * 1024);
  LoopbackPair pair;
  const int fd_before = (*s)->fd();
  for (int round = 0; round < 3; ++round) {  // one socket, reused
    Found client, listener;
    DumpResult r;
    ASSERT_TRUE(
        FindSocket(s->get(), pair.client_port, pair.listen_port, &client, &r));
    EXPECT_TRUE(r.complete);
    EXPECT_GT(r.messages, 0);
    EXPECT_GT(r.buffers, 0);
    ASSERT_TRUE(FindSocket(s->get(), pair.listen_port, 0, &listener, &r));
    EXPECT_EQ(client.view.Idm().state, tcp::kEstablished);
    EXPECT_EQ(listener.view.Idm().state, tcp::kListen);
    for (int type :
         {inetdiag::kMemInfo, inetdiag::kInfo, inetdiag::kCong, inetdiag::kTos,
          inetdiag::kSkMemInfo, inetdiag::kShutdown}) {
      EXPECT_TRUE(client.view.Has(type)) << "attribute " << type;
    }
    EXPECT_FALSE(client.view.Has(inetdiag::kTClass));  // IPv6 only
    EXPECT_EQ(client.view.attributes[inetdiag::kInfo].size(),
              sizeof(tcp::TcpInfo));
    // The congestion control name, NUL-terminated ("cubic", "bbr", ...).
    EXPECT_GT(client.view.attributes[inetdiag::kCong].size(), 1u);
  }
  EXPECT_EQ((*s)->fd(), fd_before);
  DumpResult v6 = (*s)->Dump(inetdiag::kAfInet6, [](const DumpMessage&) {});
  EXPECT_TRUE(v6.complete);
}

inetdiag::Msg ParsedIdm(const std::string& raw_idm) {
  inetdiag::Msg m;
  std::memcpy(&m, raw_idm.data(), sizeof(m));
  return m;
}

tcp::TcpInfo ParsedInfo(const std::string& info) {
  tcp::TcpInfo t{};
  std::memcpy(&t, info.data(), std::min(info.size(), sizeof(t)));
  return t;
}

TEST(Collector, ArchivesARealConnectionsChangesAndItsEnd) {
  RecordingSaver saver;
  CollectorOptions o;
  o.filter.include_local = true;
  absl::StatusOr<std::unique_ptr<Collector>> c =
      Collector::Create(o, &saver, nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  LoopbackPair pair;
  auto writes_of = [&](uint16_t sport, uint16_t dport) {
    std::vector<RecordingSaver::Written> out;
    for (const auto& w : saver.written) {
      const inetdiag::Msg m = ParsedIdm(w.raw_idm);
      if (ntohs(m.id.sport_be) == sport && ntohs(m.id.dport_be) == dport) {
        out.push_back(w);
      }
    }
    return out;
  };
  EXPECT_TRUE((*c)->RunCycle().complete);
  ASSERT_EQ(writes_of(pair.client_port, pair.listen_port).size(), 1u);
  const uint64_t client_cookie =
      writes_of(pair.client_port, pair.listen_port)[0].cookie;
  const uint64_t server_cookie =
      writes_of(pair.listen_port, pair.client_port).at(0).cookie;
  // Nothing happened on the connection: nothing new is written.
  (*c)->RunCycle();
  EXPECT_EQ(writes_of(pair.client_port, pair.listen_port).size(), 1u);

  const std::string data(1000, 'x');
  ASSERT_EQ(write(pair.client, data.data(), data.size()), 1000);
  char buf[1000];
  size_t got = 0;
  while (got < sizeof(buf)) {
    const ssize_t n = read(pair.server, buf + got, sizeof(buf) - got);
    ASSERT_GT(n, 0);
    got += n;
  }
  absl::SleepFor(absl::Milliseconds(50));  // let the ACK arrive
  (*c)->RunCycle();
  const auto client_writes = writes_of(pair.client_port, pair.listen_port);
  ASSERT_GE(client_writes.size(), 2u);
  EXPECT_EQ(ParsedInfo(client_writes.back().info).bytes_acked, 1001u);
  EXPECT_EQ(ParsedInfo(client_writes.back().info).bytes_sent, 1000u);
  EXPECT_EQ(
      ParsedInfo(writes_of(pair.listen_port, pair.client_port).back().info)
          .bytes_received,
      1000u);
  for (const auto& w : saver.written) {
    EXPECT_EQ(w.timestamp.nanos % 1000000, 0) << "not truncated to ms";
  }

  pair.Abort();
  (*c)->RunCycle();
  EXPECT_THAT(saver.closed,
              ::testing::IsSupersetOf({client_cookie, server_cookie}));
  EXPECT_EQ(saver.ticks, 4);
  EXPECT_EQ((*c)->stats().cycles, 4);
  EXPECT_EQ((*c)->stats().incomplete_cycles, 0);
}

TEST(Collector, SkipsLoopbackByDefault) {
  RecordingSaver saver;
  absl::StatusOr<std::unique_ptr<Collector>> c =
      Collector::Create(CollectorOptions{}, &saver, nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  LoopbackPair pair;
  const CycleStats& s = (*c)->RunCycle();
  EXPECT_GE(s.skipped, 3);  // listener, client, server
  for (const auto& w : saver.written) {
    EXPECT_FALSE(IpAddress::FromSockId(ParsedIdm(w.raw_idm).family,
                                       ParsedIdm(w.raw_idm).id.dst)
                     .IsLocal());
  }
}

// Records every observer call as a short string.
class RecordingObserver : public CollectorObserver {
 public:
  void OnFlowOpen(uint64_t cookie, parse::Timestamp,
                  const parse::RecordView&) override {
    events.push_back("open " + std::to_string(cookie));
  }
  void OnSnapshot(uint64_t cookie, parse::Timestamp, const parse::RecordView&,
                  parse::Change change) override {
    events.push_back("snapshot " + std::to_string(cookie) + " " +
                     parse::ChangeName(change));
  }
  void OnFlowClose(uint64_t cookie, parse::Timestamp,
                   CloseReason reason) override {
    events.push_back("close " + std::to_string(cookie));
    close_reasons.push_back(reason);
  }
  void OnCycle(const CycleStats& stats) override {
    cycles.push_back(stats);
    if (on_cycle) on_cycle(stats);
  }
  std::vector<std::string> events;
  std::vector<CloseReason> close_reasons;
  std::vector<CycleStats> cycles;
  std::function<void(const CycleStats&)> on_cycle;
};

// A collector's doubles: the dumps it is given, and a saver and an observer
// that record what it does.
struct ScriptedRun : collector_test::ScriptedCollector {
  RecordingObserver observer;

  // A collector with `options` dumping `script`, writing to `saver` and
  // reporting to `observer`.
  std::unique_ptr<Collector> Start(const CollectorOptions& options = {}) {
    return ScriptedCollector::Start(options, &observer);
  }
};

TEST(Collector, WritesNewAndChangedConnectionsOnly) {
  ScriptedRun run;
  const inetdiag::Msg a = MakeMsg("10.77.0.2", 40001, "10.77.0.1", 17000, 1);
  const inetdiag::Msg b = MakeMsg("fd77::2", 40002, "fd77::1", 17000, 2);
  run.script.inet = {MakeMessage(a, 280, 1)};
  run.script.inet6 = {MakeMessage(b, 280, 1)};
  auto c = run.Start();
  EXPECT_EQ(c->RunCycle().changes, 2);
  EXPECT_EQ(c->RunCycle().changes, 0);
  run.script.inet6 = {MakeMessage(b, 280, 2)};  // b's counters moved
  EXPECT_EQ(c->RunCycle().changes, 1);
  EXPECT_THAT(run.observer.events,
              ElementsAre("open 2", "snapshot 2 new", "open 1",
                          "snapshot 1 new", "snapshot 2 counters"));
  ASSERT_EQ(run.saver.written.size(), 3u);
  EXPECT_EQ(run.saver.written[2].cookie, 2u);
  EXPECT_EQ(run.saver.written[2].info, std::string(280, '\2'));
  EXPECT_EQ(run.observer.cycles.size(), 3u);
  EXPECT_EQ(run.observer.cycles[2].connections, 2);
}

TEST(Collector, ClosesConnectionsOnlyAfterACompleteCycle) {
  ScriptedRun run;
  const std::string a =
      MakeMessage(MakeMsg("10.77.0.2", 40001, "10.77.0.1", 17000, 11), 280, 1);
  const std::string b =
      MakeMessage(MakeMsg("10.77.0.2", 40002, "10.77.0.1", 17000, 12), 280, 1);
  run.script.inet = {a, b};
  auto c = run.Start();
  EXPECT_TRUE(c->RunCycle().complete);
  // b is missing, but the dump was interrupted: b may just have been missed.
  run.script.inet = {a};
  run.script.inet_complete = false;
  ::testing::internal::CaptureStderr();
  const CycleStats& incomplete = c->RunCycle();
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "tcp-info: netlink dump irregularities: AF_INET [interrupted=1 "
            "incomplete]; no connection closed this cycle (0 similar "
            "suppressed)\n");
  EXPECT_FALSE(incomplete.complete);
  EXPECT_EQ(incomplete.closed, 0);
  EXPECT_TRUE(run.saver.closed.empty());
  // The AF_INET6 dump failing is as bad.
  run.script.inet_complete = true;
  run.script.inet6_complete = false;
  c->RunCycle();
  EXPECT_TRUE(run.saver.closed.empty());
  run.script.inet6_complete = true;
  const CycleStats& complete = c->RunCycle();
  EXPECT_TRUE(complete.complete);
  EXPECT_EQ(complete.closed, 1);
  EXPECT_THAT(run.saver.closed, ElementsAre(12u));
  EXPECT_EQ(run.observer.events.back(), "close 12");
  EXPECT_EQ(c->stats().incomplete_cycles, 2);
  EXPECT_EQ(run.saver.ticks, 4);  // every cycle, complete or not
}

TEST(Collector, FiltersAndAnonymizesBeforeComparingAndWriting) {
  ScriptedSource::Script script;
  script.inet = {
      MakeMessage(MakeMsg("10.77.0.2", 40001, "198.51.100.77", 443, 21), 280,
                  1),
      MakeMessage(MakeMsg("10.77.0.2", 40002, "198.51.100.78", 443, 22), 280,
                  1),
      MakeMessage(MakeMsg("127.0.0.1", 40003, "127.0.0.1", 443, 23), 280, 1),
      MakeMessage(MakeMsg("10.77.0.2", 9990, "198.51.100.79", 443, 24), 280, 1),
      MakeMessage(MakeMsg("10.77.0.2", 40005, "192.0.2.1", 443, 25), 280, 1)};
  script.inet6 = {MakeMessage(
      MakeMsg("fd77::2", 40006, "2001:db8:1:2:3:4:5:6", 443, 26), 280, 1)};
  CollectorOptions o;
  o.anonymize = AnonymizeMode::kNetblock;
  o.host_addresses = {Ip("10.77.0.2"), Ip("fd77::2")};
  o.filter.exclude_srcports = {9990};
  o.filter.exclude_dstips = {Ip("192.0.2.1")};
  RecordingSaver saver;
  auto c = Collector::CreateWithSource(
      o, std::make_unique<ScriptedSource>(&script), &saver, nullptr);
  const CycleStats& s = c->RunCycle();
  EXPECT_EQ(s.skipped, 3);
  ASSERT_EQ(saver.written.size(), 3u);
  std::vector<std::string> dsts;
  for (const auto& w : saver.written) {
    const inetdiag::Msg m = ParsedIdm(w.raw_idm);
    EXPECT_EQ(FormatIpAddress(IpAddress::FromSockId(m.family, m.id.src)),
              m.family == inetdiag::kAfInet ? "10.77.0.2" : "fd77::2");
    dsts.push_back(FormatIpAddress(IpAddress::FromSockId(m.family, m.id.dst)));
  }
  EXPECT_THAT(dsts, UnorderedElementsAre("198.51.100.0", "198.51.100.0",
                                         "2001:db8:1:2::"));
  // The anonymized bytes are what the cache holds: no spurious changes.
  EXPECT_EQ(c->RunCycle().changes, 0);
}

TEST(Collector, RunKeepsTheIntervalAndRunsRepsCycles) {
  ScriptedRun run;
  CollectorOptions o;
  o.interval = absl::Milliseconds(20);
  o.reps = 6;
  auto c = run.Start(o);
  const absl::Time start = absl::Now();
  EXPECT_EQ(c->Run(-1), 6);
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(100));  // 5 waits of 20 ms
  EXPECT_LT(took, absl::Seconds(2));
  ASSERT_EQ(run.observer.cycles.size(), 6u);
  for (size_t i = 1; i < run.observer.cycles.size(); ++i) {
    EXPECT_GE(run.observer.cycles[i].since_previous, absl::Milliseconds(20));
  }
}

TEST(Collector, SlowCyclesRunBackToBackWithoutCatchingUp) {
  ScriptedRun run;
  run.script.delay = absl::Milliseconds(25);  // 50 ms per cycle
  run.observer.on_cycle = [&](const CycleStats& s) {
    if (s.cycle == 3) run.script.delay = absl::ZeroDuration();
  };
  CollectorOptions o;
  o.interval = absl::Milliseconds(20);
  o.reps = 7;
  auto c = run.Start(o);
  c->Run(-1);
  ASSERT_EQ(run.observer.cycles.size(), 7u);
  // Overrunning cycles follow each other at once...
  EXPECT_GE(run.observer.cycles[1].since_previous, absl::Milliseconds(50));
  EXPECT_LT(run.observer.cycles[1].since_previous, absl::Milliseconds(50 + 15));
  // ...and once fast again the period is back, with no burst to catch up.
  for (size_t i = 4; i < 7; ++i) {
    EXPECT_GE(run.observer.cycles[i].since_previous, absl::Milliseconds(20))
        << i;
  }
}

TEST(Collector, RunStopsWhenTheStopDescriptorIsReadableAndServesWatches) {
  ScriptedRun run;
  const int stop = eventfd(0, EFD_NONBLOCK);
  const int watched = eventfd(0, EFD_NONBLOCK);
  int served = 0;
  run.observer.on_cycle = [&](const CycleStats& s) {
    const uint64_t one = 1;
    if (s.cycle == 2) {
      EXPECT_EQ(write(watched, &one, 8), 8);
    }
    if (s.cycle == 4) {
      EXPECT_EQ(write(stop, &one, 8), 8);
    }
  };
  CollectorOptions o;
  o.interval = absl::Milliseconds(5);
  auto c = run.Start(o);
  c->AddWatch(watched, [&] {
    uint64_t v;
    EXPECT_EQ(read(watched, &v, 8), 8);
    ++served;
  });
  EXPECT_EQ(c->Run(stop), 4);
  EXPECT_EQ(served, 1);
  close(stop);
  close(watched);
}

}  // namespace
}  // namespace collector

namespace collector {
namespace {

TEST(Collector, RunLogsAOneLineSummaryEverySummaryInterval) {
  ScriptedSource::Script script;
  script.inet = {
      MakeMessage(MakeMsg("10.77.0.2", 40001, "10.77.0.1", 17000, 31), 280, 1)};
  RecordingSaver saver;
  CollectorOptions o;
  o.interval = absl::Milliseconds(20);
  o.reps = 6;
  o.summary_interval = absl::Milliseconds(50);
  auto c = Collector::CreateWithSource(
      o, std::make_unique<ScriptedSource>(&script), &saver, nullptr);
  ::testing::internal::CaptureStderr();
  c->Run(-1);
  const std::string err = ::testing::internal::GetCapturedStderr();
  const std::vector<std::string> lines =
      absl::StrSplit(err, '\n', absl::SkipEmpty());
  EXPECT_GE(lines.size(), 1u);
  EXPECT_LE(lines.size(), 3u);  // 120 ms of cycles, one line per 50 ms
  for (const std::string& line : lines) {
    EXPECT_THAT(line, ::testing::StartsWith(
                          "tcp-info: summary connections=1 records_written=1 "
                          "changes=1 files_open=0"));
  }
}

// Destroy events (issue 6): the kernel's final message of a socket.

// A destroy message as the kernel sends it: state CLOSE, final tcp_info.
std::string DestroyMessage(uint64_t cookie, uint8_t fill) {
  return MakeMessage(
      MakeMsg("10.77.0.2", 40100, "10.77.0.1", 17000, cookie, tcp::kClose), 280,
      fill);
}

void Deliver(Collector* c, std::string message) {
  c->HandleDestroyed(message.data(), message.size(), absl::Now());
}

TEST(CollectorDestroy, ConnectionNoPollSawGetsAnArchiveFromItsEvent) {
  ScriptedRun run;
  auto c = run.Start();
  c->RunCycle();
  Deliver(c.get(), DestroyMessage(31, 7));
  ASSERT_EQ(run.saver.written.size(), 1u);
  EXPECT_EQ(run.saver.written[0].cookie, 31u);
  EXPECT_EQ(ParsedIdm(run.saver.written[0].raw_idm).state, tcp::kClose);
  EXPECT_EQ(run.saver.written[0].info, std::string(280, '\7'));
  EXPECT_THAT(run.saver.closed, ElementsAre(31u));
  EXPECT_THAT(run.observer.events,
              ElementsAre("open 31", "snapshot 31 new", "close 31"));
  EXPECT_THAT(run.observer.close_reasons, ElementsAre(CloseReason::kDestroyed));
  EXPECT_EQ(c->stats().event_only_archives, 1);
  EXPECT_EQ(c->stats().destroy_events, 1);
  // The same event again (e.g. both families' groups) changes nothing.
  Deliver(c.get(), DestroyMessage(31, 7));
  EXPECT_EQ(run.saver.written.size(), 1u);
  EXPECT_EQ(c->stats().destroy_duplicates, 1);
}

TEST(CollectorDestroy, EventIsTheFinalRecordAndADumpInFlightDoesNotReopen) {
  ScriptedRun run;
  const std::string polled =
      MakeMessage(MakeMsg("10.77.0.2", 40100, "10.77.0.1", 17000, 32), 280, 1);
  run.script.inet = {polled};
  auto c = run.Start();
  c->RunCycle();
  Deliver(c.get(), DestroyMessage(32, 9));
  // A dump that still carries the connection (taken before it died).
  const CycleStats& next = c->RunCycle();
  EXPECT_EQ(next.opened, 0);
  EXPECT_EQ(next.changes, 0);
  ASSERT_EQ(run.saver.written.size(), 2u);
  EXPECT_EQ(ParsedIdm(run.saver.written[0].raw_idm).state, tcp::kEstablished);
  EXPECT_EQ(ParsedIdm(run.saver.written[1].raw_idm).state, tcp::kClose);
  EXPECT_EQ(run.saver.written[1].info, std::string(280, '\11'));
  EXPECT_THAT(run.saver.closed, ElementsAre(32u));
  EXPECT_THAT(run.observer.events,
              ElementsAre("open 32", "snapshot 32 new", "snapshot 32 state",
                          "close 32"));
  EXPECT_EQ(c->stats().late_dump_records, 1);
  EXPECT_EQ(c->stats().event_only_archives, 0);
}

TEST(CollectorDestroy, GoneFromDumpWaitsForItsEventWithinTheGrace) {
  ScriptedRun run;
  run.script.inet = {
      MakeMessage(MakeMsg("10.77.0.2", 40100, "10.77.0.1", 17000, 33), 280, 1),
      MakeMessage(MakeMsg("10.77.0.2", 40101, "10.77.0.1", 17000, 34), 280, 1)};
  CollectorOptions options;
  options.destroy_grace = absl::Milliseconds(300);
  auto c = run.Start(options);
  c->RunCycle();
  run.script.inet.clear();  // both gone from the dumps
  EXPECT_EQ(c->RunCycle().closed, 0);
  EXPECT_TRUE(run.saver.closed.empty());
  // 33's event arrives late (the kernel sends it from a workqueue): it is
  // still the connection's final record, in the same file.
  Deliver(c.get(), DestroyMessage(33, 5));
  EXPECT_THAT(run.saver.closed, ElementsAre(33u));
  ASSERT_EQ(run.saver.written.size(), 3u);
  EXPECT_EQ(run.saver.written[2].cookie, 33u);
  EXPECT_EQ(run.saver.written[2].info, std::string(280, '\5'));
  EXPECT_EQ(c->stats().event_only_archives, 0);
  // 34's never comes (events lost): closed by absence once the grace ends.
  absl::SleepFor(absl::Milliseconds(350));
  EXPECT_EQ(c->RunCycle().closed, 1);
  EXPECT_THAT(run.saver.closed, ElementsAre(33u, 34u));
  EXPECT_THAT(run.observer.close_reasons,
              ElementsAre(CloseReason::kDestroyed, CloseReason::kAbsent));
  EXPECT_EQ(run.saver.written.size(), 3u);
}

TEST(CollectorDestroy, ReturnInADumpDuringTheGraceKeepsTheFileOpen) {
  ScriptedRun run;
  const std::string a =
      MakeMessage(MakeMsg("10.77.0.2", 40100, "10.77.0.1", 17000, 35), 280, 1);
  run.script.inet = {a};
  CollectorOptions options;
  options.destroy_grace = absl::Seconds(5);
  auto c = run.Start(options);
  c->RunCycle();
  run.script.inet.clear();
  c->RunCycle();
  run.script.inet = {a};  // back: it was only missing from one dump
  EXPECT_EQ(c->RunCycle().opened, 0);
  EXPECT_TRUE(run.saver.closed.empty());
  EXPECT_EQ(std::count(run.observer.events.begin(), run.observer.events.end(),
                       "open 35"),
            1);
}

// Clocks (collector.h): a destroy event carries the wall time it was
// handled at, however far that is from now, but the connection is
// remembered as finished for finished_memory of monotonic time from then:
// an event stamped an hour back (the wall clock was stepped forward since)
// still keeps later dumps from reopening the connection.
TEST(CollectorDestroy, FinishedMemoryIsMonotonicWhateverTheEventsWallTime) {
  ScriptedRun run;
  run.script.inet = {
      MakeMessage(MakeMsg("10.77.0.2", 40100, "10.77.0.1", 17000, 36), 280, 1)};
  auto c = run.Start();
  c->RunCycle();
  const absl::Time received = absl::Now() - absl::Hours(1);
  std::string event = DestroyMessage(36, 4);
  c->HandleDestroyed(event.data(), event.size(), received);
  ASSERT_EQ(run.saver.written.size(), 2u);
  EXPECT_EQ(
      run.saver.written[1].timestamp,
      parse::Timestamp::FromUnixNanos(absl::ToUnixMillis(received) * 1000000));
  // Dumps still in flight carry it: ignored, not reopened, also once the
  // once-a-second expiry has run (it would forget an entry an hour old by
  // the wall clock).
  EXPECT_EQ(c->RunCycle().opened, 0);
  absl::SleepFor(absl::Milliseconds(1100));
  EXPECT_EQ(c->RunCycle().opened, 0);
  EXPECT_EQ(c->RunCycle().opened, 0);
  EXPECT_EQ(c->stats().late_dump_records, 3);
  EXPECT_EQ(run.saver.written.size(), 2u);
  EXPECT_THAT(run.saver.closed, ElementsAre(36u));
}

// Every duration of a cycle is measured on the monotonic clock:
// since_previous is exactly the distance between the monotonic starts.
TEST(Collector, CycleDurationsComeFromTheMonotonicClock) {
  ScriptedRun run;
  CollectorOptions o;
  o.interval = absl::Milliseconds(5);
  o.reps = 4;
  auto c = run.Start(o);
  EXPECT_EQ(c->Run(-1), 4);
  ASSERT_EQ(run.observer.cycles.size(), 4u);
  EXPECT_EQ(run.observer.cycles[0].since_previous, absl::ZeroDuration());
  for (size_t i = 1; i < run.observer.cycles.size(); ++i) {
    const CycleStats& s = run.observer.cycles[i];
    EXPECT_EQ(s.since_previous,
              absl::FromChrono(s.monotonic_start -
                               run.observer.cycles[i - 1].monotonic_start));
    EXPECT_GE(s.since_previous, absl::Milliseconds(5));
    EXPECT_GE(s.elapsed, absl::ZeroDuration());
  }
}

}  // namespace
}  // namespace collector
