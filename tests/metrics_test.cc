#include "metrics/metrics.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metrics/histogram.h"
#include "metrics/http_server.h"
#include "metrics/listen_address.h"
#include "metrics/process_metrics.h"
#include "metrics/rate_tracker.h"
#include "prometheus/metric_family.h"
#include "tests/metrics_scrape.h"
#include "tests/testutil/paths.h"

namespace {

using metrics::AddressFamily;
using metrics::Histogram;
using metrics::Metrics;
using metrics::MetricsServer;
using testutil::ParseExposition;
using testutil::ScrapedFamily;

std::map<std::string, ScrapedFamily> ReferenceFamilies() {
  return ParseExposition(testutil::ReadFileOrDie(testutil::TestDataDir() +
                                                 "/reference/metrics.txt"));
}

// Starts a server for `m` and the process collector on a free loopback port.
std::unique_ptr<MetricsServer> Serve(const Metrics& m) {
  auto server = MetricsServer::Start(
      "127.0.0.1:0",
      {m.collectable(), std::make_shared<metrics::ProcessCollector>()});
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return nullptr;
  EXPECT_GT((*server)->port(), 0);
  return std::move(*server);
}

std::string Scrape(const MetricsServer& server) {
  return testutil::HttpGet("127.0.0.1", server.port(), "/metrics");
}

// Feeds every family so that each shows samples.
void Exercise(Metrics& m) {
  m.ObserveSyscallTime(AddressFamily::kIpv4, 0.0015);
  m.ObserveSyscallTime(AddressFamily::kIpv6, 0.0021);
  m.ObservePollingInterval(0.0101);
  m.ObserveConnectionCount(AddressFamily::kIpv4, 3);
  m.ObserveConnectionCount(AddressFamily::kIpv6, 0);
  m.ObserveCacheCount(2);
  m.CountSnapshots(79);
  m.CountNewFiles(2);
  m.CountFlowOpen();
  m.CountFlowOpen();
  m.CountFlowClose();
  m.Error("netlink").Increment();
  m.LargeNetlink("ipv4").Increment(3);
  m.NetlinkSkipped("ipv6").Increment();
  m.rates().Update(1, 1000, 2000);
  m.rates().Tick({1000, 0});
}

// One exercised Metrics served for the whole test program.
const MetricsServer* SharedServer() {
  static Metrics* const m = [] {
    auto* metrics = new Metrics("test-version");
    Exercise(*metrics);
    return metrics;
  }();
  static const std::unique_ptr<MetricsServer> server = Serve(*m);
  return server.get();
}

TEST(Metrics, LiveScrapeHasEveryReferenceFamilyWithSameHelpTypeLabelsBuckets) {
  ASSERT_NE(SharedServer(), nullptr);
  const auto ours = ParseExposition(Scrape(*SharedServer()));
  const auto reference = ReferenceFamilies();
  ASSERT_EQ(reference.size(), 9u);  // the families the reference file holds
  for (const auto& [name, ref] : reference) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(ours.count(name));
    const ScrapedFamily& f = ours.at(name);
    EXPECT_EQ(f.help, ref.help);
    EXPECT_EQ(f.type, ref.type);
    EXPECT_EQ(f.label_names, ref.label_names);
    // Go's spelling of every bound: "1e+06", "0.010000000000000002".
    EXPECT_EQ(f.le_text, ref.le_text);
  }
  // The reference's CounterVecs without samples are absent from its file;
  // ours appear once used, with the reference's help.
  EXPECT_EQ(ours.at("tcpinfo_error_total").help,
            "The total number of errors encountered.");
  EXPECT_EQ(ours.at("large_netlink_total").help,
            "Number of oversize netlink messages.");
  EXPECT_EQ(ours.at("netlink_skipped_total").help,
            "Number of skipped netlink messages.");
  for (const char* counter : {"tcpinfo_error_total", "large_netlink_total",
                              "netlink_skipped_total"}) {
    EXPECT_EQ(ours.at(counter).type, "counter");
    EXPECT_EQ(ours.at(counter).label_names, std::set<std::string>{"type"});
  }
  // Values as fed.
  EXPECT_EQ(
      ours.at("tcpinfo_snapshot_total").samples.at("tcpinfo_snapshot_total"),
      79);
  EXPECT_EQ(ours.at("tcpinfo_flow_events_total")
                .samples.at("tcpinfo_flow_events_total{event=\"open\"}"),
            2);
  EXPECT_EQ(ours.at("tcpinfo_flow_events_total")
                .samples.at("tcpinfo_flow_events_total{event=\"close\"}"),
            1);
  EXPECT_EQ(ours.at("large_netlink_total")
                .samples.at("large_netlink_total{type=\"ipv4\"}"),
            3);
  EXPECT_EQ(ours.at("tcpinfo_connection_count_histogram")
                .samples.at("tcpinfo_connection_count_histogram_bucket{af="
                            "\"ipv4\",le=\"3\"}"),
            1);
  EXPECT_EQ(ours.at("tcpinfo_connection_count_histogram")
                .samples.at("tcpinfo_connection_count_histogram_bucket{af="
                            "\"ipv4\",le=\"2\"}"),
            0);
  EXPECT_EQ(ours.at("tcpinfo_send_rate_histogram")
                .samples.at("tcpinfo_send_rate_histogram_sum"),
            8000);
  EXPECT_EQ(ours.at("tcpinfo_build_info")
                .samples.at("tcpinfo_build_info{version=\"test-version\"}"),
            1);
}

TEST(Metrics, BucketBoundsAreTheReferencesExactDoubles) {
  // Go's text is the shortest exact form, so strtod gives its very doubles;
  // ours must be equal, not merely close (LinearBuckets accumulates).
  Metrics m;
  const auto reference = ReferenceFamilies();
  int compared = 0;
  for (const prometheus::MetricFamily& f : m.collectable()->Collect()) {
    if (!reference.count(f.name) || f.metric.empty()) continue;
    const auto& ref = reference.at(f.name);
    const auto& buckets = f.metric[0].histogram.bucket;
    if (ref.le.empty()) continue;
    ASSERT_EQ(buckets.size(), ref.le.size()) << f.name;
    for (size_t i = 0; i < buckets.size(); ++i) {
      EXPECT_EQ(buckets[i].upper_bound, ref.le[i])
          << f.name << " le=" << ref.le_text[i];
      ++compared;
    }
  }
  EXPECT_EQ(compared, 25 + 31 + 49 + 49 + 46 + 46);  // le values, +Inf included
}

TEST(Metrics, PromtoolFindsNothingButTheReferencesHistogramSuffix) {
  ASSERT_NE(SharedServer(), nullptr);
  const std::string page = Scrape(*SharedServer());
  ASSERT_FALSE(page.empty());
  char path[] = "/tmp/metrics_page_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, page.data(), page.size()),
            static_cast<ssize_t>(page.size()));
  close(fd);
  FILE* p = popen(
      (std::string("promtool check metrics < ") + path + " 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) output.append(buf, n);
  const int status = pclose(p);
  unlink(path);
  ASSERT_NE(status, -1);
  std::vector<std::string> complaints;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (!line.empty()) complaints.emplace_back(line);
  }
  EXPECT_THAT(complaints,
              testing::UnorderedElementsAre(
                  "tcpinfo_cache_count_histogram metric name should not "
                  "include type 'histogram'",
                  "tcpinfo_connection_count_histogram metric name should not "
                  "include type 'histogram'",
                  "tcpinfo_polling_interval_histogram metric name should not "
                  "include type 'histogram'",
                  "tcpinfo_receive_rate_histogram metric name should not "
                  "include type 'histogram'",
                  "tcpinfo_send_rate_histogram metric name should not include "
                  "type 'histogram'",
                  "tcpinfo_syscall_time_histogram metric name should not "
                  "include type 'histogram'"))
      << output;
}

TEST(ProcessMetrics, ScrapeShowsSaneValuesForThisProcess) {
  ASSERT_NE(SharedServer(), nullptr);
  const auto families = ParseExposition(Scrape(*SharedServer()));
  auto value = [&families](const std::string& name) {
    EXPECT_TRUE(families.count(name)) << name;
    if (!families.count(name)) return -1.0;
    EXPECT_EQ(families.at(name).samples.size(), 1u) << name;
    return families.at(name).samples.begin()->second;
  };
  EXPECT_GT(value("process_open_fds"), 3);  // stdio + the server's socket
  EXPECT_GE(value("process_max_fds"), value("process_open_fds"));
  EXPECT_GT(value("process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(value("process_virtual_memory_bytes"),
            value("process_resident_memory_bytes"));
  EXPECT_GE(value("process_cpu_seconds_total"), 0);
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(value("process_start_time_seconds"), now + 1);
  EXPECT_GT(value("process_start_time_seconds"), now - 3600);
  EXPECT_EQ(families.at("process_cpu_seconds_total").type, "counter");
  EXPECT_EQ(families.at("process_open_fds").type, "gauge");
}

TEST(ProcessMetrics, ParsesProcStatWithAwkwardCommand) {
  // Fields 14, 15 (utime, stime), 22 (starttime), 23 (vsize), 24 (rss).
  const std::string stat =
      "4242 (a) b (c) R 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0 1000 "
      "123456789 300 18446744073709551615 1 2 3 4 5 0 0 0 0 0 0 0 17 0 0 0 0 "
      "0 0\n";
  auto s = metrics::ParseProcStat(stat, 100, 4096, 1700000000);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_DOUBLE_EQ(s->cpu_seconds, 3.0);
  EXPECT_DOUBLE_EQ(s->start_time_seconds, 1700000010.0);
  EXPECT_DOUBLE_EQ(s->virtual_bytes, 123456789.0);
  EXPECT_DOUBLE_EQ(s->resident_bytes, 300.0 * 4096);
  EXPECT_FALSE(metrics::ParseProcStat("1 (x) R 1 2", 100, 4096, 0).ok());
  EXPECT_FALSE(metrics::ParseProcStat("garbage", 100, 4096, 0).ok());
}

TEST(Histogram, CountsValueInFirstBucketAtOrAboveIt) {
  Histogram h({1, 2, 5});
  for (double v : {0.5, 1.0, 1.5, 2.0, 5.0, 7.0}) h.Observe(v);
  const auto s = h.Snapshot();
  ASSERT_EQ(s.bucket.size(), 4u);
  EXPECT_EQ(s.bucket[0].cumulative_count, 2u);  // 0.5, 1.0
  EXPECT_EQ(s.bucket[1].cumulative_count, 4u);  // + 1.5, 2.0
  EXPECT_EQ(s.bucket[2].cumulative_count, 5u);  // + 5.0
  EXPECT_EQ(s.bucket[3].cumulative_count, 6u);  // + 7.0
  EXPECT_TRUE(std::isinf(s.bucket[3].upper_bound));
  EXPECT_EQ(s.sample_count, 6u);
  EXPECT_DOUBLE_EQ(s.sample_sum, 17.0);
  EXPECT_EQ(h.count(), 6u);
}

TEST(Histogram, LinearBucketsAccumulateLikeGo) {
  const auto b = metrics::LinearBuckets(0, 0.001, 30);
  ASSERT_EQ(b.size(), 30u);
  EXPECT_EQ(b[0], 0.0);
  EXPECT_EQ(b[9], 0.009000000000000001);
  EXPECT_EQ(b[10], 0.010000000000000002);
  EXPECT_EQ(b[29], 0.02900000000000002);
}

// The reference's saver test (TestHistograms), replayed: two connections,
// cycles 401 ms apart, observations when a new second starts.
TEST(RateTracker, ReproducesTheReferenceSaverObservations) {
  Histogram sent(std::vector<double>{0, 10000, 251000, 1e6});
  Histogram received(std::vector<double>{0, 10000, 251000, 1e6});
  metrics::RateTracker rates(&sent, &received);
  int64_t ms = 1517915533000;  // 2018-02-06T11:12:13Z
  auto tick = [&rates, &ms](int64_t advance_ms) {
    ms += advance_ms;
    rates.Tick(parse::Timestamp::FromUnixNanos(ms * 1000000));
  };
  rates.Update(11234, 0, 0);
  rates.Update(235, 2000, 1000);
  tick(0);  // first observation: 16000 bits sent, 8000 received
  rates.Close(235);
  tick(401);
  tick(401);  // a change without new bytes
  rates.Update(11234, 10000, 20000);
  tick(401);  // new second: 80000 sent, 160000 received
  rates.Update(11234, 100000, 20000);
  tick(401);
  rates.Close(11234);
  tick(401);  // new second: 720000 sent, 0 received

  EXPECT_EQ(sent.count(), 3u);
  EXPECT_DOUBLE_EQ(sent.sum(), 816000);
  EXPECT_EQ(received.count(), 3u);
  EXPECT_DOUBLE_EQ(received.sum(), 168000);
  const auto r = received.Snapshot();
  EXPECT_EQ(r.bucket[0].cumulative_count, 1u);  // 0
  EXPECT_EQ(r.bucket[1].cumulative_count, 2u);  // 8000
  EXPECT_EQ(r.bucket[2].cumulative_count, 3u);  // 160000
  EXPECT_EQ(rates.total_bytes_sent(), 102000u);
  EXPECT_EQ(rates.total_bytes_received(), 21000u);
  EXPECT_EQ(rates.connections(), 0u);
}

TEST(RateTracker, TotalsNeverGoBackwards) {
  Histogram sent(std::vector<double>{0}), received(std::vector<double>{0});
  metrics::RateTracker rates(&sent, &received);
  rates.Update(1, 500, 500);
  rates.Update(1, 400, 600);  // a lower counter adds nothing
  EXPECT_EQ(rates.total_bytes_sent(), 500u);
  EXPECT_EQ(rates.total_bytes_received(), 600u);
  rates.Update(1, 450, 600);  // counted from the new, lower baseline
  EXPECT_EQ(rates.total_bytes_sent(), 550u);
  rates.Close(1);
  rates.Close(99);  // unknown: ignored
  EXPECT_EQ(rates.total_bytes_sent(), 550u);
}

TEST(ListenAddress, ResolvesGoListenAddresses) {
  auto text = [](const char* address) {
    auto a = metrics::ResolveListenAddress(address);
    EXPECT_TRUE(a.ok()) << address << ": " << a.status();
    return a.ok() ? a->ToString() : "";
  };
  EXPECT_EQ(text(":9990"), "[::]:9990");
  EXPECT_TRUE(metrics::ResolveListenAddress(":9990")->any);
  EXPECT_EQ(text("localhost:9990"), "127.0.0.1:9990");  // IPv4 preferred
  EXPECT_EQ(text("10.77.0.2:0"), "10.77.0.2:0");
  EXPECT_EQ(text("[::1]:9990"), "[::1]:9990");
  EXPECT_EQ(text("[fd77::2]:80"), "[fd77::2]:80");
  EXPECT_FALSE(metrics::ResolveListenAddress("[::1]:9990")->any);
  for (const char* bad : {"9990", "host:abc", ":70000", "[::1:80", "[zz]:1",
                          "[127.0.0.1]:1", "no-such-host.invalid:1", ""}) {
    EXPECT_FALSE(metrics::ResolveListenAddress(bad).ok()) << bad;
  }
}

TEST(MetricsServer, StopsInMilliseconds) {
  Metrics m;
  for (const char* address : {"127.0.0.1:0", ":0", "[::1]:0"}) {
    auto server = MetricsServer::Start(address, {m.collectable()});
    ASSERT_TRUE(server.ok()) << server.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto start = std::chrono::steady_clock::now();
    server->reset();
    EXPECT_LT(std::chrono::steady_clock::now() - start,
              std::chrono::milliseconds(200))
        << address;
  }
}

TEST(MetricsServer, FailsWithOneClearLineWhenPortIsTaken) {
  ASSERT_NE(SharedServer(), nullptr);
  Metrics m;
  auto second = MetricsServer::Start(
      "127.0.0.1:" + std::to_string(SharedServer()->port()), {m.collectable()});
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()),
              testing::HasSubstr("cannot serve metrics on 127.0.0.1:"));
  EXPECT_EQ(std::string(second.status().message()).find('\n'),
            std::string::npos);
}

}  // namespace
