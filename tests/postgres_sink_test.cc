// The postgres:// sink against a real PostgreSQL 15 started by the test
// (tests/testutil/postgres_server.h): the table and its types, rows equal
// to the records column by column, idempotent retries, a server outage
// through a real SinkRunner, bounded calls, and errors without passwords.
#include <signal.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "collector/ip_address.h"
#include "flows/flow_record.h"
#include "flows/record_columns.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "inetdiag/inet_diag.h"
#include "sinks/postgres_writer.h"
#include "sinks/sink_runner.h"
#include "sinks/sink_url.h"
#include "sinks/sink_writer.h"
#include "sinks/writers.h"
#include "tests/testutil/postgres_server.h"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Rows = std::vector<std::vector<std::string>>;

constexpr char kPassword[] = "Pw-7f3a9c-secret";

sinks::SinkUrl PostgresUrl(const std::string& conninfo) {
  sinks::SinkUrl url;
  url.scheme = "postgres";
  url.conninfo = conninfo;
  url.redacted = "postgres://tcpinfo@127.0.0.1/postgres";
  return url;
}

// Record `i` of flow `flow`: IPv4 and IPv6 in turn, a cookie above 2^63,
// times with nanoseconds (one just below a whole second), a congestion
// algorithm with characters COPY must escape.
flows::FlowRecord MakeRecord(int flow, uint32_t seq) {
  flows::FlowRecord r;
  r.cookie = 0xF000000000000000ull + static_cast<uint64_t>(flow);
  r.uuid = absl::StrFormat("host_%016X", r.cookie);
  r.seq = seq;
  r.kind =
      seq % 3 == 2 ? flows::RecordKind::kFinal : flows::RecordKind::kInterim;
  r.end_reason =
      seq % 3 == 2 ? flows::EndReason::kDestroyed : flows::EndReason::kInterim;
  const bool v6 = flow % 2 == 1;
  r.local = *collector::ParseIpAddress(v6 ? "fd77::1" : "10.77.0.1");
  r.remote = *collector::ParseIpAddress(
      v6 ? absl::StrFormat("fd77::2:%x", flow)
         : absl::StrFormat("10.77.%d.%d", flow / 250 % 250, flow % 250 + 2));
  r.local_port = static_cast<uint16_t>(40000 + flow);
  r.remote_port = 443;
  r.direction = flow % 4 == 0 ? flows::Direction::kIn : flows::Direction::kOut;
  r.congestion_algorithm = flow == 3 ? "we\\ird\tcc\nx" : "cubic";
  r.state = 1;
  r.start_time = parse::Timestamp::FromUnixNanos(1764800000123456789 +
                                                 int64_t{flow} * 1000);
  r.end_time = {1764800100 + seq, seq == 1 ? 999999999 : 1001, 0};
  const uint64_t k = static_cast<uint64_t>(flow) * 1000 + seq;
  r.total = {k + 1, k + 2, k + 3, k + 4,  k + 5,  k + 6,
             k + 7, k + 8, k + 9, k + 10, k + 11, k + 12};
  r.delta = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  r.min_rtt_us = 100 + flow;
  r.rtt_us = 200 + seq;
  r.max_delivery_rate = 1ull << 40;
  r.limited_by = flows::LimitedBy::kReceiver;
  return r;
}

std::vector<flows::FlowRecord> MakeRecords(int flows, uint32_t seqs) {
  std::vector<flows::FlowRecord> records;
  for (int f = 0; f < flows; ++f) {
    for (uint32_t s = 0; s < seqs; ++s) records.push_back(MakeRecord(f, s));
  }
  return records;
}

// A record's values as the SELECT of RowsQuery() shows them: times in
// microseconds since the epoch (truncated), addresses as host().
class ExpectedRow : public flows::ColumnVisitor {
 public:
  void Text(const flows::Column&, absl::string_view value) override {
    row.emplace_back(value);
  }
  void Integer(const flows::Column&, uint64_t value) override {
    row.push_back(absl::StrCat(value));
  }
  void Time(const flows::Column&, parse::Timestamp value) override {
    row.push_back(absl::StrCat(value.seconds * 1000000 + value.nanos / 1000));
  }
  void Address(const flows::Column&,
               const collector::IpAddress& value) override {
    row.push_back(collector::FormatIpAddress(value));
  }
  std::vector<std::string> row;
};

std::string RowsQuery() {
  std::vector<std::string> exprs;
  for (const flows::Column& c : flows::Columns()) {
    switch (c.type) {
      case flows::ColumnType::kTime:
        exprs.push_back(absl::StrCat("(extract(epoch FROM ", c.name,
                                     ") * 1000000)::bigint"));
        break;
      case flows::ColumnType::kAddress:
        exprs.push_back(absl::StrCat("host(", c.name, ")"));
        break;
      default:
        exprs.push_back(absl::StrCat(c.name, "::text"));
    }
  }
  return absl::StrCat("SELECT ", absl::StrJoin(exprs, ", "),
                      " FROM flows ORDER BY cookie, seq");
}

class PostgresSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<testutil::PostgresServer>> server =
        testutil::PostgresServer::Start(kPassword);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  std::string Count(const std::string& what = "count(*)") {
    absl::StatusOr<Rows> rows =
        server_->Query(absl::StrCat("SELECT ", what, " FROM flows"));
    EXPECT_TRUE(rows.ok()) << rows.status();
    return rows.ok() && rows->size() == 1 ? (*rows)[0][0] : "?";
  }

  std::unique_ptr<testutil::PostgresServer> server_;
};

TEST_F(PostgresSinkTest, CreatesTypedTableAndRowsEqualTheRecords) {
  std::unique_ptr<sinks::SinkWriter> writer =
      sinks::NewPostgresWriter(PostgresUrl(server_->Uri(kPassword)));
  ASSERT_TRUE(writer->Connect().ok());

  absl::StatusOr<Rows> columns = server_->Query(
      "SELECT column_name, data_type, is_nullable FROM "
      "information_schema.columns WHERE table_name = 'flows' "
      "ORDER BY ordinal_position");
  ASSERT_TRUE(columns.ok()) << columns.status();
  Rows want_columns;
  for (const flows::Column& c : flows::Columns()) {
    std::string type = "text";
    if (c.type == flows::ColumnType::kInteger) type = "bigint";
    if (c.type == flows::ColumnType::kTime) type = "timestamp with time zone";
    if (c.type == flows::ColumnType::kAddress) type = "inet";
    if (std::string(c.name) == "cookie") type = "numeric";
    want_columns.push_back({c.name, type, "NO"});
  }
  EXPECT_EQ(*columns, want_columns);
  absl::StatusOr<Rows> indices = server_->Query(
      "SELECT indexdef FROM pg_indexes WHERE tablename = 'flows' "
      "ORDER BY indexname");
  ASSERT_TRUE(indices.ok()) << indices.status();
  ASSERT_EQ(indices->size(), 3u);
  EXPECT_THAT((*indices)[0][0], HasSubstr("(end_time)"));
  EXPECT_THAT((*indices)[1][0], HasSubstr("(remote_addr)"));
  EXPECT_THAT((*indices)[2][0], HasSubstr("UNIQUE INDEX"));
  EXPECT_THAT((*indices)[2][0], HasSubstr("(uuid, seq)"));

  const std::vector<flows::FlowRecord> records = MakeRecords(40, 3);
  sinks::SinkWriter::WriteResult result = writer->Write(records);
  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(result.written, records.size());

  absl::StatusOr<Rows> rows = server_->Query(RowsQuery());
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    ExpectedRow want;
    flows::VisitColumns(records[i], want);
    EXPECT_EQ((*rows)[i], want.row) << "record " << i;
  }
  // The nanoseconds are truncated, not rounded: .999999999 stays in its
  // second.
  absl::StatusOr<Rows> times = server_->Query(
      "SELECT to_char(end_time AT TIME ZONE 'UTC', 'SS.US') FROM flows "
      "WHERE cookie = 17293822569102704640 AND seq = 1");
  ASSERT_TRUE(times.ok()) << times.status();
  EXPECT_EQ(*times, Rows({{"01.999999"}}));
}

TEST_F(PostgresSinkTest, RetriedBatchIsNotDuplicated) {
  std::unique_ptr<sinks::SinkWriter> writer =
      sinks::NewPostgresWriter(PostgresUrl(server_->Uri(kPassword)));
  ASSERT_TRUE(writer->Connect().ok());
  const std::vector<flows::FlowRecord> records = MakeRecords(50, 2);
  ASSERT_TRUE(writer->Write(records).status.ok());
  sinks::SinkWriter::WriteResult again = writer->Write(records);
  EXPECT_TRUE(again.status.ok()) << again.status;
  EXPECT_EQ(again.written, records.size());
  EXPECT_EQ(Count(), "100");

  // Half old, half new, and one record twice in the batch itself.
  std::vector<flows::FlowRecord> overlap = MakeRecords(100, 2);
  overlap.erase(overlap.begin(), overlap.begin() + 50);
  overlap.push_back(overlap.back());
  ASSERT_TRUE(writer->Write(overlap).status.ok());
  EXPECT_EQ(Count(), "200");
  EXPECT_EQ(Count("count(DISTINCT (uuid, seq))"), "200");

  // A second writer (a restarted daemon) finds the table and goes on.
  std::unique_ptr<sinks::SinkWriter> other =
      sinks::NewPostgresWriter(PostgresUrl(server_->Uri(kPassword)));
  ASSERT_TRUE(other->Connect().ok());
  ASSERT_TRUE(other->Write(MakeRecords(101, 2)).status.ok());
  EXPECT_EQ(Count(), "202");
}

TEST_F(PostgresSinkTest, WrongPasswordFailsWithoutTheGivenPassword) {
  const std::string wrong = "Wrong-9d1e4b-secret";
  std::unique_ptr<sinks::SinkWriter> writer =
      sinks::NewPostgresWriter(PostgresUrl(server_->Uri(wrong)));
  const absl::Status status = writer->Connect();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("password authentication failed for user \"tcpinfo\""));
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr(wrong)));
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr("\n")));
  sinks::SinkWriter::WriteResult result = writer->Write(MakeRecords(1, 1));
  EXPECT_EQ(result.written, 0u);
  EXPECT_FALSE(result.status.ok());
}

TEST_F(PostgresSinkTest, UnreachablePortFailsWithoutThePassword) {
  const uint16_t port = server_->port();
  ASSERT_TRUE(server_->Stop().ok());
  const std::string uri = server_->Uri(kPassword);
  std::unique_ptr<sinks::SinkWriter> writer =
      sinks::NewPostgresWriter(PostgresUrl(uri));
  const absl::Status status = writer->Connect();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr(absl::StrCat("port ", port, " failed")));
  EXPECT_THAT(std::string(status.message()), HasSubstr("Connection refused"));
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr(kPassword)));
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr(uri)));
}

// libpq quotes a malformed URI token in its error; a password is replaced.
TEST_F(PostgresSinkTest, MalformedPasswordIsNotEchoed) {
  const std::string uri = absl::StrCat("postgres://tcpinfo:Bad%zz", kPassword,
                                       "@127.0.0.1:", server_->port(), "/x");
  std::unique_ptr<sinks::SinkWriter> writer =
      sinks::NewPostgresWriter(PostgresUrl(uri));
  const absl::Status status = writer->Connect();
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr("postgres connect: "));
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr(kPassword)));
}

// A server that takes the batch but never answers: Write fails after
// call_timeout instead of hanging the sink's thread, and the next Connect
// works once the server answers again.
TEST_F(PostgresSinkTest, SilentServerFailsTheWriteInTime) {
  sinks::PostgresWriterOptions options;
  options.call_timeout = absl::Seconds(1);
  std::unique_ptr<sinks::SinkWriter> writer =
      sinks::NewPostgresWriter(PostgresUrl(server_->Uri(kPassword)), options);
  ASSERT_TRUE(writer->Connect().ok());
  absl::StatusOr<Rows> backend = server_->Query(
      "SELECT pid FROM pg_stat_activity WHERE application_name = 'tcp-info'");
  ASSERT_TRUE(backend.ok()) << backend.status();
  ASSERT_EQ(backend->size(), 1u);
  const pid_t pid = std::stoi((*backend)[0][0]);
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  const absl::Time start = absl::Now();
  sinks::SinkWriter::WriteResult result = writer->Write(MakeRecords(10, 1));
  const absl::Duration took = absl::Now() - start;
  kill(pid, SIGCONT);
  EXPECT_EQ(result.status.code(), absl::StatusCode::kDeadlineExceeded)
      << result.status;
  EXPECT_EQ(result.written, 0u);
  EXPECT_GE(took, absl::Milliseconds(900));
  EXPECT_LT(took, absl::Seconds(3));
  ASSERT_TRUE(writer->Connect().ok());
  result = writer->Write(MakeRecords(10, 1));
  EXPECT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(Count(), "10");
}

}  // namespace
