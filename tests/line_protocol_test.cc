// InfluxDB line protocol as sinks/line_protocol.h writes it: exact lines
// for both kinds of measurement and for a flow record. What a real
// InfluxDB reads back from them is in influx_sink_test.cc.
#include "sinks/line_protocol.h"

#include <cmath>
#include <limits>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "flows/measurement.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/flow_records.h"

namespace sinks {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

flows::Measurement Traffic(std::string name, int64_t sent, int64_t recv) {
  flows::Measurement m;
  m.kind = flows::MeasurementKind::kProcessTraffic;
  m.time = parse::Timestamp::FromUnixNanos(1795310322000000007);
  m.tags = {{"name", std::move(name)}};
  m.fields = {{"sent_bytes_last", sent}, {"recv_bytes_last", recv}};
  return m;
}

TEST(LineProtocol, ProcessTrafficIsNetgraphsNetworkData) {
  std::string out;
  ASSERT_TRUE(AppendMeasurementLine(Traffic("firefox", 1200, 34000), &out));
  EXPECT_EQ(out,
            "network_data,name=firefox sent_bytes_last=1200i,"
            "recv_bytes_last=34000i 1795310322000000007\n");
}

TEST(LineProtocol, DeviceUsageIsSpeedysMeasuresWithoutAnAbsentAddress) {
  flows::Measurement m;
  m.kind = flows::MeasurementKind::kDeviceUsage;
  m.time = parse::Timestamp::FromUnixNanos(1000000000);
  m.tags = {{"mac", "02:77:00:00:00:01"}};
  m.fields = {{"download", int64_t{5000}},
              {"upload", int64_t{0}},
              {"ipv4", std::string("10.77.1.2")},
              {"ipv6", std::monostate()}};
  std::string out;
  ASSERT_TRUE(AppendMeasurementLine(m, &out));
  EXPECT_EQ(out,
            "measures,mac=02:77:00:00:00:01 download=5000i,upload=0i,"
            "ipv4=\"10.77.1.2\" 1000000000\n");
}

TEST(LineProtocol, EscapesNamesTagsAndStrings) {
  flows::Measurement m = Traffic("my app, v2=x", -1, 2);
  m.tags.push_back({"k ey", "a\\,b"});
  m.fields.push_back({"note \"q\"", std::string("say \"hi\" C:\\dir\nnext")});
  std::string out;
  ASSERT_TRUE(AppendMeasurementLine(m, &out));
  EXPECT_EQ(out,
            "network_data,name=my\\ app\\,\\ v2\\=x,k\\ ey=a\\\\,b "
            "sent_bytes_last=-1i,recv_bytes_last=2i,"
            "note\\ \"q\"=\"say \\\"hi\\\" C:\\\\dir\nnext\" "
            "1795310322000000007\n");
}

TEST(LineProtocol,
     NewlinesBecomeSpacesTrailingBackslashesGoEmptyTagsAreLeftOut) {
  flows::Measurement m = Traffic("two\nlines\\\\", 1, 1);
  m.tags.push_back({"empty", ""});
  m.tags.push_back({"", "no key"});
  m.tags.push_back({"only", "\\\\"});
  std::string out;
  ASSERT_TRUE(AppendMeasurementLine(m, &out));
  EXPECT_THAT(out, StartsWith("network_data,name=two\\ lines "
                              "sent_bytes_last=1i,"));
}

TEST(LineProtocol, DoublesShortestAndNonFiniteLeftOut) {
  flows::Measurement m;
  m.time = parse::Timestamp::FromUnixNanos(5);
  m.fields = {{"a", 0.1},
              {"b", std::nan("")},
              {"c", std::numeric_limits<double>::infinity()},
              {"d", 3.0}};
  std::string out;
  ASSERT_TRUE(AppendMeasurementLine(m, &out));
  EXPECT_EQ(out, "network_data a=0.1,d=3 5\n");
}

TEST(LineProtocol, APointWithNoFieldIsNotWritten) {
  flows::Measurement m = Traffic("x", 0, 0);
  m.fields = {{"ipv4", std::monostate()}, {"nan", std::nan("")}};
  std::string out = "before\n";
  EXPECT_FALSE(AppendMeasurementLine(m, &out));
  EXPECT_EQ(out, "before\n");
}

TEST(LineProtocol, FlowRecordTagsAreItsTextColumnsAndEndTimeItsTimestamp) {
  flows::FlowRecord r = testutil::MakeFlowRecord(3);  // final, ipv4
  r.cookie = 0xF000000000000001ull;                   // above 2^63
  r.total.busy_us = std::numeric_limits<uint64_t>::max();
  std::string out;
  AppendFlowRecordLine(r, &out);
  const std::string tags = absl::StrCat(
      "tcpinfo_flow,uuid=", r.uuid,
      ",kind=final,end_reason=destroyed,family=ipv4,direction=in,cc=cubic,"
      "state=CLOSE,limited_by=network ");
  EXPECT_THAT(out, StartsWith(tags));
  EXPECT_THAT(out, HasSubstr(" cookie=\"17293822569102704641\",seq=3i,"
                             "local_addr=\"10.77.0.2\",local_port=40000i,"
                             "remote_addr=\"10.77.0.1\",remote_port=17000i,"));
  EXPECT_THAT(out, HasSubstr(absl::StrCat(
                       ",start_time=",
                       r.start_time.seconds * 1000000000 + r.start_time.nanos,
                       "i,bytes_acked=")));
  EXPECT_THAT(out, HasSubstr(",busy_us=9223372036854775807i,"));
  EXPECT_FALSE(absl::StrContains(out, "end_time"));
  EXPECT_TRUE(absl::EndsWith(
      out,
      absl::StrCat(",max_delivery_rate=5000000i,pid=0i,uid=4294967295i ",
                   r.end_time.seconds * 1000000000 + r.end_time.nanos, "\n")));
}

}  // namespace
}  // namespace sinks
