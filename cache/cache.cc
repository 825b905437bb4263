#include "cache/cache.h"

#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "cache/packed_record.h"

namespace cache {
namespace {

// One connection: its last stored snapshot, packed, in a buffer that is
// reused while the snapshot fits. 24 bytes plus the buffer.
struct Entry {
  std::unique_ptr<char[]> bytes;
  uint32_t size = 0;
  uint32_t capacity = 0;
  uint64_t cycle = 0;  // the last cycle it was observed in

  absl::string_view packed() const { return {bytes.get(), size}; }

  void Store(const parse::RecordView& record) {
    const size_t size_needed = PackedSize(record);
    if (size_needed > capacity) {
      // Round up so that a few more bytes next time do not reallocate.
      capacity = static_cast<uint32_t>((size_needed + 31) & ~size_t{31});
      bytes.reset(new char[capacity]);
    }
    Pack(record, bytes.get());
    size = static_cast<uint32_t>(size_needed);
  }
};

}  // namespace

struct Cache::Rep {
  absl::flat_hash_map<uint64_t, Entry> entries;
  uint64_t cycle = 1;
  size_t observed = 0;  // distinct entries observed in `cycle`
};

Cache::Cache() : rep_(std::make_unique<Rep>()) {}
Cache::~Cache() = default;

parse::Change Cache::Observe(const parse::RecordView& record) {
  auto [it, inserted] = rep_->entries.try_emplace(record.Cookie());
  Entry& entry = it->second;
  if (entry.cycle != rep_->cycle) {
    entry.cycle = rep_->cycle;
    ++rep_->observed;
  }
  if (inserted) {
    entry.Store(record);
    return parse::Change::kNew;
  }
  if (UnchangedSincePacked(entry.packed(), record)) {
    return parse::Change::kNone;
  }
  // Changed: find out why, and keep the new snapshot.
  const parse::Change change = parse::Compare(Unpack(entry.packed()), record);
  if (change != parse::Change::kNone) entry.Store(record);
  return change;
}

void Cache::Prefetch(uint64_t cookie) const { rep_->entries.prefetch(cookie); }

size_t Cache::EndCycle(absl::FunctionRef<void(uint64_t cookie)> closed) {
  size_t count = 0;
  // Usually every connection was seen and nothing needs to be visited.
  if (rep_->observed != rep_->entries.size()) {
    for (auto it = rep_->entries.begin(); it != rep_->entries.end();) {
      if (it->second.cycle == rep_->cycle) {
        ++it;
        continue;
      }
      const uint64_t cookie = it->first;
      rep_->entries.erase(it++);
      closed(cookie);
      ++count;
    }
  }
  ++rep_->cycle;
  rep_->observed = 0;
  return count;
}

bool Cache::Remove(uint64_t cookie) {
  auto it = rep_->entries.find(cookie);
  if (it == rep_->entries.end()) return false;
  if (it->second.cycle == rep_->cycle) --rep_->observed;
  rep_->entries.erase(it);
  return true;
}

parse::RecordView Cache::Last(uint64_t cookie) const {
  auto it = rep_->entries.find(cookie);
  if (it == rep_->entries.end()) return {};
  return Unpack(it->second.packed());
}

size_t Cache::size() const { return rep_->entries.size(); }

}  // namespace cache
