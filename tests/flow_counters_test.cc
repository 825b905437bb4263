#include "flows/counters.h"
#include "gtest/gtest.h"

namespace flows {
namespace {

TEST(AdvanceCounters, ThirtyTwoBitCountersAreCarriedAcrossTheirWrap) {
  FlowCounters total;
  tcp::TcpInfo info{};
  info.segs_out = 0xFFFFFFF0u;
  AdvanceCounters(info, &total);
  EXPECT_EQ(total.segs_out, 0xFFFFFFF0u);
  info.segs_out = 0x10;  // wrapped: 0x20 more
  AdvanceCounters(info, &total);
  EXPECT_EQ(total.segs_out, 0x100000010u);
  info.segs_out = 0x15;
  AdvanceCounters(info, &total);
  EXPECT_EQ(total.segs_out, 0x100000015u);
}

TEST(AdvanceCounters, SixtyFourBitCountersNeverGoBack) {
  FlowCounters total;
  tcp::TcpInfo info{};
  info.bytes_acked = 5000;
  info.bytes_received = 7;
  AdvanceCounters(info, &total);
  info.bytes_acked = 10;  // a reset (tcp_disconnect)
  info.bytes_received = 9;
  AdvanceCounters(info, &total);
  EXPECT_EQ(total.bytes_acked, 5000u);
  EXPECT_EQ(total.bytes_received, 9u);
  info.bytes_acked = 6000;
  AdvanceCounters(info, &total);
  EXPECT_EQ(total.bytes_acked, 6000u);
}

TEST(Subtract, GivesEachCountersChange) {
  FlowCounters a, b;
  a.bytes_sent = 100;
  a.retrans_segs = 3;
  a.sndbuf_limited_us = 9;
  b.bytes_sent = 40;
  b.retrans_segs = 1;
  const FlowCounters d = Subtract(a, b);
  EXPECT_EQ(d.bytes_sent, 60u);
  EXPECT_EQ(d.retrans_segs, 2u);
  EXPECT_EQ(d.sndbuf_limited_us, 9u);
  EXPECT_EQ(d.bytes_acked, 0u);
}

}  // namespace
}  // namespace flows
