#include "cache/cache.h"

#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cache/packed_record.h"
#include "gtest/gtest.h"
#include "inetdiag/inet_diag.h"
#include "parse/archival_record.h"
#include "saver/saver.h"
#include "tcp/tcp_info.h"
#include "tests/testutil/archive.h"

// Counts heap allocations made by this test binary, to prove the hot path
// allocates nothing.
namespace {
std::atomic<uint64_t> g_allocations{0};
std::atomic<int64_t> g_live_bytes{0};  // as malloc_usable_size counts them

void Free(void* p) {
  if (p == nullptr) return;
  g_live_bytes.fetch_sub(malloc_usable_size(p), std::memory_order_relaxed);
  std::free(p);
}
}  // namespace

void* operator new(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  void* p = std::malloc(size ? size : 1);
  if (p == nullptr) throw std::bad_alloc();
  g_live_bytes.fetch_add(malloc_usable_size(p), std::memory_order_relaxed);
  return p;
}
void* operator new[](size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { Free(p); }
void operator delete[](void* p) noexcept { Free(p); }
void operator delete(void* p, size_t) noexcept { Free(p); }
void operator delete[](void* p, size_t) noexcept { Free(p); }

namespace {

using parse::ArchivalRecord;
using parse::Change;

constexpr size_t kCookieOffset =
    offsetof(inetdiag::Msg, id) + offsetof(inetdiag::SockId, cookie);
constexpr size_t kState = offsetof(inetdiag::Msg, state);

const std::vector<ArchivalRecord>& LongConnection() {
  static const auto* records = new std::vector<ArchivalRecord>(
      testutil::MlabSnapshots(
          "ndt-7hhhv_1559749627_0000000000062D84.00000.jsonl.zst")
          .records);
  return *records;
}

ArchivalRecord WithCookie(ArchivalRecord r, uint64_t cookie) {
  const uint32_t words[2] = {static_cast<uint32_t>(cookie),
                             static_cast<uint32_t>(cookie >> 32)};
  std::memcpy(r.raw_idm.data() + kCookieOffset, words, 8);
  return r;
}

std::string Packed(const parse::RecordView& view) {
  std::string out(cache::PackedSize(view), '\0');
  cache::Pack(view, out.data());
  return out;
}

TEST(PackedRecord, RoundTripsRealRecordsExactly) {
  for (const ArchivalRecord& r : LongConnection()) {
    const parse::RecordView view = r.View();
    const std::string packed = Packed(view);
    const parse::RecordView back = cache::Unpack(packed);
    std::string a, b;
    parse::AppendSnapshotJson(r.timestamp, view, &a);
    parse::AppendSnapshotJson(r.timestamp, back, &b);
    ASSERT_EQ(a, b);
    EXPECT_EQ(back.attribute_slots, view.attribute_slots);
  }
}

TEST(PackedRecord, KeepsEmptyAttributesPresentAndNeverReadsPastTheEnd) {
  ArchivalRecord r = LongConnection()[0];
  r.attributes[inetdiag::kMemInfo] = std::string();
  const std::string packed = Packed(r.View());
  EXPECT_TRUE(cache::Unpack(packed).Has(inetdiag::kMemInfo));
  EXPECT_EQ(cache::Unpack(packed).attributes[inetdiag::kMemInfo].size(), 0u);
  // Every truncation yields only whole attributes.
  for (size_t n = 0; n < packed.size(); ++n) {
    const std::string cut = packed.substr(0, n);
    const parse::RecordView v = cache::Unpack(cut);
    for (int t = 0; t < v.attribute_slots; ++t) {
      if (!v.Has(t)) continue;
      EXPECT_GE(v.attributes[t].data(), cut.data());
      EXPECT_LE(v.attributes[t].data() + v.attributes[t].size(),
                cut.data() + cut.size());
    }
  }
}

// The one-pass fast path agrees with parse::Compare on real consecutive
// snapshots and on every single-byte, presence and length mutation of one.
TEST(PackedRecord, UnchangedSincePackedAgreesWithCompare) {
  const auto& records = LongConnection();
  int unchanged = 0, checked = 0;
  auto check = [&](const ArchivalRecord& a, const ArchivalRecord& b) {
    const std::string packed = Packed(a.View());
    const bool fast = cache::UnchangedSincePacked(packed, b.View());
    const parse::Change full = parse::Compare(a.View(), b.View());
    ASSERT_EQ(fast, full == Change::kNone) << parse::ChangeName(full);
    unchanged += fast;
    ++checked;
  };
  for (size_t i = 0; i + 2 < records.size(); ++i) {
    check(records[i], records[i + 1]);
    check(records[i], records[i + 2]);
    check(records[i], records[i]);
  }
  const ArchivalRecord& base = records[100];
  for (size_t i = 0; i < base.raw_idm.size(); ++i) {
    ArchivalRecord m = base;
    m.raw_idm[i] ^= 1;
    check(base, m);
  }
  for (size_t t = 0; t < base.attributes.size(); ++t) {
    if (!base.attributes[t].has_value()) {
      ArchivalRecord m = base;
      m.attributes[t] = std::string("x");
      check(base, m);
      continue;
    }
    for (size_t i = 0; i < base.attributes[t]->size(); ++i) {
      ArchivalRecord m = base;
      (*m.attributes[t])[i] ^= 1;
      check(base, m);
    }
    for (size_t size : {size_t{0}, size_t{1}, base.attributes[t]->size() + 8}) {
      ArchivalRecord m = base;
      m.attributes[t]->resize(size);
      check(base, m);
      check(m, base);
    }
    ArchivalRecord m = base;
    m.attributes[t].reset();
    check(base, m);
    check(m, base);
  }
  ArchivalRecord longer = base;
  longer.attributes.resize(base.attributes.size() + 2);
  check(base, longer);
  longer.attributes.back() = std::string("y");
  check(base, longer);
  check(longer, base);
  EXPECT_GT(checked, 3000);
  EXPECT_GT(unchanged, 900);  // the identical pairs and ignored fields
}

TEST(Cache, NewThenUnchangedThenChanged) {
  cache::Cache cache;
  const auto& records = LongConnection();
  EXPECT_EQ(cache.Observe(records[0].View()), Change::kNew);
  EXPECT_EQ(cache.Observe(records[0].View()), Change::kNone);
  EXPECT_EQ(cache.Observe(records[1].View()), Change::kCounterChange);
  EXPECT_EQ(cache.size(), 1u);
  std::string last, want;
  parse::AppendSnapshotJson({}, cache.Last(records[0].View().Cookie()), &last);
  parse::AppendSnapshotJson({}, records[1].View(), &want);
  EXPECT_EQ(last, want);
  EXPECT_EQ(cache.Last(12345).raw_idm.data(), nullptr);
}

// Replaying a real connection poll by poll: every record the reference
// archived is archived again.
TEST(Cache, ReplayOfARealConnectionArchivesEveryRecord) {
  cache::Cache cache;
  int changed = 0;
  for (const ArchivalRecord& r : LongConnection()) {
    const Change c = cache.Observe(r.View());
    if (c != Change::kNone) ++changed;
  }
  EXPECT_EQ(changed, static_cast<int>(LongConnection().size()));
}

// The reference is the last ARCHIVED snapshot: a run of polls differing only
// in ignored fields does not move it.
TEST(Cache, ComparesWithTheLastArchivedSnapshot) {
  cache::Cache cache;
  ArchivalRecord a = LongConnection()[10];
  ASSERT_EQ(cache.Observe(a.View()), Change::kNew);
  ArchivalRecord b = a;
  (*b.attributes[inetdiag::kInfo])[offsetof(tcp::TcpInfo, last_data_sent)] ^= 1;
  EXPECT_EQ(cache.Observe(b.View()), Change::kNone);
  std::string last, want;
  parse::AppendSnapshotJson({}, cache.Last(a.View().Cookie()), &last);
  parse::AppendSnapshotJson({}, a.View(), &want);
  EXPECT_EQ(last, want);
  ArchivalRecord c = a;
  c.raw_idm[kState] = static_cast<char>(tcp::kCloseWait);
  EXPECT_EQ(cache.Observe(c.View()), Change::kStateChange);
}

TEST(Cache, EndCycleClosesConnectionsMissingFromACompleteDump) {
  cache::Cache cache;
  const ArchivalRecord& r = LongConnection()[0];
  std::vector<ArchivalRecord> conns;
  for (uint64_t cookie : {1, 2, 3, 4}) conns.push_back(WithCookie(r, cookie));
  std::vector<uint64_t> closed;
  auto collect = [&](uint64_t cookie) { closed.push_back(cookie); };

  for (const auto& c : conns) EXPECT_EQ(cache.Observe(c.View()), Change::kNew);
  EXPECT_EQ(cache.EndCycle(collect), 0u);
  EXPECT_TRUE(closed.empty());

  // Cycle 2: 2 is gone; 1 is seen twice (must not hide the gap).
  cache.Observe(conns[0].View());
  cache.Observe(conns[0].View());
  cache.Observe(conns[2].View());
  cache.Observe(conns[3].View());
  EXPECT_EQ(cache.EndCycle(collect), 1u);
  EXPECT_EQ(closed, std::vector<uint64_t>({2}));
  EXPECT_EQ(cache.size(), 3u);

  // A destroy event removes 4 after it was seen this cycle, and 3 before.
  closed.clear();
  EXPECT_TRUE(cache.Remove(3));
  EXPECT_FALSE(cache.Remove(3));
  cache.Observe(conns[0].View());
  cache.Observe(conns[3].View());
  EXPECT_TRUE(cache.Remove(4));
  EXPECT_EQ(cache.EndCycle(collect), 0u);
  EXPECT_TRUE(closed.empty());
  EXPECT_EQ(cache.size(), 1u);

  // An empty complete dump closes everything left.
  EXPECT_EQ(cache.EndCycle(collect), 1u);
  EXPECT_EQ(closed, std::vector<uint64_t>({1}));
  EXPECT_EQ(cache.size(), 0u);
  // A closed connection seen again is new.
  EXPECT_EQ(cache.Observe(conns[0].View()), Change::kNew);
}

// The table under churn, against a reference: connections come, change and
// go (by destroy event and by missing from a dump) in a random order, with
// cookies both consecutive and scattered, over several growths of the table
// and runs that wrap around its end. After every step each cookie is known
// exactly when the reference holds it, with its last stored snapshot.
TEST(Cache, AgreesWithAReferenceUnderChurn) {
  const auto& records = LongConnection();
  const ArchivalRecord& a = records[100];
  const ArchivalRecord& b = records[101];
  std::mt19937_64 rng(77);
  std::vector<uint64_t> universe;
  for (uint64_t c = 1; c <= 1500; ++c) universe.push_back(c);
  for (int i = 0; i < 1500; ++i) universe.push_back(rng());
  cache::Cache cache;
  std::map<uint64_t, bool> reference;  // cookie -> last stored was `b`
  std::set<uint64_t> seen_this_cycle;
  auto stored_is_b = [&](uint64_t cookie) {
    std::string got, want;
    parse::AppendSnapshotJson({}, cache.Last(cookie), &got);
    parse::AppendSnapshotJson({}, WithCookie(b, cookie).View(), &want);
    return got == want;
  };
  for (int step = 0; step < 60000; ++step) {
    const uint64_t cookie = universe[rng() % universe.size()];
    const int op = static_cast<int>(rng() % 10);
    if (op < 7) {  // observe, as the same or the other snapshot
      const bool use_b = rng() % 2 == 0;
      const ArchivalRecord r = WithCookie(use_b ? b : a, cookie);
      const Change change = cache.Observe(r.View());
      auto it = reference.find(cookie);
      if (it == reference.end()) {
        ASSERT_EQ(change, Change::kNew) << step;
      } else if (it->second == use_b) {
        ASSERT_EQ(change, Change::kNone) << step;
      } else {
        ASSERT_NE(change, Change::kNone) << step;
        ASSERT_NE(change, Change::kNew) << step;
      }
      reference[cookie] = use_b;
      seen_this_cycle.insert(cookie);
    } else if (op < 9) {  // destroy event
      ASSERT_EQ(cache.Remove(cookie), reference.erase(cookie) > 0) << step;
      seen_this_cycle.erase(cookie);
    } else if (rng() % 50 == 0) {  // a complete dump ends
      std::set<uint64_t> closed;
      const size_t n = cache.EndCycle(
          [&](uint64_t c) { ASSERT_TRUE(closed.insert(c).second); });
      ASSERT_EQ(n, closed.size());
      for (auto it = reference.begin(); it != reference.end();) {
        if (seen_this_cycle.count(it->first) == 0) {
          ASSERT_EQ(closed.erase(it->first), 1u) << step;
          it = reference.erase(it);
        } else {
          ++it;
        }
      }
      ASSERT_TRUE(closed.empty()) << "closed a connection seen this cycle";
      seen_this_cycle.clear();
    }
    ASSERT_EQ(cache.size(), reference.size()) << step;
    if (step % 997 == 0) {
      for (uint64_t c : universe) {
        auto it = reference.find(c);
        const parse::RecordView last = cache.Last(c);
        ASSERT_EQ(last.raw_idm.data() != nullptr, it != reference.end()) << c;
        if (it != reference.end()) {
          ASSERT_EQ(stored_is_b(c), it->second) << c;
        }
      }
    }
  }
  EXPECT_GT(reference.size(), 500u);  // the table did grow and churn
}

// A burst of connections that then goes away (missing from a dump, or by
// destroy events) leaves no memory behind: the table shrinks back, and the
// connections that stay are still known, unchanged.
TEST(Cache, GivesBackTheMemoryOfABurst) {
  const ArchivalRecord& r = LongConnection()[100];
  std::vector<ArchivalRecord> steady, burst;
  for (uint64_t c = 1; c <= 1000; ++c) steady.push_back(WithCookie(r, c));
  for (uint64_t c = 100001; c <= 130000; ++c) burst.push_back(WithCookie(r, c));
  cache::Cache cache;
  for (const auto& s : steady) cache.Observe(s.View());
  cache.EndCycle([](uint64_t) {});
  const int64_t before = g_live_bytes.load();

  for (int way = 0; way < 2; ++way) {
    for (const auto& s : steady) cache.Observe(s.View());
    for (const auto& b : burst) cache.Observe(b.View());
    cache.EndCycle([](uint64_t) {});
    EXPECT_GT(g_live_bytes.load() - before, 30000 * 400);
    size_t closed = 0;
    if (way == 0) {  // gone from the next dump
      for (const auto& s : steady) cache.Observe(s.View());
    } else {  // destroy events
      for (const auto& b : burst) ASSERT_TRUE(cache.Remove(b.View().Cookie()));
      for (const auto& s : steady) cache.Observe(s.View());
    }
    cache.EndCycle([&](uint64_t) { ++closed; });
    EXPECT_EQ(closed, way == 0 ? 30000u : 0u);
    EXPECT_EQ(cache.size(), 1000u);
    // Back to within a small table of where it was (1,000 connections
    // need 2,048-4,096 slots of 32 bytes).
    EXPECT_LT(g_live_bytes.load() - before, 128 << 10) << "way " << way;
    for (const auto& s : steady) {
      ASSERT_EQ(cache.Observe(s.View()), Change::kNone);
    }
    cache.EndCycle([](uint64_t) {});
  }
}

// The hot path: once every connection is known, a cycle of unchanged
// sockets (cache and saver), and of changed sockets whose snapshot keeps its
// size (cache), allocates nothing at all.
TEST(Cache, SteadyCyclesAllocateNothing) {
  constexpr int kConnections = 2000;
  const auto& records = LongConnection();
  std::vector<ArchivalRecord> first, second;
  for (int i = 0; i < kConnections; ++i) {
    first.push_back(WithCookie(records[100], 1000 + i));
    second.push_back(WithCookie(records[101], 1000 + i));
  }
  std::vector<parse::RecordView> first_views, second_views;
  for (int i = 0; i < kConnections; ++i) {
    first_views.push_back(first[i].View());
    second_views.push_back(second[i].View());
  }
  cache::Cache cache;
  for (const auto& v : first_views) cache.Observe(v);
  size_t closed = cache.EndCycle([](uint64_t) {});
  ASSERT_EQ(closed, 0u);
  // The saver's per-cycle Tick, with nothing pending, is part of the cycle.
  saver::Options options;
  options.output_dir = "/tmp";
  options.uuid_prefix = "unused";
  auto saver = saver::Saver::Create(options);
  ASSERT_TRUE(saver.ok()) << saver.status();

  const uint64_t before = g_allocations.load();
  int unchanged = 0, changed = 0;
  for (int cycle = 0; cycle < 5; ++cycle) {
    for (const auto& v : first_views) {
      unchanged += cache.Observe(v) == Change::kNone;
    }
    closed += cache.EndCycle([](uint64_t) {});
    (*saver)->Tick(parse::Timestamp::Now());
  }
  for (const auto& v : second_views) {
    changed += cache.Observe(v) == Change::kCounterChange;
  }
  closed += cache.EndCycle([](uint64_t) {});
  const uint64_t allocations = g_allocations.load() - before;
  EXPECT_EQ(unchanged, 5 * kConnections);
  EXPECT_EQ(changed, kConnections);
  EXPECT_EQ(closed, 0u);
  EXPECT_EQ(allocations, 0u);
}

// Heap bytes per connection, measured: the map slot plus the packed
// snapshot (a 2019 record: 224-byte tcp_info; a 6.18 one adds 56 bytes).
TEST(Cache, HoldsFewHundredBytesPerConnection) {
  constexpr int kConnections = 15000;
  const ArchivalRecord base = LongConnection()[100];
  std::vector<ArchivalRecord> conns;
  conns.reserve(kConnections);
  for (int i = 0; i < kConnections; ++i) {
    conns.push_back(WithCookie(base, 1 + i));
  }
  const int64_t before = g_live_bytes.load();
  auto cache = std::make_unique<cache::Cache>();
  for (const auto& c : conns) cache->Observe(c.View());
  const double per_connection =
      static_cast<double>(g_live_bytes.load() - before) / kConnections;
  const size_t packed = cache::PackedSize(base.View());
  std::printf("cache: %.0f heap bytes per connection (packed record %zu)\n",
              per_connection, packed);
  // The buffer (rounded to 32) and a map slot of 32 bytes at load >= 7/16.
  EXPECT_LT(per_connection, packed + 32 + 80);
  EXPECT_EQ(cache->size(), static_cast<size_t>(kConnections));
}

}  // namespace
