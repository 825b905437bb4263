#include "tests/testutil/archive.h"

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/testutil/paths.h"

namespace testutil {

Archive ReadArchive(const std::string& path) {
  Archive a;
  const std::string text = ReadZstdFileOrDie(path);
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty()) continue;
    auto record = parse::DecodeRecordJson(line);
    EXPECT_TRUE(record.ok()) << path << ": " << record.status();
    if (!record.ok()) continue;
    a.lines.emplace_back(line);
    a.records.push_back(*std::move(record));
  }
  return a;
}

Archive MlabSnapshots(const std::string& name) {
  Archive all = ReadArchive(TestDataDir() + "/mlab/" + name);
  Archive out;
  for (size_t i = 0; i < all.records.size(); ++i) {
    if (all.records[i].metadata.has_value()) continue;
    out.lines.push_back(std::move(all.lines[i]));
    out.records.push_back(std::move(all.records[i]));
  }
  return out;
}

}  // namespace testutil
