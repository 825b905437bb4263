// Snapshot decoding with the reference's Observed / NotFullyParsed rules,
// the raw netlink reader on the real dump, and the reference's text formats.
// Expected values of the real dump were read independently (a Python
// struct.unpack walk over the decompressed file).
#include "parse/snapshot.h"

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parse/csv_writer.h"
#include "parse/field_format.h"
#include "parse/input_stream.h"
#include "parse/raw_reader.h"
#include "parse/snapshot_json.h"
#include "tests/testutil/paths.h"

namespace {

using parse::Snapshot;

std::string RawDumpPath() {
  return testutil::TestDataDir() + "/mlab/raw-netlink-dump.zst";
}

// Every message of the real raw dump, as owned attribute payloads.
struct OwnedRecord {
  std::string raw_idm;
  std::vector<std::string> payloads;
  std::vector<bool> present;

  // Views for DecodeSnapshot (absent types have null data()).
  std::vector<absl::string_view> Views() const {
    std::vector<absl::string_view> views(payloads.size());
    for (size_t t = 0; t < payloads.size(); ++t) {
      if (present[t]) views[t] = absl::string_view(payloads[t]);
    }
    return views;
  }
  void Set(size_t type, std::string payload) {
    if (payloads.size() <= type) {
      payloads.resize(type + 1);
      present.resize(type + 1);
    }
    payloads[type] = std::move(payload);
    present[type] = true;
  }
};

std::vector<OwnedRecord> ReadRawDump() {
  auto input = parse::InputStream::Open(RawDumpPath());
  EXPECT_TRUE(input.ok()) << input.status();
  parse::RawReader reader(*std::move(input));
  std::vector<OwnedRecord> records;
  parse::RecordView view;
  while (true) {
    absl::StatusOr<bool> got = reader.Next(&view);
    EXPECT_TRUE(got.ok()) << got.status();
    if (!got.ok() || !*got) break;
    OwnedRecord r;
    r.raw_idm = std::string(view.raw_idm);
    for (int t = 0; t < view.attribute_slots; ++t) {
      if (view.Has(t)) r.Set(t, std::string(view.attributes[t]));
    }
    r.payloads.resize(view.attribute_slots);
    r.present.resize(view.attribute_slots);
    records.push_back(std::move(r));
  }
  EXPECT_EQ(reader.bytes_read(), 149160u);
  return records;
}

Snapshot Decode(const OwnedRecord& r,
                parse::Timestamp t = parse::Timestamp::GoZero()) {
  Snapshot s;
  const std::vector<absl::string_view> views = r.Views();
  absl::Status status = parse::DecodeSnapshot(t, r.raw_idm, views, false, &s);
  EXPECT_TRUE(status.ok()) << status;
  return s;
}

std::string Address(const uint32_t words[4]) {
  uint8_t bytes[16];
  std::memcpy(bytes, words, 16);
  char buf[parse::kMaxFieldChars];
  return std::string(buf, parse::FormatSockAddress(bytes, buf));
}

std::vector<std::string> CsvCells(const Snapshot& s) {
  std::string row;
  parse::AppendCsvRow(s, &row);
  EXPECT_EQ(row.back(), '\n');
  row.pop_back();
  return absl::StrSplit(row, ',');
}

// Column indexes in the reference's CSV.
constexpr int kObservedColumn = 1, kNotFullyParsedColumn = 2;
constexpr int kTcpStateColumn = 25, kPacingRateColumn = 57, kSndWndColumn = 78,
              kBbrBwColumn = 101;

TEST(RawReader, ReadsEveryMessageOfTheRealDump) {
  const std::vector<OwnedRecord> records = ReadRawDump();
  ASSERT_EQ(records.size(), 420u);

  const Snapshot first = Decode(records[0]);
  EXPECT_EQ(first.timestamp, parse::kZeroTimestampStandIn);
  EXPECT_EQ(first.idm.family, 10);
  EXPECT_EQ(first.idm.state, 1);
  EXPECT_EQ(__builtin_bswap16(first.idm.id.sport_be), 37636);
  EXPECT_EQ(__builtin_bswap16(first.idm.id.dport_be), 5034);
  EXPECT_EQ(inetdiag::Cookie(first.idm.id), 0x5a38u);
  EXPECT_EQ(first.idm.inode, 20113628u);
  EXPECT_EQ(Address(first.idm.id.dst), "2607:f8b0:400d:c0a::81");
  EXPECT_EQ(first.tcp_info.rtt, 13917u);
  EXPECT_EQ(first.tcp_info.snd_cwnd, 10u);
  EXPECT_EQ(first.tcp_info.pacing_rate, 1937112u);
  EXPECT_EQ(first.tcp_info.max_pacing_rate, ~uint64_t{0});
  EXPECT_EQ(first.tcp_info.bytes_acked, 149580u);
  EXPECT_EQ(first.tcp_info_length, 168u);
  EXPECT_EQ(first.congestion_algorithm, "cubic");
  EXPECT_EQ(first.tos, 128);
  EXPECT_EQ(first.sk_mem_info.sndbuf, 46080u);
  // Types 1, 2, 4, 5, 6, 7, 8.
  EXPECT_EQ(first.observed, 0xfbu);
  EXPECT_EQ(first.not_fully_parsed, 0u);

  const Snapshot third = Decode(records[2]);
  EXPECT_EQ(__builtin_bswap16(third.idm.id.sport_be), 51368);
  EXPECT_EQ(inetdiag::Cookie(third.idm.id), 0x4b1bu);
  EXPECT_EQ(Address(third.idm.id.dst), "172.24.163.102");  // ::ffff:...
  EXPECT_EQ(third.tcp_info.rtt, 25066u);

  const Snapshot last = Decode(records[419]);
  EXPECT_EQ(last.idm.family, 2);
  EXPECT_EQ(__builtin_bswap16(last.idm.id.dport_be), 139);
  EXPECT_EQ(Address(last.idm.id.dst), "100.101.231.59");
  EXPECT_EQ(last.tcp_info.pacing_rate, 49063955u);
  EXPECT_FALSE(last.has_tclass);
  EXPECT_EQ(last.observed, 0xfbu & ~(1u << 5));
}

TEST(Snapshot, NewerKernelTcpInfoIsReadButNotFullyParsed) {
  OwnedRecord r = ReadRawDump()[0];
  const std::vector<std::string> before = CsvCells(Decode(r));
  // This kernel's 280-byte tcp_info: snd_wnd (offset 228) and beyond set.
  std::string info = r.payloads[inetdiag::kInfo];
  info.resize(sizeof(tcp::TcpInfo), '\0');
  const uint32_t snd_wnd = 65535, rcv_wnd = 131072;
  std::memcpy(&info[offsetof(tcp::TcpInfo, snd_wnd)], &snd_wnd, 4);
  std::memcpy(&info[offsetof(tcp::TcpInfo, rcv_wnd)], &rcv_wnd, 4);
  r.Set(inetdiag::kInfo, info);
  Snapshot s = Decode(r);
  EXPECT_EQ(s.observed, 0xfbu);
  EXPECT_EQ(s.not_fully_parsed, 1u << 1);  // longer than the reference's 232
  EXPECT_EQ(s.tcp_info.rcv_wnd, rcv_wnd);
  std::vector<std::string> after = CsvCells(s);
  EXPECT_EQ(after[kNotFullyParsedColumn], "2");
  EXPECT_EQ(after[kSndWndColumn], "65535");
  // Everything else prints as before.
  after[kNotFullyParsedColumn] = before[kNotFullyParsedColumn];
  after[kSndWndColumn] = before[kSndWndColumn];
  EXPECT_EQ(after, before);

  // Longer than even our struct: read up to 280 bytes, never past.
  info.resize(400, '\x7f');
  r.Set(inetdiag::kInfo, info);
  s = Decode(r);
  EXPECT_EQ(s.not_fully_parsed, 1u << 1);
  EXPECT_EQ(s.tcp_info.rcv_wnd, rcv_wnd);
  EXPECT_EQ(s.tcp_info_length, 400u);
}

TEST(Snapshot, OlderKernelTcpInfoIsZeroFilledAndFullyParsed) {
  OwnedRecord r = ReadRawDump()[0];
  // A 2.6-era tcp_info ends at tcpi_total_retrans (104 bytes).
  r.Set(inetdiag::kInfo, r.payloads[inetdiag::kInfo].substr(0, 104));
  const Snapshot s = Decode(r);
  EXPECT_EQ(s.not_fully_parsed, 0u);  // the reference zero-fills silently
  EXPECT_EQ(s.tcp_info.rtt, 13917u);
  EXPECT_EQ(s.tcp_info.pacing_rate, 0u);
  const std::vector<std::string> cells = CsvCells(s);
  EXPECT_EQ(cells[kTcpStateColumn], "1");
  EXPECT_EQ(cells[kPacingRateColumn], "0");
  EXPECT_EQ(cells[kPacingRateColumn + 1], "0");  // not -1 any more
  // Even an empty INET_DIAG_INFO is "fully parsed": all zeros.
  r.Set(inetdiag::kInfo, "");
  EXPECT_EQ(Decode(r).not_fully_parsed, 0u);
  EXPECT_EQ(CsvCells(Decode(r))[kTcpStateColumn], "0");
}

TEST(Snapshot, BbrMarkClassIdAndCongestionFollowTheReference) {
  OwnedRecord r = ReadRawDump()[0];
  inetdiag::BbrInfo bbr{0x89abcdef, 0x80000001, 12000, 739, 512};
  r.Set(inetdiag::kBbrInfo, std::string(reinterpret_cast<char*>(&bbr), 20));
  r.Set(inetdiag::kMark, std::string("\x2a\x00\x00\x00", 4));
  r.Set(inetdiag::kClassId, std::string("\x07\x01\x00\x00", 4));
  Snapshot s = Decode(r);
  const uint32_t bits = 0xfbu | 1u << 14 | 1u << 15 | 1u << 16;
  EXPECT_EQ(s.observed, bits);
  EXPECT_EQ(s.not_fully_parsed, 0u);  // 20-byte bbr: shorter than Go's 24
  EXPECT_EQ(s.mark, 42u);
  EXPECT_EQ(s.class_id, 7);  // the first byte of the u32, as the reference
  std::vector<std::string> cells = CsvCells(s);
  // bw is Go's int64 over bw_lo | bw_hi << 32.
  EXPECT_EQ(cells[kBbrBwColumn], "-9223372030250070545");
  EXPECT_EQ(cells[kBbrBwColumn + 1], "12000");
  EXPECT_EQ(cells[kBbrBwColumn + 3], "512");
  EXPECT_EQ(cells[21], "7");   // ClassID
  EXPECT_EQ(cells[24], "42");  // Mark

  // A longer bbr, a 3-byte mark and an empty congestion name are not ok.
  r.Set(inetdiag::kBbrInfo, std::string(28, '\x01'));
  r.Set(inetdiag::kMark, std::string("\x2a\x00\x00", 3));
  r.Set(inetdiag::kCong, "");
  s = Decode(r);
  EXPECT_EQ(s.observed, bits);
  EXPECT_EQ(s.not_fully_parsed, 1u << 15 | 1u << 14 | 1u << 3);
  EXPECT_EQ(s.mark, 0u);
  EXPECT_EQ(s.congestion_algorithm, "");
  EXPECT_EQ(s.bbr.cwnd_gain, 0x01010101u);
}

TEST(Snapshot, ObservedBitsFollowGoShiftRules) {
  OwnedRecord r = ReadRawDump()[0];
  r.Set(0, "x");              // INET_DIAG_NONE: uint8(-1) = 255, no bit
  r.Set(11, "");              // SKV6ONLY: not handled, bit 10 in both masks
  r.Set(18, "ab");            // MD5SIG: not handled
  r.Set(33, "x");             // shift of 32: no bit
  r.Set(257, "x");            // uint8(256) = 0: bit 0 again
  r.Set(inetdiag::kTos, "");  // empty one-byte attribute: not ok
  const Snapshot s = Decode(r);
  EXPECT_EQ(s.observed, 0xfbu | 1u << 10 | 1u << 17);
  EXPECT_EQ(s.not_fully_parsed, 1u << 0 | 1u << 4 | 1u << 10 | 1u << 17);
  EXPECT_EQ(s.tos, 0);
}

TEST(Snapshot, TimestampsMetadataAndErrors) {
  const OwnedRecord r = ReadRawDump()[0];
  const parse::Timestamp t{1554214357, 511000000, 0};
  EXPECT_EQ(Decode(r, t).timestamp, t);
  // Go's zero time in another zone is not == time.Time{}: kept as is.
  parse::Timestamp zone = parse::Timestamp::GoZero();
  zone.utc_offset_minutes = 60;
  EXPECT_EQ(Decode(r, zone).timestamp.utc_offset_minutes, 60);

  Snapshot s;
  ASSERT_TRUE(parse::DecodeSnapshot(parse::Timestamp::GoZero(),
                                    absl::string_view(), {}, true, &s)
                  .ok());
  EXPECT_TRUE(s.has_metadata);
  EXPECT_FALSE(s.has_idm);
  EXPECT_EQ(s.observed, 0u);
  std::string row;
  parse::AppendCsvRow(s, &row);
  const std::string golden = testutil::ReadFileOrDie(
      testutil::TestDataDir() +
      "/golden/ndt-jdczh_1553815964_00000000000003E8.00183.csv");
  const std::vector<std::string> lines = absl::StrSplit(golden, '\n');
  EXPECT_EQ(row, lines[1] + "\n");

  EXPECT_FALSE(
      parse::DecodeSnapshot(t, absl::string_view(), {}, false, &s).ok());
  const std::string idm71 = r.raw_idm.substr(0, 71);
  EXPECT_FALSE(parse::DecodeSnapshot(t, idm71, {}, false, &s).ok());
  // A longer RawIDM is read over its first 72 bytes, as the reference does.
  const std::string idm80 = r.raw_idm + "12345678";
  ASSERT_TRUE(parse::DecodeSnapshot(t, idm80, {}, false, &s).ok());
  EXPECT_EQ(s.idm.inode, 20113628u);
}

TEST(FieldFormat, IntegersAndHex) {
  char buf[parse::kMaxFieldChars];
  auto u = [&](uint64_t v) {
    return std::string(buf, parse::FormatUint(v, buf));
  };
  auto i = [&](int64_t v) {
    return std::string(buf, parse::FormatInt(v, buf));
  };
  auto h = [&](uint64_t v) {
    return std::string(buf, parse::FormatHex(v, buf));
  };
  EXPECT_EQ(u(0), "0");
  EXPECT_EQ(u(9), "9");
  EXPECT_EQ(u(10), "10");
  EXPECT_EQ(u(99), "99");
  EXPECT_EQ(u(100), "100");
  EXPECT_EQ(u(4294967152u), "4294967152");
  EXPECT_EQ(u(std::numeric_limits<uint64_t>::max()), "18446744073709551615");
  EXPECT_EQ(u(10000000000000000000u), "10000000000000000000");
  EXPECT_EQ(i(-1), "-1");
  EXPECT_EQ(i(std::numeric_limits<int64_t>::min()), "-9223372036854775808");
  EXPECT_EQ(h(0), "0");
  EXPECT_EQ(h(0x5a38), "5A38");
  EXPECT_EQ(h(~uint64_t{0}), "FFFFFFFFFFFFFFFF");
}

TEST(FieldFormat, AddressesAsTheReferencePrintsThem) {
  auto format = [](std::initializer_list<int> bytes) {
    uint8_t b[16] = {};
    int k = 0;
    for (int v : bytes) b[k++] = static_cast<uint8_t>(v);
    char buf[parse::kMaxFieldChars];
    return std::string(buf, parse::FormatSockAddress(b, buf));
  };
  EXPECT_EQ(format({0}), "0.0.0.0");
  EXPECT_EQ(format({192, 168, 14, 134}), "192.168.14.134");
  EXPECT_EQ(
      format({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 100, 101, 230, 131}),
      "100.101.230.131");
  EXPECT_EQ(format({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}), "::1");
  EXPECT_EQ(format({0x26, 0x20, 0, 0, 0x10, 0x03, 0x04, 0x15, 0xb3, 0x3e, 0x9d,
                    0x6a, 0x81, 0xbf, 0x87, 0xa1}),
            "2620:0:1003:415:b33e:9d6a:81bf:87a1");
  EXPECT_EQ(format({0x26, 0, 0x19, 1, 0, 0, 0x94, 0xb6}), "2600:1901:0:94b6::");
  // The longest run wins, the first of equal runs, never a single group.
  EXPECT_EQ(format({0, 1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4}),
            "1::2:0:0:3:4");
  EXPECT_EQ(format({0, 1, 0, 0, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7}),
            "1:0:2:3:4:5:6:7");
  EXPECT_EQ(format({0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 4}),
            "1:0:2::3:4");
  // The reference's quirk: an IPv6 address with 12 zero bytes at the end
  // prints as IPv4.
  EXPECT_EQ(format({0x20, 0x01, 0x0d, 0xb8}), "32.1.13.184");
}

TEST(CsvWriter, QuotesFieldsAsGoEncodingCsv) {
  auto field = [](absl::string_view s) {
    std::string out;
    parse::AppendCsvField(s, &out);
    return out;
  };
  EXPECT_EQ(field(""), "");
  EXPECT_EQ(field("cubic"), "cubic");
  EXPECT_EQ(field("a b"), "a b");
  EXPECT_EQ(field("a,b"), "\"a,b\"");
  EXPECT_EQ(field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(field("a\nb"), "\"a\nb\"");
  EXPECT_EQ(field("a\rb"), "\"a\rb\"");
  EXPECT_EQ(field(" lead"), "\" lead\"");
  EXPECT_EQ(field("\tx"), "\"\tx\"");
  EXPECT_EQ(field("\xc2\xa0x"), "\"\xc2\xa0x\"");          // U+00A0
  EXPECT_EQ(field("\xe3\x80\x80x"), "\"\xe3\x80\x80x\"");  // U+3000
  EXPECT_EQ(field("\xc2\xa1x"), "\xc2\xa1x");
  EXPECT_EQ(field("\\."), "\"\\.\"");
  EXPECT_EQ(field("x\\."), "x\\.");
  EXPECT_EQ(field(std::string("bbr\0x", 5)), std::string("bbr\0x", 5));
}

TEST(CsvWriter, HeaderHasTheReferenceColumns) {
  std::string header;
  parse::AppendCsvHeader(&header);
  const std::vector<std::string> columns =
      absl::StrSplit(header.substr(0, header.size() - 1), ',');
  ASSERT_EQ(columns.size(), static_cast<size_t>(parse::kCsvColumns));
  EXPECT_EQ(columns[kObservedColumn], "Observed");
  EXPECT_EQ(columns[kTcpStateColumn], "TCP.State");
  EXPECT_EQ(columns[kPacingRateColumn], "TCP.PacingRate");
  EXPECT_EQ(columns[kSndWndColumn], "TCP.SndWnd");
  EXPECT_EQ(columns[kBbrBwColumn], "BBR.BW");
  EXPECT_EQ(columns[44], "TCP.LastDataRecv");
  EXPECT_EQ(columns[45], "TCP.LastDataRecv");
  EXPECT_EQ(columns[86], "SKMemInfo.Sndbug");
}

TEST(CsvWriter, CongestionNamesAreQuotedInRows) {
  OwnedRecord r = ReadRawDump()[0];
  r.Set(inetdiag::kCong, std::string("a,b\0", 4));
  std::string row;
  parse::AppendCsvRow(Decode(r), &row);
  EXPECT_THAT(row, ::testing::HasSubstr(",20113628,\"a,b\",128,"));
}

TEST(SnapshotJson, EscapesStringsAndOmitsAbsentAttributes) {
  OwnedRecord r = ReadRawDump()[0];
  r.Set(inetdiag::kCong, std::string("a\"b\x01\xff\xc3\xa9\0", 8));
  r.Set(inetdiag::kTClass, "");
  r.present[inetdiag::kTos] = false;
  std::string line;
  parse::AppendSnapshotJsonLine(Decode(r), nullptr, &line);
  EXPECT_THAT(line,
              ::testing::HasSubstr(
                  "\"CongestionAlgorithm\":\"a\\\"b\\u0001\\ufffd\xc3\xa9\","
                  "\"TClass\":0,\"Shutdown\":0,\"TCP\":{\"State\":1,"));
  EXPECT_THAT(line, ::testing::Not(::testing::HasSubstr("\"TOS\"")));
  EXPECT_THAT(line, ::testing::HasSubstr("\"NotFullyParsed\":32,"));
  // A 168-byte tcp_info ends with DeliveryRate (offsets 160-167).
  EXPECT_THAT(line, ::testing::HasSubstr("\"DeliveryRate\":"));
  EXPECT_THAT(line, ::testing::Not(::testing::HasSubstr("\"BusyTime\"")));
  EXPECT_EQ(line.back(), '\n');
}

}  // namespace
