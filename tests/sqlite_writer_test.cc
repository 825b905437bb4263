// The sqlite sink against real database files.
#include <sqlite3.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parse/timestamp.h"
#include "sinks/sink_url.h"
#include "sinks/writers.h"
#include "tests/testutil/flow_records.h"
#include "tests/testutil/temp_dir.h"

namespace sinks {
namespace {

using ::testing::Contains;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// A connection of the test's own to the sink's file.
class Db {
 public:
  explicit Db(const std::string& path) {
    EXPECT_EQ(
        sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr),
        SQLITE_OK);
    sqlite3_busy_timeout(db_, 2000);
  }
  ~Db() { sqlite3_close_v2(db_); }

  // Every row of `sql`, each column as text (NULL as "NULL").
  std::vector<std::vector<std::string>> Query(const std::string& sql) {
    std::vector<std::vector<std::string>> rows;
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr),
              SQLITE_OK)
        << sql << ": " << sqlite3_errmsg(db_);
    if (stmt == nullptr) return rows;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        const unsigned char* t = sqlite3_column_text(stmt, i);
        row.push_back(t == nullptr ? "NULL" : reinterpret_cast<const char*>(t));
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    return rows;
  }
  std::string One(const std::string& sql) {
    auto rows = Query(sql);
    return rows.empty() || rows[0].empty() ? "" : rows[0][0];
  }
  void Exec(const std::string& sql) {
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr),
              SQLITE_OK)
        << sql << ": " << sqlite3_errmsg(db_);
  }
  sqlite3* get() { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() + "/flows.db";
    absl::StatusOr<SinkUrl> url = ParseSinkUrl("sqlite:" + path_);
    ASSERT_TRUE(url.ok()) << url.status();
    url_ = *url;
    absl::StatusOr<std::unique_ptr<SinkWriter>> w = MakeWriter(url_);
    ASSERT_TRUE(w.ok()) << w.status();
    writer_ = *std::move(w);
    ASSERT_TRUE(writer_->Connect().ok());
  }
  void TearDown() override {
    if (writer_ != nullptr) writer_->Close(absl::Now() + absl::Seconds(1));
    if (!path_.empty()) {
      Db db(path_);
      EXPECT_EQ(db.One("PRAGMA integrity_check"), "ok");
    }
  }
  void WriteAll(const std::vector<flows::FlowRecord>& records) {
    SinkWriter::WriteResult r = writer_->Write(records);
    ASSERT_TRUE(r.status.ok()) << r.status;
    ASSERT_EQ(r.written, records.size());
  }

  testutil::TempDir dir_;
  std::string path_;
  SinkUrl url_;
  std::unique_ptr<SinkWriter> writer_;
};

TEST_F(SqliteWriterTest, TableHasAColumnPerSchemaColumnInWalMode) {
  Db db(path_);
  std::vector<std::string> names, types, want_names, want_types;
  for (const auto& row : db.Query("PRAGMA table_info(flows)")) {
    names.push_back(row[1]);
    types.push_back(row[2]);
  }
  for (const flows::Column& c : flows::Columns()) {
    want_names.push_back(c.name);
    want_types.push_back(c.type == flows::ColumnType::kInteger ? "INTEGER"
                                                               : "TEXT");
  }
  EXPECT_THAT(names, ElementsAreArray(want_names));
  EXPECT_THAT(types, ElementsAreArray(want_types));
  EXPECT_EQ(db.One("PRAGMA journal_mode"), "wal");
  std::vector<std::string> indexes;
  for (const auto& row : db.Query("PRAGMA index_list(flows)")) {
    indexes.push_back(row[1] + (row[2] == "1" ? " unique" : ""));
  }
  EXPECT_THAT(indexes, Contains("flows_end_time"));
  EXPECT_THAT(indexes, Contains("flows_remote_addr"));
  EXPECT_THAT(indexes, Contains("sqlite_autoindex_flows_1 unique"));
  EXPECT_EQ(db.Query("PRAGMA index_info(sqlite_autoindex_flows_1)").size(),
            2u);  // (uuid, seq)
}

TEST_F(SqliteWriterTest, RowsHoldTheValuesVisitColumnsGives) {
  const std::vector<flows::FlowRecord> records =
      testutil::MakeFlowRecords(0, 12);
  ASSERT_NO_FATAL_FAILURE(WriteAll(records));
  Db db(path_);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(
      sqlite3_prepare_v2(db.get(), "SELECT * FROM flows ORDER BY uuid, seq", -1,
                         &stmt, nullptr),
      SQLITE_OK);
  size_t row = 0;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    ASSERT_LT(row, records.size());
    const std::vector<testutil::ColumnValue> want =
        testutil::ColumnValues(records[row]);
    ASSERT_EQ(sqlite3_column_count(stmt), static_cast<int>(want.size()));
    for (size_t i = 0; i < want.size(); ++i) {
      const testutil::ColumnValue& w = want[i];
      const int col = static_cast<int>(i);
      SCOPED_TRACE(absl::StrCat("row ", row, " column ", w.name));
      EXPECT_EQ(sqlite3_column_name(stmt, col), w.name);
      const char* text =
          reinterpret_cast<const char*>(sqlite3_column_text(stmt, col));
      ASSERT_NE(text, nullptr);
      switch (w.type) {
        case flows::ColumnType::kInteger:
          EXPECT_EQ(sqlite3_column_type(stmt, col), SQLITE_INTEGER);
          EXPECT_EQ(static_cast<uint64_t>(sqlite3_column_int64(stmt, col)),
                    w.integer);
          break;
        case flows::ColumnType::kText:
        case flows::ColumnType::kAddress:
          EXPECT_EQ(sqlite3_column_type(stmt, col), SQLITE_TEXT);
          EXPECT_EQ(text, w.text);
          break;
        case flows::ColumnType::kTime: {
          EXPECT_EQ(sqlite3_column_type(stmt, col), SQLITE_TEXT);
          EXPECT_THAT(text, MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:"
                                         "[0-9]{2}:[0-9]{2}\\.[0-9]{9}Z"));
          absl::StatusOr<parse::Timestamp> t = parse::ParseRfc3339(text);
          ASSERT_TRUE(t.ok()) << text;
          EXPECT_EQ(*t, w.time) << text;
          break;
        }
      }
    }
    ++row;
  }
  sqlite3_finalize(stmt);
  EXPECT_EQ(row, records.size());
  // One value spelled out: record 0's end time, 60 s after its start.
  EXPECT_EQ(db.One("SELECT end_time FROM flows WHERE seq = 0 AND cookie = "
                   "4096"),
            "2026-11-22T01:19:42.000000000Z");
  EXPECT_EQ(db.One("SELECT remote_addr FROM flows WHERE cookie = 4097 "
                   "AND seq = 1"),
            "fd77::1:1");
}

TEST_F(SqliteWriterTest, TimeTextSortsAsTime) {
  std::vector<flows::FlowRecord> records = testutil::MakeFlowRecords(0, 40);
  records[3].end_time = {1795310322, 5, 0};          // .000000005
  records[4].end_time = {1795310322, 400000000, 0};  // .4
  records[5].end_time = {1795310321, 999999999, 0};
  ASSERT_NO_FATAL_FAILURE(WriteAll(records));
  std::vector<parse::Timestamp> want;
  for (const auto& r : records) want.push_back(r.end_time);
  std::sort(want.begin(), want.end());
  std::vector<parse::Timestamp> got;
  Db db(path_);
  for (const auto& row : db.Query("SELECT end_time FROM flows ORDER BY "
                                  "end_time")) {
    absl::StatusOr<parse::Timestamp> t = parse::ParseRfc3339(row[0]);
    ASSERT_TRUE(t.ok()) << row[0];
    got.push_back(*t);
  }
  EXPECT_EQ(got, want);
  // SQLite's own date functions read them.
  EXPECT_EQ(db.One("SELECT unixepoch(end_time) FROM flows WHERE uuid = '" +
                   records[4].uuid + "' AND seq = 0"),
            "1795310322");
}

TEST_F(SqliteWriterTest, RetriedRecordsAreNotDuplicated) {
  ASSERT_NO_FATAL_FAILURE(WriteAll(testutil::MakeFlowRecords(0, 10)));
  // A retry of records 5-9 (as after a commit the writer could not
  // confirm) along with new ones, through a reconnected writer.
  ASSERT_TRUE(writer_->Connect().ok());
  ASSERT_NO_FATAL_FAILURE(WriteAll(testutil::MakeFlowRecords(5, 10)));
  // And through another writer on the same file, as after a restart.
  absl::StatusOr<std::unique_ptr<SinkWriter>> other = MakeWriter(url_);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->Connect().ok());
  SinkWriter::WriteResult r = (*other)->Write(testutil::MakeFlowRecords(0, 20));
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.written, 20u);
  (*other)->Close(absl::Now());
  Db db(path_);
  EXPECT_EQ(db.One("SELECT count(*) FROM flows"), "20");
  EXPECT_EQ(db.One("SELECT count(DISTINCT uuid || '/' || seq) FROM flows"),
            "20");
}

TEST_F(SqliteWriterTest, LockedDatabaseFailsTheBatchWholeThenRecovers) {
  ASSERT_NO_FATAL_FAILURE(WriteAll(testutil::MakeFlowRecords(0, 4)));
  Db other(path_);
  other.Exec("BEGIN EXCLUSIVE");
  const absl::Time t0 = absl::Now();
  SinkWriter::WriteResult r = writer_->Write(testutil::MakeFlowRecords(4, 8));
  EXPECT_LT(absl::Now() - t0, absl::Seconds(5));  // bounded by busy_timeout
  EXPECT_FALSE(r.status.ok());
  EXPECT_THAT(r.status.message(), HasSubstr("locked"));
  EXPECT_EQ(r.written, 0u);
  other.Exec("COMMIT");
  ASSERT_TRUE(writer_->Connect().ok());
  ASSERT_NO_FATAL_FAILURE(WriteAll(testutil::MakeFlowRecords(4, 8)));
  EXPECT_EQ(other.One("SELECT count(*) FROM flows"), "12");
}

TEST_F(SqliteWriterTest, ReadersDoNotBlockTheWriter) {
  ASSERT_NO_FATAL_FAILURE(WriteAll(testutil::MakeFlowRecords(0, 4)));
  Db reader(path_);
  reader.Exec("BEGIN");
  EXPECT_EQ(reader.One("SELECT count(*) FROM flows"), "4");  // holds a snapshot
  ASSERT_NO_FATAL_FAILURE(WriteAll(testutil::MakeFlowRecords(4, 4)));
  EXPECT_EQ(reader.One("SELECT count(*) FROM flows"), "4");
  reader.Exec("COMMIT");
  EXPECT_EQ(reader.One("SELECT count(*) FROM flows"), "8");
}

TEST(SqliteWriter, ConnectFailsOnAFileThatIsNotADatabase) {
  testutil::TempDir dir;
  const std::string path = dir.path() + "/flows.db";
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs(
      "this is not an SQLite database, but some text long enough to "
      "cover a header of one hundred bytes..........................",
      f);
  std::fclose(f);
  absl::StatusOr<SinkUrl> url = ParseSinkUrl("sqlite:" + path);
  ASSERT_TRUE(url.ok());
  std::unique_ptr<SinkWriter> w = NewSqliteWriter(*url);
  const absl::Status s = w->Connect();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("not a database"));
  EXPECT_THAT(s.message(), HasSubstr(path));
}

}  // namespace
}  // namespace sinks
