#include "tests/testutil/sink_rows.h"

#include <sqlite3.h>

#include <fstream>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "flows/record_columns.h"
#include "gtest/gtest.h"
#include "parse/timestamp.h"

namespace testutil {

std::string TimeText(const std::string& rfc3339) {
  absl::StatusOr<parse::Timestamp> t = parse::ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.ok()) << rfc3339;
  return t.ok() ? absl::StrCat(t->seconds, ".", t->nanos) : "bad " + rfc3339;
}

std::map<RowKey, Row> SqliteRows(const std::string& path) {
  std::map<RowKey, Row> rows;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT * FROM flows", -1, &stmt, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
    Row row;
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      const std::string name = sqlite3_column_name(stmt, i);
      const char* t =
          reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
      row[name] = t == nullptr ? "NULL" : t;
    }
    for (const flows::Column& c : flows::Columns()) {
      if (c.type == flows::ColumnType::kTime)
        row[c.name] = TimeText(row[c.name]);
    }
    uint64_t seq = 0;
    EXPECT_TRUE(absl::SimpleAtoi(row["seq"], &seq));
    EXPECT_TRUE(rows.emplace(RowKey(row["uuid"], seq), row).second)
        << "twice: " << row["uuid"] << " " << seq;
  }
  sqlite3_finalize(stmt);
  sqlite3_close_v2(db);
  return rows;
}

Row JsonRow(const nlohmann::json& j) {
  Row row;
  for (const flows::Column& c : flows::Columns()) {
    EXPECT_TRUE(j.contains(c.name)) << c.name;
    if (!j.contains(c.name)) continue;
    const nlohmann::json& v = j[c.name];
    switch (c.type) {
      case flows::ColumnType::kInteger:
        row[c.name] = std::to_string(v.get<uint64_t>());
        break;
      case flows::ColumnType::kTime:
        row[c.name] = TimeText(v.get<std::string>());
        break;
      default:
        row[c.name] = v.get<std::string>();
    }
  }
  return row;
}

std::map<RowKey, Row> JsonlRows(const std::string& path) {
  std::map<RowKey, Row> rows;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << line;
    if (j.is_discarded()) continue;
    Row row = JsonRow(j);
    const RowKey key(row["uuid"], j.value("seq", uint64_t{0}));
    EXPECT_TRUE(rows.emplace(key, std::move(row)).second)
        << "twice: " << key.first << " " << key.second;
  }
  return rows;
}

std::string PostgresSelectList() {
  std::vector<std::string> exprs;
  for (const flows::Column& c : flows::Columns()) {
    switch (c.type) {
      case flows::ColumnType::kTime:
        exprs.push_back(absl::StrCat("(extract(epoch FROM ", c.name,
                                     ") * 1000000)::bigint::text"));
        break;
      case flows::ColumnType::kAddress:
        exprs.push_back(absl::StrCat("host(", c.name, ")"));
        break;
      default:
        exprs.push_back(absl::StrCat(c.name, "::text"));
    }
  }
  return absl::StrJoin(exprs, ", ");
}

}  // namespace testutil
