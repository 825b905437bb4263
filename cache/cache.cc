#include "cache/cache.h"

#include <cstring>
#include <utility>
#include <vector>

#include "absl/base/optimization.h"
#include "cache/packed_record.h"

namespace cache {
namespace {

// One connection, in its table slot: the cookie, the last cycle it was
// observed in and its last stored snapshot, packed, in a heap buffer that is
// reused while the snapshot fits. 32 bytes, two to a cache line.
struct Slot {
  uint64_t cookie = 0;
  char* bytes = nullptr;  // null: the slot is empty
  uint32_t size = 0;
  uint32_t capacity = 0;
  uint64_t cycle = 0;

  bool empty() const { return bytes == nullptr; }
  absl::string_view packed() const { return {bytes, size}; }

  void Store(const parse::RecordView& record) {
    const size_t size_needed = PackedSize(record);
    if (size_needed > capacity) {
      // Round up so that a few more bytes next time do not reallocate.
      capacity = static_cast<uint32_t>((size_needed + 31) & ~size_t{31});
      delete[] bytes;
      bytes = new char[capacity];
    }
    Pack(record, bytes);
    size = static_cast<uint32_t>(size_needed);
  }
};
static_assert(sizeof(Slot) == 32);

void PrefetchLine(const void* p) { __builtin_prefetch(p, 0, 3); }

constexpr size_t kMinSlots = 64;

}  // namespace

// An open-addressing table with linear probing, kept at most half full, so
// that a cookie is almost always in its home slot or the next one: the
// slot's cache line is known from the cookie alone, which is what lets
// Prefetch() load it before it is needed (a general-purpose map probes a
// group of slots whose line it cannot know in advance). Deletion shifts the
// rest of the run back, so there are no tombstones.
struct Cache::Rep {
  std::vector<Slot> slots;  // size a power of two (or 0)
  size_t mask = 0;
  int shift = 64;
  size_t count = 0;
  uint64_t cycle = 1;
  size_t observed = 0;          // distinct connections observed in `cycle`
  std::vector<uint64_t> stale;  // reused by EndCycle

  ~Rep() {
    for (Slot& s : slots) delete[] s.bytes;
  }

  // Fibonacci hashing: cookies are consecutive counters, the multiply
  // spreads them over the table.
  size_t Home(uint64_t cookie) const {
    return static_cast<size_t>((cookie * 0x9E3779B97F4A7C15ull) >> shift);
  }

  // The slot holding `cookie`, or the empty slot ending its run.
  size_t Find(uint64_t cookie) const {
    size_t i = Home(cookie);
    while (!slots[i].empty() && slots[i].cookie != cookie) i = (i + 1) & mask;
    return i;
  }

  // Moves every connection into a table of `capacity` slots (a power of
  // two, more than twice count).
  void Rehash(size_t capacity) {
    std::vector<Slot> old = std::move(slots);
    slots.assign(capacity, Slot());
    mask = capacity - 1;
    shift = 64 - __builtin_ctzll(capacity);
    for (Slot& s : old) {
      if (!s.empty()) slots[Find(s.cookie)] = s;
    }
  }

  void Grow() { Rehash(slots.empty() ? kMinSlots : slots.size() * 2); }

  // After a burst has gone (the table at most 1/8 full), halves it until
  // it is more than 1/8 and at most 1/4 full: the memory of a peak is not
  // kept for good, and the table grows again only at half full.
  void MaybeShrink() {
    size_t capacity = slots.size();
    while (capacity > kMinSlots && count * 8 <= capacity) capacity /= 2;
    if (capacity < slots.size()) Rehash(capacity);
  }

  // Empties slot `i` and shifts the rest of its run back into place.
  void Erase(size_t i) {
    delete[] slots[i].bytes;
    size_t hole = i;
    for (size_t j = (i + 1) & mask; !slots[j].empty(); j = (j + 1) & mask) {
      const size_t home = Home(slots[j].cookie);
      // Slot j may move to the hole if its home is not cyclically in
      // (hole, j].
      const bool home_after_hole =
          hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
      if (home_after_hole) continue;
      slots[hole] = slots[j];
      hole = j;
    }
    slots[hole] = Slot();
    --count;
  }
};

Cache::Cache() : rep_(std::make_unique<Rep>()) {}
Cache::~Cache() = default;

parse::Change Cache::Observe(const parse::RecordView& record) {
  const uint64_t cookie = record.Cookie();
  if ((rep_->count + 1) * 2 > rep_->slots.size()) rep_->Grow();
  Slot& slot = rep_->slots[rep_->Find(cookie)];
  if (slot.cycle != rep_->cycle) {
    slot.cycle = rep_->cycle;
    ++rep_->observed;
  }
  if (slot.empty()) {
    slot.cookie = cookie;
    slot.Store(record);
    ++rep_->count;
    return parse::Change::kNew;
  }
  if (ABSL_PREDICT_TRUE(UnchangedSincePacked(slot.packed(), record))) {
    return parse::Change::kNone;
  }
  // Changed: find out why, and keep the new snapshot.
  const parse::Change change = parse::Compare(Unpack(slot.packed()), record);
  if (change != parse::Change::kNone) slot.Store(record);
  return change;
}

void Cache::Prefetch(uint64_t cookie) const {
  if (rep_->slots.empty()) return;
  const size_t home = rep_->Home(cookie);
  PrefetchLine(&rep_->slots[home]);
  // The run may go on into the next line.
  PrefetchLine(&rep_->slots[(home + 2) & rep_->mask]);
}

void Cache::PrefetchSnapshot(uint64_t cookie) const {
  if (rep_->slots.empty()) return;
  const Slot& slot = rep_->slots[rep_->Find(cookie)];
  if (slot.empty()) return;
  for (uint32_t off = 0; off < slot.size; off += 64) {
    PrefetchLine(slot.bytes + off);
  }
}

size_t Cache::EndCycle(absl::FunctionRef<void(uint64_t cookie)> closed) {
  size_t count = 0;
  // Usually every connection was seen and nothing needs to be visited.
  if (rep_->observed != rep_->count) {
    rep_->stale.clear();
    for (const Slot& s : rep_->slots) {
      if (!s.empty() && s.cycle != rep_->cycle) rep_->stale.push_back(s.cookie);
    }
    for (uint64_t cookie : rep_->stale) {
      rep_->Erase(rep_->Find(cookie));
      closed(cookie);
      ++count;
    }
    if (rep_->stale.capacity() > 1024)
      std::vector<uint64_t>().swap(rep_->stale);
  }
  // Connections also leave by Remove() (destroy events).
  rep_->MaybeShrink();
  ++rep_->cycle;
  rep_->observed = 0;
  return count;
}

void Cache::RestartCycle() {
  ++rep_->cycle;
  rep_->observed = 0;
}

bool Cache::Remove(uint64_t cookie) {
  if (rep_->slots.empty()) return false;
  const size_t i = rep_->Find(cookie);
  if (rep_->slots[i].empty()) return false;
  if (rep_->slots[i].cycle == rep_->cycle) --rep_->observed;
  rep_->Erase(i);
  return true;
}

parse::RecordView Cache::Last(uint64_t cookie) const {
  if (rep_->slots.empty()) return {};
  const Slot& slot = rep_->slots[rep_->Find(cookie)];
  if (slot.empty()) return {};
  return Unpack(slot.packed());
}

size_t Cache::size() const { return rep_->count; }

}  // namespace cache
