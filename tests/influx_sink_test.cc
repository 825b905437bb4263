// The influx:// and influx2:// sinks. InfluxDB 1.x is Debian's influxd
// (1.6), started by each test on loopback (tests/testutil/influx_server.h)
// and queried back: Netgraph's and speedy's queries, awkward names, flow
// records as tcpinfo_flow, a server down at start or gone mid-run, refused
// points. Debian 12 has no InfluxDB 2.x, so influx2:// (and 1.x basic
// authentication) is checked against a small HTTP server in this file that
// records each request.
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "flows/measurement.h"
#include "flows/record_columns.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sinks/http_client.h"
#include "sinks/influx_writer.h"
#include "sinks/line_protocol.h"
#include "sinks/sink_set.h"
#include "sinks/sink_url.h"
#include "sinks/writers.h"
#include "tests/testutil/flow_records.h"
#include "tests/testutil/http_client.h"
#include "tests/testutil/influx_server.h"

namespace {

using ::nlohmann::json;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

// An hour boundary (2026-11-21T09:00:00Z).
constexpr int64_t kHour = 1795309200;
constexpr int64_t kSecond = 1000000000;

sinks::SinkUrl Url(const std::string& text) {
  absl::StatusOr<sinks::SinkUrl> url = sinks::ParseSinkUrl(text);
  EXPECT_TRUE(url.ok()) << url.status();
  return url.ok() ? *url : sinks::SinkUrl();
}

sinks::SinkOptions FastOptions(size_t queue = 10000) {
  sinks::SinkOptions o;
  o.queue_records = queue;
  o.batch_records = 100;
  o.flush_interval = absl::Milliseconds(10);
  o.initial_backoff = absl::Milliseconds(20);
  o.max_backoff = absl::Milliseconds(200);
  return o;
}

std::unique_ptr<sinks::SinkSet> MakeSet(const std::string& url,
                                        const sinks::SinkOptions& options) {
  absl::StatusOr<std::unique_ptr<sinks::SinkSet>> set =
      sinks::SinkSet::Create({Url(url)}, options);
  EXPECT_TRUE(set.ok()) << set.status();
  return set.ok() ? *std::move(set) : nullptr;
}

// Waits up to `timeout` for `pred`.
bool WaitUntil(const std::function<bool()>& pred,
               absl::Duration timeout = absl::Seconds(15)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!pred()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

flows::Measurement Traffic(const std::string& name, int64_t ns, int64_t sent,
                           int64_t recv) {
  flows::Measurement m;
  m.kind = flows::MeasurementKind::kProcessTraffic;
  m.time = parse::Timestamp::FromUnixNanos(ns);
  m.tags = {{"name", name}};
  m.fields = {{"sent_bytes_last", sent}, {"recv_bytes_last", recv}};
  return m;
}

flows::Measurement Usage(const std::string& mac, int64_t ns, int64_t download,
                         int64_t upload, flows::FieldValue ipv4,
                         flows::FieldValue ipv6) {
  flows::Measurement m;
  m.kind = flows::MeasurementKind::kDeviceUsage;
  m.time = parse::Timestamp::FromUnixNanos(ns);
  m.tags = {{"mac", mac}};
  m.fields = {{"download", download},
              {"upload", upload},
              {"ipv4", std::move(ipv4)},
              {"ipv6", std::move(ipv6)}};
  return m;
}

// Every series of the first result of `q`: its tags (as "k=v,...") to its
// rows.
std::map<std::string, json> Series(const testutil::InfluxServer& server,
                                   const std::string& q,
                                   const std::string& db) {
  std::map<std::string, json> out;
  absl::StatusOr<json> body = server.Query(q, db);
  EXPECT_TRUE(body.ok()) << body.status();
  if (!body.ok()) return out;
  const json& result = (*body)["results"][0];
  if (!result.contains("series")) return out;
  for (const json& s : result["series"]) {
    std::string key;
    if (s.contains("tags")) {
      for (const auto& [k, v] : s["tags"].items()) {
        absl::StrAppend(&key, k, "=", v.get<std::string>(), ",");
      }
    }
    out[key] = s["values"];
  }
  return out;
}

// SELECT count(field) FROM measurement.
int64_t Count(const testutil::InfluxServer& server, const std::string& field,
              const std::string& measurement, const std::string& db) {
  absl::StatusOr<json> rows = server.Rows(
      absl::StrCat("SELECT count(", field, ") FROM ", measurement), db);
  EXPECT_TRUE(rows.ok()) << rows.status();
  if (!rows.ok() || rows->empty()) return 0;
  return (*rows)[0][1].get<int64_t>();
}

std::unique_ptr<testutil::InfluxServer> StartServer() {
  absl::StatusOr<std::unique_ptr<testutil::InfluxServer>> server =
      testutil::InfluxServer::Start();
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

TEST(InfluxSink, NetgraphsQueriesOnNetworkDataGiveEachProcessesBytes) {
  std::unique_ptr<testutil::InfluxServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::string url =
      absl::StrCat("influx://", server->HostPort(), "/netgraph");
  std::unique_ptr<sinks::SinkSet> set = MakeSet(url, FastOptions());
  ASSERT_NE(set, nullptr);
  EXPECT_TRUE(set->Accepts(flows::MeasurementKind::kProcessTraffic));
  set->Start();
  const int64_t t0 = kHour * kSecond;
  // One point per process that moved bytes in each 10 s interval.
  set->ConsumeMeasurement(Traffic("firefox", t0 + 10 * kSecond, 1000, 50000));
  set->ConsumeMeasurement(Traffic("curl", t0 + 10 * kSecond, 300, 7000));
  set->ConsumeMeasurement(Traffic("firefox", t0 + 20 * kSecond, 2000, 60000));
  set->ConsumeMeasurement(
      Traffic("firefox", t0 + 3610 * kSecond, 4000, 80000));  // next hour
  set->Stop(absl::Seconds(10));
  ASSERT_EQ(set->stats()[0].sent, 4u);

  // The schema Netgraph's dashboards read: integer fields, tag "name".
  EXPECT_EQ(
      Series(*server, "SHOW FIELD KEYS FROM network_data", "netgraph").at(""),
      json::parse(R"([["recv_bytes_last","integer"],)"
                  R"(["sent_bytes_last","integer"]])"));
  EXPECT_EQ(
      Series(*server, "SHOW TAG KEYS FROM network_data", "netgraph").at(""),
      json::parse(R"([["name"]])"));

  // Netgraph's "Received data per process" and "Send data per process"
  // (Flux: filter on the field, keep name, aggregateWindow(every: 1h,
  // fn: sum)); InfluxDB 1.6 has no Flux, so in InfluxQL.
  const std::string range = absl::StrCat(" WHERE time >= ", t0, " AND time < ",
                                         t0 + 2 * 3600 * kSecond);
  std::map<std::string, json> recv =
      Series(*server,
             absl::StrCat("SELECT sum(recv_bytes_last) FROM network_data",
                          range, " GROUP BY time(1h), \"name\" fill(0)"),
             "netgraph");
  const int64_t h1 = t0 + 3600 * kSecond;
  EXPECT_EQ(recv.at("name=firefox,"),
            json::array({json::array({t0, 110000}), json::array({h1, 80000})}));
  EXPECT_EQ(recv.at("name=curl,"),
            json::array({json::array({t0, 7000}), json::array({h1, 0})}));
  std::map<std::string, json> sent =
      Series(*server,
             absl::StrCat("SELECT sum(sent_bytes_last) FROM network_data",
                          range, " GROUP BY time(1h), \"name\" fill(0)"),
             "netgraph");
  EXPECT_EQ(sent.at("name=firefox,"),
            json::array({json::array({t0, 3000}), json::array({h1, 4000})}));
  // "Accumulated data send/received/total": both fields summed per hour
  // over every process, and their sum.
  std::map<std::string, json> total = Series(
      *server,
      absl::StrCat("SELECT sum(sent_bytes_last) AS sent_bytes_last, "
                   "sum(recv_bytes_last) AS recv_bytes_last, "
                   "sum(sent_bytes_last) + sum(recv_bytes_last) AS total_sum "
                   "FROM network_data",
                   range, " GROUP BY time(1h)"),
      "netgraph");
  EXPECT_EQ(total.at(""), json::array({json::array({t0, 3300, 117000, 120300}),
                                       json::array({h1, 4000, 80000, 84000})}));
}

TEST(InfluxSink, SpeedysDownsamplingQueryOnMeasuresGivesEachDevicesTotals) {
  std::unique_ptr<testutil::InfluxServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  // speedy's docker/compose/iql: the database and its 4-week policy.
  ASSERT_TRUE(server->Query("CREATE DATABASE speedy").ok());
  ASSERT_TRUE(server
                  ->Query("CREATE RETENTION POLICY \"monthly_gc\" ON "
                          "\"speedy\" DURATION 4w REPLICATION 1")
                  .ok());
  std::unique_ptr<sinks::SinkSet> set = MakeSet(
      absl::StrCat("influx://", server->HostPort(), "/speedy"), FastOptions());
  ASSERT_NE(set, nullptr);
  set->Start();
  // Yesterday (UTC), inside the policy's 4 weeks.
  const int64_t day = (absl::ToUnixSeconds(absl::Now()) / 86400 - 1) * 86400;
  const int64_t d0 = day * kSecond;
  const std::string a = "02:77:00:00:00:0a", b = "02:77:00:00:00:0b";
  set->ConsumeMeasurement(Usage(a, d0 + 1 * kSecond, 1000, 10,
                                std::string("10.77.1.10"),
                                std::string("fd77::a")));
  set->ConsumeMeasurement(Usage(a, d0 + 2 * kSecond, 2000, 20,
                                std::string("10.77.1.10"),
                                std::string("fd77::a")));
  set->ConsumeMeasurement(Usage(b, d0 + 2 * kSecond, 500, 5,
                                std::string("10.77.1.11"), std::monostate()));
  set->Stop(absl::Seconds(10));
  ASSERT_EQ(set->stats()[0].sent, 3u);
  EXPECT_EQ(Series(*server, "SHOW FIELD KEYS FROM measures", "speedy").at(""),
            json::parse(R"([["download","integer"],["ipv4","string"],)"
                        R"(["ipv6","string"],["upload","integer"]])"));
  // The last addresses, null where the device has none.
  std::map<std::string, json> last =
      Series(*server,
             "SELECT last(ipv4) AS ipv4, last(ipv6) AS ipv6 FROM measures "
             "GROUP BY mac",
             "speedy");
  EXPECT_EQ(last.at("mac=" + a + ",")[0][1], "10.77.1.10");
  EXPECT_EQ(last.at("mac=" + a + ",")[0][2], "fd77::a");
  EXPECT_EQ(last.at("mac=" + b + ",")[0][1], "10.77.1.11");
  EXPECT_TRUE(last.at("mac=" + b + ",")[0][2].is_null());
  // speedy's continuous query cq_24h as its example database has it (the
  // test's server runs no continuous queries), and its body run on
  // yesterday.
  ASSERT_TRUE(
      server
          ->Query("CREATE CONTINUOUS QUERY \"cq_24h\" ON \"speedy\" "
                  "BEGIN SELECT sum(\"download\") as "
                  "\"total_download\", sum(\"upload\") as "
                  "\"total_upload\" INTO \"monthly_gc\".\"downsampled\" "
                  "FROM \"measures\" GROUP BY time(24h),mac END")
          .ok());
  ASSERT_TRUE(server
                  ->Query(absl::StrCat(
                              "SELECT sum(\"download\") as \"total_download\", "
                              "sum(\"upload\") as \"total_upload\" INTO "
                              "\"monthly_gc\".\"downsampled\" FROM "
                              "\"measures\" WHERE time >= ",
                              d0, " AND time < ", d0 + 86400 * kSecond,
                              " GROUP BY time(24h),mac"),
                          "speedy")
                  .ok());
  std::map<std::string, json> down =
      Series(*server,
             "SELECT total_download, total_upload FROM monthly_gc.downsampled "
             "GROUP BY mac",
             "speedy");
  EXPECT_EQ(down.at("mac=" + a + ","),
            json::array({json::array({d0, 3000, 30})}));
  EXPECT_EQ(down.at("mac=" + b + ","),
            json::array({json::array({d0, 500, 5})}));
}

TEST(InfluxSink, AwkwardNamesAndStringsReadBackAsWritten) {
  std::unique_ptr<testutil::InfluxServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  std::unique_ptr<sinks::SinkSet> set = MakeSet(
      absl::StrCat("influx://", server->HostPort(), "/awk"), FastOptions());
  ASSERT_NE(set, nullptr);
  set->Start();
  // Process names as comm shows them can hold almost anything.
  const std::vector<std::string> names = {
      "my app, v2=x", "quote\"d",   "back\\slash", "a\\,b",   "a\\ b",
      "=start",       " lead",      "é 中",        "tab\tin", "two\nlines",
      "trail\\",      "x\\=y\\\\z", "#hash"};
  int64_t t = kHour * kSecond;
  for (const std::string& n : names) {
    set->ConsumeMeasurement(Traffic(n, t += kSecond, 1, 2));
  }
  const std::string odd = "say \"hi\" C:\\dir\\\nnext\\";
  set->ConsumeMeasurement(
      Usage("02:77:00:00:00:01", t, 1, 2, odd, std::string("\\")));
  set->Stop(absl::Seconds(10));
  EXPECT_EQ(set->stats()[0].sent, names.size() + 1);
  EXPECT_EQ(set->stats()[0].rejected, 0u);
  std::vector<std::string> want = names;
  want[9] = "two lines";  // a newline cannot be in a tag
  want[10] = "trail";     // nor a trailing backslash
  absl::StatusOr<json> rows = server->Rows(
      "SHOW TAG VALUES FROM network_data WITH KEY = \"name\"", "awk");
  ASSERT_TRUE(rows.ok()) << rows.status();
  std::vector<std::string> got;
  for (const json& row : *rows) got.push_back(row[1].get<std::string>());
  EXPECT_THAT(got, UnorderedElementsAreArray(want));
  rows = server->Rows("SELECT ipv4, ipv6 FROM measures", "awk");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0][1], odd);
  EXPECT_EQ((*rows)[0][2], "\\");
}

TEST(InfluxSink, FlowRecordsAreTcpinfoFlowPointsAndARetryLeavesOneCopy) {
  std::unique_ptr<testutil::InfluxServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  const sinks::SinkUrl url =
      Url(absl::StrCat("influx://", server->HostPort(), "/flows"));
  std::unique_ptr<sinks::SinkWriter> writer =
      sinks::NewInfluxWriter(url, "", sinks::InfluxOptions());
  ASSERT_TRUE(writer->Connect().ok());  // creates the database
  std::vector<flows::FlowRecord> records = testutil::MakeFlowRecords(0, 40);
  // Owners known for every record but the first: an empty text column is a
  // tag InfluxDB cannot hold, so it reads back as null.
  for (size_t i = 1; i < records.size(); ++i) {
    flows::FlowOwner& o = records[i].owner;
    o.pid = 1000 + i;
    o.comm = "curl";
    o.uid = 1000;
    o.user = "alice";
    o.cgroup = "/user.slice/user-1000.slice/session-2.scope";
    o.container = "0123456789ab";
    o.unit = "session-2.scope";
    records[i].netns = "pod-a";
  }
  for (flows::FlowRecord& r : records) r.cookie += 0xF000000000000000ull;
  records[5].congestion_algorithm = "we ird,cc=x";
  records[6].end_time = records[7].end_time;       // two flows, one instant
  for (int attempt = 0; attempt < 2; ++attempt) {  // the retry of a batch
    const sinks::SinkWriter::WriteResult r = writer->Write(records);
    ASSERT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.written, records.size());
    EXPECT_EQ(r.rejected, 0u);
  }
  EXPECT_EQ(Count(*server, "seq", "tcpinfo_flow", "flows"), 40);

  absl::StatusOr<json> body =
      server->Query("SELECT * FROM tcpinfo_flow", "flows");
  ASSERT_TRUE(body.ok()) << body.status();
  const json& series = (*body)["results"][0]["series"][0];
  std::vector<std::string> columns = series["columns"];
  std::map<std::pair<std::string, uint32_t>, json> by_key;
  for (const json& row : series["values"]) {
    std::map<std::string, json> point;
    for (size_t i = 0; i < columns.size(); ++i) point[columns[i]] = row[i];
    by_key[{point["uuid"].get<std::string>(), point["seq"].get<uint32_t>()}] =
        point;
  }
  ASSERT_EQ(by_key.size(), 40u);
  // Columns: time, then every column of the schema but end_time.
  EXPECT_EQ(columns.size(), flows::Columns().size());
  for (const flows::FlowRecord& r : records) {
    json& point = by_key[{r.uuid, r.seq}];
    ASSERT_TRUE(point.is_object()) << r.uuid << " " << r.seq;
    EXPECT_EQ(point["time"], r.end_time.seconds * kSecond + r.end_time.nanos);
    for (const testutil::ColumnValue& v : testutil::ColumnValues(r)) {
      SCOPED_TRACE(v.name);
      switch (v.type) {
        case flows::ColumnType::kInteger:
          if (v.name == "cookie") {
            EXPECT_EQ(point[v.name], absl::StrCat(v.integer));
          } else {
            EXPECT_EQ(point[v.name], static_cast<int64_t>(v.integer));
          }
          break;
        case flows::ColumnType::kTime:
          if (v.name != "end_time") {
            EXPECT_EQ(point[v.name], v.time.seconds * kSecond + v.time.nanos);
          }
          break;
        default:
          if (v.text.empty()) {
            EXPECT_TRUE(point[v.name].is_null());
          } else {
            EXPECT_EQ(point[v.name], v.text);
          }
      }
    }
  }
  // The README's example: bytes received per family and direction, from
  // the deltas.
  std::map<std::string, int64_t> want_sums;
  for (const flows::FlowRecord& r : records) {
    want_sums[absl::StrCat("direction=", flows::DirectionName(r.direction),
                           ",family=", flows::FamilyName(r.local), ",")] +=
        static_cast<int64_t>(r.delta.bytes_received);
  }
  std::map<std::string, int64_t> sums;
  for (const auto& [tags, rows] :
       Series(*server,
              "SELECT sum(delta_bytes_received) FROM tcpinfo_flow GROUP BY "
              "family, direction",
              "flows")) {
    sums[tags] = rows[0][1].get<int64_t>();
  }
  EXPECT_EQ(sums, want_sums);
  EXPECT_EQ(sums.size(), 4u);
  // Text columns are tags (GROUP BY-able), the rest fields.
  absl::StatusOr<json> tags =
      server->Rows("SHOW TAG KEYS FROM tcpinfo_flow", "flows");
  ASSERT_TRUE(tags.ok());
  std::vector<std::string> tag_keys;
  for (const json& t : *tags) tag_keys.push_back(t[0]);
  EXPECT_THAT(tag_keys, UnorderedElementsAre(
                            "uuid", "kind", "end_reason", "family", "direction",
                            "cc", "state", "limited_by", "comm", "user_name",
                            "cgroup", "container", "unit", "netns"));
}

TEST(InfluxSink, AServerDownAtStartGetsTheQueuedPointsWhenItComesUp) {
  absl::StatusOr<std::unique_ptr<testutil::InfluxServer>> server =
      testutil::InfluxServer::Reserve();  // its port, nothing listening
  ASSERT_TRUE(server.ok()) << server.status();
  std::unique_ptr<sinks::SinkSet> set = MakeSet(
      absl::StrCat("influx://", (*server)->HostPort(), "/late"), FastOptions());
  ASSERT_NE(set, nullptr);
  set->Start();
  for (int i = 0; i < 50; ++i) {
    set->ConsumeMeasurement(
        Traffic("p" + std::to_string(i % 5), (kHour + i) * kSecond, i, 2 * i));
  }
  absl::SleepFor(absl::Milliseconds(500));  // connects refused meanwhile
  EXPECT_EQ(set->stats()[0].sent, 0u);
  EXPECT_EQ(set->stats()[0].queued, 50u);
  ASSERT_TRUE((*server)->Restart().ok());
  ASSERT_TRUE(WaitUntil([&] { return set->stats()[0].sent == 50; }))
      << set->stats()[0].sent;
  set->Stop(absl::Seconds(5));
  EXPECT_EQ(set->stats()[0].dropped, 0u);
  EXPECT_EQ(Count(**server, "recv_bytes_last", "network_data", "late"), 50);
  absl::StatusOr<json> sum =
      (*server)->Rows("SELECT sum(recv_bytes_last) FROM network_data", "late");
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ((*sum)[0][1], 2 * (49 * 50 / 2));
}

TEST(InfluxSink, AServerGoneMidRunFillsABoundedQueueWithoutStallingOffers) {
  std::unique_ptr<testutil::InfluxServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  std::unique_ptr<sinks::SinkSet> set =
      MakeSet(absl::StrCat("influx://", server->HostPort(), "/gone"),
              FastOptions(/*queue=*/100));
  ASSERT_NE(set, nullptr);
  set->Start();
  int64_t n = 0;
  auto offer = [&] {
    set->ConsumeMeasurement(Traffic("p", (kHour + n) * kSecond, n, 1));
    ++n;
  };
  for (int i = 0; i < 20; ++i) offer();
  ASSERT_TRUE(WaitUntil([&] { return set->stats()[0].sent == 20; }));
  ASSERT_TRUE(server->Stop().ok());
  absl::Duration slowest;
  const absl::Time start = absl::Now();
  for (int i = 0; i < 300; ++i) {
    const absl::Time t = absl::Now();
    offer();
    slowest = std::max(slowest, absl::Now() - t);
  }
  const absl::Duration all = absl::Now() - start;
  EXPECT_LT(slowest, absl::Milliseconds(20));
  EXPECT_LT(all, absl::Milliseconds(200));
  absl::SleepFor(absl::Milliseconds(300));  // failed writes, backoff
  const sinks::SinkRunner::Stats down = set->stats()[0];
  EXPECT_EQ(down.sent, 20u);
  EXPECT_LE(down.queued, 100u);
  EXPECT_GE(down.dropped, 200u);
  EXPECT_EQ(down.queued + down.dropped, 300u);
  EXPECT_GT(down.failed, 0u);
  ASSERT_TRUE(server->Restart().ok());
  ASSERT_TRUE(WaitUntil([&] { return set->stats()[0].queued == 0; }));
  set->Stop(absl::Seconds(5));
  const sinks::SinkRunner::Stats s = set->stats()[0];
  EXPECT_EQ(s.sent + s.dropped, 320u);
  EXPECT_EQ(s.rejected, 0u);
  EXPECT_EQ(Count(*server, "sent_bytes_last", "network_data", "gone"),
            static_cast<int64_t>(s.sent));
}

TEST(InfluxSink, PointsTheServerRefusesAreDroppedAndCountedTheRestWritten) {
  std::unique_ptr<testutil::InfluxServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  std::unique_ptr<sinks::SinkSet> set = MakeSet(
      absl::StrCat("influx://", server->HostPort(), "/bad"), FastOptions());
  ASSERT_NE(set, nullptr);
  set->Start();
  set->ConsumeMeasurement(Traffic("p", kHour * kSecond, 1, 1));  // integers
  ASSERT_TRUE(WaitUntil([&] { return set->stats()[0].sent == 1; }));
  for (int i = 1; i <= 10; ++i) {
    flows::Measurement m = Traffic("p", (kHour + i) * kSecond, i, i);
    if (i == 2 || i == 5 || i == 7) {
      m.fields[0].second = 0.5;  // a float: field type conflict, HTTP 400
    }
    if (i == 9) m.fields = {{"x", std::monostate()}};  // no field at all
    set->ConsumeMeasurement(std::move(m));
  }
  set->Stop(absl::Seconds(10));
  const sinks::SinkRunner::Stats s = set->stats()[0];
  EXPECT_EQ(s.sent, 1u + 6u);
  EXPECT_EQ(s.rejected, 4u);
  EXPECT_EQ(s.failed, 0u);  // not retried
  EXPECT_EQ(s.dropped, 0u);
  absl::StatusOr<json> rows =
      server->Rows("SELECT sent_bytes_last FROM network_data", "bad");
  ASSERT_TRUE(rows.ok());
  std::vector<int64_t> values;
  for (const json& r : *rows) values.push_back(r[1]);
  EXPECT_EQ(values, (std::vector<int64_t>{1, 1, 3, 4, 6, 8, 10}));
}

// A small HTTP/1.1 server on 127.0.0.1 that records every request and
// answers with the status `answer` gives (empty body, keep-alive).
class RecordingServer {
 public:
  struct Request {
    std::string method, target, body;
    std::map<std::string, std::string> headers;  // names lower-cased
  };

  explicit RecordingServer(std::function<int(const Request&)> answer)
      : answer_(std::move(answer)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(listen(listen_fd_, 8), 0);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~RecordingServer() {
    stop_ = true;
    thread_.join();
    close(listen_fd_);
  }

  uint16_t port() const { return port_; }
  std::vector<Request> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p = {listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::string pending;
      while (!stop_ && ServeOne(fd, &pending)) {
      }
      close(fd);
    }
  }

  // One request and its answer; false when the connection is done.
  bool ServeOne(int fd, std::string* pending) {
    std::string& buf = *pending;
    size_t head_end = std::string::npos;
    auto have_head = [&](const std::string& b) {
      head_end = b.find("\r\n\r\n");
      return head_end != std::string::npos;
    };
    if (!have_head(buf) &&
        !testutil::ReadUntil(fd, &buf, std::chrono::milliseconds(100),
                             have_head)) {
      return buf.empty() && !stop_ ? ServeOne(fd, pending) : false;
    }
    Request r;
    std::vector<std::string> lines =
        absl::StrSplit(buf.substr(0, head_end), "\r\n");
    std::vector<std::string> first = absl::StrSplit(lines[0], ' ');
    if (first.size() < 2) return false;
    r.method = first[0];
    r.target = first[1];
    for (size_t i = 1; i < lines.size(); ++i) {
      const size_t colon = lines[i].find(':');
      if (colon == std::string::npos) continue;
      r.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
          std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    }
    size_t length = 0;
    if (r.headers.count("content-length")) {
      EXPECT_TRUE(absl::SimpleAtoi(r.headers["content-length"], &length));
    }
    const size_t total = head_end + 4 + length;
    if (buf.size() < total &&
        !testutil::ReadUntil(
            fd, &buf, std::chrono::milliseconds(2000),
            [&](const std::string& b) { return b.size() >= total; })) {
      return false;
    }
    r.body = buf.substr(head_end + 4, length);
    buf.erase(0, total);
    const int status = answer_(r);
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(r);
    }
    const std::string reply =
        absl::StrCat("HTTP/1.1 ", status, " X\r\nContent-Length: 0\r\n\r\n");
    return testutil::SendAll(fd, reply);
  }

  std::function<int(const Request&)> answer_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<Request> requests_;
};

// Sets an environment variable for the scope.
struct ScopedEnv {
  ScopedEnv(const char* name, const char* value) : name(name) {
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() { unsetenv(name); }
  const char* name;
};

TEST(Influx2Sink, WritesToOrgAndBucketWithTheTokenAndRetriesWhatFails) {
  std::atomic<int> writes{0};
  RecordingServer fake([&](const RecordingServer::Request& r) {
    if (r.method == "GET") return 204;
    // The first write meets an overloaded server, the second a token
    // refused: both retried, neither dropped.
    const int n = ++writes;
    return n == 1 ? 503 : n == 2 ? 401 : 204;
  });
  ScopedEnv token(sinks::kInfluxTokenEnv, "tok-123 s3cret==");
  std::unique_ptr<sinks::SinkSet> set =
      MakeSet(absl::StrCat("influx2://127.0.0.1:", fake.port(),
                           "/my%20org/net%2Fgraph"),
              FastOptions());
  ASSERT_NE(set, nullptr);
  set->Start();
  std::string want;
  for (int i = 0; i < 3; ++i) {
    flows::Measurement m =
        Traffic("app" + std::to_string(i), (kHour + i) * kSecond, i, i);
    ASSERT_TRUE(sinks::AppendMeasurementLine(m, &want));
    set->ConsumeMeasurement(std::move(m));
  }
  ASSERT_TRUE(WaitUntil([&] { return set->stats()[0].sent == 3; }));
  set->Stop(absl::Seconds(5));
  EXPECT_GT(set->stats()[0].failed, 0u);
  EXPECT_EQ(set->stats()[0].rejected, 0u);
  const std::vector<RecordingServer::Request> requests = fake.requests();
  ASSERT_GE(requests.size(), 4u);  // ping, 503, (ping,) 401, (ping,) 204
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].target, "/ping");
  const RecordingServer::Request& last = requests.back();
  EXPECT_EQ(last.method, "POST");
  EXPECT_EQ(last.target,
            "/api/v2/write?org=my%20org&bucket=net%2Fgraph&precision=ns");
  EXPECT_EQ(last.headers.at("authorization"), "Token tok-123 s3cret==");
  EXPECT_EQ(last.body, want);
  for (const RecordingServer::Request& r : requests) {
    EXPECT_EQ(r.headers.at("authorization"), "Token tok-123 s3cret==");
  }
}

TEST(Influx2Sink, NoTokenFailsAtStartWithOneLine) {
  ScopedEnv token(sinks::kInfluxTokenEnv, nullptr);
  absl::StatusOr<std::unique_ptr<sinks::SinkWriter>> writer =
      sinks::MakeWriter(Url("influx2://127.0.0.1:8086/org/bucket"));
  ASSERT_FALSE(writer.ok());
  EXPECT_EQ(writer.status().message(),
            "-sink=influx2://127.0.0.1:8086/org/bucket: $INFLUX_TOKEN is not "
            "set (the InfluxDB 2.x API token)");
}

TEST(InfluxSink, CredentialsGoAsBasicAuthenticationNeverInTheUrlOrName) {
  RecordingServer fake([](const RecordingServer::Request& r) {
    if (r.target.rfind("/query?", 0) == 0) return 200;
    return r.body.find("bad") != std::string::npos ? 400 : 204;
  });
  const std::string text = absl::StrCat(
      "influx://writer:p%40ss:w0rd@127.0.0.1:", fake.port(), "/net%20data");
  std::unique_ptr<sinks::SinkSet> set = MakeSet(text, FastOptions());
  ASSERT_NE(set, nullptr);
  set->Start();
  set->ConsumeMeasurement(Traffic("good", kHour * kSecond, 1, 1));
  set->ConsumeMeasurement(Traffic("bad", (kHour + 1) * kSecond, 1, 1));
  set->ConsumeMeasurement(Traffic("good", (kHour + 2) * kSecond, 1, 1));
  set->Stop(absl::Seconds(5));
  EXPECT_EQ(set->stats()[0].sent, 2u);
  EXPECT_EQ(set->stats()[0].rejected, 1u);
  const std::vector<RecordingServer::Request> requests = fake.requests();
  ASSERT_GE(requests.size(), 2u);
  EXPECT_EQ(requests[0].target,
            "/query?q=CREATE%20DATABASE%20%22net%20data%22");
  const std::string basic = "Basic " + absl::Base64Escape("writer:p@ss:w0rd");
  std::set<std::string> bodies;
  for (const RecordingServer::Request& r : requests) {
    EXPECT_EQ(r.headers.at("authorization"), basic);
    EXPECT_EQ(r.target.find("w0rd"), std::string::npos);
    if (r.target != requests[0].target) {
      EXPECT_EQ(r.target, "/write?db=net%20data&precision=ns");
      bodies.insert(r.body);
    }
  }
  // The batch of 3, its halves, and the single points.
  EXPECT_GE(bodies.size(), 3u);
  const std::string name =
      absl::StrCat("influx://writer@127.0.0.1:", fake.port(), "/net%20data");
  EXPECT_EQ(Url(text).redacted, name);
}

}  // namespace
