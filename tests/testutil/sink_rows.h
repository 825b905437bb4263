// A sink's records read back as rows of text, column by column, so that the
// sinks' forms of the same record compare: SqliteRows (a sqlite sink's
// flows table), JsonRow / JsonlRows (the JSON form of jsonl and kafka
// sinks), each keyed by (uuid, seq). Times become "<seconds>.<nanos>"
// (TimeText), integers decimal, the rest as written.
//
// Threading: pure functions of their arguments; thread-safe. They fail the
// current test (non-fatally) on a malformed record.
#ifndef TCPINFO_TESTS_TESTUTIL_SINK_ROWS_H_
#define TCPINFO_TESTS_TESTUTIL_SINK_ROWS_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "nlohmann/json.hpp"

namespace testutil {

using RowKey = std::pair<std::string, uint64_t>;  // (uuid, seq)
// A record's columns (flows::Columns() names) as text.
using Row = std::map<std::string, std::string>;

// An RFC 3339 time as "<seconds since the epoch>.<nanoseconds>".
std::string TimeText(const std::string& rfc3339);

// The rows of the flows table of the sqlite database at `path`.
std::map<RowKey, Row> SqliteRows(const std::string& path);

// One record in its JSON form (flows::AppendRecordJson) as a row; every
// column must be there.
Row JsonRow(const nlohmann::json& j);

// The rows of a JSON Lines file, one record a line.
std::map<RowKey, Row> JsonlRows(const std::string& path);

// The select list that reads every column of the postgres sink's flows
// table, in flows::Columns() order, as text: times as microseconds since
// the epoch, addresses by host(), the rest cast to text.
std::string PostgresSelectList();

}  // namespace testutil

#endif  // TCPINFO_TESTS_TESTUTIL_SINK_ROWS_H_
