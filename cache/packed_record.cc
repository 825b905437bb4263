#include "cache/packed_record.h"

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tcp/tcp_info.h"

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

bool UnchangedSincePacked(absl::string_view packed,
                          const parse::RecordView& current) {
  // The same rules as parse::Compare, decided only as changed / unchanged:
  // equal state, INFO on both sides with equal bytes where they matter, and
  // every other attribute present on both sides with equal bytes or absent
  // on both.
  constexpr size_t kState = offsetof(inetdiag::Msg, state);
  constexpr size_t kLastDataSent = offsetof(tcp::TcpInfo, last_data_sent);
  constexpr size_t kPmtu = offsetof(tcp::TcpInfo, pmtu);
  constexpr size_t kBusyTime = offsetof(tcp::TcpInfo, busy_time);
  auto range = [](absl::string_view b, size_t begin, size_t end) {
    return b.size() <= begin ? absl::string_view()
                             : b.substr(begin, end - begin);
  };

  if (packed.size() < kHeaderSize) return false;
  const size_t idm_size = GetU32(packed.data());
  const int slots = static_cast<unsigned char>(packed[4]);
  if (slots != current.attribute_slots ||
      idm_size > packed.size() - kHeaderSize) {
    return false;
  }
  const absl::string_view idm = packed.substr(kHeaderSize, idm_size);
  const bool had_state = idm.size() > kState;
  if (had_state != (current.raw_idm.size() > kState) ||
      (had_state && idm[kState] != current.raw_idm[kState])) {
    return false;
  }
  bool info_seen = false;
  int next = 0;  // types below `next` are checked
  size_t off = kHeaderSize + idm_size;
  while (packed.size() - off >= kAttributeHeader) {
    const int type = static_cast<unsigned char>(packed[off]);
    const size_t size = GetU32(packed.data() + off + 1);
    off += kAttributeHeader;
    if (size > packed.size() - off || type >= slots) return false;
    const absl::string_view was = packed.substr(off, size);
    off += size;
    for (; next < type; ++next) {
      if (current.attributes[next].data() != nullptr) return false;
    }
    next = type + 1;
    const absl::string_view is = current.attributes[type];
    if (is.data() == nullptr) return false;
    if (type == inetdiag::kInfo) {
      if (range(was, kPmtu, kBusyTime) != range(is, kPmtu, kBusyTime) ||
          range(was, 0, kLastDataSent) != range(is, 0, kLastDataSent)) {
        return false;
      }
      info_seen = true;
    } else if (was != is) {
      return false;
    }
  }
  for (; next < slots; ++next) {
    if (current.attributes[next].data() != nullptr) return false;
  }
  return info_seen;
}

}  // namespace cache
