#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "parse/archival_record.h"
#include "parse/base64.h"
#include "parse/json_string.h"
#include "parse/timestamp.h"
#include "tests/testutil/archive.h"
#include "tests/testutil/paths.h"

namespace {

using parse::Timestamp;

TEST(Timestamp, FormatsLikeGoRfc3339Nano) {
  EXPECT_EQ(parse::FormatRfc3339(Timestamp::GoZero()), "0001-01-01T00:00:00Z");
  EXPECT_EQ(parse::FormatRfc3339({1554190357, 511000000}),
            "2019-04-02T07:32:37.511Z");
  EXPECT_EQ(parse::FormatRfc3339({1795310805, 264601601}),
            "2026-11-22T01:26:45.264601601Z");
  EXPECT_EQ(parse::FormatRfc3339({0, 0}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(parse::FormatRfc3339({-1, 500000000}), "1969-12-31T23:59:59.5Z");
}

TEST(Timestamp, ParsesWhatItFormatsAndOffsets) {
  for (Timestamp t : {Timestamp::GoZero(), Timestamp{1554190357, 511000000},
                      Timestamp{1795310805, 264601601}, Timestamp{-1, 1}}) {
    auto parsed = parse::ParseRfc3339(parse::FormatRfc3339(t));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, t);
  }
  auto offset = parse::ParseRfc3339("2019-04-02T09:32:37.5+02:00");
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(*offset, (Timestamp{1554190357, 500000000}));
  EXPECT_EQ(offset->utc_offset_minutes, 120);
  // The zone is kept for display, so a Go-written local time re-encodes as is.
  EXPECT_EQ(parse::FormatRfc3339(*offset), "2019-04-02T09:32:37.5+02:00");
  auto west = parse::ParseRfc3339("2019-08-26T19:55:42.754686952-04:00");
  ASSERT_TRUE(west.ok());
  EXPECT_EQ(parse::FormatRfc3339(*west), "2019-08-26T19:55:42.754686952-04:00");
}

TEST(Timestamp, RejectsMalformedText) {
  for (const char* bad :
       {"", "2019-04-02", "2019-04-02T07:32:37", "2019-13-02T07:32:37Z",
        "2019-02-29T07:32:37Z", "2019-04-02T07:32:37.Z",
        "2019-04-02T07:32:37.1234567891Z", "2019-04-02T07:32:37Zjunk"}) {
    EXPECT_FALSE(parse::ParseRfc3339(bad).ok()) << bad;
  }
}

TEST(Base64, RoundTripsEveryLength) {
  std::string bytes;
  for (int n = 0; n < 70; ++n) {
    std::string enc;
    parse::AppendBase64(bytes, &enc);
    EXPECT_EQ(enc.size(), parse::Base64EncodedSize(n));
    std::string dec;
    ASSERT_TRUE(parse::DecodeBase64(enc, &dec).ok()) << enc;
    EXPECT_EQ(dec, bytes);
    bytes.push_back(static_cast<char>(n * 37 + 11));
  }
}

TEST(Base64, KnownVectorsAndErrors) {
  std::string enc;
  parse::AppendBase64("cubic", &enc);
  EXPECT_EQ(enc, "Y3ViaWM=");
  std::string dec;
  EXPECT_TRUE(parse::DecodeBase64("Y3ViaWMA", &dec).ok());
  EXPECT_EQ(dec, std::string("cubic\0", 6));
  for (const char* bad : {"Y3ViaWM", "Y3Vi*WM=", "Y3ViaW==x", "=AAA", "A==="}) {
    std::string out;
    EXPECT_FALSE(parse::DecodeBase64(bad, &out).ok()) << bad;
  }
}

// Every line of every real M-Lab archive decodes and re-encodes to the
// identical JSON text.
TEST(ArchivalRecord, ReencodesRealArchivesByteForByte) {
  const std::string dir = testutil::TestDataDir() + "/mlab/";
  int lines_checked = 0;
  for (const char* file : testutil::kMlabArchives) {
    const testutil::Archive archive = testutil::ReadArchive(dir + file);
    ASSERT_FALSE(archive.lines.empty()) << file;
    for (size_t i = 0; i < archive.lines.size(); ++i) {
      const parse::ArchivalRecord& record = archive.records[i];
      std::string again;
      parse::AppendRecordJson(record, &again);
      ASSERT_EQ(again, archive.lines[i] + "\n") << file;
      if (!record.raw_idm.empty()) {
        std::string via_view;
        parse::AppendSnapshotJson(record.timestamp, record.View(), &via_view);
        ASSERT_EQ(via_view, again) << file;
      }
      ++lines_checked;
    }
  }
  EXPECT_GT(lines_checked, 1500);
}

TEST(ArchivalRecord, MetadataLineMatchesReference) {
  parse::Metadata m{"ndt-jdczh_1553815964_00000000000003E8", 183,
                    *parse::ParseRfc3339("2019-04-01T07:42:37.371Z")};
  std::string line;
  parse::AppendMetadataJson(m, &line);
  EXPECT_EQ(line,
            "{\"Timestamp\":\"0001-01-01T00:00:00Z\",\"Metadata\":{\"UUID\":"
            "\"ndt-jdczh_1553815964_00000000000003E8\",\"Sequence\":183,"
            "\"StartTime\":\"2019-04-01T07:42:37.371Z\"}}\n");
}

TEST(JsonString, EscapesAsGoEncodingJson) {
  std::string out;
  parse::AppendJsonString("a\"b\\c\nd\re\tf\x01<>&\xc3\xa9", &out);
  EXPECT_EQ(out,
            "\"a\\\"b\\\\c\\nd\\re\\tf\\u0001\\u003c\\u003e\\u0026\xc3\xa9\"");
}

TEST(ArchivalRecord, RejectsBadLines) {
  for (const char* bad :
       {"", "{", "[]", "{\"Timestamp\":5}", "{\"RawIDM\":\"***\"}",
        "{\"Attributes\":{}}", "{\"Attributes\":[\"A\"]}",
        "{\"Metadata\":{\"Sequence\":\"x\"}}",
        "{\"Timestamp\":\"2019-04-02T14:12:37.511\"}"}) {
    EXPECT_FALSE(parse::DecodeRecordJson(bad).ok()) << bad;
  }
}

}  // namespace
