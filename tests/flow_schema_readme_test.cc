// The README's flow record schema table is flows::Columns(), row for row:
// on a difference the test prints the table to paste.
#include <string>

#include "absl/strings/str_cat.h"
#include "flows/record_columns.h"
#include "gtest/gtest.h"
#include "tests/testutil/paths.h"

namespace flows {
namespace {

// A column type as SQL sees it.
const char* SqlType(ColumnType type) {
  switch (type) {
    case ColumnType::kText:
      return "text";
    case ColumnType::kInteger:
      return "bigint";
    case ColumnType::kTime:
      return "timestamptz";
    case ColumnType::kAddress:
      return "inet";
  }
  return "?";
}

std::string SchemaTable() {
  std::string t =
      "| column | type | unit | meaning |\n| --- | --- | --- | --- |\n";
  for (const Column& c : Columns()) {
    absl::StrAppend(&t, "| `", c.name, "` | ", SqlType(c.type), " | ", c.unit,
                    " | ", c.meaning, " |\n");
  }
  return t;
}

TEST(FlowSchemaReadme, TableListsEveryColumnInOrder) {
  const std::string readme =
      testutil::ReadFileOrDie(testutil::SourceDir() + "/README.md");
  const std::string table = SchemaTable();
  EXPECT_NE(readme.find(table), std::string::npos)
      << "README.md's flow record schema is not flows::Columns(); it should "
         "read:\n"
      << table;
}

}  // namespace
}  // namespace flows
