// The traffic layer's observer, fed by a scripted Collector (hand-made
// inet_diag messages, destroy events through Collector::HandleDestroyed):
// the exact series it adds, their labels, services, prefixes and the cap.
#include "traffic/traffic_observer.h"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "collector/collector.h"
#include "gtest/gtest.h"
#include "tcp/tcp_info.h"
#include "tests/collector_fakes.h"
#include "tests/flow_fakes.h"
#include "traffic/header_size.h"

namespace traffic {
namespace {

using collector_test::MakeMsg;
using flows_test::MakeInfoMessage;

constexpr uint64_t kA = 0xA1, kB = 0xB2, kC = 0xC3;
constexpr uint8_t kTimestamps = kTcpiOptTimestamps;

tcp::TcpInfo Counters(uint64_t sent, uint64_t received, uint32_t segs_out,
                      uint32_t segs_in, uint8_t options = kTimestamps) {
  tcp::TcpInfo i{};
  i.state = tcp::kEstablished;
  i.options = options;
  i.bytes_sent = sent;
  i.bytes_received = received;
  i.segs_out = segs_out;
  i.segs_in = segs_in;
  return i;
}

std::string Message(const inetdiag::Msg& msg, const tcp::TcpInfo& info) {
  return MakeInfoMessage(msg, info);
}

// A client of port 17000 ("farm", a named service) and one of port 5555
// (no name).
inetdiag::Msg Out4(uint64_t cookie = kA, const char* remote = "10.77.0.1",
                   uint16_t remote_port = 17000) {
  return MakeMsg("10.77.0.2", 40001, remote, remote_port, cookie);
}

class TrafficObserverTest : public ::testing::Test {
 protected:
  void Start(TrafficOptions options = {}) {
    options.services = &services_;
    options.listening = &listening_;
    observer_ = std::make_unique<TrafficObserver>(options);
    collector_ = run_.Start({}, observer_.get());
  }

  void Cycle(std::vector<std::string> inet,
             std::vector<std::string> inet6 = {}) {
    run_.script.inet = std::move(inet);
    run_.script.inet6 = std::move(inet6);
    collector_->RunCycle();
  }

  void Destroy(std::string message) {
    collector_->HandleDestroyed(message.data(), message.size(), absl::Now());
  }

  // The three values of series {src, dst, service, "tcp"}.
  std::vector<uint64_t> Values(absl::string_view src, absl::string_view dst,
                               absl::string_view service) const {
    const std::vector<absl::string_view> labels = {src, dst, service, "tcp"};
    const metrics::LabelledCounters& c = observer_->counters();
    return {c.ValueForTest(TrafficObserver::kBytes, labels),
            c.ValueForTest(TrafficObserver::kPackets, labels),
            c.ValueForTest(TrafficObserver::kPayload, labels)};
  }

  ServiceNames services_ =
      ServiceNames::Parse("farm 17000/tcp\nfarmu 17001/udp\nback 40001/tcp\n");
  flows::ListeningPorts listening_;
  std::unique_ptr<TrafficObserver> observer_;
  collector_test::ScriptedCollector run_;
  std::unique_ptr<collector::Collector> collector_;
};

TEST_F(TrafficObserverTest, EachDirectionAddsPayloadPlusSegmentsTimesHeaders) {
  Start();
  Cycle({});  // the daemon's first cycle: nothing there yet
  Cycle({Message(Out4(), Counters(1000, 300, 10, 8))});
  Cycle({Message(Out4(), Counters(5000, 900, 14, 11))});
  // Unchanged: no snapshot, nothing added.
  Cycle({Message(Out4(), Counters(5000, 900, 14, 11))});
  // Final deltas come with the destroy event; bytes_received counts the
  // peer's FIN, which is no payload.
  tcp::TcpInfo last = Counters(7000, 1001, 20, 15);
  last.state = tcp::kClose;
  inetdiag::Msg closed = Out4();
  closed.state = tcp::kClose;
  Destroy(Message(closed, last));
  EXPECT_EQ(observer_->open_connections(), 0u);

  const uint64_t h = 20 + 20 + 12;
  EXPECT_EQ(Values("10.77.0.2", "10.77.0.1", "farm"),
            (std::vector<uint64_t>{7000 + 20 * h, 20, 7000}));
  EXPECT_EQ(Values("10.77.0.1", "10.77.0.2", "farm"),
            (std::vector<uint64_t>{1000 + 15 * h, 15, 1000}));
  EXPECT_EQ(observer_->counters().series(), 2u);
}

TEST_F(TrafficObserverTest,
       ConnectionsThereAtStartCountFromTheirFirstSnapshot) {
  Start();
  Cycle({Message(Out4(), Counters(1 << 20, 1 << 19, 900, 800))});
  Cycle({Message(Out4(), Counters((1 << 20) + 100, 1 << 19, 902, 801))});
  EXPECT_EQ(Values("10.77.0.2", "10.77.0.1", "farm"),
            (std::vector<uint64_t>{100 + 2 * 52, 2, 100}));
  EXPECT_EQ(Values("10.77.0.1", "10.77.0.2", "farm"),
            (std::vector<uint64_t>{52, 1, 0}));
}

TEST_F(TrafficObserverTest, HeadersFollowFamilyAndOptions) {
  Start();
  Cycle({});
  const inetdiag::Msg v6 = MakeMsg("fd77::2", 40002, "fd77::1", 17000, kB);
  const inetdiag::Msg mapped =
      MakeMsg("::ffff:10.77.0.2", 40003, "::ffff:10.77.0.1", 17000, kC);
  Cycle({Message(Out4(kA, "10.77.0.9"), Counters(100, 0, 1, 0, 0))},
        {Message(v6, Counters(100, 0, 1, 0)),
         Message(mapped, Counters(100, 0, 1, 0))});
  EXPECT_EQ(Values("10.77.0.2", "10.77.0.9", "farm")[0], 100u + 40);
  EXPECT_EQ(Values("fd77::2", "fd77::1", "farm")[0], 100u + 72);
  // A v4-mapped socket sends IPv4 packets and is labelled as IPv4.
  EXPECT_EQ(Values("10.77.0.2", "10.77.0.1", "farm")[0], 100u + 52);
}

TEST_F(TrafficObserverTest, ServiceIsTheListeningSidesPortName) {
  listening_.Set({40001});
  Start();
  Cycle({});
  // Local port 40001 listens: an incoming connection of service "back",
  // whatever the remote port is named.
  Cycle({Message(Out4(kA, "10.77.0.1", 17000), Counters(10, 0, 1, 0))});
  EXPECT_EQ(Values("10.77.0.2", "10.77.0.1", "back")[2], 10u);
  EXPECT_EQ(Values("10.77.0.2", "10.77.0.1", "farm")[2], 0u);
  listening_.Set({});
  // Outgoing to a port without a tcp name: service "".
  Cycle({Message(Out4(kB, "10.77.0.3", 17001), Counters(20, 0, 1, 0))});
  EXPECT_EQ(Values("10.77.0.2", "10.77.0.3", "")[2], 20u);
}

TEST_F(TrafficObserverTest, ListeningSocketsAddNothing) {
  Start();
  Cycle({});
  Cycle({Message(MakeMsg("10.77.0.2", 17000, "0.0.0.0", 0, kA, tcp::kListen),
                 Counters(0, 0, 0, 0))});
  EXPECT_EQ(observer_->open_connections(), 0u);
  EXPECT_EQ(observer_->counters().series(), 0u);
}

TEST_F(TrafficObserverTest, PrefixesAggregateLocalAndRemoteApart) {
  TrafficOptions o;
  o.local_prefix = {.v4 = 24, .v6 = 128};
  o.remote_prefix = {.v4 = 16, .v6 = 64};
  Start(o);
  Cycle({});
  Cycle({Message(Out4(kA, "10.77.5.1"), Counters(10, 0, 1, 0)),
         Message(Out4(kB, "10.77.6.1"), Counters(30, 0, 1, 0))},
        {Message(MakeMsg("fd77::2", 40002, "fd77::1:2", 17000, kC),
                 Counters(7, 0, 1, 0))});
  EXPECT_EQ(Values("10.77.0.0/24", "10.77.0.0/16", "farm")[2], 40u);
  EXPECT_EQ(Values("fd77::2", "fd77::/64", "farm")[2], 7u);
}

TEST_F(TrafficObserverTest, SeriesPastTheCapAreSummedUnderOther) {
  TrafficOptions o;
  o.max_series = 2;
  Start(o);
  Cycle({});
  Cycle({Message(Out4(kA, "10.77.0.1"), Counters(10, 5, 1, 1)),
         Message(Out4(kB, "10.77.0.3"), Counters(20, 6, 1, 1))});
  EXPECT_EQ(observer_->counters().series(), 3u);  // 2, and other
  EXPECT_EQ(observer_->counters().overflowed(), 2u);
  const std::vector<absl::string_view> other = {"other", "other", "other",
                                                "other"};
  EXPECT_EQ(
      observer_->counters().ValueForTest(TrafficObserver::kPayload, other),
      20u + 6);  // B's two directions; A's have the two series
}

TEST_F(TrafficObserverTest, ThirtyTwoBitSegmentCountersCarryAcrossTheirWrap) {
  Start();
  Cycle({});
  Cycle({Message(Out4(), Counters(0, 0, 0xFFFFFFF0u, 0))});
  Cycle({Message(Out4(), Counters(100, 0, 0x10u, 0))});
  // 0xFFFFFFF0 from zero, then 0x20 across the wrap.
  EXPECT_EQ(Values("10.77.0.2", "10.77.0.1", "farm")[1], 0xFFFFFFF0ull + 0x20);
}

TEST_F(TrafficObserverTest, FamiliesAreNamedByThePrefix) {
  TrafficOptions o;
  o.metric_prefix = "edge";
  Start(o);
  Cycle({});
  Cycle({Message(Out4(), Counters(10, 0, 1, 0))});
  std::vector<std::string> names;
  for (const auto& f : observer_->collectable()->Collect()) {
    names.push_back(f.name);
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"edge_bytes_total", "edge_packets_total",
                                      kPayloadFamily, kOverflowFamily}));
}

TEST_F(TrafficObserverTest, FqdnLabelsPeersOnceTheirNameIsKnown) {
  PeerNames names({.resolve = [](const collector::IpAddress& a) {
    return collector::FormatIpAddress(a) == "10.77.0.1" ? "srv.example" : "";
  }});
  TrafficOptions o;
  o.names = &names;
  Start(o);
  Cycle({});
  Cycle({Message(Out4(), Counters(10, 0, 1, 0))});
  for (int i = 0; i < 500 && names.resolved() < 2; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(names.resolved(), 2);
  Cycle({Message(Out4(), Counters(30, 0, 2, 0))});
  // The first add, before the name was known, went to the address.
  EXPECT_EQ(Values("10.77.0.2", "10.77.0.1", "farm")[2], 10u);
  EXPECT_EQ(Values("10.77.0.2", "srv.example", "farm")[2], 20u);
}

TEST_F(TrafficObserverTest, AHangingResolverNeverDelaysACycle) {
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool open = false;
  };
  auto gate = std::make_shared<Gate>();
  auto names = std::make_unique<PeerNames>(
      PeerNamesOptions{.resolve = [gate](const collector::IpAddress&) {
        std::unique_lock<std::mutex> lock(gate->mu);
        gate->cv.wait(lock, [&] { return gate->open; });
        return std::string("never.example");
      }});
  TrafficOptions o;
  o.names = names.get();
  Start(o);
  Cycle({});
  // 300 peers, each new to the resolver, whose thread hangs on the first.
  for (uint32_t round = 1; round <= 3; ++round) {
    std::vector<std::string> dump;
    for (int i = 0; i < 300; ++i) {
      const std::string peer =
          absl::StrCat("10.77.", 1 + i / 200, ".", i % 200);
      dump.push_back(Message(Out4(kA + i, peer.c_str()),
                             Counters(100 * round, 0, round, 0)));
    }
    const absl::Time start = absl::Now();
    Cycle(dump);
    EXPECT_LT(absl::Now() - start, absl::Milliseconds(200)) << round;
  }
  // Every peer is labelled by its address, with all it sent.
  EXPECT_EQ(Values("10.77.0.2", "10.77.2.99", "farm")[2], 300u);
  EXPECT_EQ(Values("10.77.0.2", "10.77.1.0", "farm")[2], 300u);
  names.reset();
  {
    std::lock_guard<std::mutex> lock(gate->mu);
    gate->open = true;
  }
  gate->cv.notify_all();
}

}  // namespace
}  // namespace traffic
