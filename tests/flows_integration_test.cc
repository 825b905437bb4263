// Flow records of real connections, as root: a Collector runs in-process in
// a connfarm client namespace (a real saver into the test's directory,
// destroy events drained as cmd/tcp-info does, polling every 10 ms) with a
// FlowTracker (active timeout 300 ms, watching listeners) feeding a
// recording consumer, while the test makes its own connections, each moving
// known bytes each way:
//   - streams that go on for about 1.6 s: interim records, deltas summing
//     to totals, exact final counters;
//   - 300 connections shorter than a poll: one final record each
//     (destroyed), with exact counters;
//   - one connection into a listener of the client namespace: direction in;
//   - connections still open when the collector stops: daemon_stop.
// SYN and FIN each take a sequence number, and the kernel counts them as
// bytes: a connecting socket's bytes_acked is what it sent plus one for its
// SYN (once the SYN-ACK came) and one for its FIN (once acknowledged); an
// accepted one's counts its FIN only. bytes_received is what came plus one
// once the peer's FIN came; bytes_sent is what was sent plus what was
// retransmitted (bytes_retrans).
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "collector/collector.h"
#include "collector/destroy_listener.h"
#include "collector/observer_fanout.h"
#include "flows/flow_tracker.h"
#include "gtest/gtest.h"
#include "saver/saver.h"
#include "tcp/tcp_info.h"
#include "tests/flow_fakes.h"
#include "tests/testutil/daemon_fixture.h"
#include "tests/testutil/farm.h"

namespace {

using flows::Direction;
using flows::EndReason;
using flows::FlowRecord;
using flows::RecordKind;

constexpr uint16_t kPort = 18701;     // the test's server, server namespace
constexpr uint16_t kInPort = 18702;   // a listener in the client namespace
constexpr int kStreams = 4;           // every other one IPv6
constexpr int kChunks = 25;           // per stream, 60 ms apart
constexpr size_t kUpChunk = 30000;    // client -> server, per chunk
constexpr size_t kDownChunk = 20000;  // server -> client, per chunk
constexpr int kShort = 300;
constexpr int kHeld = 3;

// Counts cycles, for waiting on the polling thread from the test's.
class CycleCounter : public collector::CollectorObserver {
 public:
  void OnCycle(const collector::CycleStats&) override { ++cycles; }
  std::atomic<int64_t> cycles{0};
};

class FlowsIntegration : public testutil::DaemonTest {
 protected:
  FlowsIntegration() : DaemonTest({"flows_it", "flit", "fl", kPort}) {}

  void TearDown() override {
    StopCollector();
    for (int fd : held_) close(fd);
    held_.clear();
    DaemonTest::TearDown();
  }

  // Starts the polling thread in the client namespace; waits (at most 10 s)
  // until it has run two cycles.
  void StartCollector() {
    stop_ = eventfd(0, EFD_CLOEXEC);
    ASSERT_GE(stop_, 0);
    poller_ = std::thread([this] {
      testutil::InNamespace(farm_->Namespace("cli"), [this] { Poll(); });
    });
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (counter_.cycles < 2 && !failed_start_ && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    ASSERT_FALSE(failed_start_);
    ASSERT_GE(counter_.cycles, 2) << "the collector does not poll";
  }

  // Stops the polling thread, which finishes every flow still open.
  void StopCollector() {
    if (!poller_.joinable()) return;
    const uint64_t one = 1;
    EXPECT_EQ(write(stop_, &one, sizeof(one)), 8);
    poller_.join();
    close(stop_);
  }

  // The polling thread's body, in the client namespace: what
  // cmd/tcp-info's main does, with a FlowTracker as the observer.
  void Poll() {
    saver::Options so;
    so.output_dir = dir_ + "/out";
    so.uuid_prefix = prefix_;
    absl::StatusOr<std::unique_ptr<saver::Saver>> saver =
        saver::Saver::Create(so);
    flows::FlowTrackerOptions fo;
    fo.uuid_prefix = prefix_;
    fo.active_timeout = absl::Milliseconds(300);
    flows::FlowTracker tracker(fo, &consumer_);
    collector::ObserverFanout fanout;
    fanout.Add(&tracker);
    fanout.Add(&counter_);
    absl::StatusOr<std::unique_ptr<collector::DestroyListener>> listener =
        collector::DestroyListener::Open();
    collector::CollectorOptions co;
    co.interval = absl::Milliseconds(10);
    co.destroy_grace = absl::Seconds(1);
    absl::StatusOr<std::unique_ptr<collector::Collector>> c =
        saver.ok() ? collector::Collector::Create(co, saver->get(), &fanout)
                   : absl::StatusOr<std::unique_ptr<collector::Collector>>(
                         saver.status());
    if (!saver.ok() || !listener.ok() || !c.ok()) {
      ADD_FAILURE() << "saver " << saver.status() << ", destroy listener "
                    << listener.status() << ", collector " << c.status();
      failed_start_ = true;
      return;
    }
    auto drain = [&] {
      bool overflowed = false;
      (*listener)->Drain(
          [&](char* payload, size_t size) {
            (*c)->HandleDestroyed(payload, size, absl::Now());
          },
          &overflowed);
      EXPECT_FALSE(overflowed);
    };
    (*c)->AddWatch((*listener)->fd(), drain);
    (*c)->Run(stop_);
    drain();
    finished_at_stop_ = tracker.FinishAll();
    (*saver)->CloseAll();
  }

  // kStreams connections at once, each sending kChunks chunks of kUpChunk
  // bytes, every one answered by kDownChunk bytes, 60 ms apart; their
  // client sockets' cookies.
  std::vector<uint64_t> RunStreams() {
    std::vector<uint64_t> cookies(kStreams);
    std::vector<std::thread> threads;
    for (int i = 0; i < kStreams; ++i) {
      const bool v6 = i % 2 == 1;
      threads.emplace_back([this, v6] {
        const int fd = accept(listeners_[v6], nullptr, nullptr);
        ASSERT_GE(fd, 0) << "accept: " << std::strerror(errno);
        testutil::SetTimeouts(fd);
        for (int k = 0; k < kChunks && !HasFatalFailure(); ++k) {
          testutil::ReceiveAll(fd, kUpChunk);
          testutil::SendAll(fd, kDownChunk);
        }
        char c;
        EXPECT_EQ(recv(fd, &c, 1, 0), 0) << "no EOF from the client";
        close(fd);
      });
      threads.emplace_back([this, v6, &cookies, i] {
        testutil::InNamespace(farm_->Namespace("cli"), [&] {
          const int fd = Connect(v6, &cookies[i]);
          ASSERT_GE(fd, 0);
          for (int k = 0; k < kChunks && !HasFatalFailure(); ++k) {
            testutil::SendAll(fd, kUpChunk);
            testutil::ReceiveAll(fd, kDownChunk);
            absl::SleepFor(absl::Milliseconds(60));
          }
          close(fd);
        });
      });
    }
    for (std::thread& t : threads) t.join();
    return cookies;
  }

  // A client socket connected to the test's server (in the client
  // namespace: call it there), with its cookie; -1 on failure.
  static int Connect(bool v6, uint64_t* cookie) {
    const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(fd, 0) << std::strerror(errno);
    if (fd < 0) return -1;
    testutil::SetTimeouts(fd);
    const sockaddr_storage a = testutil::Address(v6, kPort);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&a),
                testutil::Length(v6)) != 0) {
      ADD_FAILURE() << "connect: " << std::strerror(errno);
      close(fd);
      return -1;
    }
    socklen_t len = sizeof(*cookie);
    EXPECT_EQ(getsockopt(fd, SOL_SOCKET, SO_COOKIE, cookie, &len), 0);
    return fd;
  }

  // A listener on 10.77.0.2:kInPort in the client namespace.
  int ListenInClientNamespace() {
    int fd = -1;
    testutil::InNamespace(farm_->Namespace("cli"), [&] {
      fd = socket(AF_INET, SOCK_STREAM, 0);
      ASSERT_GE(fd, 0);
      const int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      testutil::SetTimeouts(fd);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(kInPort);
      a.sin_addr.s_addr = htonl(0x0A4D0002);  // 10.77.0.2
      ASSERT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)), 0)
          << std::strerror(errno);
      ASSERT_EQ(listen(fd, 4), 0);
    });
    return fd;
  }

  // One connection from the server namespace into `listener`: it sends
  // `up` bytes and reads `down`, then closes; the accepted socket (client
  // namespace) answers and closes on EOF. The accepted socket's cookie.
  uint64_t RunInbound(int listener, size_t up, size_t down) {
    uint64_t cookie = 0;
    std::thread accepted([&] {
      const int fd = accept(listener, nullptr, nullptr);
      ASSERT_GE(fd, 0) << "accept: " << std::strerror(errno);
      testutil::SetTimeouts(fd);
      socklen_t len = sizeof(cookie);
      EXPECT_EQ(getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len), 0);
      testutil::ReceiveAll(fd, up);
      testutil::SendAll(fd, down);
      char c;
      EXPECT_EQ(recv(fd, &c, 1, 0), 0) << "no EOF from the peer";
      close(fd);
    });
    testutil::InNamespace(farm_->Namespace("srv"), [&] {
      const int fd = socket(AF_INET, SOCK_STREAM, 0);
      ASSERT_GE(fd, 0);
      testutil::SetTimeouts(fd);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(kInPort);
      a.sin_addr.s_addr = htonl(0x0A4D0002);
      ASSERT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)),
                0)
          << std::strerror(errno);
      testutil::SendAll(fd, up);
      testutil::ReceiveAll(fd, down);
      close(fd);
    });
    accepted.join();
    return cookie;
  }

  // kHeld connections that exchange 1000 + 111 i bytes up and 2000 + 222 i
  // down and stay open (held_); their cookies. The server side waits for
  // EOF on threads joined by `servers`.
  std::vector<uint64_t> OpenHeld(std::vector<std::thread>* servers) {
    std::vector<uint64_t> cookies(kHeld);
    for (int i = 0; i < kHeld; ++i) {
      servers->emplace_back([this, i] {
        const int fd = accept(listeners_[0], nullptr, nullptr);
        ASSERT_GE(fd, 0) << "accept: " << std::strerror(errno);
        timeval tv{20, 0};  // EOF comes once the collector stopped
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        testutil::ReceiveAll(fd, 1000 + 111 * i);
        testutil::SendAll(fd, 2000 + 222 * i);
        char c;
        EXPECT_EQ(recv(fd, &c, 1, 0), 0) << "no EOF from the client";
        close(fd);
      });
      testutil::InNamespace(farm_->Namespace("cli"), [&] {
        const int fd = Connect(false, &cookies[i]);
        ASSERT_GE(fd, 0);
        held_.push_back(fd);
        testutil::SendAll(fd, 1000 + 111 * i);
        testutil::ReceiveAll(fd, 2000 + 222 * i);
      });
    }
    return cookies;
  }

  // Checks what holds for every flow's records: seq from 0, interim ones
  // then one final last, one uuid, deltas summing to the final totals.
  void ExpectConsistent(const std::vector<FlowRecord>& records) {
    ASSERT_FALSE(records.empty());
    const uint64_t cookie = records[0].cookie;
    SCOPED_TRACE(absl::StrCat("cookie ", cookie));
    flows::FlowCounters sum;
    for (size_t i = 0; i < records.size(); ++i) {
      const FlowRecord& r = records[i];
      EXPECT_EQ(r.seq, i);
      EXPECT_EQ(r.uuid, saver::FormatUuid(prefix_, cookie));
      EXPECT_EQ(r.start_time, records[0].start_time);
      const bool last = i + 1 == records.size();
      EXPECT_EQ(r.kind, last ? RecordKind::kFinal : RecordKind::kInterim);
      if (!last) {
        EXPECT_EQ(r.end_reason, EndReason::kInterim);
      }
      if (i > 0) {
        EXPECT_FALSE(r.end_time < records[i - 1].end_time);
      }
      sum = flows_test::Add(sum, r.delta);
      EXPECT_EQ(sum, r.total) << "record " << i;
    }
  }

  flows_test::RecordingConsumer consumer_;
  CycleCounter counter_;
  std::thread poller_;
  int stop_ = -1;
  std::atomic<bool> failed_start_{false};
  size_t finished_at_stop_ = 0;
  std::vector<int> held_;
};

TEST_F(FlowsIntegration, RecordsHoldTheExactBytesOfEveryConnection) {
  const absl::Time start = absl::Now();
  const int in_listener = ListenInClientNamespace();
  ASSERT_GE(in_listener, 0);
  ASSERT_NO_FATAL_FAILURE(StartCollector());

  const std::vector<uint64_t> streams = RunStreams();
  ASSERT_FALSE(HasFailure());

  std::vector<testutil::Exchange> shorts(kShort);
  for (int i = 0; i < kShort; ++i) {
    shorts[i].v6 = i % 3 == 2;
    shorts[i].up = 100 + i;
    shorts[i].down = 50 + i;
  }
  testutil::RunExchanges(*farm_, listeners_, kPort, &shorts);
  ASSERT_FALSE(HasFailure());

  const uint64_t inbound = RunInbound(in_listener, 777, 555);
  close(in_listener);
  std::vector<std::thread> held_servers;
  const std::vector<uint64_t> held = OpenHeld(&held_servers);
  // Polls see the held connections' last acknowledgements, and destroy
  // events of the others arrive.
  absl::SleepFor(absl::Milliseconds(300));
  StopCollector();
  for (int fd : held_) close(fd);
  held_.clear();
  for (std::thread& t : held_servers) t.join();
  ASSERT_FALSE(HasFailure());

  std::map<uint64_t, std::vector<FlowRecord>> by = consumer_.ByCookie();
  for (const auto& [cookie, records] : by) ExpectConsistent(records);

  // Streams: interim records, then a final one with the exact bytes.
  for (int i = 0; i < kStreams; ++i) {
    SCOPED_TRACE(absl::StrCat("stream ", i));
    const std::vector<FlowRecord>& r = by[streams[i]];
    ASSERT_GE(r.size(), 4u);  // 1.6 s at 300 ms: about 5 interim records
    const FlowRecord& last = r.back();
    EXPECT_EQ(last.end_reason, EndReason::kDestroyed);
    EXPECT_EQ(last.state, tcp::kClose);
    EXPECT_EQ(last.total.bytes_sent - last.total.bytes_retrans,
              kChunks * kUpChunk);
    EXPECT_EQ(last.total.bytes_acked, kChunks * kUpChunk + 2);
    EXPECT_EQ(last.total.bytes_received, kChunks * kDownChunk + 1);
    EXPECT_EQ(last.direction, Direction::kOut);
    EXPECT_EQ(last.remote_port, kPort);
    EXPECT_EQ(last.local, collector_test::Ip(i % 2 ? "fd77::2" : "10.77.0.2"));
    EXPECT_EQ(last.remote, collector_test::Ip(i % 2 ? "fd77::1" : "10.77.0.1"));
    EXPECT_GT(last.min_rtt_us, 0u);
    EXPECT_GT(last.max_delivery_rate, 0u);
    EXPECT_FALSE(last.congestion_algorithm.empty());
    // Bytes moved in more than one interval.
    int moving = 0;
    for (const FlowRecord& x : r) moving += x.delta.bytes_acked > 0;
    EXPECT_GE(moving, 3);
  }

  // Shorter than a poll: one final record each, exact.
  int exact = 0;
  for (int i = 0; i < kShort; ++i) {
    SCOPED_TRACE(absl::StrCat("short ", i));
    const std::vector<FlowRecord>& r = by[shorts[i].cookie];
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].kind, RecordKind::kFinal);
    EXPECT_EQ(r[0].end_reason, EndReason::kDestroyed);
    EXPECT_EQ(r[0].total.bytes_sent - r[0].total.bytes_retrans, shorts[i].up);
    EXPECT_EQ(r[0].total.bytes_acked, shorts[i].up + 2);
    EXPECT_EQ(r[0].total.bytes_received, shorts[i].down + 1);
    EXPECT_EQ(r[0].delta, r[0].total);
    exact += r[0].total.bytes_acked == shorts[i].up + 2 &&
             r[0].total.bytes_received == shorts[i].down + 1;
  }

  // Into a listener of the client namespace: in.
  {
    const std::vector<FlowRecord>& r = by[inbound];
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].direction, Direction::kIn);
    EXPECT_EQ(r[0].local_port, kInPort);
    EXPECT_EQ(r[0].end_reason, EndReason::kDestroyed);
    EXPECT_EQ(r[0].total.bytes_received, 777u + 1);
    EXPECT_EQ(r[0].total.bytes_acked, 555u + 1);
  }

  // Open at the stop: daemon_stop, with what was exchanged so far.
  EXPECT_EQ(finished_at_stop_, size_t{kHeld});
  for (int i = 0; i < kHeld; ++i) {
    SCOPED_TRACE(absl::StrCat("held ", i));
    const std::vector<FlowRecord>& r = by[held[i]];
    ASSERT_FALSE(r.empty());
    EXPECT_EQ(r.back().end_reason, EndReason::kDaemonStop);
    EXPECT_EQ(r.back().state, tcp::kEstablished);
    EXPECT_EQ(r.back().total.bytes_acked, 1000u + 111 * i + 1);
    EXPECT_EQ(r.back().total.bytes_sent - r.back().total.bytes_retrans,
              1000u + 111 * i);
    EXPECT_EQ(r.back().total.bytes_received, 2000u + 222 * i);
  }

  // Nothing but the test's own connections, each once.
  EXPECT_EQ(by.size(), size_t{kStreams + kShort + 1 + kHeld});
  std::set<std::pair<std::string, uint32_t>> keys;
  for (const FlowRecord& r : consumer_.records()) {
    EXPECT_TRUE(keys.insert({r.uuid, r.seq}).second) << r.uuid << " " << r.seq;
  }
  std::cout << "flows: " << consumer_.records().size() << " records of "
            << by.size() << " connections, " << exact << " of " << kShort
            << " short ones exact, in " << absl::Now() - start << "\n";
}

}  // namespace
