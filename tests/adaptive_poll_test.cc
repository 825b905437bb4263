// Adaptive polling (-poll.mode=adaptive): the exact-request reply walk, the
// activity rule, the cost model, and the polling loop driven by a scripted
// dump source and a scripted exact source that answers from the same
// script (and a real ExactSocket against the kernel, on loopback).
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "collector/activity.h"
#include "collector/collector.h"
#include "collector/cost_model.h"
#include "collector/dump_socket.h"
#include "collector/exact_socket.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "inetdiag/exact_request.h"
#include "tcp/tcp_info.h"
#include "tests/collector_fakes.h"

namespace collector {
namespace {

using collector_test::Concatenate;
using collector_test::DumpBuffer;
using collector_test::MakeMessage;
using collector_test::MakeMsg;
using collector_test::NetlinkMessage;
using collector_test::RecordingSaver;
using collector_test::ScriptedSource;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr uint64_t kA = 101, kB = 102, kC = 103;

std::string Connection(uint64_t cookie, uint8_t fill,
                       uint8_t state = tcp::kEstablished) {
  return MakeMessage(MakeMsg("10.77.0.2", static_cast<uint16_t>(40000 + cookie),
                             "10.77.0.1", 17000, cookie, state),
                     64, fill);
}

uint64_t CookieOf(const std::string& message) {
  return inetdiag::CookieOfMsg(message.data());
}

// Answers exact requests from the dump script: the scripted message with
// the target's cookie (as a netlink reply walked by WalkExactBuffer), or
// ENOENT; with `fail` set, reports the query incomplete after answering
// nothing.
class ScriptedExactSource : public ExactSource {
 public:
  ScriptedExactSource(ScriptedSource::Script* script,
                      std::vector<std::vector<uint64_t>>* asked, bool* fail)
      : script_(script), asked_(asked), fail_(fail) {}

  ExactResult Query(absl::Span<const ExactTarget> targets,
                    DumpMessageHandler on_reply,
                    ExactGoneHandler on_gone) override {
    ExactResult result;
    asked_->emplace_back();
    result.sends = 1;
    result.receives = 1;
    result.requests = static_cast<int64_t>(targets.size());
    if (*fail_) {
      result.Count(DumpIssue::kNoBuffers);
      return result;
    }
    std::vector<std::string> replies;
    for (size_t i = 0; i < targets.size(); ++i) {
      const uint64_t cookie = inetdiag::Cookie(targets[i].id);
      asked_->back().push_back(cookie);
      const std::vector<std::string>& messages =
          targets[i].family == inetdiag::kAfInet6 ? script_->inet6
                                                  : script_->inet;
      std::string reply;
      for (const std::string& m : messages) {
        if (CookieOf(m) == cookie) {
          reply = NetlinkMessage(inetdiag::kSockDiagByFamily, m);
        }
      }
      if (reply.empty()) {
        int32_t error = -ENOENT;
        reply = NetlinkMessage(
            NLMSG_ERROR,
            std::string(reinterpret_cast<const char*>(&error), sizeof(error)));
      }
      replies.push_back(std::move(reply));
    }
    int64_t answered = 0;
    for (size_t i = 0; i < replies.size(); ++i) {
      DumpBuffer b = Concatenate({replies[i]}, static_cast<uint32_t>(1 + i), 0);
      WalkExactBuffer(b.data(), b.size, 1, replies.size(), 7, absl::Now(),
                      &result, &answered, on_reply, on_gone);
    }
    result.complete = answered == result.requests;
    return result;
  }

 private:
  ScriptedSource::Script* script_;
  std::vector<std::vector<uint64_t>>* asked_;
  bool* fail_;
};

// A full dump as costly as the kernel's walk of its socket table: the
// scripted dump after `spin` of CPU (an empty host's dump costs ~2.4 ms),
// so that the cost model prefers exact requests for a few connections.
class CostlySource : public DumpSource {
 public:
  explicit CostlySource(ScriptedSource::Script* script) : scripted_(script) {}
  DumpResult Dump(uint8_t family, DumpMessageHandler handler) override {
    const int64_t until = CostModel::ThreadCpuNanos() + 2000000;
    while (CostModel::ThreadCpuNanos() < until) {
    }
    return scripted_.Dump(family, handler);
  }

 private:
  ScriptedSource scripted_;
};

// Counts the cycles by kind, as the metrics would.
class CycleCounter : public CollectorObserver {
 public:
  void OnCycle(const CycleStats& s) override {
    (s.full_dump ? full : exact) += 1;
    if (s.fallback) ++fallbacks;
  }
  int full = 0, exact = 0, fallbacks = 0;
};

struct AdaptiveHarness {
  ScriptedSource::Script script;
  RecordingSaver saver;
  std::vector<std::vector<uint64_t>> asked;  // cookies per exact query
  bool fail = false;
  CycleCounter cycles;

  std::unique_ptr<Collector> Start(CollectorOptions options) {
    options.poll_mode = PollMode::kAdaptive;
    return Collector::CreateWithSource(
        options, std::make_unique<CostlySource>(&script), &saver, &cycles,
        std::make_unique<ScriptedExactSource>(&script, &asked, &fail));
  }
};

CollectorOptions Options() {
  CollectorOptions o;
  o.discovery_interval = absl::Hours(1);  // only the first cycle discovers
  o.active_cycles = 3;
  return o;
}

TEST(WalkExactBuffer, HandsOnRepliesAndGoneAnswersByRequestIndex) {
  const std::string a = Connection(kA, 1);
  int32_t enoent = -ENOENT, estale = -ESTALE;
  const std::string gone = NetlinkMessage(
      NLMSG_ERROR, std::string(reinterpret_cast<char*>(&enoent), 4));
  const std::string stale = NetlinkMessage(
      NLMSG_ERROR, std::string(reinterpret_cast<char*>(&estale), 4));
  ExactResult result;
  int64_t answered = 0;
  std::vector<uint64_t> replies;
  std::vector<size_t> gone_indexes;
  auto on_reply = [&](const DumpMessage& m) {
    replies.push_back(inetdiag::CookieOfMsg(m.payload));
  };
  auto on_gone = [&](size_t i) { gone_indexes.push_back(i); };
  // Requests 500..502 (sequence numbers), answered in three datagrams.
  DumpBuffer r0 =
      Concatenate({NetlinkMessage(inetdiag::kSockDiagByFamily, a)}, 500, 9);
  DumpBuffer r1 = Concatenate({gone}, 501, 9);
  DumpBuffer r2 = Concatenate({stale}, 502, 9);
  for (DumpBuffer* b : {&r0, &r1, &r2}) {
    EXPECT_TRUE(WalkExactBuffer(b->data(), b->size, 500, 3, 9, absl::Now(),
                                &result, &answered, on_reply, on_gone));
  }
  EXPECT_EQ(answered, 3);
  EXPECT_EQ(result.replies, 1);
  EXPECT_EQ(result.gone, 2);
  EXPECT_THAT(replies, ElementsAre(kA));
  EXPECT_THAT(gone_indexes, ElementsAre(1, 2));
}

TEST(WalkExactBuffer, OtherErrorsAndForeignRepliesStopTheQuery) {
  int32_t eperm = -EPERM;
  const std::string refused = NetlinkMessage(
      NLMSG_ERROR, std::string(reinterpret_cast<char*>(&eperm), 4));
  auto ignore_reply = [](const DumpMessage&) {};
  auto ignore_gone = [](size_t) {};
  {
    ExactResult result;
    int64_t answered = 0;
    DumpBuffer b = Concatenate({refused}, 10, 0);
    EXPECT_FALSE(WalkExactBuffer(b.data(), b.size, 10, 1, 9, absl::Now(),
                                 &result, &answered, ignore_reply,
                                 ignore_gone));
    EXPECT_EQ(result.count(DumpIssue::kNetlinkError), 1);
    EXPECT_EQ(result.error, EPERM);
  }
  {
    ExactResult result;
    int64_t answered = 0;
    DumpBuffer b = Concatenate(
        {NetlinkMessage(inetdiag::kSockDiagByFamily, Connection(kA, 1))}, 13,
        0);  // sequence 13 is outside 10..12
    EXPECT_FALSE(WalkExactBuffer(b.data(), b.size, 10, 3, 9, absl::Now(),
                                 &result, &answered, ignore_reply,
                                 ignore_gone));
    EXPECT_EQ(result.count(DumpIssue::kBadSequence), 1);
    EXPECT_EQ(answered, 0);
  }
  {
    ExactResult result;
    int64_t answered = 0;
    DumpBuffer b = Concatenate(
        {NetlinkMessage(inetdiag::kSockDiagByFamily, Connection(kA, 1))}, 10,
        8);  // addressed to port 8, not 9
    EXPECT_FALSE(WalkExactBuffer(b.data(), b.size, 10, 1, 9, absl::Now(),
                                 &result, &answered, ignore_reply,
                                 ignore_gone));
    EXPECT_EQ(result.count(DumpIssue::kBadPortId), 1);
  }
}

TEST(ExactRequest, IsADumpRequestWithoutDumpFlagCarryingTheSocketId) {
  const inetdiag::Msg m = MakeMsg("10.77.0.2", 40001, "10.77.0.1", 17000, kA);
  const inetdiag::DumpRequest r =
      inetdiag::MakeExactRequest(inetdiag::kAfInet, m.id, 77);
  EXPECT_EQ(r.header.nlmsg_flags, NLM_F_REQUEST);
  EXPECT_EQ(r.header.nlmsg_seq, 77u);
  EXPECT_EQ(r.header.nlmsg_len, sizeof(r));
  EXPECT_EQ(r.request.family, inetdiag::kAfInet);
  EXPECT_EQ(r.request.ext, inetdiag::kDumpExtensions);
  EXPECT_EQ(std::memcmp(&r.request.id, &m.id, sizeof(m.id)), 0);
}

TEST(ActivityTracker, AConnectionIsActiveUntilItsLastNCyclesWereQuiet) {
  ActivityTracker t(3);
  const inetdiag::Msg a = MakeMsg("10.77.0.2", 40001, "10.77.0.1", 17000, kA);
  const inetdiag::Msg b = MakeMsg("10.77.0.2", 40002, "10.77.0.1", 17000, kB);
  t.Changed(kA, a.family, a.id, 1);
  t.Changed(kB, b.family, b.id, 2);
  std::vector<ExactTarget> targets;
  auto cookies = [&] {
    std::vector<uint64_t> out;
    for (const ExactTarget& x : targets) out.push_back(inetdiag::Cookie(x.id));
    return out;
  };
  t.Collect(4, &targets);  // A changed 3 cycles ago: still active
  EXPECT_THAT(cookies(), UnorderedElementsAre(kA, kB));
  t.Collect(5, &targets);  // A: 4 quiet cycles
  EXPECT_THAT(cookies(), ElementsAre(kB));
  EXPECT_EQ(t.size(), 1u);
  t.Changed(kA, a.family, a.id, 5);  // moves again: active again
  t.Forget(kB);
  t.Collect(6, &targets);
  EXPECT_THAT(cookies(), ElementsAre(kA));
  EXPECT_EQ(targets[0].family, inetdiag::kAfInet);
  EXPECT_EQ(std::memcmp(&targets[0].id, &a.id, sizeof(a.id)), 0);
}

TEST(CostModel, PrefersExactOnlyWhenCheaperThanAMeasuredFullCycle) {
  CostModel m;
  EXPECT_FALSE(m.PreferExact(0));  // no full cycle measured yet
  m.ObserveFull(1000000);          // 1 ms
  // The prior: 20 us per request, within 80 % of 1 ms: 40 requests.
  EXPECT_TRUE(m.PreferExact(0));
  EXPECT_TRUE(m.PreferExact(40));
  EXPECT_FALSE(m.PreferExact(41));
  // Measured: 10 requests cost 50 us, 5 us each (replaces the prior).
  m.ObserveExact(10, 50000);
  EXPECT_DOUBLE_EQ(m.exact_nanos_per_request(), 5000);
  EXPECT_TRUE(m.PreferExact(160));
  EXPECT_FALSE(m.PreferExact(161));
  // Later measures move the averages by a quarter.
  m.ObserveExact(10, 90000);  // 9 us
  EXPECT_DOUBLE_EQ(m.exact_nanos_per_request(), 6000);
  m.ObserveFull(2000000);
  EXPECT_DOUBLE_EQ(m.full_nanos(), 1250000);
  EXPECT_GT(CostModel::ThreadCpuNanos(), 0);
}

TEST(AdaptiveCollector, AsksOnlyAboutConnectionsThatChangedRecently) {
  AdaptiveHarness h;
  h.script.inet = {Connection(kA, 1), Connection(kB, 1)};
  std::unique_ptr<Collector> c = h.Start(Options());
  c->RunCycle();  // full: both new
  EXPECT_EQ(h.cycles.full, 1);
  EXPECT_EQ(h.saver.written.size(), 2u);
  // A streams, B sits still.
  for (int i = 2; i <= 8; ++i) {
    h.script.inet[0] = Connection(kA, static_cast<uint8_t>(i));
    c->RunCycle();
  }
  EXPECT_EQ(h.cycles.full, 1);
  EXPECT_EQ(h.cycles.exact, 7);
  // B (new in cycle 1) was asked about in cycles 2-4, then dropped.
  ASSERT_EQ(h.asked.size(), 7u);
  EXPECT_THAT(h.asked[0], UnorderedElementsAre(kA, kB));
  EXPECT_THAT(h.asked[2], UnorderedElementsAre(kA, kB));
  EXPECT_THAT(h.asked[3], ElementsAre(kA));
  EXPECT_THAT(h.asked[6], ElementsAre(kA));
  // Every change of A was written, B only once; nothing was closed.
  EXPECT_EQ(h.saver.written.size(), 2u + 7u);
  EXPECT_THAT(h.saver.closed, IsEmpty());
  const CollectorStats s = c->stats();
  EXPECT_EQ(s.exact_requests, 3 * 2 + 4 * 1);
  EXPECT_EQ(s.full_dumps, 1);
  EXPECT_EQ(s.exact_cycles, 7);
}

TEST(AdaptiveCollector, IdleChangesAndNewConnectionsWaitForTheDiscoveryDump) {
  AdaptiveHarness h;
  CollectorOptions o = Options();
  o.discovery_interval = absl::Milliseconds(300);
  h.script.inet = {Connection(kA, 1)};
  std::unique_ptr<Collector> c = h.Start(o);
  c->RunCycle();
  for (int i = 0; i < 4; ++i) c->RunCycle();  // A goes idle
  // A changes while idle and C opens: neither is seen by exact cycles.
  h.script.inet = {Connection(kA, 2), Connection(kC, 1)};
  c->RunCycle();
  EXPECT_EQ(h.saver.written.size(), 1u);
  EXPECT_EQ(h.cycles.exact, 5);
  EXPECT_EQ(h.asked.size(), 3u);  // cycles 2-4; nothing to ask since
  absl::SleepFor(absl::Milliseconds(320));
  c->RunCycle();  // the discovery dump
  EXPECT_EQ(h.cycles.full, 2);
  ASSERT_EQ(h.saver.written.size(), 3u);
  EXPECT_EQ(h.saver.written[1].cookie, kA);
  EXPECT_EQ(h.saver.written[2].cookie, kC);
  // Both are active again.
  c->RunCycle();
  EXPECT_THAT(h.asked.back(), UnorderedElementsAre(kA, kC));
}

TEST(AdaptiveCollector, AGoneOrTimeWaitSocketIsClosedAsIfAbsentFromADump) {
  AdaptiveHarness h;
  h.script.inet = {Connection(kA, 1), Connection(kB, 1)};
  std::unique_ptr<Collector> c = h.Start(Options());
  c->RunCycle();
  // A is gone (ENOENT); B is in TIME_WAIT, which a dump would leave out.
  h.script.inet = {Connection(kB, 2, tcp::kTimeWait)};
  c->RunCycle();
  EXPECT_EQ(h.cycles.exact, 1);
  EXPECT_THAT(h.saver.closed, UnorderedElementsAre(kA, kB));
  EXPECT_EQ(h.saver.written.size(), 2u);  // no TIME_WAIT snapshot
  EXPECT_EQ(c->stats().closed, 2);
  // Not asked about again (a reused tuple with a new cookie is a new
  // connection, found by the next full dump).
  c->RunCycle();
  EXPECT_EQ(h.cycles.exact, 2);
  EXPECT_EQ(h.asked.size(), 1u);
}

TEST(AdaptiveCollector, AGoneSocketWaitsTheDestroyGraceForItsEvent) {
  AdaptiveHarness h;
  CollectorOptions o = Options();
  o.destroy_grace = absl::Milliseconds(50);
  h.script.inet = {Connection(kA, 1)};
  std::unique_ptr<Collector> c = h.Start(o);
  c->RunCycle();
  h.script.inet.clear();
  c->RunCycle();
  EXPECT_THAT(h.saver.closed, IsEmpty());  // waiting for its event
  absl::SleepFor(absl::Milliseconds(60));
  c->RunCycle();
  EXPECT_THAT(h.saver.closed, ElementsAre(kA));
}

TEST(AdaptiveCollector, AnIncompleteQueryFallsBackToAFullDumpAndIsCounted) {
  AdaptiveHarness h;
  h.script.inet = {Connection(kA, 1)};
  std::unique_ptr<Collector> c = h.Start(Options());
  c->RunCycle();
  h.fail = true;
  h.script.inet = {Connection(kA, 2), Connection(kB, 1)};
  const CycleStats& s = c->RunCycle();
  EXPECT_TRUE(s.full_dump);
  EXPECT_TRUE(s.fallback);
  EXPECT_EQ(s.exact_requests, 1);
  EXPECT_EQ(h.cycles.fallbacks, 1);
  EXPECT_EQ(c->stats().poll_fallbacks, 1);
  // The dump saw both, as full polling would.
  ASSERT_EQ(h.saver.written.size(), 3u);
  EXPECT_EQ(h.saver.written[1].cookie, kA);
  EXPECT_EQ(h.saver.written[2].cookie, kB);
}

TEST(AdaptiveCollector, AConnectionSeenOnlyByExactCyclesIsClosedByTheNextDump) {
  AdaptiveHarness h;
  CollectorOptions o = Options();
  o.discovery_interval = absl::Milliseconds(200);
  h.script.inet = {Connection(kA, 1), Connection(kB, 1)};
  std::unique_ptr<Collector> c = h.Start(o);
  c->RunCycle();
  c->RunCycle();  // exact: observes A and B
  ASSERT_EQ(h.cycles.exact, 1);
  // B is gone before the next cycle, a discovery dump: it was observed
  // since the cache's last EndCycle (by the exact cycle), yet the dump's
  // absence must close it.
  h.script.inet = {Connection(kA, 1)};
  absl::SleepFor(absl::Milliseconds(220));
  c->RunCycle();  // discovery
  EXPECT_EQ(h.cycles.full, 2);
  EXPECT_THAT(h.saver.closed, ElementsAre(kB));
}

TEST(AdaptiveCollector, FullModeNeverAsksExactly) {
  ScriptedSource::Script script;
  script.inet = {Connection(kA, 1)};
  RecordingSaver saver;
  std::vector<std::vector<uint64_t>> asked;
  bool fail = false;
  CycleCounter cycles;
  std::unique_ptr<Collector> c = Collector::CreateWithSource(
      CollectorOptions(), std::make_unique<ScriptedSource>(&script), &saver,
      &cycles, std::make_unique<ScriptedExactSource>(&script, &asked, &fail));
  for (int i = 0; i < 5; ++i) c->RunCycle();
  EXPECT_EQ(cycles.full, 5);
  EXPECT_THAT(asked, IsEmpty());
}

// The kernel's answers: a loopback connection of this process is found by
// its id and cookie, and unknown after it is closed.
TEST(ExactSocket, TheKernelAnswersForAKnownSocketAndThenENOENT) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
            0);
  ASSERT_EQ(listen(listener, 4), 0);
  socklen_t len = sizeof(addr);
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  const int client = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
            0);
  const int server = accept(listener, nullptr, nullptr);
  ASSERT_GE(server, 0);
  sockaddr_in local{};
  len = sizeof(local);
  getsockname(client, reinterpret_cast<sockaddr*>(&local), &len);

  // Find the client socket's id (cookie included) in a dump.
  std::unique_ptr<DumpSocket> dump = *DumpSocket::Open();
  ExactTarget target;
  bool found = false;
  dump->Dump(inetdiag::kAfInet, [&](const DumpMessage& m) {
    inetdiag::Msg msg;
    std::memcpy(&msg, m.payload, sizeof(msg));
    if (msg.id.sport_be == local.sin_port && msg.id.dport_be == addr.sin_port) {
      target.family = msg.family;
      target.id = msg.id;
      found = true;
    }
  });
  ASSERT_TRUE(found);

  absl::StatusOr<std::unique_ptr<ExactSocket>> exact = ExactSocket::Open();
  ASSERT_TRUE(exact.ok()) << exact.status();
  std::vector<ExactTarget> targets(300, target);  // more than one batch
  int64_t replies = 0, gone = 0;
  ExactResult r = (*exact)->Query(
      targets,
      [&](const DumpMessage& m) {
        EXPECT_EQ(inetdiag::CookieOfMsg(m.payload),
                  inetdiag::Cookie(target.id));
        ++replies;
      },
      [&](size_t) { ++gone; });
  EXPECT_TRUE(r.complete) << r.error;
  EXPECT_EQ(replies, 300);
  EXPECT_EQ(gone, 0);
  EXPECT_EQ(r.requests, 300);
  EXPECT_EQ(r.sends, static_cast<int64_t>((300 + (*exact)->batch_size() - 1) /
                                          (*exact)->batch_size()));
  EXPECT_LT(r.receives, 300);  // recvmmsg took several replies per call

  // A cookie that is not the socket's: ESTALE, reported as gone.
  ExactTarget stale = target;
  stale.id.cookie[0] ^= 1;
  gone = 0;
  r = (*exact)->Query(
      {&stale, 1}, [](const DumpMessage&) {}, [&](size_t) { ++gone; });
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(gone, 1);

  close(client);
  close(server);
  close(listener);
  // The client is now in FIN_WAIT or TIME_WAIT; a port nobody uses is ENOENT.
  ExactTarget unknown = target;
  unknown.id.sport_be = htons(1);
  gone = 0;
  r = (*exact)->Query(
      {&unknown, 1}, [](const DumpMessage&) {}, [&](size_t) { ++gone; });
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(gone, 1);
}

}  // namespace
}  // namespace collector
