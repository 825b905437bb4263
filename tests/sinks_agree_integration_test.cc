// All five sinks at once, end to end, as root: build/bin/tcp-info polls a
// connfarm client namespace with -sink=sqlite:..., -sink=jsonl:...,
// -sink=postgres://..., -sink=kafka://... and -sink=ipfix://... while the
// test makes connections of its own there (every third over IPv6). The
// PostgreSQL server and the Kafka (librdkafka mock) cluster listen on
// 127.0.0.1 inside the client namespace, the IPFIX collector (a UDP socket)
// on 10.77.0.1 in the server namespace: all reachable from the daemon.
//
// Every sink must hold the same records (by uuid and seq) as the JSONL
// file, column by column:
//   sqlite, kafka  every column, times to the nanosecond;
//   postgres       every column, times truncated to the microsecond
//                  (timestamptz), addresses as host();
//   ipfix          every element that carries a column (see
//                  testutil::IpfixElementsOf): times to the millisecond;
//                  no element carries `kind` or `family` (the template,
//                  IPv4 or IPv6, implies it), `state` is left out (a number
//                  there, a name in the other sinks).
// The daemon's times are whole milliseconds (the collector's cycle stamp),
// so neither truncation loses anything here; postgres_sink_test and
// ipfix_writer_test check them with finer times. And the test's
// connections have their final records with their exact byte counts
// (checked in the JSONL rows, which every sink equals).
#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "flows/record_columns.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testutil/daemon_fixture.h"
#include "tests/testutil/farm.h"
#include "tests/testutil/ipfix_dump.h"
#include "tests/testutil/kafka_cluster.h"
#include "tests/testutil/postgres_server.h"
#include "tests/testutil/sink_rows.h"

namespace {

using testutil::Row;
using testutil::RowKey;

constexpr uint16_t kPort = 18691;
constexpr int kMetricsPort = 19691;
constexpr int kConnections = 30;
constexpr char kPassword[] = "Agree-5c1e-secret";
constexpr char kTopic[] = "flows";

// The flows table as rows: times as TimeText of their microseconds,
// addresses as host(), the rest as text.
std::map<RowKey, Row> PostgresRows(const testutil::PostgresServer& server) {
  absl::StatusOr<std::vector<std::vector<std::string>>> result = server.Query(
      absl::StrCat("SELECT ", testutil::PostgresSelectList(), " FROM flows"));
  EXPECT_TRUE(result.ok()) << result.status();
  std::map<RowKey, Row> rows;
  if (!result.ok()) return rows;
  for (const std::vector<std::string>& values : *result) {
    EXPECT_EQ(values.size(), flows::Columns().size());
    Row row;
    size_t i = 0;
    for (const flows::Column& c : flows::Columns()) {
      if (i >= values.size()) break;
      std::string v = values[i++];
      if (c.type == flows::ColumnType::kTime) {
        int64_t us = 0;
        EXPECT_TRUE(absl::SimpleAtoi(v, &us)) << v;
        v = absl::StrCat(us / 1000000, ".", us % 1000000 * 1000);
      }
      row[c.name] = v;
    }
    uint64_t seq = 0;
    EXPECT_TRUE(absl::SimpleAtoi(row["seq"], &seq));
    EXPECT_TRUE(rows.emplace(RowKey(row["uuid"], seq), row).second)
        << "twice: " << row["uuid"] << " " << seq;
  }
  return rows;
}

// `row` (times as TimeText) as PostgreSQL keeps it: times truncated to the
// microsecond.
Row TruncatedToMicroseconds(Row row) {
  for (const flows::Column& c : flows::Columns()) {
    if (c.type != flows::ColumnType::kTime) continue;
    std::pair<std::string, std::string> parts =
        absl::StrSplit(row[c.name], absl::MaxSplits('.', 1));
    int64_t nanos = 0;
    EXPECT_TRUE(absl::SimpleAtoi(parts.second, &nanos)) << row[c.name];
    row[c.name] = absl::StrCat(parts.first, ".", nanos / 1000 * 1000);
  }
  return row;
}

// The columns (or elements) in which `actual` differs from `expected`:
// "name: expected E, got A" each, "" if none.
std::string Differences(const Row& expected, const Row& actual) {
  std::vector<std::string> out;
  Row all = expected;
  all.insert(actual.begin(), actual.end());
  for (const auto& [name, unused] : all) {
    auto e = expected.find(name);
    auto a = actual.find(name);
    const std::string ev = e == expected.end() ? "<none>" : e->second;
    const std::string av = a == actual.end() ? "<none>" : a->second;
    if (ev != av)
      out.push_back(absl::StrCat(name, ": expected ", ev, ", got ", av));
  }
  return absl::StrJoin(out, "; ");
}

// Every record of the JSONL file (`jsonl`) must be in `actual` under the
// same key, equal to `expected(key, its JSONL row)`, and `actual` must hold
// no other record. Reports the first few records that differ.
template <typename Expected>
void ExpectSameRecords(const char* sink, const std::map<RowKey, Row>& jsonl,
                       const std::map<RowKey, Row>& actual,
                       const Expected& expected) {
  SCOPED_TRACE(sink);
  EXPECT_EQ(actual.size(), jsonl.size());
  int differ = 0;
  for (const auto& [key, row] : jsonl) {
    auto it = actual.find(key);
    if (it == actual.end()) {
      ADD_FAILURE() << "missing " << key.first << " " << key.second;
      continue;
    }
    const std::string d = Differences(expected(key, row), it->second);
    if (!d.empty() && ++differ <= 3) {
      ADD_FAILURE() << key.first << " " << key.second << ": " << d;
    }
  }
  EXPECT_EQ(differ, 0) << "records with other values";
  std::cout << sink << ": " << actual.size() << " records\n";
}

class SinksAgreeIntegration : public testutil::DaemonTest {
 protected:
  SinksAgreeIntegration()
      : DaemonTest({"sinks_agree_it", "sait", "sa", kPort}) {}
};

TEST_F(SinksAgreeIntegration, FiveSinksHoldTheSameRecordsWithTheSameValues) {
  std::unique_ptr<testutil::PostgresServer> postgres;
  std::unique_ptr<testutil::KafkaCluster> kafka;
  std::unique_ptr<testutil::UdpSink> collector;
  // Sockets, servers and librdkafka's threads made here stay in the client
  // namespace.
  testutil::InNamespace(farm_->Namespace("cli"), [&] {
    absl::StatusOr<std::unique_ptr<testutil::PostgresServer>> server =
        testutil::PostgresServer::Start(kPassword);
    ASSERT_TRUE(server.ok()) << server.status();
    postgres = std::move(*server);
    kafka = std::make_unique<testutil::KafkaCluster>(1, kTopic, 1);
  });
  testutil::InNamespace(farm_->Namespace("srv"), [&] {
    collector = std::make_unique<testutil::UdpSink>("10.77.0.1");
  });
  ASSERT_NE(postgres, nullptr);
  ASSERT_NE(kafka, nullptr);
  ASSERT_FALSE(HasFailure());
  ASSERT_NE(collector->port(), 0);

  const std::string db = dir_ + "/flows.db";
  const std::string jsonl = dir_ + "/flows.jsonl";
  ASSERT_NO_FATAL_FAILURE(StartPollingDaemon(
      {"-sink=sqlite:" + db, "-sink=jsonl:" + jsonl,
       "-sink=" + postgres->Uri(kPassword),
       absl::StrCat("-sink=kafka://", kafka->bootstraps(), "/", kTopic),
       absl::StrCat("-sink=ipfix://10.77.0.1:", collector->port()),
       "-flows.active-timeout=1s",
       // Owner columns too: the same in every sink.
       "-owners",
       absl::StrCat("-prometheusx.listen-address=127.0.0.1:", kMetricsPort)}));
  std::vector<testutil::Exchange> exchanges(kConnections);
  for (int i = 0; i < kConnections; ++i) {
    exchanges[i] = {.v6 = i % 3 == 2,
                    .up = 1500u + 37u * i,
                    .down = 4000u + 23u * i,
                    // a few live past the active timeout: interim records
                    .lifetime = absl::Milliseconds(i % 10 == 0 ? 1500 : 20)};
  }
  ASSERT_NO_FATAL_FAILURE(
      testutil::RunExchanges(*farm_, listeners_, kPort, &exchanges));
  absl::SleepFor(absl::Milliseconds(500));  // the sinks' flush interval
  ASSERT_NO_FATAL_FAILURE(StopDaemon());

  // The JSONL file is the reference; its records as JSON for IPFIX.
  const std::map<RowKey, Row> reference = testutil::JsonlRows(jsonl);
  ASSERT_GT(reference.size(), static_cast<size_t>(kConnections));

  ExpectSameRecords("sqlite", reference, testutil::SqliteRows(db),
                    [](const RowKey&, const Row& row) { return row; });

  ExpectSameRecords("postgres", reference, PostgresRows(*postgres),
                    [](const RowKey&, const Row& row) {
                      return TruncatedToMicroseconds(row);
                    });

  std::vector<testutil::KafkaCluster::Message> messages;
  testutil::InNamespace(farm_->Namespace("cli"),
                        [&] { messages = kafka->ReadAll(); });
  std::map<RowKey, Row> kafka_rows;
  for (const testutil::KafkaCluster::Message& m : messages) {
    const nlohmann::json j = nlohmann::json::parse(m.value, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << m.value;
    Row row = testutil::JsonRow(j);
    EXPECT_EQ(m.key, row["uuid"]);
    const RowKey key(row["uuid"], j.value("seq", uint64_t{0}));
    EXPECT_TRUE(kafka_rows.emplace(key, std::move(row)).second)
        << "twice: " << key.first << " " << key.second;
  }
  ExpectSameRecords("kafka", reference, kafka_rows,
                    [](const RowKey&, const Row& row) { return row; });

  // IPFIX: the elements the JSONL record maps to, keyed by the same record.
  std::map<RowKey, nlohmann::json> reference_json;
  {
    std::ifstream in(jsonl);
    for (std::string line; std::getline(in, line);) {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      ASSERT_FALSE(j.is_discarded()) << line;
      const RowKey key(j.value("uuid", ""), j.value("seq", uint64_t{0}));
      reference_json.emplace(key, std::move(j));
    }
  }
  std::map<RowKey, testutil::IpfixRecord> ipfix;
  for (testutil::IpfixRecord& r : testutil::ParseIpfixDump(
           testutil::IpfixDump(dir_ + "/flows.ipfix", collector->Drain()))) {
    r.erase("tcpinfoTcpState");  // a number here, a name in the others
    // "(len: N) uuid" as ipfixDump prints text.
    std::string uuid = r["tcpinfoUuid"];
    uuid = uuid.substr(
        uuid.find(") ") == std::string::npos ? 0 : uuid.find(") ") + 2);
    uint64_t seq = 0;
    EXPECT_TRUE(absl::SimpleAtoi(r["tcpinfoRecordSeq"], &seq));
    const RowKey key(uuid, seq);
    EXPECT_TRUE(ipfix.emplace(key, std::move(r)).second)
        << "twice: " << key.first << " " << key.second;
  }
  ExpectSameRecords("ipfix", reference, ipfix,
                    [&](const RowKey& key, const Row&) {
                      return testutil::IpfixElementsOf(reference_json.at(key));
                    });

  // The test's connections: each a final record with its exact byte counts.
  std::map<std::string, std::vector<const Row*>> by_flow;
  for (const auto& [key, row] : reference) by_flow[key.first].push_back(&row);
  for (const testutil::Exchange& e : exchanges) {
    const std::string uuid = absl::StrFormat("%s_%016X", prefix_, e.cookie);
    SCOPED_TRACE(uuid);
    auto it = by_flow.find(uuid);
    ASSERT_NE(it, by_flow.end());
    const Row& last = *it->second.back();  // in seq order
    EXPECT_EQ(last.at("end_reason"), "destroyed");
    EXPECT_EQ(last.at("remote_port"), std::to_string(kPort));
    // bytes_received counts the server's FIN.
    EXPECT_EQ(last.at("bytes_sent"), std::to_string(e.up));
    EXPECT_EQ(last.at("bytes_received"), std::to_string(e.down + 1));
  }
}

}  // namespace
