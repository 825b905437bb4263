// The jsonl sink against real files, standard output and /dev/full.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "flows/record_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sinks/sink_url.h"
#include "sinks/writers.h"
#include "tests/testutil/flow_records.h"
#include "tests/testutil/temp_dir.h"

namespace sinks {
namespace {

using ::testing::HasSubstr;

std::string Lines(const std::vector<flows::FlowRecord>& records) {
  std::string out;
  for (const auto& r : records) {
    flows::AppendRecordJson(r, &out);
    out.push_back('\n');
  }
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::unique_ptr<SinkWriter> Writer(const std::string& text) {
  absl::StatusOr<SinkUrl> url = ParseSinkUrl(text);
  EXPECT_TRUE(url.ok()) << url.status();
  if (!url.ok()) return nullptr;
  absl::StatusOr<std::unique_ptr<SinkWriter>> w = MakeWriter(*url);
  EXPECT_TRUE(w.ok()) << w.status();
  return w.ok() ? *std::move(w) : nullptr;
}

void WriteAll(SinkWriter& w, const std::vector<flows::FlowRecord>& records) {
  SinkWriter::WriteResult r = w.Write(records);
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.written, records.size());
}

TEST(JsonlWriter, OneObjectPerLineWithEveryColumnsValue) {
  testutil::TempDir dir;
  const std::string path = dir.path() + "/flows.jsonl";
  std::unique_ptr<SinkWriter> w = Writer("jsonl:" + path);
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(w->Connect().ok());
  ASSERT_NO_FATAL_FAILURE(WriteAll(*w, testutil::MakeFlowRecords(0, 5)));
  // Each batch is at the kernel when Write returns: readable before Close.
  EXPECT_EQ(ReadFile(path), Lines(testutil::MakeFlowRecords(0, 5)));
  ASSERT_NO_FATAL_FAILURE(WriteAll(*w, testutil::MakeFlowRecords(5, 5)));
  w->Close(absl::Now());
  const std::string text = ReadFile(path);
  EXPECT_EQ(text, Lines(testutil::MakeFlowRecords(0, 10)));
  std::vector<std::string> lines =
      absl::StrSplit(text, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 10u);
  // The values of VisitColumns, key by key.
  const flows::FlowRecord r = testutil::MakeFlowRecord(7);
  const nlohmann::json j = nlohmann::json::parse(lines[7]);
  const std::vector<testutil::ColumnValue> want = testutil::ColumnValues(r);
  ASSERT_EQ(j.size(), want.size());
  for (const testutil::ColumnValue& c : want) {
    SCOPED_TRACE(c.name);
    switch (c.type) {
      case flows::ColumnType::kInteger:
        EXPECT_EQ(j[c.name].get<uint64_t>(), c.integer);
        break;
      case flows::ColumnType::kTime:
        EXPECT_EQ(j[c.name].get<std::string>(), parse::FormatRfc3339(c.time));
        break;
      default:
        EXPECT_EQ(j[c.name].get<std::string>(), c.text);
    }
  }
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST(JsonlWriter, AppendsToAnExistingFile) {
  testutil::TempDir dir;
  const std::string path = dir.path() + "/flows.jsonl";
  std::ofstream(path) << "{\"earlier\":1}\n";
  std::unique_ptr<SinkWriter> w = Writer("jsonl:" + path);
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(w->Connect().ok());
  ASSERT_NO_FATAL_FAILURE(WriteAll(*w, testutil::MakeFlowRecords(0, 2)));
  w->Close(absl::Now());
  EXPECT_EQ(ReadFile(path),
            "{\"earlier\":1}\n" + Lines(testutil::MakeFlowRecords(0, 2)));
}

TEST(JsonlWriter, ConnectCutsOffABrokenLastLine) {
  testutil::TempDir dir;
  const std::string path = dir.path() + "/flows.jsonl";
  // A whole line, then one cut short (a full disk, a crash), longer than
  // one read chunk.
  const std::string whole = Lines(testutil::MakeFlowRecords(0, 1));
  std::ofstream(path) << whole << "{\"uuid\":\"" << std::string(10000, 'x');
  std::unique_ptr<SinkWriter> w = Writer("jsonl:" + path);
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(w->Connect().ok());
  EXPECT_EQ(ReadFile(path), whole);
  ASSERT_NO_FATAL_FAILURE(WriteAll(*w, testutil::MakeFlowRecords(1, 2)));
  w->Close(absl::Now());
  EXPECT_EQ(ReadFile(path), Lines(testutil::MakeFlowRecords(0, 3)));
  // A file with no newline at all is emptied.
  std::ofstream(path, std::ios::trunc) << "{\"uuid\"";
  ASSERT_TRUE(w->Connect().ok());
  EXPECT_EQ(ReadFile(path), "");
}

TEST(JsonlWriter, FullDeviceFailsTheWriteAndTakesNothing) {
  SinkUrl url;
  url.scheme = "jsonl";
  url.path = "/dev/full";
  std::unique_ptr<SinkWriter> w = NewJsonlWriter(url);
  ASSERT_TRUE(w->Connect().ok());
  SinkWriter::WriteResult r = w->Write(testutil::MakeFlowRecords(0, 3));
  EXPECT_EQ(r.written, 0u);
  EXPECT_FALSE(r.status.ok());
  EXPECT_THAT(r.status.message(), HasSubstr("No space left on device"));
  EXPECT_THAT(r.status.message(), HasSubstr("/dev/full"));
}

TEST(JsonlWriter, DashWritesToStandardOutput) {
  testutil::TempDir dir;
  const std::string path = dir.path() + "/stdout";
  std::unique_ptr<SinkWriter> w = Writer("jsonl:-");
  ASSERT_NE(w, nullptr);
  std::fflush(stdout);
  const int saved = dup(STDOUT_FILENO);
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
  close(fd);
  const bool connected = w->Connect().ok();
  SinkWriter::WriteResult r = w->Write(testutil::MakeFlowRecords(0, 3));
  w->Close(absl::Now());
  dup2(saved, STDOUT_FILENO);
  close(saved);
  EXPECT_TRUE(connected);
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.written, 3u);
  EXPECT_EQ(ReadFile(path), Lines(testutil::MakeFlowRecords(0, 3)));
  // Standard output stays open after Close.
  EXPECT_NE(fcntl(STDOUT_FILENO, F_GETFD), -1);
}

}  // namespace
}  // namespace sinks
