#include "sinks/postgres_writer.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "collector/ip_address.h"
#include "flows/record_columns.h"
#include "parse/timestamp.h"
#include "sinks/device_usage_row.h"
#include "sinks/writers.h"

namespace sinks {

namespace {

constexpr char kTable[] = "flows";
constexpr char kStaging[] = "flows_staging";
// COPY data goes to libpq in pieces of about this size.
constexpr size_t kCopyChunkBytes = 256 * 1024;

// The one column whose uint64 values exceed bigint in practice.
bool IsUnsigned64(const flows::Column& column) {
  return std::strcmp(column.name, "cookie") == 0;
}

const char* SqlType(const flows::Column& column) {
  if (IsUnsigned64(column)) return "numeric(20,0)";
  switch (column.type) {
    case flows::ColumnType::kText:
      return "text";
    case flows::ColumnType::kInteger:
      return "bigint";
    case flows::ColumnType::kTime:
      return "timestamptz";
    case flows::ColumnType::kAddress:
      return "inet";
  }
  return "text";
}

std::string ColumnList() {
  return absl::StrJoin(
      flows::Columns(), ", ",
      [](std::string* out, const flows::Column& c) { out->append(c.name); });
}

// A quoted SQL string literal (standard_conforming_strings is on since 9.1).
std::string Literal(absl::string_view text) {
  return absl::StrCat("'", absl::StrReplaceAll(text, {{"'", "''"}}), "'");
}

// CREATE TABLE with its comments and indices, one transaction (a simple
// query of several statements). `hypertable`: TimescaleDB is installed.
std::string CreateTableSql(bool hypertable) {
  std::string sql = absl::StrCat("CREATE TABLE IF NOT EXISTS ", kTable, " (");
  for (const flows::Column& c : flows::Columns()) {
    absl::StrAppend(&sql, c.name, " ", SqlType(c), " NOT NULL, ");
  }
  absl::StrAppend(&sql, "UNIQUE (uuid, seq", hypertable ? ", end_time" : "",
                  "));");
  if (hypertable) {
    absl::StrAppend(&sql, "SELECT create_hypertable(", Literal(kTable),
                    ", 'end_time', if_not_exists => TRUE, "
                    "migrate_data => TRUE);");
  }
  absl::StrAppend(&sql, "CREATE INDEX IF NOT EXISTS ", kTable,
                  "_end_time_idx ON ", kTable, " (end_time);",
                  "CREATE INDEX IF NOT EXISTS ", kTable, "_remote_addr_idx ON ",
                  kTable, " (remote_addr);");
  for (const flows::Column& c : flows::Columns()) {
    std::string meaning = c.meaning;
    if (*c.unit != '\0') absl::StrAppend(&meaning, " [", c.unit, "]");
    absl::StrAppend(&sql, "COMMENT ON COLUMN ", kTable, ".", c.name, " IS ",
                    Literal(meaning), ";");
  }
  return sql;
}

// Table device_usage (speedy's columns and types) if absent, with a unique
// index on (time, mac) (which a hypertable's unique index may be: it holds
// the time column) that makes retries idempotent.
std::string CreateDeviceUsageSql(bool hypertable) {
  std::string sql = absl::StrCat(
      "CREATE TABLE IF NOT EXISTS ", kDeviceUsageTable,
      " (time timestamptz NOT NULL, mac macaddr NOT NULL, download bigint, "
      "upload bigint, ipv4 inet, ipv6 inet);");
  if (hypertable) {
    absl::StrAppend(&sql, "SELECT create_hypertable(",
                    Literal(kDeviceUsageTable),
                    ", 'time', if_not_exists => TRUE, migrate_data => TRUE);");
  }
  absl::StrAppend(&sql, "CREATE UNIQUE INDEX IF NOT EXISTS ", kDeviceUsageTable,
                  "_time_mac_idx ON ", kDeviceUsageTable, " (time, mac);");
  return sql;
}

// One INSERT of `measurements` (kDeviceUsage) that skips rows already there.
std::string InsertDeviceUsageSql(
    absl::Span<const flows::Measurement> measurements) {
  std::string sql =
      absl::StrCat("INSERT INTO ", kDeviceUsageTable,
                   " (time, mac, download, upload, ipv4, ipv6) VALUES ");
  auto nullable = [](const std::optional<std::string>& v) {
    return v.has_value() ? Literal(*v) : std::string("NULL");
  };
  for (size_t i = 0; i < measurements.size(); ++i) {
    const DeviceUsageRow row = ToDeviceUsageRow(measurements[i]);
    parse::Timestamp time = row.time;
    time.nanos -= time.nanos % 1000;
    time.utc_offset_minutes = 0;
    std::string text;
    parse::AppendRfc3339(time, &text);
    absl::StrAppend(&sql, i == 0 ? "" : ", ", "(", Literal(text), ", ",
                    Literal(row.mac), ", ", row.download, ", ", row.upload,
                    ", ", nullable(row.ipv4), ", ", nullable(row.ipv6), ")");
  }
  absl::StrAppend(&sql, " ON CONFLICT DO NOTHING");
  return sql;
}

// Appends one record as a line of COPY's text format.
class CopyRow : public flows::ColumnVisitor {
 public:
  explicit CopyRow(std::string* out) : out_(out) {}

  void Text(const flows::Column&, absl::string_view value) override {
    Separate();
    for (const char ch : value) {
      switch (ch) {
        case '\\':
          out_->append("\\\\");
          break;
        case '\t':
          out_->append("\\t");
          break;
        case '\n':
          out_->append("\\n");
          break;
        case '\r':
          out_->append("\\r");
          break;
        case '\0':  // text cannot hold it
          break;
        default:
          out_->push_back(ch);
      }
    }
  }
  void Integer(const flows::Column& column, uint64_t value) override {
    Separate();
    constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
    absl::StrAppend(out_, IsUnsigned64(column) ? value : std::min(value, kMax));
  }
  void Time(const flows::Column&, parse::Timestamp value) override {
    Separate();
    value.nanos -= value.nanos % 1000;  // PostgreSQL keeps microseconds
    value.utc_offset_minutes = 0;
    parse::AppendRfc3339(value, out_);
  }
  void Address(const flows::Column&,
               const collector::IpAddress& value) override {
    Separate();
    out_->append(collector::FormatIpAddress(value));
  }
  void End() { out_->push_back('\n'); }

 private:
  void Separate() {
    if (!first_) out_->push_back('\t');
    first_ = false;
  }

  std::string* out_;
  bool first_ = true;
};

// The password as written in a libpq URI's user info
// (postgres://user:PASSWORD@host): libpq's reading (the user info ends at
// the first '@' before any '/') and, for a password with a raw '@', the
// reading up to the last one, and what lies between the first '@' and the
// last (libpq then takes it for part of the host, and may quote it).
std::vector<std::string> RawUriPasswords(absl::string_view uri) {
  const size_t scheme = uri.find("://");
  if (scheme == absl::string_view::npos) return {};
  absl::string_view authority = uri.substr(scheme + 3);
  authority = authority.substr(0, authority.find('/'));
  const size_t first = authority.find('@'), last = authority.rfind('@');
  if (first == absl::string_view::npos) return {};
  const size_t colon = authority.find(':');
  std::vector<std::string> secrets;
  if (colon < first) {
    secrets.emplace_back(authority.substr(colon + 1, first - colon - 1));
  }
  if (colon < last) {
    secrets.emplace_back(authority.substr(colon + 1, last - colon - 1));
  }
  if (first != last) {
    secrets.emplace_back(authority.substr(first + 1, last - first - 1));
  }
  return secrets;
}

// The password libpq reads from `conninfo` (percent-decoded), "" if none.
std::string ParsedPassword(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  if (options == nullptr) return "";
  std::string password;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (std::strcmp(o->keyword, "password") == 0 && o->val != nullptr) {
      password = o->val;
    }
  }
  PQconninfoFree(options);
  return password;
}

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

class PostgresWriter : public SinkWriter {
 public:
  PostgresWriter(const SinkUrl& url, PostgresWriterOptions options)
      : conninfo_(url.conninfo), options_(options) {
    // Longest first, so that a secret inside another is replaced whole.
    std::vector<std::string> secrets = RawUriPasswords(url.conninfo);
    secrets.push_back(url.conninfo);
    secrets.push_back(ParsedPassword(url.conninfo));
    if (const char* env = getenv("PGPASSWORD"); env != nullptr) {
      secrets.push_back(env);
    }
    for (std::string& secret : secrets) {
      if (!secret.empty()) secrets_.push_back(std::move(secret));
    }
    std::sort(secrets_.begin(), secrets_.end(),
              [](const std::string& a, const std::string& b) {
                return a.size() > b.size();
              });
    direct_copy_sql_ = absl::StrCat("BEGIN; COPY ", kTable, " (", ColumnList(),
                                    ") FROM STDIN");
    staging_copy_sql_ = absl::StrCat("BEGIN; COPY ", kStaging, " (",
                                     ColumnList(), ") FROM STDIN");
    insert_sql_ = absl::StrCat("INSERT INTO ", kTable, " (", ColumnList(),
                               ") SELECT ", ColumnList(), " FROM ", kStaging,
                               " ON CONFLICT DO NOTHING; COMMIT");
  }
  ~PostgresWriter() override { Disconnect(); }

  absl::Status Connect() override {
    Disconnect();
    const absl::Time deadline = absl::Now() + options_.call_timeout;
    absl::Status status = Open(deadline);
    if (status.ok()) status = PrepareTables(deadline);
    if (!status.ok()) Disconnect();
    return status;
  }

  WriteResult Write(absl::Span<const flows::FlowRecord> records) override {
    if (records.empty()) return {0, absl::OkStatus()};
    if (conn_ == nullptr) {
      return {0, absl::FailedPreconditionError("postgres: not connected")};
    }
    absl::Status status =
        WriteBatch(records, absl::Now() + options_.call_timeout);
    if (!status.ok()) {
      // Whatever state the session is in (a transaction open, a COPY half
      // sent, no answer yet), a new one is simpler and certain.
      Disconnect();
      return {0, std::move(status)};
    }
    return {records.size(), absl::OkStatus()};
  }

  bool Accepts(flows::MeasurementKind kind) const override {
    return kind == flows::MeasurementKind::kDeviceUsage;
  }

  WriteResult WriteMeasurements(
      absl::Span<const flows::Measurement> measurements) override {
    if (measurements.empty()) return {0, absl::OkStatus()};
    if (conn_ == nullptr) {
      return {0, absl::FailedPreconditionError("postgres: not connected")};
    }
    absl::Status status =
        Run(InsertDeviceUsageSql(measurements),
            absl::Now() + options_.call_timeout, "write device_usage")
            .status();
    if (!status.ok()) {
      Disconnect();
      return {0, std::move(status)};
    }
    return {measurements.size(), absl::OkStatus()};
  }

  void Close(absl::Time deadline) override { Disconnect(); }

 private:
  void Disconnect() {
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = nullptr;
  }

  // Starts libpq's connection and drives it until ready or `deadline`.
  absl::Status Open(absl::Time deadline) {
    // Ours first: the URI (dbname, expanded) comes last and overrides them.
    const char* keywords[] = {"connect_timeout",
                              "keepalives",
                              "keepalives_idle",
                              "keepalives_interval",
                              "keepalives_count",
                              "tcp_user_timeout",
                              "fallback_application_name",
                              "client_encoding",
                              "dbname",
                              nullptr};
    const char* values[] = {"5",
                            "1",
                            "10",
                            "5",
                            "3",
                            "10000",
                            "tcp-info",
                            "UTF8",  // the records' text
                            conninfo_.c_str(),
                            nullptr};
    conn_ = PQconnectStartParams(keywords, values, /*expand_dbname=*/1);
    if (conn_ == nullptr) {
      return absl::ResourceExhaustedError("postgres connect: out of memory");
    }
    if (PQstatus(conn_) == CONNECTION_BAD) return ConnectionError("connect");
    PostgresPollingStatusType poll_status = PGRES_POLLING_WRITING;
    while (poll_status != PGRES_POLLING_OK) {
      if (poll_status == PGRES_POLLING_FAILED) {
        return ConnectionError("connect");
      }
      absl::Status ready =
          WaitSocket(poll_status == PGRES_POLLING_READING ? POLLIN : POLLOUT,
                     deadline, "connect");
      if (!ready.ok()) return ready;
      poll_status = PQconnectPoll(conn_);
    }
    if (PQsetnonblocking(conn_, 1) != 0) return ConnectionError("connect");
    return absl::OkStatus();
  }

  // Creates the table if absent, and this session's staging table.
  absl::Status PrepareTables(absl::Time deadline) {
    absl::StatusOr<Result> probe =
        Run(absl::StrCat("SELECT to_regclass(", Literal(kTable),
                         ") IS NULL, EXISTS (SELECT 1 FROM pg_extension WHERE "
                         "extname = 'timescaledb'), to_regclass(",
                         Literal(kDeviceUsageTable), ") IS NULL"),
            deadline, "create table");
    if (!probe.ok()) return probe.status();
    if (PQntuples(probe->get()) != 1) {
      return absl::InternalError("postgres create table: no answer row");
    }
    if (absl::string_view(PQgetvalue(probe->get(), 0, 0)) == "t") {
      const bool timescale =
          absl::string_view(PQgetvalue(probe->get(), 0, 1)) == "t";
      absl::StatusOr<Result> created =
          Run(CreateTableSql(timescale), deadline, "create table");
      if (!created.ok()) return created.status();
    }
    if (absl::string_view(PQgetvalue(probe->get(), 0, 2)) == "t") {
      const bool timescale =
          absl::string_view(PQgetvalue(probe->get(), 0, 1)) == "t";
      absl::StatusOr<Result> usage = Run(CreateDeviceUsageSql(timescale),
                                         deadline, "create table device_usage");
      if (!usage.ok()) return usage.status();
    }
    absl::StatusOr<Result> staging =
        Run(absl::StrCat("CREATE TEMP TABLE ", kStaging, " (LIKE ", kTable,
                         ") ON COMMIT DELETE ROWS"),
            deadline, "create staging table");
    return staging.status();
  }

  // Most batches hold only new records: COPY goes straight into the table.
  // A batch that repeats one (a retry after an answer was lost) fails that
  // COPY with a unique violation, and goes through the staging table.
  absl::Status WriteBatch(absl::Span<const flows::FlowRecord> records,
                          absl::Time deadline) {
    absl::Status direct = Copy(direct_copy_sql_, records, deadline);
    if (direct.ok()) return Run("COMMIT", deadline, "write").status();
    if (!absl::IsAlreadyExists(direct)) return direct;
    if (absl::Status s = Run("ROLLBACK", deadline, "write").status(); !s.ok()) {
      return s;
    }
    if (absl::Status s = Copy(staging_copy_sql_, records, deadline); !s.ok()) {
      return s;
    }
    return Run(insert_sql_, deadline, "write").status();
  }

  // Runs `sql` (BEGIN; COPY ... FROM STDIN) and sends `records` as its data.
  absl::Status Copy(const std::string& sql,
                    absl::Span<const flows::FlowRecord> records,
                    absl::Time deadline) {
    absl::StatusOr<Result> copy = Run(sql, deadline, "write");
    if (!copy.ok()) return copy.status();
    if (PQresultStatus(copy->get()) != PGRES_COPY_IN) {
      return absl::InternalError("postgres write: COPY did not start");
    }
    buffer_.clear();
    for (const flows::FlowRecord& record : records) {
      CopyRow row(&buffer_);
      flows::VisitColumns(record, row);
      row.End();
      if (buffer_.size() >= kCopyChunkBytes) {
        absl::Status sent = PutCopyData(deadline);
        if (!sent.ok()) return sent;
      }
    }
    absl::Status sent = PutCopyData(deadline);
    if (!sent.ok()) return sent;
    int end;
    while ((end = PQputCopyEnd(conn_, nullptr)) == 0) {
      absl::Status ready = WaitSocket(POLLOUT, deadline, "write");
      if (!ready.ok()) return ready;
    }
    if (end < 0) return ConnectionError("write");
    return Await(deadline, "write").status();
  }

  // Hands buffer_ to libpq as COPY data and empties it.
  absl::Status PutCopyData(absl::Time deadline) {
    int put;
    while ((put = PQputCopyData(conn_, buffer_.data(),
                                static_cast<int>(buffer_.size()))) == 0) {
      absl::Status ready = WaitSocket(POLLOUT, deadline, "write");
      if (!ready.ok()) return ready;
    }
    if (put < 0) return ConnectionError("write");
    buffer_.clear();
    return Flush(deadline, "write");
  }

  // Sends `sql` (one or more statements) and waits for its results: the
  // last one, or the COPY_IN one if a COPY ... FROM STDIN began; the first
  // error if a statement failed (AlreadyExists for a unique violation),
  // once the server is done with the query.
  absl::StatusOr<Result> Run(const std::string& sql, absl::Time deadline,
                             absl::string_view what) {
    if (!PQsendQuery(conn_, sql.c_str())) return ConnectionError(what);
    return Await(deadline, what);
  }

  absl::StatusOr<Result> Await(absl::Time deadline, absl::string_view what) {
    absl::Status flushed = Flush(deadline, what);
    if (!flushed.ok()) return flushed;
    Result last;
    absl::Status error;
    while (true) {
      while (PQisBusy(conn_)) {
        absl::Status ready = WaitSocket(POLLIN, deadline, what);
        if (!ready.ok()) return ready;
        if (!PQconsumeInput(conn_)) return ConnectionError(what);
      }
      Result result(PQgetResult(conn_));
      if (result == nullptr) break;
      switch (PQresultStatus(result.get())) {
        case PGRES_COMMAND_OK:
        case PGRES_TUPLES_OK:
        case PGRES_EMPTY_QUERY:
          last = std::move(result);
          break;
        case PGRES_COPY_IN:
          return result;
        default:
          if (error.ok()) {
            const char* state =
                PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
            error = absl::Status(
                state != nullptr && absl::string_view(state) == "23505"
                    ? absl::StatusCode::kAlreadyExists
                    : absl::StatusCode::kUnavailable,
                absl::StrCat("postgres ", what, ": ",
                             Scrub(PQresultErrorMessage(result.get()))));
          }
      }
    }
    if (!error.ok()) return error;
    if (PQstatus(conn_) == CONNECTION_BAD) return ConnectionError(what);
    return last;
  }

  // Sends what libpq has queued, by `deadline`.
  absl::Status Flush(absl::Time deadline, absl::string_view what) {
    int flushed;
    while ((flushed = PQflush(conn_)) == 1) {
      absl::Status ready = WaitSocket(POLLOUT | POLLIN, deadline, what);
      if (!ready.ok()) return ready;
      if (!PQconsumeInput(conn_)) return ConnectionError(what);
    }
    if (flushed < 0) return ConnectionError(what);
    return absl::OkStatus();
  }

  // Waits until the connection's socket is ready for `events`.
  absl::Status WaitSocket(short events, absl::Time deadline,
                          absl::string_view what) {
    while (true) {
      const int fd = PQsocket(conn_);
      if (fd < 0) return ConnectionError(what);
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) break;
      pollfd p = {fd, events, 0};
      const int n =
          poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left) + 1));
      if (n > 0) return absl::OkStatus();
      if (n < 0 && errno != EINTR) {
        return absl::UnavailableError(
            absl::StrCat("postgres ", what, ": poll: ", std::strerror(errno)));
      }
    }
    return absl::DeadlineExceededError(
        absl::StrCat("postgres ", what, ": no answer from the server within ",
                     absl::FormatDuration(options_.call_timeout)));
  }

  absl::Status ConnectionError(absl::string_view what) {
    return absl::UnavailableError(
        absl::StrCat("postgres ", what, ": ",
                     conn_ != nullptr ? Scrub(PQerrorMessage(conn_))
                                      : std::string("no connection")));
  }

  // One line, with every secret (the URI, the password) replaced.
  std::string Scrub(absl::string_view message) const {
    std::string text(absl::StripTrailingAsciiWhitespace(message));
    for (const std::string& secret : secrets_) {
      absl::StrReplaceAll({{secret, "****"}}, &text);
    }
    absl::StrReplaceAll({{"\n\t", " "}, {"\n", " "}, {"\t", " "}}, &text);
    return text;
  }

  const std::string conninfo_;
  const PostgresWriterOptions options_;
  std::vector<std::string> secrets_;
  std::string direct_copy_sql_;
  std::string staging_copy_sql_;
  std::string insert_sql_;
  PGconn* conn_ = nullptr;
  std::string buffer_;  // COPY data, reused across batches
};

}  // namespace

std::unique_ptr<SinkWriter> NewPostgresWriter(const SinkUrl& url,
                                              PostgresWriterOptions options) {
  return std::make_unique<PostgresWriter>(url, options);
}

std::unique_ptr<SinkWriter> NewPostgresWriter(const SinkUrl& url) {
  return NewPostgresWriter(url, PostgresWriterOptions{});
}

}  // namespace sinks
