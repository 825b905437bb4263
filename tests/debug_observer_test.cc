// collector::DebugObserver: the -logx.debug lines and their rate bounds.
#include "collector/debug_observer.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/collector_fakes.h"

namespace collector {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Lines written to a temporary FILE.
class DebugLines {
 public:
  DebugLines() : file_(std::tmpfile()) {}
  ~DebugLines() { std::fclose(file_); }
  std::FILE* file() { return file_; }
  std::vector<std::string> lines() {
    std::fflush(file_);
    std::rewind(file_);
    std::string text;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), file_)) > 0) {
      text.append(buf, n);
    }
    std::fseek(file_, 0, SEEK_END);
    return absl::StrSplit(text, '\n', absl::SkipEmpty());
  }

 private:
  std::FILE* file_;
};

// A DebugObserver writing to `out`.
class DebugObserverTest : public ::testing::Test {
 protected:
  collector_test::RecordingSaver saver;
  DebugLines out;
  DebugObserver debug{&saver, out.file()};
};

TEST_F(DebugObserverTest, BurstsAreHeldBackAndCountedInTheNextLine) {
  // A burst of closes: the first is written, the rest held back until
  // 100 ms have passed, then counted in the next line.
  for (int i = 0; i < 100; ++i)
    debug.OnFlowClose(0x13FD, {}, CloseReason::kAbsent);
  absl::SleepFor(absl::Milliseconds(120));
  debug.OnFlowClose(0x13FE, {}, CloseReason::kDestroyed);
  EXPECT_THAT(
      out.lines(),
      ElementsAre(
          "tcp-info: debug: close test_00000000000013FD (absent from a "
          "complete dump)",
          "tcp-info: debug: close test_00000000000013FE (destroy event) "
          "(99 similar lines held back)"));
}

TEST_F(DebugObserverTest, OpenLineNamesTheUuidAndBothEnds) {
  for (const char* family : {"ipv4", "ipv6"}) {
    inetdiag::Msg msg{};
    const bool v6 = std::strcmp(family, "ipv6") == 0;
    msg.family = v6 ? AF_INET6 : AF_INET;
    msg.state = 1;
    msg.id.sport_be = htons(38064);
    msg.id.dport_be = htons(5001);
    inet_pton(msg.family, v6 ? "fd77::2" : "10.77.0.2", msg.id.src);
    inet_pton(msg.family, v6 ? "fd77::1" : "10.77.0.1", msg.id.dst);
    const std::string raw(reinterpret_cast<const char*>(&msg), sizeof(msg));
    parse::RecordView view;
    view.raw_idm = raw;
    debug.OnFlowOpen(v6 ? 2 : 1, {}, view);
    absl::SleepFor(absl::Milliseconds(120));
  }
  EXPECT_THAT(out.lines(),
              ElementsAre("tcp-info: debug: open test_0000000000000001 "
                          "10.77.0.2:38064 -> 10.77.0.1:5001 state 1",
                          "tcp-info: debug: open test_0000000000000002 "
                          "[fd77::2]:38064 -> [fd77::1]:5001 state 1"));
}

TEST_F(DebugObserverTest, CycleLineOnceASecondAndEveryDumpIrregularity) {
  CycleStats stats;
  stats.dumps[0].family = AF_INET6;
  stats.dumps[0].complete = true;
  stats.dumps[0].messages = 12;
  stats.dumps[1].family = AF_INET;
  stats.dumps[1].complete = true;
  stats.dumps[1].messages = 30;
  stats.complete = true;
  stats.changes = 4;
  stats.opened = 2;
  stats.connections = 40;
  for (int i = 1; i <= 5; ++i) {
    stats.cycle = i;
    debug.OnCycle(stats);  // no irregularity: spends no dump-line budget
  }
  stats.cycle = 6;
  stats.dumps[1].complete = false;
  stats.complete = false;
  stats.dumps[1].Count(DumpIssue::kInterrupted);
  debug.OnCycle(stats);
  const std::vector<std::string> lines = out.lines();
  ASSERT_EQ(lines.size(), 2u) << absl::StrJoin(lines, "\n");
  EXPECT_THAT(lines[0], StartsWith("tcp-info: debug: cycle 1: ipv6 12 msgs "));
  EXPECT_THAT(lines[0], HasSubstr(" ipv4 30 msgs "));
  EXPECT_THAT(lines[0], HasSubstr("changes 4 opened 2 closed 0"));
  EXPECT_THAT(lines[0], HasSubstr("tracked 40"));
  EXPECT_THAT(lines[0], HasSubstr("since the last line: 1 cycles, 0 files"));
  EXPECT_EQ(lines[1],
            "tcp-info: debug: dump cycle 6: AF_INET [interrupted=1 "
            "incomplete]; no close decided");

  // A second later the next cycle line counts the cycles in between.
  absl::SleepFor(absl::Milliseconds(1050));
  stats.cycle = 7;
  stats.dumps[1] = {};
  stats.dumps[1].family = AF_INET;
  debug.OnCycle(stats);
  EXPECT_THAT(out.lines().back(),
              HasSubstr("since the last line: 6 cycles, 0 files created"));
}

TEST_F(DebugObserverTest, DestroyEventsAreLogged) {
  debug.OnDestroyEvent(true);
  debug.OnDestroyEvent(false);  // held back: within 100 ms
  absl::SleepFor(absl::Milliseconds(120));
  debug.OnDestroyEventsLost();
  const std::vector<std::string> lines = out.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], HasSubstr("debug: destroy event: a connection no poll "
                                  "saw, archived from the event alone"));
  EXPECT_THAT(lines[1], HasSubstr("debug: destroy events lost (ENOBUFS)"));
  EXPECT_THAT(lines[1], HasSubstr("(1 similar lines held back)"));
}

}  // namespace
}  // namespace collector
