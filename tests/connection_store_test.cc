// api::ConnectionStore: what the polling thread reports becomes visible at
// the end of the cycle, not before; a reader holding the lock defers the
// publication to the next cycle (the polling thread never waits); a closed
// connection keeps its final record for keep_closed, then goes.
#include "api/connection_store.h"

#include <chrono>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "parse/record_view.h"
#include "tests/collector_fakes.h"

namespace {

using std::chrono::seconds;

class Store : public ::testing::Test {
 protected:
  // Reports a snapshot of `cookie` whose tcp_info bytes are all `fill`.
  void Snapshot(uint64_t cookie, uint8_t fill) {
    const std::string payload = collector_test::MakeMessage(
        collector_test::MakeMsg("10.77.0.2", 40000, "10.77.0.1", 80, cookie),
        232, fill);
    absl::StatusOr<parse::RecordView> view = parse::SplitMessage(payload);
    ASSERT_TRUE(view.ok()) << view.status();
    store_.OnSnapshot(cookie, parse::Timestamp{1700000000, 0, 0}, *view,
                      parse::Change::kNew);
  }
  // Ends a cycle at `at` seconds.
  void Cycle(int at) {
    collector::CycleStats stats;
    stats.monotonic_start = std::chrono::steady_clock::time_point(seconds(at));
    store_.OnCycle(stats);
  }

  api::ConnectionStore store_{"p", absl::Seconds(10)};
};

TEST_F(Store, PublishesAtTheEndOfTheCycle) {
  Snapshot(7, 1);
  EXPECT_EQ(store_.Find(7), nullptr);
  EXPECT_TRUE(store_.Open().empty());
  Cycle(1);
  std::shared_ptr<const api::ConnectionState> s = store_.Find(7);
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->open);
  EXPECT_EQ(s->cookie, 7u);
  EXPECT_EQ(s->snapshot.tcp_info.state, 1);  // the first byte, `fill`
  EXPECT_EQ(s->snapshot.idm.id.cookie[0], 7u);
  ASSERT_EQ(store_.Open().size(), 1u);
  // A later snapshot replaces it; the reader's copy stays as it was.
  Snapshot(7, 2);
  Cycle(2);
  EXPECT_EQ(store_.Find(7)->snapshot.tcp_info.state, 2);
  EXPECT_EQ(s->snapshot.tcp_info.state, 1);
}

TEST_F(Store, AReaderHoldingTheLockDefersPublicationWithoutBlocking) {
  Snapshot(7, 1);
  // The cycle ends on another thread (as polling does) while this one
  // holds the lock: it returns at once, publishing nothing.
  store_.WhileLocked([&] {
    std::thread polling([&] { Cycle(1); });
    polling.join();
  });
  EXPECT_EQ(store_.Find(7), nullptr);
  Snapshot(8, 1);
  Cycle(2);  // both now
  EXPECT_NE(store_.Find(7), nullptr);
  EXPECT_NE(store_.Find(8), nullptr);
}

TEST_F(Store, KeepsAClosedConnectionsFinalRecordForKeepClosed) {
  Snapshot(7, 3);
  Cycle(1);
  store_.OnFlowClose(7, parse::Timestamp{1700000005, 0, 0},
                     collector::CloseReason::kDestroyed);
  EXPECT_TRUE(store_.Find(7)->open);  // until the cycle ends
  Cycle(2);
  std::shared_ptr<const api::ConnectionState> closed = store_.Find(7);
  ASSERT_NE(closed, nullptr);
  EXPECT_FALSE(closed->open);
  EXPECT_EQ(closed->closed_at.seconds, 1700000005);
  EXPECT_EQ(closed->close_reason, collector::CloseReason::kDestroyed);
  EXPECT_EQ(closed->snapshot.tcp_info.state, 3);
  EXPECT_TRUE(store_.Open().empty());
  Cycle(11);
  EXPECT_NE(store_.Find(7), nullptr);
  Cycle(12);  // 10 s after the cycle that closed it
  EXPECT_EQ(store_.Find(7), nullptr);
}

TEST_F(Store, AnUnknownCloseAddsNothing) {
  store_.OnFlowClose(9, parse::Timestamp{}, collector::CloseReason::kAbsent);
  Cycle(1);
  EXPECT_EQ(store_.Find(9), nullptr);
}

}  // namespace
