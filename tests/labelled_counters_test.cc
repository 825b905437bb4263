#include "metrics/labelled_counters.h"

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "metrics/text_format.h"

namespace metrics {
namespace {

LabelledCountersOptions Options(size_t max_series) {
  LabelledCountersOptions o;
  o.families = {{"ntm_bytes_total", "Bytes."}, {"ntm_packets_total", "Pkts."}};
  o.label_names = {"src", "dst"};
  o.max_series = max_series;
  o.overflow_name = "tcpinfo_traffic_series_overflow_total";
  o.overflow_help = "Adds summed under other.";
  return o;
}

TEST(LabelledCounters, SumsEachFamilyPerLabelSet) {
  LabelledCounters c(Options(10));
  c.Add({"a", "b"}, {100, 2});
  c.Add({"a", "c"}, {5, 1});
  c.Add({"a", "b"}, {50, 1});
  EXPECT_EQ(c.ValueForTest(0, {"a", "b"}), 150u);
  EXPECT_EQ(c.ValueForTest(1, {"a", "b"}), 3u);
  EXPECT_EQ(c.ValueForTest(0, {"a", "c"}), 5u);
  EXPECT_EQ(c.ValueForTest(0, {"b", "a"}), 0u);
  EXPECT_EQ(c.series(), 2u);
  EXPECT_EQ(c.overflowed(), 0u);
}

TEST(LabelledCounters, LabelSetsThatJoinToTheSameTextStayApart) {
  LabelledCounters c(Options(10));
  c.Add({"ab", "c"}, {1, 0});
  c.Add({"a", "bc"}, {2, 0});
  EXPECT_EQ(c.ValueForTest(0, {"ab", "c"}), 1u);
  EXPECT_EQ(c.ValueForTest(0, {"a", "bc"}), 2u);
}

TEST(LabelledCounters, NewLabelSetsPastTheCapAreSummedUnderOtherAndCounted) {
  LabelledCounters c(Options(2));
  c.Add({"a", "1"}, {1, 1});
  c.Add({"a", "2"}, {2, 1});
  c.Add({"a", "3"}, {4, 1});
  c.Add({"a", "4"}, {8, 1});
  c.Add({"a", "1"}, {16, 1});  // an existing series still counts
  EXPECT_EQ(c.ValueForTest(0, {"a", "1"}), 17u);
  EXPECT_EQ(c.ValueForTest(0, {"other", "other"}), 12u);
  EXPECT_EQ(c.ValueForTest(1, {"other", "other"}), 2u);
  EXPECT_EQ(c.overflowed(), 2u);
  EXPECT_EQ(c.series(), 3u);
  // The exact traffic is kept: the sum over every series is what was added.
  uint64_t sum = 0;
  for (const prometheus::MetricFamily& f : c.Collect()) {
    if (f.name != "ntm_bytes_total") continue;
    for (const prometheus::ClientMetric& m : f.metric) {
      sum += static_cast<uint64_t>(m.counter.value);
    }
  }
  EXPECT_EQ(sum, 31u);
}

// Series in first-seen order; labels sorted by name, as Go writes them.
TEST(LabelledCounters, ExposesCountersWithLabelsInFirstSeenOrder) {
  LabelledCounters c(Options(1));
  c.Add({"10.0.0.1", "10.0.0.2"}, {1500, 1});
  c.Add({"10.0.0.3", "10.0.0.2"}, {1, 1});
  std::string text;
  WriteTextFormat(c.Collect(), &text);
  EXPECT_EQ(text,
            "# HELP ntm_bytes_total Bytes.\n"
            "# TYPE ntm_bytes_total counter\n"
            "ntm_bytes_total{dst=\"10.0.0.2\",src=\"10.0.0.1\"} 1500\n"
            "ntm_bytes_total{dst=\"other\",src=\"other\"} 1\n"
            "# HELP ntm_packets_total Pkts.\n"
            "# TYPE ntm_packets_total counter\n"
            "ntm_packets_total{dst=\"10.0.0.2\",src=\"10.0.0.1\"} 1\n"
            "ntm_packets_total{dst=\"other\",src=\"other\"} 1\n"
            "# HELP tcpinfo_traffic_series_overflow_total Adds summed under "
            "other.\n"
            "# TYPE tcpinfo_traffic_series_overflow_total counter\n"
            "tcpinfo_traffic_series_overflow_total 1\n");
}

TEST(LabelledCounters, ScrapesWhileAddingSeeValuesThatOnlyGrow) {
  LabelledCounters c(Options(100));
  std::thread adder([&] {
    for (int i = 0; i < 20000; ++i)
      c.Add({"a", std::to_string(i % 50)}, {1, 1});
  });
  double last = 0;
  for (int i = 0; i < 200; ++i) {
    double total = 0;
    for (const prometheus::MetricFamily& f : c.Collect()) {
      if (f.name != "ntm_bytes_total") continue;
      for (const prometheus::ClientMetric& m : f.metric) {
        total += m.counter.value;
      }
    }
    EXPECT_GE(total, last);
    last = total;
  }
  adder.join();
  EXPECT_EQ(c.ValueForTest(0, {"a", "7"}), 400u);
}

}  // namespace
}  // namespace metrics
