#include "metrics/text_format.h"

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "metrics/histogram.h"
#include "metrics/metrics.h"
#include "prometheus/metric_family.h"
#include "tests/metrics_scrape.h"
#include "tests/testutil/paths.h"

namespace {

using metrics::FormatGoFloat;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

TEST(FormatGoFloat, WritesWhatGoStrconvFormatFloatGWritesForFloat64) {
  // Expected strings: Go's strconv.FormatFloat(f, 'g', -1, 64).
  EXPECT_EQ(FormatGoFloat(1), "1");
  EXPECT_EQ(FormatGoFloat(12.5), "12.5");
  EXPECT_EQ(FormatGoFloat(79000), "79000");
  EXPECT_EQ(FormatGoFloat(100000), "100000");
  EXPECT_EQ(FormatGoFloat(631000), "631000");
  EXPECT_EQ(FormatGoFloat(1e6), "1e+06");
  EXPECT_EQ(FormatGoFloat(1.58e6), "1.58e+06");
  EXPECT_EQ(FormatGoFloat(1e7), "1e+07");
  EXPECT_EQ(FormatGoFloat(3.93216e7), "3.93216e+07");
  EXPECT_EQ(FormatGoFloat(123456789), "1.23456789e+08");
  EXPECT_EQ(FormatGoFloat(1e21), "1e+21");
  EXPECT_EQ(FormatGoFloat(1e100), "1e+100");
  EXPECT_EQ(FormatGoFloat(0.0079), "0.0079");
  EXPECT_EQ(FormatGoFloat(0.0001), "0.0001");
  EXPECT_EQ(FormatGoFloat(0.00001), "1e-05");
  EXPECT_EQ(FormatGoFloat(0.00012345), "0.00012345");
  EXPECT_EQ(FormatGoFloat(4.1609410199999965), "4.1609410199999965");
  EXPECT_EQ(FormatGoFloat(metrics::LinearBuckets(0, 0.001, 30)[10]),
            "0.010000000000000002");
  EXPECT_EQ(FormatGoFloat(-1.5), "-1.5");
  EXPECT_EQ(FormatGoFloat(-2e-7), "-2e-07");
  EXPECT_EQ(FormatGoFloat(5e-324), "5e-324");
  EXPECT_EQ(FormatGoFloat(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(FormatGoFloat(18446744073709551615.0), "1.8446744073709552e+19");
  // expfmt's own spellings.
  EXPECT_EQ(FormatGoFloat(0.0), "0");
  EXPECT_EQ(FormatGoFloat(-0.0), "0");
  EXPECT_EQ(FormatGoFloat(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatGoFloat(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatGoFloat(std::nan("")), "NaN");
}

MetricFamily Family(const char* name, MetricType type, const char* help = "") {
  MetricFamily f;
  f.name = name;
  f.type = type;
  f.help = help;
  return f;
}

ClientMetric Gauge(double value, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.gauge.value = value;
  m.label = std::move(labels);
  return m;
}

TEST(WriteTextFormat, WritesGoExpfmtOrderAndSpelling) {
  std::vector<MetricFamily> families;
  {
    auto f = Family("b_histogram", MetricType::Histogram, "h");
    ClientMetric m;
    m.label = {{"af", "ipv6"}};
    m.histogram.sample_count = 3;
    m.histogram.sample_sum = 1.5e6;
    m.histogram.bucket = {{1, 0.001}, {2, 1e6}};  // +Inf left out: added
    f.metric.push_back(m);
    m.label = {{"af", "ipv4"}};
    m.histogram.bucket.push_back({3, std::numeric_limits<double>::infinity()});
    f.metric.push_back(m);
    families.push_back(f);
  }
  {
    auto f = Family("a_gauge", MetricType::Gauge, "back\\slash\nnew \"line\"");
    // Labels out of name order, and values with characters to escape.
    f.metric.push_back(Gauge(2, {{"z", "1"}, {"a", "q\"\\\n"}}));
    f.metric.push_back(Gauge(1, {{"z", "0"}, {"a", "b"}}));
    families.push_back(f);
  }
  {
    auto f = Family("c_summary", MetricType::Summary);
    ClientMetric m;
    m.summary.quantile = {{0.5, 7}, {0.99, 1e7}};
    m.summary.sample_count = 10;
    m.summary.sample_sum = 70;
    m.timestamp_ms = 1700000000123;
    f.metric.push_back(m);
    families.push_back(f);
  }
  families.push_back(Family("d_empty", MetricType::Counter, "no series"));
  {
    auto f = Family("a_gauge", MetricType::Gauge, "dup");  // merged
    f.metric.push_back(Gauge(3, {{"a", "a"}, {"z", "9"}}));
    families.push_back(f);
  }
  {
    auto f = Family("e_untyped", MetricType::Untyped, "u");
    ClientMetric m;
    m.untyped.value = 12345678;
    f.metric.push_back(m);
    auto c = Family("e_counter", MetricType::Counter, "c");
    ClientMetric n;
    n.counter.value = 79;
    c.metric.push_back(n);
    families.push_back(f);
    families.push_back(c);
  }
  std::string out = "prefix\n";
  metrics::WriteTextFormat(families, &out);
  EXPECT_EQ(out,
            "prefix\n"
            "# HELP a_gauge back\\\\slash\\nnew \"line\"\n"
            "# TYPE a_gauge gauge\n"
            "a_gauge{a=\"a\",z=\"9\"} 3\n"
            "a_gauge{a=\"b\",z=\"0\"} 1\n"
            "a_gauge{a=\"q\\\"\\\\\\n\",z=\"1\"} 2\n"
            "# HELP b_histogram h\n"
            "# TYPE b_histogram histogram\n"
            "b_histogram_bucket{af=\"ipv4\",le=\"0.001\"} 1\n"
            "b_histogram_bucket{af=\"ipv4\",le=\"1e+06\"} 2\n"
            "b_histogram_bucket{af=\"ipv4\",le=\"+Inf\"} 3\n"
            "b_histogram_sum{af=\"ipv4\"} 1.5e+06\n"
            "b_histogram_count{af=\"ipv4\"} 3\n"
            "b_histogram_bucket{af=\"ipv6\",le=\"0.001\"} 1\n"
            "b_histogram_bucket{af=\"ipv6\",le=\"1e+06\"} 2\n"
            "b_histogram_bucket{af=\"ipv6\",le=\"+Inf\"} 3\n"
            "b_histogram_sum{af=\"ipv6\"} 1.5e+06\n"
            "b_histogram_count{af=\"ipv6\"} 3\n"
            "# TYPE c_summary summary\n"
            "c_summary{quantile=\"0.5\"} 7 1700000000123\n"
            "c_summary{quantile=\"0.99\"} 1e+07 1700000000123\n"
            "c_summary_sum 70 1700000000123\n"
            "c_summary_count 10 1700000000123\n"
            "# HELP e_counter c\n"
            "# TYPE e_counter counter\n"
            "e_counter 79\n"
            "# HELP e_untyped u\n"
            "# TYPE e_untyped untyped\n"
            "e_untyped 1.2345678e+07\n");
}

// Series name and labels, without the value: "f_bucket{af=\"ipv4\",le=\"1\"}".
std::set<std::string> SeriesOf(const testutil::ScrapedFamily& f) {
  std::set<std::string> series;
  for (const auto& [key, value] : f.samples) series.insert(key);
  return series;
}

TEST(WriteTextFormat, EverySeriesOfTheReferencesFamiliesIsByteForByteGos) {
  metrics::Metrics m("test-version");
  m.CountFlowOpen();
  std::string page;
  metrics::WriteTextFormat(m.collectable()->Collect(), &page);
  const auto ours = testutil::ParseExposition(page);
  const auto reference = testutil::ParseExposition(testutil::ReadFileOrDie(
      testutil::TestDataDir() + "/reference/metrics.txt"));
  ASSERT_EQ(reference.size(), 9u);
  size_t compared = 0;
  for (const auto& [name, ref] : reference) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(ours.count(name));
    std::set<std::string> expected = SeriesOf(ref);
    if (name == "tcpinfo_flow_events_total") {
      // Ours shows both event values from the start; the reference only
      // those that happened.
      expected.insert("tcpinfo_flow_events_total{event=\"close\"}");
    }
    EXPECT_EQ(SeriesOf(ours.at(name)), expected);
    EXPECT_EQ(ours.at(name).le_text, ref.le_text);
    EXPECT_EQ(ours.at(name).help, ref.help);
    EXPECT_EQ(ours.at(name).type, ref.type);
    compared += expected.size();
  }
  EXPECT_EQ(compared, 51u + 102 + 2 + 1 + 33 + 48 + 48 + 1 + 54);
  // The reference's order: family by family by name, each histogram series
  // as buckets, _sum, _count; the same line sequence (values aside).
  auto series_lines =
      [](const std::string& text,
         const std::map<std::string, testutil::ScrapedFamily>& families) {
        std::vector<std::string> lines;
        for (absl::string_view line : absl::StrSplit(text, '\n')) {
          if (line.empty() || line[0] == '#') continue;
          const std::string key(line.substr(0, line.rfind(' ')));
          if (!families.count(
                  testutil::FamilyOf(families, key.substr(0, key.find('{'))))) {
            continue;
          }
          if (key == "tcpinfo_flow_events_total{event=\"close\"}") continue;
          lines.push_back(key);
        }
        return lines;
      };
  EXPECT_EQ(series_lines(page, reference),
            series_lines(testutil::ReadFileOrDie(testutil::TestDataDir() +
                                                 "/reference/metrics.txt"),
                         reference));
}

}  // namespace
