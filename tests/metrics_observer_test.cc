// collector::TelemetryObserver: what the polling loop's callbacks turn into
// on the event socket and in the metrics, with a real Saver and Server.
#include <arpa/inet.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include "collector/telemetry_observer.h"
#include "eventsocket/server.h"
#include "gtest/gtest.h"
#include "metrics/metrics.h"
#include "parse/timestamp.h"
#include "prometheus/text_serializer.h"
#include "saver/saver.h"
#include "tcp/tcp_info.h"
#include "tests/eventsocket_reader.h"
#include "tests/metrics_scrape.h"

namespace {

// One connection's record: an inet_diag_msg and a tcp_info whose byte
// counters are set.
struct Record {
  std::string idm = std::string(sizeof(inetdiag::Msg), '\0');
  std::string info = std::string(sizeof(tcp::TcpInfo), '\0');

  Record(uint64_t cookie, uint16_t sport, uint64_t sent, uint64_t received) {
    inetdiag::Msg msg{};
    msg.family = AF_INET;
    msg.state = 1;
    msg.id.sport_be = htons(sport);
    msg.id.dport_be = htons(17000);
    inet_pton(AF_INET, "10.77.0.2", msg.id.src);
    inet_pton(AF_INET, "10.77.0.1", msg.id.dst);
    msg.id.cookie[0] = static_cast<uint32_t>(cookie);
    msg.id.cookie[1] = static_cast<uint32_t>(cookie >> 32);
    std::memcpy(idm.data(), &msg, sizeof(msg));
    std::memcpy(info.data() + offsetof(tcp::TcpInfo, bytes_sent), &sent, 8);
    std::memcpy(info.data() + offsetof(tcp::TcpInfo, bytes_received), &received,
                8);
  }
  parse::RecordView View() const {
    parse::RecordView v;
    v.raw_idm = idm;
    v.attributes[inetdiag::kInfo] = info;
    v.attribute_slots = inetdiag::kInfo + 1;
    return v;
  }
};

std::map<std::string, testutil::ScrapedFamily> Scrape(
    const metrics::Metrics& m) {
  return testutil::ParseExposition(
      prometheus::TextSerializer().Serialize(m.collectable()->Collect()));
}

double Sample(const std::map<std::string, testutil::ScrapedFamily>& families,
              const std::string& family, const std::string& sample) {
  EXPECT_TRUE(families.count(family)) << family;
  if (!families.count(family)) return -1;
  const auto& samples = families.at(family).samples;
  EXPECT_TRUE(samples.count(sample)) << sample;
  return samples.count(sample) ? samples.at(sample) : -1;
}

// The Timestamp value of an event line ("" if it has none).
std::string TimestampOf(const std::string& line) {
  const std::string key = "\"Timestamp\":\"";
  const size_t start = line.find(key);
  if (start == std::string::npos) return "";
  const size_t end = line.find('"', start + key.size());
  return line.substr(start + key.size(), end - start - key.size());
}

// `line` with its Timestamp value emptied.
std::string WithoutTimestamp(std::string line) {
  const std::string t = TimestampOf(line);
  if (!t.empty()) line.erase(line.find(t), t.size());
  return line;
}

// The event's Timestamp lies within [before, after], clock reads around its
// production, and is written with Go's RFC 3339 nanoseconds, trailing zeros
// trimmed, in UTC.
void ExpectStampedBetween(const std::string& line, parse::Timestamp before,
                          parse::Timestamp after) {
  const std::string text = TimestampOf(line);
  absl::StatusOr<parse::Timestamp> t = parse::ParseRfc3339(text);
  ASSERT_TRUE(t.ok()) << line;
  EXPECT_FALSE(*t < before) << text << " before " << FormatRfc3339(before);
  EXPECT_FALSE(after < *t) << text << " after " << FormatRfc3339(after);
  EXPECT_EQ(text, parse::FormatRfc3339(*t));
  EXPECT_EQ(text.back(), 'Z');
}

TEST(TelemetryObserver, FeedsEventsAndMetricsFromPollingCallbacks) {
  char dir_template[] = "/tmp/telemetry_XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  saver::Options saver_options;
  saver_options.output_dir = dir;
  saver_options.uuid_prefix = "host_1795310322_unsafe";
  auto saver = saver::Saver::Create(saver_options);
  ASSERT_TRUE(saver.ok()) << saver.status();
  auto events = eventsocket::Server::Start({.path = dir + "/events.sock"});
  ASSERT_TRUE(events.ok()) << events.status();
  testutil::ReadingClient client((*events)->path());
  ASSERT_TRUE(testutil::WaitForClients(**events, 1));
  metrics::Metrics m;
  collector::TelemetryObserver observer(&m, events->get(), saver->get());

  // Cycle 1: a connection appears with 1000 bytes sent, 500 received.
  const parse::Timestamp t1{1795310805, 264000000};
  const Record a(0x13FD, 38064, 1000, 500);
  // Events are stamped when made, not with the snapshot's t1.
  const parse::Timestamp before_open = parse::Timestamp::Now();
  observer.OnFlowOpen(0x13FD, t1, a.View());
  const parse::Timestamp after_open = parse::Timestamp::Now();
  observer.OnSnapshot(0x13FD, t1, a.View(), parse::Change::kNew);
  (*saver)->Write(0x13FD, t1, a.View());
  collector::CycleStats cycle;
  cycle.cycle = 1;
  cycle.start = absl::FromUnixSeconds(t1.seconds);
  cycle.monotonic_start += std::chrono::seconds(1000);
  cycle.dumps[0].family = AF_INET6;
  cycle.dumps[0].elapsed = absl::Microseconds(1500);
  cycle.dumps[1].family = AF_INET;
  cycle.dumps[1].messages = 3;
  cycle.dumps[1].elapsed = absl::Microseconds(900);
  cycle.dumps[1].issues[static_cast<int>(collector::DumpIssue::kInterrupted)] =
      1;
  cycle.bad_messages = 2;
  cycle.connections = 1;
  observer.OnCycle(cycle);

  // Cycle 2, a second later: the connection is gone; another opens and is
  // still open at shutdown.
  const parse::Timestamp t2{t1.seconds + 1, 0};
  const parse::Timestamp before_close = parse::Timestamp::Now();
  observer.OnFlowClose(0x13FD, t2, collector::CloseReason::kAbsent);
  const parse::Timestamp after_close = parse::Timestamp::Now();
  const Record b(0x13FE, 38066, 0, 0);
  observer.OnFlowOpen(0x13FE, t2, b.View());
  observer.OnSnapshot(0x13FE, t2, b.View(), parse::Change::kNew);
  cycle.cycle = 2;
  cycle.start = absl::FromUnixSeconds(t2.seconds);
  cycle.monotonic_start += std::chrono::seconds(1);
  cycle.since_previous = absl::Milliseconds(10);
  cycle.dumps[1].issues = {};
  cycle.bad_messages = 0;
  observer.OnCycle(cycle);
  EXPECT_EQ(observer.open_flows(), 1u);
  const parse::Timestamp before_shutdown = parse::Timestamp::Now();
  EXPECT_EQ(observer.CloseAllFlows(), 1u);
  const parse::Timestamp after_shutdown = parse::Timestamp::Now();
  EXPECT_EQ(observer.open_flows(), 0u);

  ASSERT_TRUE((*events)->Flush(absl::Seconds(5)));
  ASSERT_TRUE(client.WaitForLines(4));
  const auto lines = client.lines();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(WithoutTimestamp(lines[0]),
            "{\"Event\":0,\"Timestamp\":\"\",\"UUID\":"
            "\"host_1795310322_unsafe_00000000000013FD\",\"ID\":{\"SPort\":"
            "38064,\"DPort\":17000,\"SrcIP\":\"10.77.0.2\",\"DstIP\":\"10.77.0."
            "1\",\"Interface\":0,\"Cookie\":5117}}\n");
  ExpectStampedBetween(lines[0], before_open, after_open);
  EXPECT_EQ(WithoutTimestamp(lines[1]),
            "{\"Event\":1,\"Timestamp\":\"\",\"UUID\":"
            "\"host_1795310322_unsafe_00000000000013FD\",\"ID\":null}\n");
  ExpectStampedBetween(lines[1], before_close, after_close);
  EXPECT_NE(lines[2].find("\"Event\":0,"), std::string::npos);
  EXPECT_NE(lines[2].find("_00000000000013FE\""), std::string::npos);
  EXPECT_EQ(WithoutTimestamp(lines[3]),
            "{\"Event\":1,\"Timestamp\":\"\",\"UUID\":"
            "\"host_1795310322_unsafe_00000000000013FE\",\"ID\":null}\n");
  ExpectStampedBetween(lines[3], before_shutdown, after_shutdown);
  // Nanoseconds, not the millisecond stamp of a snapshot: a clock read is a
  // whole millisecond once in a million, so one of three is not.
  int sub_millisecond = 0;
  for (int i : {0, 1, 3}) {
    absl::StatusOr<parse::Timestamp> t =
        parse::ParseRfc3339(TimestampOf(lines[i]));
    if (t.ok() && t->nanos % 1000000 != 0) ++sub_millisecond;
  }
  EXPECT_GE(sub_millisecond, 1);

  const auto f = Scrape(m);
  EXPECT_EQ(Sample(f, "tcpinfo_snapshot_total", "tcpinfo_snapshot_total"), 2);
  EXPECT_EQ(Sample(f, "tcpinfo_flow_events_total",
                   "tcpinfo_flow_events_total{event=\"open\"}"),
            2);
  EXPECT_EQ(Sample(f, "tcpinfo_flow_events_total",
                   "tcpinfo_flow_events_total{event=\"close\"}"),
            2);
  EXPECT_EQ(Sample(f, "tcpinfo_connection_count_histogram",
                   "tcpinfo_connection_count_histogram_sum{af=\"ipv4\"}"),
            6);
  EXPECT_EQ(Sample(f, "tcpinfo_connection_count_histogram",
                   "tcpinfo_connection_count_histogram_count{af=\"ipv6\"}"),
            2);
  EXPECT_EQ(Sample(f, "tcpinfo_syscall_time_histogram",
                   "tcpinfo_syscall_time_histogram_bucket{af=\"ipv6\",le="
                   "\"0.0016\"}"),
            2);
  EXPECT_EQ(Sample(f, "tcpinfo_syscall_time_histogram",
                   "tcpinfo_syscall_time_histogram_bucket{af=\"ipv6\",le="
                   "\"0.00125\"}"),
            0);
  EXPECT_EQ(Sample(f, "tcpinfo_cache_count_histogram",
                   "tcpinfo_cache_count_histogram_count"),
            2);
  // The first cycle has no interval; the second's is 10 ms.
  EXPECT_EQ(Sample(f, "tcpinfo_polling_interval_histogram",
                   "tcpinfo_polling_interval_histogram_count"),
            1);
  // Observed at both cycles (new seconds): 8000 bits, then nothing.
  EXPECT_EQ(Sample(f, "tcpinfo_send_rate_histogram",
                   "tcpinfo_send_rate_histogram_sum"),
            8000);
  EXPECT_EQ(Sample(f, "tcpinfo_send_rate_histogram",
                   "tcpinfo_send_rate_histogram_count"),
            2);
  EXPECT_EQ(Sample(f, "tcpinfo_receive_rate_histogram",
                   "tcpinfo_receive_rate_histogram_sum"),
            4000);
  EXPECT_EQ(Sample(f, "tcpinfo_error_total",
                   "tcpinfo_error_total{type=\"interrupted\"}"),
            1);
  EXPECT_EQ(Sample(f, "netlink_skipped_total",
                   "netlink_skipped_total{type=\"unparsable\"}"),
            2);
  EXPECT_EQ(Sample(f, "tcpinfo_new_file_total", "tcpinfo_new_file_total"),
            static_cast<double>((*saver)->stats().files_created));
  EXPECT_GE((*saver)->stats().files_created, 1u);

  events->reset();
  (*saver)->CloseAll();
  saver->reset();
  std::system(("rm -rf " + dir).c_str());
}

}  // namespace
