#include "cache/packed_record.h"

#include <cstdint>
#include <cstring>

namespace cache {
namespace {

constexpr size_t kHeaderSize = 4 + 1;       // idm size, attribute_slots
constexpr size_t kAttributeHeader = 1 + 4;  // type, size

void PutU32(uint32_t v, char** out) {
  std::memcpy(*out, &v, 4);
  *out += 4;
}

uint32_t GetU32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace

size_t PackedSize(const parse::RecordView& record) {
  size_t size = kHeaderSize + record.raw_idm.size();
  for (int t = 0; t < record.attribute_slots; ++t) {
    if (record.Has(t)) size += kAttributeHeader + record.attributes[t].size();
  }
  return size;
}

void Pack(const parse::RecordView& record, char* out) {
  PutU32(static_cast<uint32_t>(record.raw_idm.size()), &out);
  *out++ = static_cast<char>(record.attribute_slots);
  std::memcpy(out, record.raw_idm.data(), record.raw_idm.size());
  out += record.raw_idm.size();
  for (int t = 0; t < record.attribute_slots; ++t) {
    if (!record.Has(t)) continue;
    const absl::string_view a = record.attributes[t];
    *out++ = static_cast<char>(t);
    PutU32(static_cast<uint32_t>(a.size()), &out);
    // memcpy from a present-but-empty view is fine; its data() is not null.
    std::memcpy(out, a.data(), a.size());
    out += a.size();
  }
}

parse::RecordView Unpack(absl::string_view packed) {
  parse::RecordView view;
  if (packed.size() < kHeaderSize) return view;
  const size_t idm_size = GetU32(packed.data());
  const int slots = static_cast<unsigned char>(packed[4]);
  size_t off = kHeaderSize;
  if (idm_size > packed.size() - off) return view;
  view.raw_idm = packed.substr(off, idm_size);
  off += idm_size;
  view.attribute_slots =
      slots < parse::kMaxAttributeSlots ? slots : parse::kMaxAttributeSlots;
  while (packed.size() - off >= kAttributeHeader) {
    const int type = static_cast<unsigned char>(packed[off]);
    const size_t size = GetU32(packed.data() + off + 1);
    off += kAttributeHeader;
    if (size > packed.size() - off) break;
    if (type < view.attribute_slots) {
      view.attributes[type] = packed.substr(off, size);
    }
    off += size;
  }
  return view;
}

}  // namespace cache
