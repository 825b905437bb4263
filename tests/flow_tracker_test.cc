// The flows layer's tracker, fed by a scripted Collector (hand-made
// inet_diag messages, destroy events through Collector::HandleDestroyed) on
// a monotonic clock the test sets: records and their exact fields.
#include "flows/flow_tracker.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "collector/collector.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tcp/tcp_info.h"
#include "tests/collector_fakes.h"
#include "tests/flow_fakes.h"

namespace flows {
namespace {

using collector_test::Ip;
using collector_test::MakeMsg;
using flows_test::Add;
using flows_test::MakeInfoMessage;
using flows_test::Minus;
using flows_test::RecordingConsumer;

// Passes every call on to the tracker, each cycle's monotonic start
// replaced by `now`, which the test sets.
class ClockedObserver : public collector::CollectorObserver {
 public:
  explicit ClockedObserver(FlowTracker* tracker) : tracker_(tracker) {}
  void OnFlowOpen(uint64_t cookie, parse::Timestamp timestamp,
                  const parse::RecordView& first) override {
    tracker_->OnFlowOpen(cookie, timestamp, first);
  }
  void OnSnapshot(uint64_t cookie, parse::Timestamp timestamp,
                  const parse::RecordView& record,
                  parse::Change change) override {
    tracker_->OnSnapshot(cookie, timestamp, record, change);
  }
  void OnFlowClose(uint64_t cookie, parse::Timestamp timestamp,
                   collector::CloseReason reason) override {
    tracker_->OnFlowClose(cookie, timestamp, reason);
  }
  void OnCycle(const collector::CycleStats& stats) override {
    collector::CycleStats s = stats;
    s.monotonic_start = now;
    tracker_->OnCycle(s);
  }
  std::chrono::steady_clock::time_point now;

 private:
  FlowTracker* tracker_;
};

// A tcp_info whose fields are distinct functions of `n`, growing with it
// (the RTTs and the delivery rate excepted).
tcp::TcpInfo Info(uint32_t n) {
  tcp::TcpInfo i{};
  i.state = tcp::kEstablished;
  i.bytes_acked = n * 1000 + 1;
  i.bytes_received = n * 1000 + 2;
  i.bytes_sent = n * 1000 + 3;
  i.bytes_retrans = n * 10 + 4;
  i.segs_out = n * 100 + 5;
  i.segs_in = n * 100 + 6;
  i.data_segs_out = n * 100 + 7;
  i.data_segs_in = n * 100 + 8;
  i.total_retrans = n + 9;
  i.busy_time = n * 10000 + 10;
  i.rwnd_limited = n * 1000 + 11;
  i.sndbuf_limited = n * 100 + 12;
  i.rtt = 200 + n;
  i.min_rtt = 150 - n % 4;
  i.delivery_rate = 1000000 * (n % 3 + 1);
  return i;
}

// The counters a record takes from `i` (without wraps).
FlowCounters CountersOf(const tcp::TcpInfo& i) {
  FlowCounters c;
  c.bytes_acked = i.bytes_acked;
  c.bytes_received = i.bytes_received;
  c.bytes_sent = i.bytes_sent;
  c.bytes_retrans = i.bytes_retrans;
  c.segs_out = i.segs_out;
  c.segs_in = i.segs_in;
  c.data_segs_out = i.data_segs_out;
  c.data_segs_in = i.data_segs_in;
  c.retrans_segs = i.total_retrans;
  c.busy_us = i.busy_time;
  c.rwnd_limited_us = i.rwnd_limited;
  c.sndbuf_limited_us = i.sndbuf_limited;
  return c;
}

constexpr uint64_t kA = 0x2A, kB = 0x2B, kC = 0x2C;

inetdiag::Msg FlowA(uint8_t state = tcp::kEstablished) {
  return MakeMsg("10.77.0.2", 40001, "10.77.0.1", 17000, kA, state);
}
inetdiag::Msg FlowB(uint8_t state = tcp::kEstablished) {
  return MakeMsg("fd77::2", 40002, "fd77::1", 17000, kB, state);
}

class FlowTrackerTest : public ::testing::Test {
 protected:
  static FlowTrackerOptions Options() {
    FlowTrackerOptions o;
    o.uuid_prefix = "test";
    o.active_timeout = absl::Seconds(1);
    o.watch_listeners = false;
    return o;
  }

  void Start(const collector::CollectorOptions& options = {}) {
    collector_ = run_.Start(options, &clocked_);
  }

  // One collector cycle dumping `inet` (AF_INET) and `inet6`, at monotonic
  // second `at`. Sleeps 2 ms first, so that every cycle's (millisecond)
  // timestamp is its own.
  void CycleAt(double at, std::vector<std::string> inet,
               std::vector<std::string> inet6 = {}) {
    absl::SleepFor(absl::Milliseconds(2));
    run_.script.inet = std::move(inet);
    run_.script.inet6 = std::move(inet6);
    clocked_.now = std::chrono::steady_clock::time_point(
        std::chrono::nanoseconds(static_cast<int64_t>(at * 1e9)));
    collector_->RunCycle();
  }

  void Destroy(std::string message) {
    absl::SleepFor(absl::Milliseconds(2));
    collector_->HandleDestroyed(message.data(), message.size(), absl::Now());
  }

  // The timestamps of the snapshots written for `cookie`, in order.
  std::vector<parse::Timestamp> Written(uint64_t cookie) const {
    std::vector<parse::Timestamp> out;
    for (const auto& w : run_.saver.written) {
      if (w.cookie == cookie) out.push_back(w.timestamp);
    }
    return out;
  }

  RecordingConsumer consumer_;
  FlowTracker tracker_{Options(), &consumer_};
  ClockedObserver clocked_{&tracker_};
  collector_test::ScriptedCollector run_;
  std::unique_ptr<collector::Collector> collector_;
};

TEST_F(FlowTrackerTest, DestroyedFlowGetsOneFinalRecordWithTheSocketsFields) {
  Start();
  CycleAt(0, {MakeInfoMessage(FlowA(), Info(1))});
  tcp::TcpInfo last = Info(2);
  last.state = tcp::kClose;
  Destroy(MakeInfoMessage(FlowA(tcp::kClose), last));
  const std::vector<FlowRecord> records = consumer_.records();
  ASSERT_EQ(records.size(), 1u);
  const FlowRecord& r = records[0];
  EXPECT_EQ(r.uuid, "test_000000000000002A");
  EXPECT_EQ(r.cookie, kA);
  EXPECT_EQ(r.seq, 0u);
  EXPECT_EQ(r.kind, RecordKind::kFinal);
  EXPECT_EQ(r.end_reason, EndReason::kDestroyed);
  EXPECT_EQ(r.local, Ip("10.77.0.2"));
  EXPECT_EQ(r.remote, Ip("10.77.0.1"));
  EXPECT_EQ(r.local_port, 40001);
  EXPECT_EQ(r.remote_port, 17000);
  EXPECT_EQ(r.direction, Direction::kOut);
  EXPECT_EQ(r.congestion_algorithm, "cubic");
  EXPECT_EQ(r.state, tcp::kClose);
  const std::vector<parse::Timestamp> written = Written(kA);
  ASSERT_EQ(written.size(), 2u);
  EXPECT_EQ(r.start_time, written[0]);
  EXPECT_EQ(r.end_time, written[1]);
  EXPECT_NE(r.start_time, r.end_time);
  EXPECT_EQ(r.total, CountersOf(last));
  EXPECT_EQ(r.delta, r.total);    // the first record's deltas are its totals
  EXPECT_EQ(r.min_rtt_us, 148u);  // the lower of 149 and 148
  EXPECT_EQ(r.rtt_us, 202u);      // the last
  EXPECT_EQ(r.max_delivery_rate, 3000000u);
  // busy 20010 us, of it 2011 rwnd and 212 sndbuf: 17787 network.
  EXPECT_EQ(r.limited_by, LimitedBy::kNetwork);
  EXPECT_EQ(tracker_.open_flows(), 0u);
}

TEST_F(FlowTrackerTest,
       InterimRecordsEveryActiveTimeoutCarryDeltasSumToTotals) {
  Start();
  std::vector<tcp::TcpInfo> at_record;  // the tcp_info each record holds
  CycleAt(0, {MakeInfoMessage(FlowA(), Info(1))});
  CycleAt(0.5, {MakeInfoMessage(FlowA(), Info(2))});
  EXPECT_TRUE(consumer_.records().empty());  // due at 1.0
  CycleAt(1.0, {MakeInfoMessage(FlowA(), Info(3))});
  at_record.push_back(Info(3));
  ASSERT_EQ(consumer_.records().size(), 1u);
  CycleAt(1.5, {MakeInfoMessage(FlowA(), Info(4))});
  CycleAt(1.999, {MakeInfoMessage(FlowA(), Info(5))});
  EXPECT_EQ(consumer_.records().size(), 1u);  // due at 2.0
  CycleAt(2.0, {MakeInfoMessage(FlowA(), Info(6))});
  at_record.push_back(Info(6));
  CycleAt(2.5, {MakeInfoMessage(FlowA(), Info(7))});
  tcp::TcpInfo last = Info(8);
  Destroy(MakeInfoMessage(FlowA(tcp::kClose), last));
  at_record.push_back(last);

  const std::vector<FlowRecord> records = consumer_.records();
  ASSERT_EQ(records.size(), 3u);
  const std::vector<parse::Timestamp> written = Written(kA);
  ASSERT_EQ(written.size(), 8u);
  const parse::Timestamp end_times[] = {written[2], written[5], written[7]};
  FlowCounters sum, previous;
  for (size_t i = 0; i < records.size(); ++i) {
    const FlowRecord& r = records[i];
    SCOPED_TRACE(i);
    EXPECT_EQ(r.seq, i);
    EXPECT_EQ(r.kind, i < 2 ? RecordKind::kInterim : RecordKind::kFinal);
    EXPECT_EQ(r.end_reason,
              i < 2 ? EndReason::kInterim : EndReason::kDestroyed);
    EXPECT_EQ(r.uuid, "test_000000000000002A");
    EXPECT_EQ(r.start_time, written[0]);
    EXPECT_EQ(r.end_time, end_times[i]);
    EXPECT_EQ(r.total, CountersOf(at_record[i]));
    EXPECT_EQ(r.delta, Minus(r.total, previous));
    EXPECT_EQ(r.rtt_us, at_record[i].rtt);
    previous = r.total;
    sum = Add(sum, r.delta);
  }
  EXPECT_EQ(sum, records.back().total);
  EXPECT_EQ(records[0].state, tcp::kEstablished);
  EXPECT_EQ(records[2].state, tcp::kClose);
}

TEST_F(FlowTrackerTest, IdleFlowGetsNoInterimRecordUntilItMoves) {
  Start();
  CycleAt(0, {MakeInfoMessage(FlowA(), Info(1))});
  // Unchanged, but its first record is due: its deltas are its totals.
  CycleAt(1.0, {MakeInfoMessage(FlowA(), Info(1))});
  ASSERT_EQ(consumer_.records().size(), 1u);
  EXPECT_EQ(consumer_.records()[0].delta, CountersOf(Info(1)));
  // Due again at 2.0, but idle: nothing, then or later.
  CycleAt(2.0, {MakeInfoMessage(FlowA(), Info(1))});
  CycleAt(3.0, {MakeInfoMessage(FlowA(), Info(1))});
  EXPECT_EQ(consumer_.records().size(), 1u);
  // Overdue: its first move makes a record at once...
  CycleAt(3.2, {MakeInfoMessage(FlowA(), Info(2))});
  ASSERT_EQ(consumer_.records().size(), 2u);
  EXPECT_EQ(consumer_.records()[1].seq, 1u);
  EXPECT_EQ(consumer_.records()[1].delta,
            Minus(CountersOf(Info(2)), CountersOf(Info(1))));
  // ...and the next is due active_timeout after it.
  CycleAt(3.7, {MakeInfoMessage(FlowA(), Info(3))});
  EXPECT_EQ(consumer_.records().size(), 2u);
  CycleAt(4.2, {MakeInfoMessage(FlowA(), Info(3))});
  ASSERT_EQ(consumer_.records().size(), 3u);
  EXPECT_EQ(consumer_.records()[2].delta,
            Minus(CountersOf(Info(3)), CountersOf(Info(2))));
  // An RTT-only change moves no counter: no record.
  tcp::TcpInfo rtt_only = Info(3);
  rtt_only.rtt = 999;
  CycleAt(5.2, {MakeInfoMessage(FlowA(), rtt_only)});
  EXPECT_EQ(consumer_.records().size(), 3u);
}

TEST_F(FlowTrackerTest, ThirtyTwoBitCountersAreCarriedAcrossTheirWrap) {
  Start();
  tcp::TcpInfo before = Info(1);
  before.segs_out = 0xFFFFFFF0u;
  before.segs_in = 0xFFFFFFFFu;
  before.data_segs_out = 0xFFFFFF00u;
  before.data_segs_in = 5;
  before.total_retrans = 0xFFFFFFFEu;
  CycleAt(0, {MakeInfoMessage(FlowA(), before)});
  CycleAt(1.0, {MakeInfoMessage(FlowA(), before)});
  ASSERT_EQ(consumer_.records().size(), 1u);
  EXPECT_EQ(consumer_.records()[0].total.segs_out, 0xFFFFFFF0u);
  tcp::TcpInfo after = before;
  after.segs_out = 0x10;
  after.segs_in = 0;
  after.data_segs_out = 0x100;
  after.data_segs_in = 6;
  after.total_retrans = 1;
  CycleAt(1.5, {MakeInfoMessage(FlowA(), after)});
  tcp::TcpInfo twice = after;  // and on
  twice.segs_out = 0x20;
  CycleAt(1.6, {MakeInfoMessage(FlowA(), twice)});
  CycleAt(2.0, {MakeInfoMessage(FlowA(), twice)});
  const std::vector<FlowRecord> records = consumer_.records();
  ASSERT_EQ(records.size(), 2u);
  const FlowRecord& r = records[1];
  EXPECT_EQ(r.total.segs_out, 0x100000020u);
  EXPECT_EQ(r.delta.segs_out, 0x30u);
  EXPECT_EQ(r.total.segs_in, 0x100000000u);
  EXPECT_EQ(r.delta.segs_in, 1u);
  EXPECT_EQ(r.total.data_segs_out, 0x100000100u);
  EXPECT_EQ(r.delta.data_segs_out, 0x200u);
  EXPECT_EQ(r.total.data_segs_in, 6u);
  EXPECT_EQ(r.delta.data_segs_in, 1u);
  EXPECT_EQ(r.total.retrans_segs, 0x100000001u);
  EXPECT_EQ(r.delta.retrans_segs, 3u);
}

TEST_F(FlowTrackerTest,
       FlowMissingFromACompleteDumpEndsAbsentAtItsLastSnapshot) {
  Start();
  CycleAt(0, {MakeInfoMessage(FlowA(), Info(1))},
          {MakeInfoMessage(FlowB(), Info(1))});
  CycleAt(0.5, {MakeInfoMessage(FlowA(), Info(2))},
          {MakeInfoMessage(FlowB(), Info(1))});
  // An incomplete dump without A closes nothing.
  run_.script.inet_complete = false;
  CycleAt(0.6, {}, {MakeInfoMessage(FlowB(), Info(1))});
  EXPECT_TRUE(consumer_.records().empty());
  run_.script.inet_complete = true;
  CycleAt(0.7, {}, {MakeInfoMessage(FlowB(), Info(1))});
  const std::vector<FlowRecord> records = consumer_.records();
  ASSERT_EQ(records.size(), 1u);
  const FlowRecord& r = records[0];
  EXPECT_EQ(r.cookie, kA);
  EXPECT_EQ(r.kind, RecordKind::kFinal);
  EXPECT_EQ(r.end_reason, EndReason::kAbsent);
  EXPECT_EQ(r.end_time, Written(kA).back());  // not the closing cycle's time
  EXPECT_EQ(r.total, CountersOf(Info(2)));
  EXPECT_EQ(r.state, tcp::kEstablished);
  EXPECT_EQ(tracker_.open_flows(), 1u);
}

TEST_F(FlowTrackerTest, DestroyEventAfterTheFlowLeftTheDumpsEndsItDestroyed) {
  collector::CollectorOptions o;
  o.destroy_grace = absl::Seconds(30);
  Start(o);
  CycleAt(0, {MakeInfoMessage(FlowA(), Info(1))});
  CycleAt(0.1, {});  // gone from a complete dump: waits for its event
  EXPECT_TRUE(consumer_.records().empty());
  Destroy(MakeInfoMessage(FlowA(tcp::kClose), Info(3)));
  const std::vector<FlowRecord> records = consumer_.records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].end_reason, EndReason::kDestroyed);
  EXPECT_EQ(records[0].total, CountersOf(Info(3)));
  EXPECT_EQ(records[0].end_time, Written(kA).back());
  EXPECT_EQ(records[0].state, tcp::kClose);
}

TEST_F(FlowTrackerTest, ConnectionOnlyItsDestroyEventShowedGetsOneFinalRecord) {
  Start();
  CycleAt(0, {});
  Destroy(MakeInfoMessage(FlowA(tcp::kClose), Info(4)));
  const std::vector<FlowRecord> records = consumer_.records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].seq, 0u);
  EXPECT_EQ(records[0].end_reason, EndReason::kDestroyed);
  EXPECT_EQ(records[0].start_time, records[0].end_time);
  EXPECT_EQ(records[0].total, CountersOf(Info(4)));
  EXPECT_EQ(records[0].delta, records[0].total);
  // Its queue entry, if any, makes nothing later.
  CycleAt(5, {});
  EXPECT_EQ(consumer_.records().size(), 1u);
}

TEST_F(FlowTrackerTest, FinishAllEndsEveryOpenFlowWithDaemonStop) {
  Start();
  CycleAt(0, {MakeInfoMessage(FlowA(), Info(1))},
          {MakeInfoMessage(FlowB(), Info(1))});
  CycleAt(1.0, {MakeInfoMessage(FlowA(), Info(2))},
          {MakeInfoMessage(FlowB(), Info(2))});
  CycleAt(1.5, {MakeInfoMessage(FlowA(), Info(3))},
          {MakeInfoMessage(FlowB(), Info(2))});
  ASSERT_EQ(consumer_.records().size(), 2u);  // one interim each
  EXPECT_EQ(tracker_.FinishAll(), 2u);
  EXPECT_EQ(tracker_.open_flows(), 0u);
  std::map<uint64_t, std::vector<FlowRecord>> by = consumer_.ByCookie();
  ASSERT_EQ(by[kA].size(), 2u);
  ASSERT_EQ(by[kB].size(), 2u);
  for (uint64_t cookie : {kA, kB}) {
    const FlowRecord& r = by[cookie][1];
    EXPECT_EQ(r.seq, 1u);
    EXPECT_EQ(r.kind, RecordKind::kFinal);
    EXPECT_EQ(r.end_reason, EndReason::kDaemonStop);
    EXPECT_EQ(r.end_time, Written(cookie).back());
    EXPECT_EQ(Add(by[cookie][0].delta, r.delta), r.total);
  }
  EXPECT_EQ(by[kA][1].total, CountersOf(Info(3)));
  EXPECT_EQ(by[kB][1].delta, FlowCounters{});  // idle since its interim
  EXPECT_EQ(by[kB][1].local, Ip("fd77::2"));
  // Nothing is left to report.
  CycleAt(10, {});
  EXPECT_EQ(tracker_.FinishAll(), 0u);
  EXPECT_EQ(consumer_.records().size(), 4u);
}

TEST_F(FlowTrackerTest, ListeningSocketsAreNotFlows) {
  collector::CollectorOptions o;
  o.filter.include_local = true;  // lets listeners through the filter
  Start(o);
  CycleAt(0, {MakeInfoMessage(
                  MakeMsg("0.0.0.0", 17000, "0.0.0.0", 0, kC, tcp::kListen),
                  Info(0)),
              MakeInfoMessage(FlowA(), Info(1))});
  EXPECT_EQ(Written(kC).size(), 1u);  // archived, but not a flow
  EXPECT_EQ(tracker_.open_flows(), 1u);
  CycleAt(1.0, {MakeInfoMessage(
                    MakeMsg("0.0.0.0", 17000, "0.0.0.0", 0, kC, tcp::kListen),
                    Info(1)),
                MakeInfoMessage(FlowA(), Info(1))});
  CycleAt(1.1, {});
  const std::vector<FlowRecord> records = consumer_.records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].cookie, kA);
  EXPECT_EQ(records[1].cookie, kA);
}

TEST_F(FlowTrackerTest, DirectionIsInWhenTheLocalPortListensAtTheFirstRecord) {
  Start();
  tracker_.SetListeningPortsForTest({17000});
  const std::string in = MakeInfoMessage(
      MakeMsg("10.77.0.1", 17000, "10.77.0.2", 40001, kA), Info(1));
  const std::string out = MakeInfoMessage(FlowB(), Info(1));
  const std::string later = MakeInfoMessage(
      MakeMsg("10.77.0.1", 18000, "10.77.0.2", 40003, kC), Info(1));
  CycleAt(0, {in, later}, {out});
  // Port 18000 listens from before the flows' first records on; 17000
  // stops before their second.
  tracker_.SetListeningPortsForTest({17000, 18000});
  CycleAt(1.0, {in, later}, {out});
  tracker_.SetListeningPortsForTest({});
  tracker_.FinishAll();
  std::map<uint64_t, std::vector<FlowRecord>> by = consumer_.ByCookie();
  for (uint64_t cookie : {kA, kB, kC}) {
    ASSERT_EQ(by[cookie].size(), 2u) << cookie;
    const Direction want = cookie == kB ? Direction::kOut : Direction::kIn;
    EXPECT_EQ(by[cookie][0].direction, want) << cookie;
    EXPECT_EQ(by[cookie][1].direction, want) << cookie;  // decided once
  }
}

TEST(LimitedBy, IsTheLargestShareOfBusyTime) {
  auto of = [](uint64_t busy, uint64_t rwnd, uint64_t sndbuf) {
    FlowCounters d;
    d.busy_us = busy;
    d.rwnd_limited_us = rwnd;
    d.sndbuf_limited_us = sndbuf;
    return LimitedByOf(d);
  };
  EXPECT_EQ(of(0, 0, 0), LimitedBy::kNone);
  EXPECT_EQ(of(100, 0, 0), LimitedBy::kNetwork);
  EXPECT_EQ(of(100, 60, 10), LimitedBy::kReceiver);
  EXPECT_EQ(of(100, 10, 60), LimitedBy::kSender);
  EXPECT_EQ(of(100, 30, 20), LimitedBy::kNetwork);   // 50 network
  EXPECT_EQ(of(100, 45, 10), LimitedBy::kNetwork);   // 45 each: a tie
  EXPECT_EQ(of(100, 40, 40), LimitedBy::kReceiver);  // 20 network
  EXPECT_EQ(of(100, 50, 50), LimitedBy::kReceiver);
  EXPECT_EQ(of(100, 100, 0), LimitedBy::kReceiver);
  EXPECT_EQ(of(100, 0, 100), LimitedBy::kSender);
}

TEST_F(FlowTrackerTest, LimitedByIsOverTheRecordsIntervalNotTheFlowsLife) {
  Start();
  tcp::TcpInfo i = Info(1);
  i.busy_time = 1000;
  i.rwnd_limited = 900;
  i.sndbuf_limited = 0;
  CycleAt(0, {MakeInfoMessage(FlowA(), i)});
  CycleAt(1.0, {MakeInfoMessage(FlowA(), i)});
  i.busy_time = 2000;  // +1000, of it 0 rwnd and 300 sndbuf
  i.sndbuf_limited = 300;
  i.bytes_acked += 1;
  CycleAt(2.0, {MakeInfoMessage(FlowA(), i)});
  i.busy_time = 2000;  // idle sender, but data moved in
  i.bytes_received += 1;
  CycleAt(3.0, {MakeInfoMessage(FlowA(), i)});
  // +500 busy, all of it sndbuf: alone, no change the collector hands on
  // (parse/change.h: nothing from tcpi_busy_time on counts)...
  i.busy_time = 2500;
  i.sndbuf_limited = 800;
  CycleAt(4.0, {MakeInfoMessage(FlowA(), i)});
  EXPECT_EQ(consumer_.records().size(), 3u);
  // ...until a counter before it moves too.
  i.bytes_acked += 1;
  CycleAt(4.5, {MakeInfoMessage(FlowA(), i)});
  const std::vector<FlowRecord> records = consumer_.records();
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0].limited_by, LimitedBy::kReceiver);
  // Over the flow's life the receive window still leads (900 of 2000).
  EXPECT_EQ(records[1].limited_by, LimitedBy::kNetwork);
  EXPECT_EQ(records[2].limited_by, LimitedBy::kNone);
  EXPECT_EQ(records[3].limited_by, LimitedBy::kSender);
}

TEST_F(FlowTrackerTest, AnonymizedAddressesStayAnonymized) {
  collector::CollectorOptions o;
  o.anonymize = collector::AnonymizeMode::kNetblock;
  o.host_addresses = {Ip("10.77.0.2"), Ip("fd77::2")};
  Start(o);
  CycleAt(0,
          {MakeInfoMessage(
              MakeMsg("10.77.0.2", 40001, "198.51.100.77", 443, kA), Info(1))},
          {MakeInfoMessage(
              MakeMsg("fd77::2", 40002, "2001:db8:1:2:3:4:5:6", 443, kB),
              Info(1))});
  tracker_.FinishAll();
  std::map<uint64_t, std::vector<FlowRecord>> by = consumer_.ByCookie();
  ASSERT_EQ(by[kA].size(), 1u);
  ASSERT_EQ(by[kB].size(), 1u);
  EXPECT_EQ(by[kA][0].local, Ip("10.77.0.2"));
  EXPECT_EQ(by[kA][0].remote, Ip("198.51.100.0"));
  EXPECT_EQ(by[kB][0].local, Ip("fd77::2"));
  EXPECT_EQ(by[kB][0].remote, Ip("2001:db8:1:2::"));
}

TEST_F(FlowTrackerTest, ShorterTcpInfoReadsOnlyWhatItHolds) {
  Start();
  const tcp::TcpInfo i = Info(5);
  // 128 bytes: up to bytes_acked, without bytes_received; no INET_DIAG_CONG.
  CycleAt(0, {MakeInfoMessage(FlowA(), i, 128, nullptr)});
  tracker_.FinishAll();
  const std::vector<FlowRecord> records = consumer_.records();
  ASSERT_EQ(records.size(), 1u);
  const FlowRecord& r = records[0];
  FlowCounters want;
  want.bytes_acked = i.bytes_acked;
  want.retrans_segs = i.total_retrans;
  EXPECT_EQ(r.total, want);
  EXPECT_EQ(r.rtt_us, i.rtt);
  EXPECT_EQ(r.min_rtt_us, 0u);
  EXPECT_EQ(r.max_delivery_rate, 0u);
  EXPECT_EQ(r.congestion_algorithm, "");
  EXPECT_EQ(r.limited_by, LimitedBy::kNone);
}

TEST_F(FlowTrackerTest, CongestionControlIsTheLastNamed) {
  Start();
  CycleAt(0, {MakeInfoMessage(FlowA(), Info(1), sizeof(tcp::TcpInfo), "bbr")},
          {MakeInfoMessage(FlowB(), Info(1), sizeof(tcp::TcpInfo), "reno")});
  CycleAt(1.0,
          {MakeInfoMessage(FlowA(), Info(1), sizeof(tcp::TcpInfo), "cubic")},
          {MakeInfoMessage(FlowB(), Info(1), sizeof(tcp::TcpInfo), "reno")});
  // A destroy event carries no INET_DIAG_CONG.
  Destroy(MakeInfoMessage(FlowA(tcp::kClose), Info(2), sizeof(tcp::TcpInfo),
                          nullptr));
  tracker_.FinishAll();
  std::map<uint64_t, std::vector<FlowRecord>> by = consumer_.ByCookie();
  ASSERT_EQ(by[kA].size(), 2u);
  EXPECT_EQ(by[kA][0].congestion_algorithm, "cubic");
  EXPECT_EQ(by[kA][1].congestion_algorithm, "cubic");
  EXPECT_EQ(by[kA][1].end_reason, EndReason::kDestroyed);
  ASSERT_EQ(by[kB].size(), 2u);
  EXPECT_EQ(by[kB][1].congestion_algorithm, "reno");
}

}  // namespace
}  // namespace flows
