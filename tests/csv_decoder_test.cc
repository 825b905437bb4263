// The fast archive-line decoder behind csvtool (Go encoding/json semantics
// for ArchivalRecord), and robustness of every reader on randomly mutated
// real archives: run under ASan+UBSan in CI, they must never read past a
// buffer or crash, only return errors.
#include <unistd.h>
#include <zstd.h>

#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "parse/archival_record.h"
#include "parse/archive_reader.h"
#include "parse/base64.h"
#include "parse/csv_writer.h"
#include "parse/raw_reader.h"
#include "parse/record_decoder.h"
#include "parse/snapshot.h"
#include "parse/snapshot_json.h"
#include "tests/testutil/paths.h"

namespace {

using ::testing::HasSubstr;

std::vector<std::string> RealLines(const std::string& file) {
  std::vector<std::string> lines = absl::StrSplit(
      testutil::ReadZstdFileOrDie(testutil::TestDataDir() + "/mlab/" + file),
      '\n', absl::SkipEmpty());
  return lines;
}

std::string Base64(absl::string_view bytes) {
  std::string out;
  parse::AppendBase64(bytes, &out);
  return out;
}

const std::string kIdm(72, '\x01');

TEST(RecordDecoder, DecodesRealLinesLikeTheReferenceDecoder) {
  parse::RecordDecoder decoder;
  parse::DecodedRecord record;
  int lines = 0;
  for (const char* file :
       {"ndt-jdczh_1553815964_00000000000003E8.00183.jsonl.zst",
        "finwait2-sample_1554836592_unsafe_000000000135A272.00000.jsonl.zst",
        "archiveRecords.jsonl.zst"}) {
    for (const std::string& line : RealLines(file)) {
      auto reference = parse::DecodeRecordJson(line);
      ASSERT_TRUE(reference.ok()) << reference.status();
      ASSERT_TRUE(decoder.Decode(line, &record).ok()) << line;
      EXPECT_EQ(record.timestamp, reference->timestamp);
      EXPECT_EQ(record.raw_idm, reference->raw_idm);
      ASSERT_EQ(record.attributes.size(), reference->attributes.size());
      for (size_t t = 0; t < record.attributes.size(); ++t) {
        EXPECT_EQ(record.attributes[t].data() != nullptr,
                  reference->attributes[t].has_value());
        if (reference->attributes[t].has_value()) {
          EXPECT_EQ(record.attributes[t], *reference->attributes[t]);
        }
      }
      EXPECT_EQ(record.has_metadata, reference->metadata.has_value());
      if (record.has_metadata) {
        EXPECT_EQ(record.metadata.uuid, reference->metadata->uuid);
        EXPECT_EQ(record.metadata.sequence, reference->metadata->sequence);
        EXPECT_EQ(record.metadata.start_time, reference->metadata->start_time);
      }
      ++lines;
    }
  }
  EXPECT_EQ(lines, 151 + 63 + 420);
}

TEST(RecordDecoder, FollowsGoJsonRules) {
  parse::RecordDecoder decoder;
  parse::DecodedRecord r;
  // Keys match case-insensitively, unknown keys (any JSON) are skipped,
  // whitespace is allowed, a repeated key wins.
  const std::string line = absl::StrCat(
      " { \"timestamp\" : \"2019-04-02T14:12:37.5Z\", \"Extra\": {\"a\":[1,"
      "-2.5e3,true,false,null,\"x\\\"y\"]}, \"rawidm\":\"AAAA\", "
      "\"RAWIDM\" : \"",
      Base64(kIdm), "\", \"Attributes\": [ null , \"\" , \"", Base64("cubic"),
      "\" ] }\r\n");
  ASSERT_TRUE(decoder.Decode(line, &r).ok());
  EXPECT_EQ(r.timestamp, (parse::Timestamp{1554214357, 500000000}));
  EXPECT_EQ(r.raw_idm, kIdm);
  ASSERT_EQ(r.attributes.size(), 3u);
  EXPECT_EQ(r.attributes[0].data(), nullptr);
  EXPECT_NE(r.attributes[1].data(), nullptr);  // present but empty
  EXPECT_EQ(r.attributes[1].size(), 0u);
  EXPECT_EQ(r.attributes[2], "cubic");
  EXPECT_FALSE(r.has_metadata);

  // JSON escapes inside base64 ("\/" and "\u0041"), and Go's tolerance of
  // "\r\n" in base64; nulls everywhere.
  ASSERT_TRUE(decoder
                  .Decode("{\"Timestamp\":null,\"RawIDM\":\"AQ\\/\\u0041\","
                          "\"Attributes\":[\"Y3Vi\\r\\naWM=\"],"
                          "\"Metadata\":null}",
                          &r)
                  .ok());
  EXPECT_EQ(r.timestamp, parse::Timestamp::GoZero());
  EXPECT_EQ(r.raw_idm, std::string("\x01\x0f\xc0", 3));
  EXPECT_EQ(r.attributes[0], "cubic");
  EXPECT_FALSE(r.has_metadata);

  // Metadata, with an escaped UUID; null RawIDM means absent.
  ASSERT_TRUE(decoder
                  .Decode("{\"Timestamp\":\"0001-01-01T00:00:00Z\",\"RawIDM\":"
                          "null,\"Metadata\":{\"UUID\":\"host\\u00e9_1\","
                          "\"Sequence\":-7,\"StartTime\":"
                          "\"2019-08-26T19:55:42.754686952-04:00\",\"x\":{}}}",
                          &r)
                  .ok());
  EXPECT_EQ(r.raw_idm.data(), nullptr);
  ASSERT_TRUE(r.has_metadata);
  EXPECT_EQ(r.metadata.uuid, "host\xc3\xa9_1");
  EXPECT_EQ(r.metadata.sequence, -7);
  EXPECT_EQ(r.metadata.start_time.utc_offset_minutes, -240);
}

TEST(RecordDecoder, RejectsWhatGoRejects) {
  parse::RecordDecoder decoder;
  parse::DecodedRecord r;
  const std::pair<std::string, std::string> cases[] = {
      {"", "empty line"},
      {"{", "expected a string"},
      {"{\"RawIDM\":\"AAAA\"", "expected '}'"},
      {"{\"RawIDM\":\"AAAA\"}x", "data after the record"},
      {"[]", "record is not a JSON object"},
      {"{\"a\":tru}", "invalid literal"},
      {"{\"a\":01}", "expected '}'"},
      {"{\"a\":-}", "bad number"},
      {"{\"a\":\"\x01\"}", "control character in string"},
      {"{\"a\":\"\\x\"}", "bad escape"},
      {"{\"a\":\"\\u12\"}", "bad \\u escape"},
      {"{\"Timestamp\":5}", "Timestamp is not a string"},
      {"{\"Timestamp\":\"2019-04-02T14:12:37\"}", "Timestamp: "},
      {"{\"RawIDM\":7}", "RawIDM is not a string"},
      {"{\"RawIDM\":\"AAA\"}", "RawIDM: illegal base64 data"},
      {"{\"RawIDM\":\"AA=A\"}", "RawIDM: illegal base64 data"},
      {"{\"Attributes\":{}}", "Attributes is not an array"},
      {"{\"Attributes\":[null,\"*\"]}", "Attributes[1]: illegal base64"},
      {"{\"Attributes\":[null,[]]}", "Attributes[1] is not a string or null"},
      {"{\"Metadata\":[]}", "Metadata is not an object"},
      {"{\"Metadata\":{\"Sequence\":1.5}}", "Metadata.Sequence 1.5 is not"},
      {"{\"Metadata\":{\"Sequence\":\"1\"}}", "Metadata.Sequence is not"},
      {"{\"Metadata\":{\"Sequence\":99999999999999999999}}",
       "is not an integer"},
      {"{\"Metadata\":{\"UUID\":1}}", "Metadata.UUID is not a string"},
      {std::string(2000, '[') + std::string(2000, ']'), "nested too deeply"},
  };
  for (const auto& [line, reason] : cases) {
    absl::Status s = decoder.Decode(line, &r);
    EXPECT_FALSE(s.ok()) << line;
    EXPECT_THAT(s.message(), HasSubstr(reason)) << line.substr(0, 80);
  }
}

// The fast base64 path and the exact one agree on every length and on
// every single-character corruption.
TEST(RecordDecoder, FastBase64AgreesWithTheExactDecoder) {
  std::mt19937 rng(7);
  parse::RecordDecoder decoder;
  parse::DecodedRecord r;
  for (int n = 0; n < 300; ++n) {
    std::string bytes(n, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    std::string text = Base64(bytes);
    if (n % 3 == 0 && !text.empty()) {
      text[rng() % text.size()] = "=*A-_\\ "[rng() % 7];
    }
    std::string expected;
    const bool valid = parse::DecodeBase64(text, &expected).ok() &&
                       text.find('\\') == std::string::npos;
    const absl::Status s =
        decoder.Decode("{\"Attributes\":[\"" + text + "\"]}", &r);
    if (text.find('\\') != std::string::npos) continue;  // a JSON escape
    ASSERT_EQ(s.ok(), valid) << text << " " << s;
    if (valid) {
      EXPECT_EQ(r.attributes[0], expected) << text;
    }
  }
}

// Feeds every output path a decoded record, as csvtool does; the JSON line
// must be valid JSON (and UTF-8) whatever the input bytes.
void ConvertOne(const parse::DecodedRecord& record, std::string* sink) {
  parse::Snapshot snapshot;
  if (!parse::DecodeSnapshot(record.timestamp, record.raw_idm,
                             record.attributes, record.has_metadata, &snapshot)
           .ok()) {
    return;
  }
  parse::AppendCsvRow(snapshot, sink);
  std::string json;
  parse::AppendSnapshotJsonLine(snapshot, &record.metadata, &json);
  EXPECT_FALSE(nlohmann::json::parse(json, nullptr, false).is_discarded())
      << json;
  sink->append(json);
}

std::string Mutate(std::string s, std::mt19937* rng) {
  static constexpr char kInteresting[] = "\"{}[],:\\=/0Aun \x00\xff";
  const int edits = 1 + (*rng)() % 4;
  for (int e = 0; e < edits && !s.empty(); ++e) {
    const size_t at = (*rng)() % s.size();
    switch ((*rng)() % 6) {
      case 0:
        s[at] = static_cast<char>((*rng)());
        break;
      case 1:
        s[at] = kInteresting[(*rng)() % (sizeof(kInteresting) - 1)];
        break;
      case 2:
        s.erase(at, 1 + (*rng)() % 16);
        break;
      case 3:
        s.insert(at, s.substr((*rng)() % s.size(), 1 + (*rng)() % 16));
        break;
      case 4:
        s.resize(at);
        break;
      default:
        s[at] ^= static_cast<char>(1 << ((*rng)() % 8));
    }
  }
  return s;
}

TEST(Robustness, MutatedArchiveLinesOnlyEverFailCleanly) {
  std::vector<std::string> lines =
      RealLines("ndt-jdczh_1553815964_00000000000003E8.00183.jsonl.zst");
  for (const std::string& l :
       RealLines("finwait2-sample_1554836592_unsafe_000000000135A272.00000."
                 "jsonl.zst")) {
    lines.push_back(l);
  }
  std::mt19937 rng(20190402);
  parse::RecordDecoder decoder;
  parse::DecodedRecord record;
  std::string sink;
  int ok = 0, failed = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string line = Mutate(lines[rng() % lines.size()], &rng);
    if (decoder.Decode(line, &record).ok()) {
      ++ok;
      ConvertOne(record, &sink);
    } else {
      ++failed;
    }
    sink.clear();
  }
  // Both paths were exercised.
  EXPECT_GT(ok, 1000);
  EXPECT_GT(failed, 10000);
}

// Writes `data` to a scratch file and opens it.
std::unique_ptr<parse::InputStream> OpenData(const std::string& data) {
  // One file per test: ctest may run tests of this binary in parallel.
  const std::string path = absl::StrCat(
      ::testing::TempDir(), "/csv_decoder_test.",
      ::testing::UnitTest::GetInstance()->current_test_info()->name(), ".",
      getpid());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
  auto input = parse::InputStream::Open(path);
  EXPECT_TRUE(input.ok());
  return *std::move(input);
}

TEST(ArchiveReader, TakesLinesAsGoScannerDoes) {
  const std::vector<std::string> lines =
      RealLines("ndt-jdczh_1553815964_00000000000003E8.00183.jsonl.zst");
  // CRLF, an empty line (skipped, but counted), no final newline.
  parse::ArchiveReader reader(
      OpenData(lines[0] + "\r\n\n" + lines[1] + "\n" + lines[2]));
  parse::DecodedRecord record;
  std::vector<int64_t> numbers;
  while (true) {
    absl::StatusOr<bool> got = reader.Next(&record);
    ASSERT_TRUE(got.ok()) << got.status();
    if (!*got) break;
    numbers.push_back(reader.line_number());
  }
  EXPECT_EQ(numbers, (std::vector<int64_t>{1, 3, 4}));
  EXPECT_FALSE(record.has_metadata);
  EXPECT_EQ(reader.bytes_read(),
            lines[0].size() + lines[1].size() + lines[2].size() + 4);
}

TEST(ArchiveReader, RefusesLinesLongerThanItsBuffer) {
  // Memory stays bounded: a line past the limit is an error, not a bigger
  // buffer.
  const std::string line =
      "{\"x\":\"" + std::string(parse::kMaxArchiveLineBytes, 'a') + "\"}\n";
  parse::ArchiveReader reader(OpenData(line));
  parse::DecodedRecord record;
  absl::StatusOr<bool> got = reader.Next(&record);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().message(), "line 1: line longer than 16777216 bytes");
}

TEST(Robustness, MutatedZstdArchivesOnlyEverFailCleanly) {
  const std::string compressed = testutil::ReadFileOrDie(
      testutil::TestDataDir() +
      "/mlab/ndt-jdczh_1553815964_00000000000003E8.00183.jsonl.zst");
  ASSERT_FALSE(compressed.empty());
  std::mt19937 rng(42);
  int clean_ends = 0, errors = 0;
  for (int i = 0; i < 150; ++i) {
    std::string data = compressed;
    // Mostly small byte edits, which zstd must catch or decode to garbage
    // lines, which the decoder must catch.
    for (int e = 0; e < 1 + static_cast<int>(rng() % 3); ++e) {
      data[rng() % data.size()] = static_cast<char>(rng());
    }
    if (i % 5 == 0) data.resize(rng() % data.size());
    parse::ArchiveReader reader(OpenData(data));
    parse::DecodedRecord record;
    std::string sink;
    while (true) {
      absl::StatusOr<bool> got = reader.Next(&record);
      if (!got.ok()) {
        EXPECT_THAT(got.status().message(), HasSubstr("line "));
        ++errors;
        break;
      }
      if (!*got) {
        ++clean_ends;
        break;
      }
      ConvertOne(record, &sink);
      sink.clear();
    }
  }
  EXPECT_GT(errors, 100);
}

TEST(Robustness, MutatedRawDumpsOnlyEverFailCleanly) {
  const std::string raw = testutil::ReadZstdFileOrDie(
      testutil::TestDataDir() + "/mlab/raw-netlink-dump.zst");
  std::mt19937 rng(1);
  int errors = 0;
  for (int i = 0; i < 150; ++i) {
    std::string data = raw;
    for (int e = 0; e < 1 + static_cast<int>(rng() % 8); ++e) {
      // Lengths and types live in the first bytes of headers: hit them
      // often by mutating early in some message.
      const size_t at = rng() % data.size();
      data[at] = static_cast<char>(rng());
    }
    if (i % 4 == 0) data.resize(rng() % data.size());
    parse::RawReader reader(OpenData(data));
    parse::RecordView view;
    parse::Snapshot snapshot;
    std::string sink;
    while (true) {
      absl::StatusOr<bool> got = reader.Next(&view);
      if (!got.ok()) {
        EXPECT_THAT(got.status().message(), HasSubstr("message "));
        ++errors;
        break;
      }
      if (!*got) break;
      ASSERT_TRUE(
          parse::DecodeSnapshot(parse::Timestamp::GoZero(), view, &snapshot)
              .ok());
      parse::AppendCsvRow(snapshot, &sink);
      parse::AppendSnapshotJsonLine(snapshot, nullptr, &sink);
      sink.clear();
    }
  }
  EXPECT_GT(errors, 30);
}

}  // namespace
