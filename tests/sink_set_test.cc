#include "sinks/sink_set.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "flows/record_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/metric_family.h"
#include "sinks/sink_url.h"
#include "tests/testutil/flow_records.h"
#include "tests/testutil/temp_dir.h"

namespace sinks {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

SinkUrl Url(const std::string& text) {
  absl::StatusOr<SinkUrl> url = ParseSinkUrl(text);
  EXPECT_TRUE(url.ok()) << url.status();
  return url.ok() ? *url : SinkUrl{};
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

SinkOptions Options() {
  SinkOptions o;
  o.queue_records = 1000;
  o.flush_interval = absl::Milliseconds(10);
  o.initial_backoff = absl::Milliseconds(10);
  o.max_backoff = absl::Milliseconds(50);
  return o;
}

// "name{label=value,...}" -> value, of every series the collectable gives.
std::map<std::string, double> Scrape(
    prometheus::Collectable& c, std::map<std::string, std::string>* types) {
  std::map<std::string, double> out;
  for (const prometheus::MetricFamily& f : c.Collect()) {
    (*types)[f.name] = f.type == prometheus::MetricType::Counter ? "counter"
                       : f.type == prometheus::MetricType::Gauge ? "gauge"
                                                                 : "other";
    for (const prometheus::ClientMetric& m : f.metric) {
      std::string key = f.name + "{";
      for (const auto& l : m.label) key += l.name + "=" + l.value + ",";
      key += "}";
      out[key] = f.type == prometheus::MetricType::Counter ? m.counter.value
                                                           : m.gauge.value;
    }
  }
  return out;
}

// Waits (at most 10 s) until sink `index` of `set` has sent `n` records.
bool WaitUntilSent(const SinkSet& set, size_t index, uint64_t n) {
  for (int ms = 0; ms < 10000; ++ms) {
    if (set.stats()[index].sent >= n) return true;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return false;
}

TEST(SinkSet, EverySinkGetsEveryRecordAndCountsAreExposed) {
  testutil::TempDir dir;
  const std::string a = dir.path() + "/a.jsonl", b = dir.path() + "/b.db";
  absl::StatusOr<std::unique_ptr<SinkSet>> set =
      SinkSet::Create({Url("jsonl:" + a), Url("sqlite:" + b)}, Options());
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ((*set)->size(), 2u);
  (*set)->Start();
  std::string want;
  for (uint32_t i = 0; i < 300; ++i) {
    flows::FlowRecord r = testutil::MakeFlowRecord(i);
    flows::AppendRecordJson(r, &want);
    want.push_back('\n');
    (*set)->Consume(std::move(r));
  }
  std::shared_ptr<prometheus::Collectable> collectable = (*set)->collectable();
  (*set)->Stop(absl::Seconds(10));
  EXPECT_EQ(ReadFile(a), want);
  const std::vector<SinkRunner::Stats> stats = (*set)->stats();
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0].sent, 300u);
  EXPECT_EQ(stats[1].sent, 300u);
  set->reset();  // the collectable outlives the set
  std::map<std::string, std::string> types;
  const std::map<std::string, double> series = Scrape(*collectable, &types);
  EXPECT_EQ(types["tcpinfo_sink_records_total"], "counter");
  EXPECT_EQ(types["tcpinfo_sink_queue_records"], "gauge");
  const std::string la = "sink=jsonl:" + a, lb = "sink=sqlite:" + b;
  EXPECT_EQ(series.at("tcpinfo_sink_records_total{" + la + ",result=sent,}"),
            300);
  EXPECT_EQ(series.at("tcpinfo_sink_records_total{" + la + ",result=failed,}"),
            0);
  EXPECT_EQ(series.at("tcpinfo_sink_records_total{" + la + ",result=dropped,}"),
            0);
  EXPECT_EQ(
      series.at("tcpinfo_sink_records_total{" + la + ",result=rejected,}"), 0);
  EXPECT_EQ(series.at("tcpinfo_sink_records_total{" + lb + ",result=sent,}"),
            300);
  EXPECT_EQ(series.at("tcpinfo_sink_queue_records{" + la + ",}"), 0);
  EXPECT_EQ(series.at("tcpinfo_sink_queue_records{" + lb + ",}"), 0);
  EXPECT_EQ(series.size(), 10u);
}

TEST(SinkSet, ADeadSinkDropsOnlyItsOwnRecords) {
  testutil::TempDir dir;
  const std::string good = dir.path() + "/good.jsonl";
  const std::string gone = dir.path() + "/gone";
  std::filesystem::create_directory(gone);
  const SinkUrl dead = Url("jsonl:" + gone + "/flows.jsonl");
  std::filesystem::remove(gone);  // its directory vanishes after start-up
  absl::StatusOr<std::unique_ptr<SinkSet>> set =
      SinkSet::Create({dead, Url("jsonl:" + good)}, Options());
  ASSERT_TRUE(set.ok()) << set.status();
  (*set)->Start();
  // 1000 records, then (once the good sink has written them) 500 more.
  for (uint32_t i = 0; i < 1500; ++i) {
    (*set)->Consume(testutil::MakeFlowRecord(i));
    if (i == 999) {
      ASSERT_TRUE(WaitUntilSent(**set, 1, 1000));
    }
  }
  std::map<std::string, std::string> types;
  std::map<std::string, double> series = Scrape(*(*set)->collectable(), &types);
  const std::string ld = "sink=jsonl:" + gone + "/flows.jsonl";
  EXPECT_EQ(series.at("tcpinfo_sink_queue_records{" + ld + ",}"), 1000);
  EXPECT_EQ(series.at("tcpinfo_sink_records_total{" + ld + ",result=dropped,}"),
            500);                              // beyond its queue of 1000
  ASSERT_TRUE(WaitUntilSent(**set, 1, 1500));  // the good one is done
  (*set)->Stop(absl::Milliseconds(100));
  const std::vector<SinkRunner::Stats> stats = (*set)->stats();
  EXPECT_EQ(stats[0].sent, 0u);
  EXPECT_EQ(stats[0].dropped, 1500u);  // 500 then the 1000 left at Stop
  EXPECT_EQ(stats[0].failed, 0u);      // it never connected to write
  EXPECT_EQ(stats[1].sent, 1500u);
  EXPECT_EQ(stats[1].dropped, 0u);
  const std::string text = ReadFile(good);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1500);
}

TEST(SinkSet, CreateFailsOnAWriterItCannotMake) {
  SinkUrl url;
  url.scheme = "nope";
  url.redacted = "nope://u@h";
  absl::StatusOr<std::unique_ptr<SinkSet>> set =
      SinkSet::Create({Url("jsonl:-"), url}, Options());
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().message(),
            "-sink=nope://u@h: unknown scheme \"nope\"");
}

TEST(SinkSet, EmptySetExposesNothing) {
  SinkSet set;
  set.Start();
  set.Consume(testutil::MakeFlowRecord(0));
  EXPECT_TRUE(set.collectable()->Collect().empty());
  set.Stop(absl::ZeroDuration());
}

// Takes every measurement of the kind it accepts and counts them.
class MeasurementCounter : public SinkWriter {
 public:
  MeasurementCounter(flows::MeasurementKind accepts,
                     std::shared_ptr<std::atomic<int>> taken)
      : accepts_(accepts), taken_(std::move(taken)) {}
  absl::Status Connect() override { return absl::OkStatus(); }
  WriteResult Write(absl::Span<const flows::FlowRecord> records) override {
    return {records.size(), absl::OkStatus()};
  }
  bool Accepts(flows::MeasurementKind kind) const override {
    return kind == accepts_;
  }
  WriteResult WriteMeasurements(
      absl::Span<const flows::Measurement> measurements) override {
    for (const flows::Measurement& m : measurements) {
      EXPECT_EQ(m.kind, accepts_);
      taken_->fetch_add(1);
    }
    return {measurements.size(), absl::OkStatus()};
  }

 private:
  const flows::MeasurementKind accepts_;
  std::shared_ptr<std::atomic<int>> taken_;
};

TEST(SinkSet, AMeasurementGoesOnlyToTheSinksThatAcceptItsKind) {
  SinkSet set;
  auto devices = std::make_shared<std::atomic<int>>(0);
  auto processes = std::make_shared<std::atomic<int>>(0);
  set.Add(std::make_unique<SinkRunner>(
      "devices",
      std::make_unique<MeasurementCounter>(flows::MeasurementKind::kDeviceUsage,
                                           devices),
      Options()));
  set.Add(std::make_unique<SinkRunner>(
      "processes",
      std::make_unique<MeasurementCounter>(
          flows::MeasurementKind::kProcessTraffic, processes),
      Options()));
  EXPECT_TRUE(set.Accepts(flows::MeasurementKind::kDeviceUsage));
  EXPECT_TRUE(set.Accepts(flows::MeasurementKind::kProcessTraffic));
  set.Start();
  for (int i = 0; i < 7; ++i) {
    flows::Measurement m;
    m.kind = i % 3 == 0 ? flows::MeasurementKind::kProcessTraffic
                        : flows::MeasurementKind::kDeviceUsage;
    set.ConsumeMeasurement(std::move(m));
  }
  set.Stop(absl::Seconds(10));
  EXPECT_EQ(devices->load(), 4);
  EXPECT_EQ(processes->load(), 3);
  const std::vector<SinkRunner::Stats> stats = set.stats();
  EXPECT_EQ(stats[0].sent, 4u);
  EXPECT_EQ(stats[1].sent, 3u);
  EXPECT_EQ(stats[0].dropped + stats[1].dropped, 0u);
}

TEST(SinkSet, OnlyTheSqlSinksTakeDeviceUsage) {
  testutil::TempDir dir;
  absl::StatusOr<std::unique_ptr<SinkSet>> set =
      SinkSet::Create({Url("jsonl:" + dir.path() + "/a.jsonl"),
                       Url("sqlite:" + dir.path() + "/b.db")},
                      Options());
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE((*set)->Accepts(flows::MeasurementKind::kDeviceUsage));
  EXPECT_FALSE((*set)->Accepts(flows::MeasurementKind::kProcessTraffic));
  absl::StatusOr<std::unique_ptr<SinkSet>> jsonl =
      SinkSet::Create({Url("jsonl:" + dir.path() + "/c.jsonl")}, Options());
  ASSERT_TRUE(jsonl.ok()) << jsonl.status();
  EXPECT_FALSE((*jsonl)->Accepts(flows::MeasurementKind::kDeviceUsage));
}

}  // namespace
}  // namespace sinks
