// The sqlite sink: one database file in WAL mode (readers never block the
// writer, a crash never corrupts it), table `flows` with a column per
// flows::Columns() (README "SQLite"): integers INTEGER, text and addresses
// TEXT, times TEXT in RFC 3339 UTC with exactly nine fraction digits
// ("2026-12-04T18:09:46.123456789Z"), so that text order is time order and
// SQLite's date functions read them. UNIQUE (uuid, seq) and INSERT OR
// IGNORE make a retried batch idempotent; each batch is one transaction
// through one prepared statement.
//
// Measurements of kind kDeviceUsage go to table `device_usage` (speedy's
// columns; time TEXT as above, mac and addresses TEXT, NULL for no
// address, byte counts INTEGER), UNIQUE (time, mac) with INSERT OR IGNORE.
//
// Every error (busy or locked database, SQLITE_FULL, I/O) rolls the batch
// back whole and is returned for the runner to retry after a reconnect.
#include <sqlite3.h>

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "flows/record_columns.h"
#include "sinks/device_usage_row.h"
#include "sinks/writers.h"

namespace sinks {

namespace {

// How long a statement waits for another connection's lock.
constexpr int kBusyTimeoutMs = 2000;

// RFC 3339 UTC with nine fraction digits.
std::string FixedRfc3339(parse::Timestamp t) {
  const absl::Time at =
      absl::FromUnixSeconds(t.seconds) + absl::Nanoseconds(t.nanos);
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", at, absl::UTCTimeZone());
}

const char* SqlType(flows::ColumnType type) {
  return type == flows::ColumnType::kInteger ? "INTEGER" : "TEXT";
}

std::string CreateTableSql() {
  std::string sql = "CREATE TABLE IF NOT EXISTS flows (\n";
  for (const flows::Column& c : flows::Columns()) {
    absl::StrAppend(&sql, "  ", c.name, " ", SqlType(c.type), " NOT NULL,\n");
  }
  absl::StrAppend(&sql,
                  "  UNIQUE (uuid, seq)\n);\n"
                  "CREATE INDEX IF NOT EXISTS flows_end_time ON flows "
                  "(end_time);\n"
                  "CREATE INDEX IF NOT EXISTS flows_remote_addr ON flows "
                  "(remote_addr);\n");
  return sql;
}

std::string CreateDeviceUsageSql() {
  return absl::StrCat("CREATE TABLE IF NOT EXISTS ", kDeviceUsageTable,
                      " (\n"
                      "  time TEXT NOT NULL,\n"
                      "  mac TEXT NOT NULL,\n"
                      "  download INTEGER,\n"
                      "  upload INTEGER,\n"
                      "  ipv4 TEXT,\n"
                      "  ipv6 TEXT,\n"
                      "  UNIQUE (time, mac)\n);");
}

std::string InsertDeviceUsageSql() {
  return absl::StrCat("INSERT OR IGNORE INTO ", kDeviceUsageTable,
                      " (time, mac, download, upload, ipv4, ipv6) VALUES "
                      "(?, ?, ?, ?, ?, ?)");
}

// Binds one device_usage row; SQLite's first error code, or SQLITE_OK.
int BindDeviceUsage(sqlite3_stmt* stmt, const DeviceUsageRow& row) {
  const std::string time = FixedRfc3339(row.time);
  int rc = sqlite3_bind_text(stmt, 1, time.data(),
                             static_cast<int>(time.size()), SQLITE_TRANSIENT);
  auto text = [&](int index, const std::optional<std::string>& value) {
    if (rc != SQLITE_OK) return;
    rc = value.has_value() ? sqlite3_bind_text(stmt, index, value->data(),
                                               static_cast<int>(value->size()),
                                               SQLITE_TRANSIENT)
                           : sqlite3_bind_null(stmt, index);
  };
  text(2, row.mac);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(stmt, 3, row.download);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(stmt, 4, row.upload);
  text(5, row.ipv4);
  text(6, row.ipv6);
  return rc;
}

std::string InsertSql() {
  std::string names, params;
  for (const flows::Column& c : flows::Columns()) {
    absl::StrAppend(&names, names.empty() ? "" : ", ", c.name);
    absl::StrAppend(&params, params.empty() ? "?" : ", ?");
  }
  return absl::StrCat("INSERT OR IGNORE INTO flows (", names, ") VALUES (",
                      params, ")");
}

// Binds one record's columns to the insert statement, in order.
class Binder : public flows::ColumnVisitor {
 public:
  explicit Binder(sqlite3_stmt* stmt) : stmt_(stmt) {}

  void Text(const flows::Column& column, absl::string_view value) override {
    // The record outlives the statement's step.
    Check(sqlite3_bind_text(stmt_, ++index_, value.data(),
                            static_cast<int>(value.size()), SQLITE_STATIC));
  }
  void Integer(const flows::Column& column, uint64_t value) override {
    Check(
        sqlite3_bind_int64(stmt_, ++index_, static_cast<sqlite3_int64>(value)));
  }
  void Time(const flows::Column& column, parse::Timestamp value) override {
    BindCopy(FixedRfc3339(value));
  }
  void Address(const flows::Column& column,
               const collector::IpAddress& value) override {
    BindCopy(collector::FormatIpAddress(value));
  }

  int rc() const { return rc_; }

 private:
  void BindCopy(const std::string& s) {
    Check(sqlite3_bind_text(stmt_, ++index_, s.data(),
                            static_cast<int>(s.size()), SQLITE_TRANSIENT));
  }
  void Check(int rc) {
    if (rc != SQLITE_OK && rc_ == SQLITE_OK) rc_ = rc;
  }
  sqlite3_stmt* stmt_;
  int index_ = 0;
  int rc_ = SQLITE_OK;
};

class SqliteWriter : public SinkWriter {
 public:
  explicit SqliteWriter(const SinkUrl& url) : path_(url.path) {}
  ~SqliteWriter() override { CloseDb(); }

  absl::Status Connect() override {
    CloseDb();
    int rc = sqlite3_open_v2(
        path_.c_str(), &db_,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
        nullptr);
    if (rc != SQLITE_OK) return Error("open", rc);
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    // WAL with synchronous=NORMAL: a crash of the process or the machine
    // may lose the last commits, never the file.
    if (absl::Status s = Exec("journal_mode", "PRAGMA journal_mode=WAL");
        !s.ok())
      return s;
    if (absl::Status s = Exec("synchronous", "PRAGMA synchronous=NORMAL");
        !s.ok())
      return s;
    // After a failure (a full disk): move what the WAL holds into the
    // database and truncate it, as commits that fail never checkpoint and a
    // WAL grown to the disk's limit would fail every commit after.
    sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr,
                              nullptr);
    if (absl::Status s = Exec("create table", CreateTableSql().c_str());
        !s.ok())
      return s;
    if (absl::Status s = Exec("create table", CreateDeviceUsageSql().c_str());
        !s.ok())
      return s;
    const std::string insert = InsertSql();
    rc = sqlite3_prepare_v3(db_, insert.c_str(), -1, SQLITE_PREPARE_PERSISTENT,
                            &insert_, nullptr);
    if (rc != SQLITE_OK) return Error("prepare", rc);
    const std::string insert_usage = InsertDeviceUsageSql();
    rc = sqlite3_prepare_v3(db_, insert_usage.c_str(), -1,
                            SQLITE_PREPARE_PERSISTENT, &insert_usage_, nullptr);
    if (rc != SQLITE_OK) return Error("prepare", rc);
    return absl::OkStatus();
  }

  WriteResult Write(absl::Span<const flows::FlowRecord> records) override {
    return InTransaction(insert_, records.size(), [&](size_t i) {
      Binder binder(insert_);
      flows::VisitColumns(records[i], binder);
      return binder.rc();
    });
  }

  bool Accepts(flows::MeasurementKind kind) const override {
    return kind == flows::MeasurementKind::kDeviceUsage;
  }

  WriteResult WriteMeasurements(
      absl::Span<const flows::Measurement> measurements) override {
    return InTransaction(insert_usage_, measurements.size(), [&](size_t i) {
      return BindDeviceUsage(insert_usage_, ToDeviceUsageRow(measurements[i]));
    });
  }

  void Close(absl::Time deadline) override { CloseDb(); }

 private:
  // One transaction of `n` inserts through `stmt`, `bind(i)` binding the
  // i-th row's values; all or none.
  template <typename Bind>
  WriteResult InTransaction(sqlite3_stmt* stmt, size_t n, Bind bind) {
    WriteResult result;
    if (absl::Status s = Exec("begin", "BEGIN IMMEDIATE"); !s.ok()) {
      result.status = s;
      return result;
    }
    for (size_t i = 0; i < n; ++i) {
      int rc = bind(i);
      if (rc == SQLITE_OK) {
        rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE) rc = SQLITE_OK;
      }
      sqlite3_reset(stmt);
      if (rc != SQLITE_OK) {
        result.status = Error("insert", rc);
        Rollback();
        return result;
      }
    }
    if (absl::Status s = Exec("commit", "COMMIT"); !s.ok()) {
      result.status = s;
      Rollback();
      return result;
    }
    result.written = n;
    return result;
  }

  // "<what> <path>: <SQLite's message> (<its code's text>, when other)".
  absl::Status Error(const char* what, int rc,
                     const char* message = nullptr) const {
    std::string detail = message != nullptr ? message
                         : db_ != nullptr   ? sqlite3_errmsg(db_)
                                            : sqlite3_errstr(rc);
    if (detail != sqlite3_errstr(rc)) {
      absl::StrAppend(&detail, " (", sqlite3_errstr(rc), ")");
    }
    return absl::UnavailableError(absl::StrCat(what, " ", path_, ": ", detail));
  }

  // Runs `sql`; `what` names it in the error.
  absl::Status Exec(const char* what, const char* sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
    if (rc == SQLITE_OK) return absl::OkStatus();
    absl::Status s = Error(what, rc, message);
    sqlite3_free(message);
    return s;
  }

  // Ends the transaction if SQLite has not already rolled it back.
  void Rollback() {
    if (sqlite3_get_autocommit(db_) == 0) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }

  void CloseDb() {
    sqlite3_finalize(insert_);
    insert_ = nullptr;
    sqlite3_finalize(insert_usage_);
    insert_usage_ = nullptr;
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = nullptr;
  }

  const std::string path_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* insert_usage_ = nullptr;
};

}  // namespace

std::unique_ptr<SinkWriter> NewSqliteWriter(const SinkUrl& url) {
  return std::make_unique<SqliteWriter>(url);
}

}  // namespace sinks
