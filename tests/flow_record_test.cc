#include "flows/flow_record.h"

#include <set>
#include <string>

#include "flows/record_columns.h"
#include "flows/record_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tcp/tcp_info.h"

namespace flows {
namespace {

FlowRecord SampleRecord() {
  FlowRecord r;
  r.uuid = "host_1795310322_unsafe_00000000000013FD";
  r.cookie = 0x13FD;
  r.seq = 2;
  r.kind = RecordKind::kFinal;
  r.end_reason = EndReason::kDestroyed;
  r.local = *collector::ParseIpAddress("fd77::2");
  r.remote = *collector::ParseIpAddress("fd77::1");
  r.local_port = 40100;
  r.remote_port = 17000;
  r.direction = Direction::kOut;
  r.congestion_algorithm = "cubic";
  r.state = tcp::kClose;
  r.start_time = {1795310322, 5000, 0};
  r.end_time = {1795310325, 264601601, 0};
  r.total.bytes_acked = 1000001;
  r.total.bytes_received = 42;
  r.total.retrans_segs = 3;
  r.total.sndbuf_limited_us = 77;
  r.delta.bytes_acked = 501;
  r.delta.sndbuf_limited_us = 7;
  r.min_rtt_us = 120;
  r.rtt_us = 250;
  r.max_delivery_rate = 12500000;
  r.limited_by = LimitedBy::kReceiver;
  return r;
}

TEST(FlowRecordJson, CarriesEveryColumnWithItsValue) {
  std::string text;
  AppendRecordJson(SampleRecord(), &text);
  const nlohmann::json j = nlohmann::json::parse(text);
  EXPECT_EQ(j.size(), Columns().size());
  EXPECT_EQ(j["uuid"], "host_1795310322_unsafe_00000000000013FD");
  EXPECT_EQ(j["cookie"], 0x13FD);
  EXPECT_EQ(j["seq"], 2);
  EXPECT_EQ(j["kind"], "final");
  EXPECT_EQ(j["end_reason"], "destroyed");
  EXPECT_EQ(j["family"], "ipv6");
  EXPECT_EQ(j["local_addr"], "fd77::2");
  EXPECT_EQ(j["remote_addr"], "fd77::1");
  EXPECT_EQ(j["local_port"], 40100);
  EXPECT_EQ(j["remote_port"], 17000);
  EXPECT_EQ(j["direction"], "out");
  EXPECT_EQ(j["cc"], "cubic");
  EXPECT_EQ(j["state"], "CLOSE");
  EXPECT_EQ(j["start_time"], "2026-11-22T01:18:42.000005Z");
  EXPECT_EQ(j["end_time"], "2026-11-22T01:18:45.264601601Z");
  EXPECT_EQ(j["bytes_acked"], 1000001);
  EXPECT_EQ(j["delta_bytes_acked"], 501);
  EXPECT_EQ(j["bytes_received"], 42);
  EXPECT_EQ(j["delta_bytes_received"], 0);
  EXPECT_EQ(j["retrans_segs"], 3);
  EXPECT_EQ(j["sndbuf_limited_us"], 77);
  EXPECT_EQ(j["delta_sndbuf_limited_us"], 7);
  EXPECT_EQ(j["min_rtt_us"], 120);
  EXPECT_EQ(j["rtt_us"], 250);
  EXPECT_EQ(j["max_delivery_rate"], 12500000);
  EXPECT_EQ(j["limited_by"], "receiver");
}

TEST(FlowRecordColumns, NamesAreUniqueAndEveryCounterHasItsDelta) {
  std::set<std::string> names;
  for (const Column& c : Columns()) {
    EXPECT_TRUE(names.insert(c.name).second) << c.name;
    EXPECT_NE(std::string(c.meaning), "") << c.name;
  }
  for (const std::string& name : names) {
    if (name.rfind("delta_", 0) == 0) {
      EXPECT_TRUE(names.count(name.substr(6))) << name;
    }
  }
  EXPECT_TRUE(names.count("delta_retrans_segs"));
}

TEST(FlowRecordNames, AreTheDocumentedWords) {
  EXPECT_EQ(EndReasonName(EndReason::kDaemonStop), "daemon_stop");
  EXPECT_EQ(EndReasonName(EndReason::kAbsent), "absent");
  EXPECT_EQ(EndReasonName(EndReason::kInterim), "interim");
  EXPECT_EQ(KindName(RecordKind::kInterim), "interim");
  EXPECT_EQ(DirectionName(Direction::kIn), "in");
  EXPECT_EQ(LimitedByName(LimitedBy::kNetwork), "network");
  EXPECT_EQ(LimitedByName(LimitedBy::kSender), "sender");
  EXPECT_EQ(LimitedByName(LimitedBy::kNone), "none");
}

}  // namespace
}  // namespace flows
