// Flow records end to end, as root: build/bin/tcp-info polls a connfarm
// client namespace with -sink=sqlite:... and -sink=jsonl:... while the test
// makes connections of its own there (every third over IPv6). Both sinks
// must hold the same records with the same values, each connection of the
// test a final record with its exact byte counts, and the sink metrics
// must count every record sent, none failed or dropped.
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "flows/record_columns.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "parse/timestamp.h"
#include "tests/metrics_scrape.h"
#include "tests/testutil/daemon_fixture.h"
#include "tests/testutil/farm.h"
#include "tests/testutil/sink_rows.h"

namespace {

constexpr uint16_t kPort = 18671;
constexpr int kMetricsPort = 19671;
constexpr int kConnections = 30;

using testutil::JsonlRows;
using testutil::SqliteRows;
using Key = testutil::RowKey;
using Row = testutil::Row;

// The value of `series` (as the page writes it: label names sorted, as
// Go's expfmt does) in a Prometheus text page; -1 if none.
double Sample(const std::string& page, const std::string& series) {
  for (const auto& [name, family] : testutil::ParseExposition(page)) {
    auto it = family.samples.find(series);
    if (it != family.samples.end()) return it->second;
  }
  return -1;
}

class SinksIntegration : public testutil::DaemonTest {
 protected:
  SinksIntegration() : DaemonTest({"sinks_it", "skit", "sk", kPort}) {}
};

TEST_F(SinksIntegration, SqliteAndJsonlHoldTheSameRecordsWithTheSameValues) {
  const std::string db = dir_ + "/flows.db";
  const std::string jsonl = dir_ + "/flows.jsonl";
  ASSERT_NO_FATAL_FAILURE(StartPollingDaemon(
      {"-sink=sqlite:" + db, "-sink=jsonl:" + jsonl, "-flows.active-timeout=1s",
       absl::StrCat("-prometheusx.listen-address=127.0.0.1:", kMetricsPort)}));
  std::vector<testutil::Exchange> exchanges(kConnections);
  for (int i = 0; i < kConnections; ++i) {
    exchanges[i] = {.v6 = i % 3 == 2,
                    .up = 1000u + 17u * i,
                    .down = 3000u + 29u * i,
                    // a few live past the active timeout
                    .lifetime = absl::Milliseconds(i % 10 == 0 ? 1500 : 20)};
  }
  ASSERT_NO_FATAL_FAILURE(
      testutil::RunExchanges(*farm_, listeners_, kPort, &exchanges));
  absl::SleepFor(absl::Milliseconds(500));  // the sinks' flush interval
  const std::string page = testutil::HttpGet(
      "127.0.0.1", kMetricsPort, "/metrics", farm_->name() + "-cli");
  ASSERT_NO_FATAL_FAILURE(StopDaemon());

  const std::map<Key, Row> sql = SqliteRows(db);
  const std::map<Key, Row> json = JsonlRows(jsonl);
  ASSERT_FALSE(sql.empty());
  EXPECT_EQ(sql.size(), json.size());
  for (const auto& [key, row] : sql) {
    auto it = json.find(key);
    ASSERT_NE(it, json.end()) << key.first << " " << key.second;
    EXPECT_EQ(row, it->second) << key.first << " " << key.second;
  }

  // Every connection of the test: a final record with its exact counts,
  // seq numbers 0..n-1 without a gap, deltas adding up to the totals.
  std::map<std::string, std::vector<const Row*>> by_flow;
  for (const auto& [key, row] : sql) by_flow[key.first].push_back(&row);
  int interim = 0;
  for (const testutil::Exchange& e : exchanges) {
    const std::string uuid = absl::StrFormat("%s_%016X", prefix_, e.cookie);
    SCOPED_TRACE(uuid);
    auto it = by_flow.find(uuid);
    ASSERT_NE(it, by_flow.end());
    const std::vector<const Row*>& records = it->second;  // in seq order
    uint64_t sent = 0, received = 0;
    for (size_t i = 0; i < records.size(); ++i) {
      const Row& r = *records[i];
      EXPECT_EQ(r.at("seq"), std::to_string(i));
      EXPECT_EQ(r.at("kind"), i + 1 == records.size() ? "final" : "interim");
      uint64_t d;
      ASSERT_TRUE(absl::SimpleAtoi(r.at("delta_bytes_sent"), &d));
      sent += d;
      ASSERT_TRUE(absl::SimpleAtoi(r.at("delta_bytes_received"), &d));
      received += d;
    }
    interim += static_cast<int>(records.size()) - 1;
    const Row& last = *records.back();
    EXPECT_EQ(last.at("end_reason"), "destroyed");
    EXPECT_EQ(last.at("family"), e.v6 ? "ipv6" : "ipv4");
    EXPECT_EQ(last.at("remote_addr"), e.v6 ? "fd77::1" : "10.77.0.1");
    EXPECT_EQ(last.at("remote_port"), std::to_string(kPort));
    EXPECT_EQ(last.at("direction"), "out");
    // bytes_received counts the server's FIN.
    EXPECT_EQ(last.at("bytes_sent"), std::to_string(e.up));
    EXPECT_EQ(last.at("bytes_received"), std::to_string(e.down + 1));
    EXPECT_EQ(std::to_string(sent), last.at("bytes_sent"));
    EXPECT_EQ(std::to_string(received), last.at("bytes_received"));
  }
  std::cout << sql.size() << " records, " << interim
            << " interim among the test's " << kConnections << " connections\n";

  // The sinks' metrics before the stop: every record then sent.
  for (const std::string& sink : {"sqlite:" + db, "jsonl:" + jsonl}) {
    auto series = [&](const char* result) {
      return absl::StrCat("tcpinfo_sink_records_total{result=\"", result,
                          "\",sink=\"", sink, "\"}");
    };
    EXPECT_GT(Sample(page, series("sent")), 0) << page;
    EXPECT_EQ(Sample(page, series("failed")), 0);
    EXPECT_EQ(Sample(page, series("dropped")), 0);
    EXPECT_EQ(Sample(page, "tcpinfo_sink_queue_records{sink=\"" + sink + "\"}"),
              0);
  }
}

}  // namespace
