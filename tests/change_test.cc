#include "parse/change.h"

#include <cstddef>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "inetdiag/inet_diag.h"
#include "parse/archival_record.h"
#include "tcp/tcp_info.h"
#include "tests/testutil/archive.h"

namespace {

using parse::ArchivalRecord;
using parse::Change;
using parse::RecordView;

constexpr size_t kExpires = offsetof(inetdiag::Msg, expires);
constexpr size_t kState = offsetof(inetdiag::Msg, state);
constexpr size_t kLastDataSent = offsetof(tcp::TcpInfo, last_data_sent);
constexpr size_t kPmtu = offsetof(tcp::TcpInfo, pmtu);
constexpr size_t kBusyTime = offsetof(tcp::TcpInfo, busy_time);

constexpr const char* kNdt183 =
    "ndt-jdczh_1553815964_00000000000003E8.00183.jsonl.zst";
constexpr const char* kNdt185 =
    "ndt-jdczh_1553815964_00000000000003E8.00185.jsonl.zst";
constexpr const char* kNdtLong =
    "ndt-7hhhv_1559749627_0000000000062D84.00000.jsonl.zst";
constexpr const char* kFinWait2 =
    "finwait2-sample_1554836592_unsafe_000000000135A272.00000.jsonl.zst";

std::vector<ArchivalRecord> LoadSnapshots(const std::string& name) {
  return testutil::MlabSnapshots(name).records;
}

// An independent statement of the rules, byte by byte: does any byte that
// matters differ? Of the inet_diag_msg only the state matters (as in the
// reference); of tcp_info neither the last_* timers nor anything from
// tcpi_busy_time on, nor INFO's own length (only its bytes do).
bool DiffersWhereItMatters(const ArchivalRecord& a, const ArchivalRecord& b) {
  if (a.raw_idm[kState] != b.raw_idm[kState]) return true;
  if (a.attributes.size() != b.attributes.size()) return true;
  for (size_t t = 0; t < a.attributes.size(); ++t) {
    if (a.attributes[t].has_value() != b.attributes[t].has_value()) {
      return true;
    }
    if (!a.attributes[t].has_value()) continue;
    const std::string& x = *a.attributes[t];
    const std::string& y = *b.attributes[t];
    if (t != inetdiag::kInfo) {
      if (x != y) return true;
      continue;
    }
    for (size_t i = 0; i < kBusyTime; ++i) {
      if (i >= kLastDataSent && i < kPmtu) continue;
      const bool in_x = i < x.size(), in_y = i < y.size();
      if (in_x != in_y || (in_x && x[i] != y[i])) return true;
    }
  }
  return false;
}

bool BusyTimeDiffers(const ArchivalRecord& a, const ArchivalRecord& b) {
  const std::string& x = *a.attributes[inetdiag::kInfo];
  const std::string& y = *b.attributes[inetdiag::kInfo];
  return x.substr(kBusyTime, 8) != y.substr(kBusyTime, 8);
}

struct PairCounts {
  std::map<Change, int> by_change;
  int unchanged = 0;
  int unchanged_with_busy_time_change = 0;
};

PairCounts CompareConsecutive(const std::vector<ArchivalRecord>& records) {
  PairCounts counts;
  for (size_t i = 1; i < records.size(); ++i) {
    const ArchivalRecord& prev = records[i - 1];
    const ArchivalRecord& cur = records[i];
    const Change change = parse::Compare(prev.View(), cur.View());
    ++counts.by_change[change];
    EXPECT_EQ(change != Change::kNone, DiffersWhereItMatters(prev, cur))
        << "pair " << i << " at " << parse::FormatRfc3339(cur.timestamp) << ": "
        << parse::ChangeName(change);
    if (change == Change::kNone) {
      ++counts.unchanged;
      if (BusyTimeDiffers(prev, cur)) ++counts.unchanged_with_busy_time_change;
    }
  }
  return counts;
}

// The reference wrote a record only when it changed, so in a file written by
// today's rules every consecutive pair compares as changed.
TEST(Change, ConsecutiveRecordsOfCurrentArchivesAllChanged) {
  struct Case {
    const char* file;
    size_t records;
    int state, counters, other;
  };
  for (const Case& c :
       {Case{kNdtLong, 891, 1, 887, 2}, Case{kFinWait2, 62, 2, 35, 24}}) {
    SCOPED_TRACE(c.file);
    const std::vector<ArchivalRecord> records = LoadSnapshots(c.file);
    ASSERT_EQ(records.size(), c.records);
    PairCounts counts = CompareConsecutive(records);
    EXPECT_EQ(counts.unchanged, 0);
    EXPECT_EQ(counts.by_change[Change::kStateChange], c.state);
    EXPECT_EQ(counts.by_change[Change::kCounterChange], c.counters);
    EXPECT_EQ(counts.by_change[Change::kOther], c.other);
  }
}

// The 2019 ndt-jdczh files come from an older collector that also wrote a
// record when only tcpi_busy_time moved. Today's rules (and ours) skip those:
// every pair we call unchanged differs in busy_time and in nothing that
// matters.
TEST(Change, OlderArchivesDifferOnlyInBusyTimeWhereUnchanged) {
  for (const char* file : {kNdt183, kNdt185}) {
    SCOPED_TRACE(file);
    const std::vector<ArchivalRecord> records = LoadSnapshots(file);
    ASSERT_EQ(records.size(), 150u);
    const PairCounts counts = CompareConsecutive(records);
    EXPECT_GT(counts.unchanged, 100);
    EXPECT_EQ(counts.unchanged_with_busy_time_change, counts.unchanged);
    EXPECT_EQ(counts.by_change.at(Change::kOther), 9);
  }
  EXPECT_EQ(CompareConsecutive(LoadSnapshots(kNdt183)).unchanged, 114);
  EXPECT_EQ(CompareConsecutive(LoadSnapshots(kNdt185)).unchanged, 119);
}

// A record whose every byte lives in its own exactly sized heap block, so
// that AddressSanitizer catches any read past an attribute.
class ExactRecord {
 public:
  explicit ExactRecord(const ArchivalRecord& r) {
    idm_ = r.raw_idm;
    for (const auto& a : r.attributes) {
      attributes_.push_back(a);
    }
  }
  std::string& idm() { return idm_; }
  std::optional<std::string>& attribute(int t) {
    if (static_cast<size_t>(t) >= attributes_.size()) {
      attributes_.resize(t + 1);
    }
    return attributes_[t];
  }
  void ResizeSlots(size_t n) { attributes_.resize(n); }

  // Builds the view from fresh exact-size copies (valid while *this lives).
  RecordView View() {
    RecordView view;
    view.raw_idm = Copy(idm_);
    view.attribute_slots = static_cast<int>(attributes_.size());
    for (size_t t = 0; t < attributes_.size(); ++t) {
      if (attributes_[t].has_value())
        view.attributes[t] = Copy(*attributes_[t]);
    }
    return view;
  }

 private:
  absl::string_view Copy(const std::string& s) {
    blocks_.push_back(std::make_unique<char[]>(s.size() + (s.empty() ? 1 : 0)));
    std::memcpy(blocks_.back().get(), s.data(), s.size());
    return absl::string_view(blocks_.back().get(), s.size());
  }

  std::string idm_;
  std::vector<std::optional<std::string>> attributes_;
  std::vector<std::unique_ptr<char[]>> blocks_;
};

class ChangeRules : public ::testing::Test {
 protected:
  void SetUp() override {
    // A real ESTABLISHED snapshot with meminfo, info (224 bytes: a 2019
    // kernel), vegas, cong, tos and skmeminfo.
    records_ = LoadSnapshots(kNdtLong);
    ASSERT_GT(records_.size(), 10u);
    base_ = records_[5];
    ASSERT_TRUE(base_.attributes[inetdiag::kInfo].has_value());
    ASSERT_TRUE(base_.attributes[inetdiag::kMemInfo].has_value());
  }

  Change CompareTo(ExactRecord& changed) {
    ExactRecord previous(base_);
    return parse::Compare(previous.View(), changed.View());
  }

  std::vector<ArchivalRecord> records_;
  ArchivalRecord base_;
};

TEST_F(ChangeRules, IdenticalRecordsAreUnchanged) {
  ExactRecord same(base_);
  EXPECT_EQ(CompareTo(same), Change::kNone);
}

TEST_F(ChangeRules, ExpiresAloneNeverChanges) {
  ExactRecord r(base_);
  for (size_t i = kExpires; i < kExpires + 4; ++i) r.idm()[i] ^= 0x5a;
  EXPECT_EQ(CompareTo(r), Change::kNone);
}

// The reference reads only the state of the inet_diag_msg: timer, retrans,
// queues, uid and inode alone are not worth a record.
TEST_F(ChangeRules, InetDiagMsgFieldsOtherThanStateNeverChange) {
  for (size_t i = 0; i < base_.raw_idm.size(); ++i) {
    if (i == kState) continue;
    ExactRecord r(base_);
    r.idm()[i] ^= 0x10;
    EXPECT_EQ(CompareTo(r), Change::kNone) << "offset " << i;
  }
}

TEST_F(ChangeRules, LastTimersAloneNeverChange) {
  for (size_t i = kLastDataSent; i < kPmtu; ++i) {
    ExactRecord r(base_);
    (*r.attribute(inetdiag::kInfo))[i] ^= 0x01;
    EXPECT_EQ(CompareTo(r), Change::kNone) << "offset " << i;
  }
}

TEST_F(ChangeRules, BusyTimeAndLaterFieldsNeverChange) {
  ExactRecord r(base_);
  std::string& info = *r.attribute(inetdiag::kInfo);
  for (size_t i = kBusyTime; i < info.size(); ++i) info[i] ^= 0x33;
  EXPECT_EQ(CompareTo(r), Change::kNone);
}

TEST_F(ChangeRules, EveryCounterByteChanges) {
  const size_t size = base_.attributes[inetdiag::kInfo]->size();
  for (size_t i = 0; i < kBusyTime && i < size; ++i) {
    if (i >= kLastDataSent && i < kPmtu) continue;
    ExactRecord r(base_);
    (*r.attribute(inetdiag::kInfo))[i] ^= 0x01;
    EXPECT_EQ(CompareTo(r), Change::kCounterChange) << "offset " << i;
  }
}

TEST_F(ChangeRules, StateChangeComesFirst) {
  ExactRecord r(base_);
  r.idm()[kState] = static_cast<char>(tcp::kFinWait1);
  (*r.attribute(inetdiag::kInfo))[kPmtu] ^= 1;
  r.attribute(inetdiag::kMemInfo).reset();
  EXPECT_EQ(CompareTo(r), Change::kStateChange);
}

TEST_F(ChangeRules, MissingTcpInfoOnEitherSide) {
  ExactRecord without(base_);
  without.attribute(inetdiag::kInfo).reset();
  EXPECT_EQ(CompareTo(without), Change::kNoTcpInfo);
  ExactRecord with(base_);
  EXPECT_EQ(parse::Compare(without.View(), with.View()), Change::kNoTcpInfo);
  // Too few slots to hold INFO at all.
  ExactRecord short_array(base_);
  short_array.ResizeSlots(2);
  EXPECT_EQ(CompareTo(short_array), Change::kNoTcpInfo);
  EXPECT_EQ(parse::Compare(without.View(), without.View()), Change::kNoTcpInfo);
}

TEST_F(ChangeRules, ShorterTcpInfoComparesMissingBytesAsDifferent) {
  // An older kernel's tcp_info that ends inside the compared range.
  ExactRecord shorter(base_);
  shorter.attribute(inetdiag::kInfo)->resize(100);
  EXPECT_EQ(CompareTo(shorter), Change::kCounterChange);
  // Two equally short ones compare by what they hold.
  ExactRecord also_shorter(base_);
  also_shorter.attribute(inetdiag::kInfo)->resize(100);
  EXPECT_EQ(parse::Compare(shorter.View(), also_shorter.View()), Change::kNone);
  (*also_shorter.attribute(inetdiag::kInfo))[99] ^= 1;
  EXPECT_EQ(parse::Compare(shorter.View(), also_shorter.View()),
            Change::kCounterChange);
  // Shorter than last_data_sent; and empty.
  for (size_t n : {size_t{0}, size_t{3}, size_t{40}}) {
    ExactRecord a(base_), b(base_);
    a.attribute(inetdiag::kInfo)->resize(n);
    b.attribute(inetdiag::kInfo)->resize(n);
    EXPECT_EQ(parse::Compare(a.View(), b.View()), Change::kNone) << n;
    EXPECT_EQ(CompareTo(b), Change::kCounterChange) << n;
  }
}

TEST_F(ChangeRules, LongerTcpInfoFromANewerKernelIsReadOnlyWhereItMatters) {
  ExactRecord a(base_), b(base_);
  a.attribute(inetdiag::kInfo)->resize(400, 'a');
  b.attribute(inetdiag::kInfo)->resize(320, 'b');
  // INFO's own length is not compared, nor anything after busy_time.
  EXPECT_EQ(parse::Compare(a.View(), b.View()), Change::kNone);
}

TEST_F(ChangeRules, AttributesAppearingOrDisappearing) {
  // A higher type appears: the array grows.
  ExactRecord grown(base_);
  grown.attribute(inetdiag::kBbrInfo) = std::string(16, '\0');
  EXPECT_EQ(CompareTo(grown), Change::kNewAttribute);
  ExactRecord same_as_base(base_);
  EXPECT_EQ(parse::Compare(grown.View(), same_as_base.View()),
            Change::kLostAttribute);
  // Same array length, a slot goes from null to present and back.
  ExactRecord lost(base_);
  lost.attribute(inetdiag::kMemInfo).reset();
  EXPECT_EQ(CompareTo(lost), Change::kLostAttribute);
  EXPECT_EQ(parse::Compare(lost.View(), same_as_base.View()),
            Change::kNewAttribute);
}

TEST_F(ChangeRules, OtherAttributeLengthAndBytes) {
  ExactRecord longer(base_);
  longer.attribute(inetdiag::kMemInfo)->push_back('\0');
  EXPECT_EQ(CompareTo(longer), Change::kAttributeLength);
  ExactRecord changed(base_);
  changed.attribute(inetdiag::kMemInfo)->back() ^= 1;
  EXPECT_EQ(CompareTo(changed), Change::kOther);
  // A present but empty attribute is still present.
  ExactRecord empty(base_);
  empty.attribute(inetdiag::kMemInfo)->clear();
  EXPECT_EQ(CompareTo(empty), Change::kAttributeLength);
}

TEST_F(ChangeRules, TooShortInetDiagMsgIsReadSafely) {
  ExactRecord a(base_), b(base_);
  a.idm().clear();
  b.idm().clear();
  EXPECT_EQ(parse::Compare(a.View(), b.View()), Change::kNone);
  EXPECT_EQ(CompareTo(a), Change::kStateChange);
}

TEST(Change, NamesAreShortAndDistinct) {
  EXPECT_STREQ(parse::ChangeName(Change::kNone), "none");
  EXPECT_STREQ(parse::ChangeName(Change::kStateChange), "state");
  EXPECT_STREQ(parse::ChangeName(Change::kCounterChange), "counters");
  std::set<std::string> names;
  for (int c = 0; c <= static_cast<int>(Change::kOther); ++c) {
    names.insert(parse::ChangeName(static_cast<Change>(c)));
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(Change::kOther) + 1);
}

}  // namespace
