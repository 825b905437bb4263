#include "saver/snapshot_delta.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "cache/packed_record.h"
#include "gtest/gtest.h"
#include "parse/archival_record.h"
#include "tests/testutil/archive.h"

namespace saver {
namespace {

// The packed snapshots of a long real M-Lab connection, in order.
std::vector<std::string> PackedConnection() {
  std::vector<std::string> out;
  for (const parse::ArchivalRecord& r :
       testutil::MlabSnapshots(
           "ndt-7hhhv_1559749627_0000000000062D84.00000.jsonl.zst")
           .records) {
    const parse::RecordView v = r.View();
    std::string p(cache::PackedSize(v), '\0');
    cache::Pack(v, p.data());
    out.push_back(std::move(p));
  }
  return out;
}

TEST(SnapshotDelta, RebuildsEveryRealSnapshotFromTheFirstOfItsSecond) {
  const std::vector<std::string> packed = PackedConnection();
  ASSERT_GT(packed.size(), 100u);
  size_t deltas = 0, whole = 0, delta_bytes = 0;
  for (size_t base = 0; base + 10 < packed.size(); base += 10) {
    for (size_t i = base + 1; i < base + 10; ++i) {
      std::string delta = "prefix";
      if (!AppendDelta(packed[base], packed[i], packed[i].size(), &delta)) {
        EXPECT_EQ(delta, "prefix");  // nothing appended
        ++whole;
        continue;
      }
      ++deltas;
      delta_bytes += delta.size() - 6;
      std::string rebuilt = packed[base];
      ASSERT_TRUE(ApplyDelta(absl::string_view(delta).substr(6), &rebuilt));
      ASSERT_EQ(rebuilt, packed[i]) << "snapshot " << i;
    }
  }
  std::printf("delta: %zu of %zu snapshots, %.0f bytes on average for %zu\n",
              deltas, deltas + whole,
              static_cast<double>(delta_bytes) / std::max<size_t>(deltas, 1),
              packed[0].size());
  // Snapshots of one connection within a second differ in a small part.
  EXPECT_GT(deltas, whole);
  EXPECT_LT(delta_bytes, deltas * packed[0].size() / 2);
}

TEST(SnapshotDelta, RoundTripsRandomChangesAndKeepsToTheLimit) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 2000; ++trial) {
    const size_t n = rng() % 700;
    std::string a(n, '\0');
    for (char& c : a) c = static_cast<char>(rng());
    std::string b = a;
    const int changes = n == 0 ? 0 : static_cast<int>(rng() % 40);
    for (int i = 0; i < changes; ++i) b[rng() % n] = static_cast<char>(rng());
    std::string delta;
    const size_t limit = rng() % (n + 50);
    if (!AppendDelta(a, b, limit, &delta)) {
      EXPECT_TRUE(delta.empty());
      continue;
    }
    EXPECT_LT(delta.size(), limit);
    std::string rebuilt = a;
    ASSERT_TRUE(ApplyDelta(delta, &rebuilt));
    ASSERT_EQ(rebuilt, b) << "trial " << trial;
  }
}

TEST(SnapshotDelta, RefusesWhatItCannotEncode) {
  std::string out;
  EXPECT_FALSE(AppendDelta("abcd", "abcde", 100, &out));  // sizes differ
  const std::string big(70000, 'x');
  std::string big2 = big;
  big2[5] = 'y';
  EXPECT_FALSE(AppendDelta(big, big2, 100, &out));  // beyond u16 offsets
  EXPECT_FALSE(AppendDelta("same", "same", 0, &out));
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(AppendDelta("same", "same", 1, &out));  // the empty delta
  EXPECT_TRUE(out.empty());
}

TEST(SnapshotDelta, ApplyRejectsDeltasThatDoNotFit) {
  std::string delta;
  ASSERT_TRUE(AppendDelta("0123456789", "0123X56789", 100, &delta));
  std::string ok = "0123456789";
  ASSERT_TRUE(ApplyDelta(delta, &ok));
  EXPECT_EQ(ok, "0123X56789");
  std::string shorter = "0123";
  EXPECT_FALSE(ApplyDelta(delta, &shorter));  // the run lies past its end
  std::string any = "0123456789";
  EXPECT_FALSE(ApplyDelta(delta.substr(0, 3), &any));  // cut header
  EXPECT_FALSE(ApplyDelta(delta.substr(0, 4), &any));  // cut run bytes
  // gap 0xffff, length 1: past the end of a 10-byte record.
  EXPECT_FALSE(ApplyDelta(std::string("\xff\xff\x01\x00z", 5), &any));
}

}  // namespace
}  // namespace saver
