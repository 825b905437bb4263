// The postgres:// sink against a real PostgreSQL 15 started by the test
// (tests/testutil/postgres_server.h): the table and its types, rows equal
// to the records column by column, idempotent retries, a server outage
// through a real SinkRunner, bounded calls, and errors without passwords.
#include <signal.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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
#include "tests/testutil/flow_records.h"
#include "tests/testutil/postgres_server.h"
#include "tests/testutil/sink_rows.h"

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

// testutil::MakeFlowRecords, with what PostgreSQL must take exactly: cookies
// above 2^63, a time just below a whole second (truncated, not rounded to
// the next), a congestion algorithm with characters COPY must escape.
std::vector<flows::FlowRecord> MakeRecords(uint32_t first, uint32_t n) {
  std::vector<flows::FlowRecord> records = testutil::MakeFlowRecords(first, n);
  for (flows::FlowRecord& r : records) r.cookie += 0xF000000000000000ull;
  if (n > 6) {
    records[5].congestion_algorithm = "we\\ird\tcc\nx\r";
    records[6].end_time.nanos = 999999999;
  }
  return records;
}

// A record's values as the SELECT of RowsQuery() shows them: times in
// microseconds since the epoch (truncated), addresses as host().
std::vector<std::string> ExpectedRow(const flows::FlowRecord& record) {
  std::vector<std::string> row;
  for (const testutil::ColumnValue& v : testutil::ColumnValues(record)) {
    switch (v.type) {
      case flows::ColumnType::kInteger:
        row.push_back(absl::StrCat(v.integer));
        break;
      case flows::ColumnType::kTime:
        row.push_back(
            absl::StrCat(v.time.seconds * 1000000 + v.time.nanos / 1000));
        break;
      default:
        row.push_back(v.text);
    }
  }
  return row;
}

std::string RowsQuery() {
  return absl::StrCat("SELECT ", testutil::PostgresSelectList(),
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

  const std::vector<flows::FlowRecord> records = MakeRecords(0, 120);
  sinks::SinkWriter::WriteResult result = writer->Write(records);
  ASSERT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(result.written, records.size());

  absl::StatusOr<Rows> rows = server_->Query(RowsQuery());
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ((*rows)[i], ExpectedRow(records[i])) << "record " << i;
  }
  // The nanoseconds are truncated, not rounded: .999999999 stays in its
  // second.
  absl::StatusOr<Rows> times = server_->Query(absl::StrCat(
      "SELECT to_char(end_time AT TIME ZONE 'UTC', 'SS.US') FROM flows "
      "WHERE uuid = '",
      records[6].uuid, "' AND seq = ", records[6].seq));
  ASSERT_TRUE(times.ok()) << times.status();
  EXPECT_EQ(*times, Rows({{absl::StrFormat(
                        "%02d.999999", records[6].end_time.seconds % 60)}}));
}

// Values at the edges of the binary forms: cookies around numeric's
// base-10000 digits and uint64's end, a counter above bigint (saturated),
// Go's zero time and the last representable nanosecond, IPv4-mapped and
// unset addresses, text with a NUL (dropped) and UTF-8.
TEST_F(PostgresSinkTest, EdgeValuesArriveExactly) {
  const uint64_t cookies[] = {0,          1,
                              9999,       10000,
                              100000000,  10000000000000000ull,
                              1ull << 63, std::numeric_limits<uint64_t>::max()};
  std::vector<flows::FlowRecord> records;
  for (const uint64_t cookie : cookies) {
    flows::FlowRecord r = testutil::MakeFlowRecord(0);
    r.seq = static_cast<uint32_t>(records.size());
    r.cookie = cookie;
    records.push_back(r);
  }
  records[1].total.bytes_acked = std::numeric_limits<uint64_t>::max();
  records[2].start_time = parse::Timestamp::GoZero();
  records[2].end_time = {253402300799, 999999999, 0};  // 9999-12-31
  records[3].remote = *collector::ParseIpAddress("::ffff:10.77.0.9");
  records[3].local = collector::IpAddress{};
  records[4].congestion_algorithm = std::string("cc\0x", 4);
  records[5].congestion_algorithm = "d\xc3\xa9j\xc3\xa0";

  std::unique_ptr<sinks::SinkWriter> writer =
      sinks::NewPostgresWriter(PostgresUrl(server_->Uri(kPassword)));
  ASSERT_TRUE(writer->Connect().ok());
  const sinks::SinkWriter::WriteResult result = writer->Write(records);
  ASSERT_TRUE(result.status.ok()) << result.status;

  absl::StatusOr<Rows> rows = server_->Query(
      "SELECT cookie::text, bytes_acked::text, "
      "to_char(start_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), "
      "to_char(end_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), "
      "host(remote_addr), host(local_addr), cc FROM flows ORDER BY seq");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ((*rows)[i][0], absl::StrCat(cookies[i]));
  }
  EXPECT_EQ((*rows)[0][1], absl::StrCat(records[0].total.bytes_acked));
  EXPECT_EQ((*rows)[1][1], "9223372036854775807");
  EXPECT_EQ((*rows)[2][2], "0001-01-01 00:00:00.000000");
  EXPECT_EQ((*rows)[2][3], "9999-12-31 23:59:59.999999");
  EXPECT_EQ((*rows)[3][4], "::ffff:10.77.0.9");
  EXPECT_EQ((*rows)[3][5], "::");
  EXPECT_EQ((*rows)[4][6], "ccx");
  EXPECT_EQ((*rows)[5][6], "d\xc3\xa9j\xc3\xa0");
}

TEST_F(PostgresSinkTest, RetriedBatchIsNotDuplicated) {
  std::unique_ptr<sinks::SinkWriter> writer =
      sinks::NewPostgresWriter(PostgresUrl(server_->Uri(kPassword)));
  ASSERT_TRUE(writer->Connect().ok());
  const std::vector<flows::FlowRecord> records = MakeRecords(0, 100);
  ASSERT_TRUE(writer->Write(records).status.ok());
  sinks::SinkWriter::WriteResult again = writer->Write(records);
  EXPECT_TRUE(again.status.ok()) << again.status;
  EXPECT_EQ(again.written, records.size());
  EXPECT_EQ(Count(), "100");

  // Half old, half new, and one record twice in the batch itself.
  std::vector<flows::FlowRecord> overlap = MakeRecords(50, 100);
  overlap.push_back(overlap.back());
  ASSERT_TRUE(writer->Write(overlap).status.ok());
  EXPECT_EQ(Count(), "150");
  EXPECT_EQ(Count("count(DISTINCT (uuid, seq))"), "150");

  // A second writer (a restarted daemon) finds the table and goes on.
  std::unique_ptr<sinks::SinkWriter> other =
      sinks::NewPostgresWriter(PostgresUrl(server_->Uri(kPassword)));
  ASSERT_TRUE(other->Connect().ok());
  ASSERT_TRUE(other->Write(MakeRecords(150, 2)).status.ok());
  EXPECT_EQ(Count(), "152");
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
  sinks::SinkWriter::WriteResult result = writer->Write(MakeRecords(0, 1));
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

// Without a password in the URI, libpq's usual places serve: a password
// file named by PGPASSFILE, then PGPASSWORD.
TEST_F(PostgresSinkTest, PasswordFromPgpassFileOrEnvironment) {
  const std::string uri = absl::StrCat(
      "postgres://tcpinfo@127.0.0.1:", server_->port(), "/postgres");
  std::unique_ptr<sinks::SinkWriter> writer =
      sinks::NewPostgresWriter(PostgresUrl(uri));
  const absl::Status without = writer->Connect();
  EXPECT_THAT(std::string(without.message()),
              HasSubstr("no password supplied"));

  const std::string pgpass = server_->dir() + "/pgpass";
  {
    std::ofstream out(pgpass);
    out << "127.0.0.1:" << server_->port() << ":*:tcpinfo:" << kPassword
        << "\n";
  }
  ASSERT_EQ(chmod(pgpass.c_str(), 0600), 0);
  setenv("PGPASSFILE", pgpass.c_str(), 1);
  const absl::Status from_file = writer->Connect();
  unsetenv("PGPASSFILE");
  EXPECT_TRUE(from_file.ok()) << from_file;

  setenv("PGPASSWORD", kPassword, 1);
  const absl::Status from_env = writer->Connect();
  setenv("PGPASSWORD", "Env-wrong-5c2e-secret", 1);
  // A writer made now knows the value, and hides it too.
  std::unique_ptr<sinks::SinkWriter> wrong =
      sinks::NewPostgresWriter(PostgresUrl(uri));
  const absl::Status wrong_env = wrong->Connect();
  unsetenv("PGPASSWORD");
  EXPECT_TRUE(from_env.ok()) << from_env;
  EXPECT_THAT(std::string(wrong_env.message()),
              HasSubstr("password authentication failed"));
  EXPECT_THAT(std::string(wrong_env.message()),
              Not(HasSubstr("Env-wrong-5c2e-secret")));
  ASSERT_TRUE(writer->Write(MakeRecords(0, 3)).status.ok());
  EXPECT_EQ(Count(), "3");
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
  sinks::SinkWriter::WriteResult result = writer->Write(MakeRecords(0, 10));
  const absl::Duration took = absl::Now() - start;
  kill(pid, SIGCONT);
  EXPECT_EQ(result.status.code(), absl::StatusCode::kDeadlineExceeded)
      << result.status;
  EXPECT_EQ(result.written, 0u);
  EXPECT_GE(took, absl::Milliseconds(900));
  EXPECT_LT(took, absl::Seconds(3));
  ASSERT_TRUE(writer->Connect().ok());
  result = writer->Write(MakeRecords(0, 10));
  EXPECT_TRUE(result.status.ok()) << result.status;
  EXPECT_EQ(Count(), "10");
}

// TimescaleDB is not in Debian 12: a stand-in (a pg_extension row named
// timescaledb and a create_hypertable function that records its call)
// checks what the writer asks of it, not TimescaleDB itself.
TEST_F(PostgresSinkTest, WithTimescaleDbTheNewTableBecomesAHypertable) {
  absl::StatusOr<Rows> fake = server_->Query(R"(
      SET allow_system_table_mods = on;
      INSERT INTO pg_extension (oid, extname, extowner, extnamespace,
                                extrelocatable, extversion)
        VALUES (99999, 'timescaledb', 10, 'public'::regnamespace, false,
                '2.11.0');
      CREATE TABLE hypertable_calls (relation text, time_column name,
                                     if_not_exists bool, migrate_data bool);
      CREATE FUNCTION create_hypertable(relation regclass,
          time_column_name name, if_not_exists bool DEFAULT false,
          migrate_data bool DEFAULT false) RETURNS bool LANGUAGE sql AS
        'INSERT INTO hypertable_calls VALUES ($1::text, $2, $3, $4)
         RETURNING true';
  )");
  ASSERT_TRUE(fake.ok()) << fake.status();
  for (int i = 0; i < 2; ++i) {  // the second finds the table
    std::unique_ptr<sinks::SinkWriter> writer =
        sinks::NewPostgresWriter(PostgresUrl(server_->Uri(kPassword)));
    ASSERT_TRUE(writer->Connect().ok());
    ASSERT_TRUE(writer->Write(MakeRecords(0, 10)).status.ok());
  }
  absl::StatusOr<Rows> calls = server_->Query("TABLE hypertable_calls");
  ASSERT_TRUE(calls.ok()) << calls.status();
  EXPECT_EQ(*calls, Rows({{"flows", "end_time", "t", "t"},
                          {"device_usage", "time", "t", "t"}}));
  absl::StatusOr<Rows> unique = server_->Query(
      "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
      "WHERE conrelid = 'flows'::regclass AND contype = 'u'");
  ASSERT_TRUE(unique.ok()) << unique.status();
  EXPECT_EQ(*unique, Rows({{"UNIQUE (uuid, seq, end_time)"}}));
  EXPECT_EQ(Count(), "10");
}

// 200 records/s for 25 s through a real SinkRunner, the server stopped
// (pg_ctl stop -m fast) for 10 s in the middle and started again on its
// port: every record arrives exactly once, and nothing is dropped.
TEST_F(PostgresSinkTest, OutageThroughSinkRunnerLosesAndRepeatsNothing) {
  absl::StatusOr<sinks::SinkUrl> url =
      sinks::ParseSinkUrl(server_->Uri(kPassword));
  ASSERT_TRUE(url.ok()) << url.status();
  absl::StatusOr<std::unique_ptr<sinks::SinkWriter>> writer =
      sinks::MakeWriter(*url);
  ASSERT_TRUE(writer.ok()) << writer.status();
  sinks::SinkOptions options;
  options.queue_records = 100000;
  options.batch_records = 100;
  options.flush_interval = absl::Milliseconds(50);
  options.initial_backoff = absl::Milliseconds(100);
  options.max_backoff = absl::Seconds(1);
  sinks::SinkRunner runner(url->redacted, std::move(*writer), options);
  runner.Start();

  constexpr int kRate = 200;
  constexpr int kRecords = kRate * 25;
  const std::vector<flows::FlowRecord> records = MakeRecords(0, kRecords);
  absl::Status stopped, restarted;
  std::thread outage([&] {
    absl::SleepFor(absl::Milliseconds(7500));
    stopped = server_->Stop();
    absl::SleepFor(absl::Seconds(10));
    restarted = server_->Restart();
  });
  const absl::Time start = absl::Now();
  for (int i = 0; i < kRecords; ++i) {
    absl::SleepFor(start + absl::Seconds(1) * i / kRate - absl::Now());
    EXPECT_TRUE(runner.Offer(records[i])) << "record " << i;
  }
  outage.join();
  ASSERT_TRUE(stopped.ok()) << stopped;
  ASSERT_TRUE(restarted.ok()) << restarted;
  runner.Stop(absl::Now() + absl::Seconds(15));

  const sinks::SinkRunner::Stats stats = runner.stats();
  EXPECT_EQ(stats.sent, kRecords);
  EXPECT_GT(stats.failed, 0u);
  EXPECT_EQ(stats.dropped, 0u);
  EXPECT_EQ(stats.queued, 0u);
  EXPECT_EQ(Count(), absl::StrCat(kRecords));
  EXPECT_EQ(Count("count(DISTINCT (uuid, seq))"), absl::StrCat(kRecords));
}

}  // namespace
