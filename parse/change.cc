#include "parse/change.h"

#include <cstddef>

#include "tcp/tcp_info.h"

namespace parse {
namespace {

constexpr size_t kLastDataSent = offsetof(tcp::TcpInfo, last_data_sent);
constexpr size_t kPmtu = offsetof(tcp::TcpInfo, pmtu);
constexpr size_t kBusyTime = offsetof(tcp::TcpInfo, busy_time);
constexpr size_t kStateOffset = offsetof(inetdiag::Msg, state);

// The bytes [begin, end) of `bytes`, clipped to what it holds.
absl::string_view Range(absl::string_view bytes, size_t begin, size_t end) {
  if (bytes.size() <= begin) return {};
  return bytes.substr(begin, end - begin);
}

// Whether [begin, end) differs; a byte one side lacks differs from any.
bool RangeDiffers(absl::string_view a, absl::string_view b, size_t begin,
                  size_t end) {
  return Range(a, begin, end) != Range(b, begin, end);
}

// The inet_diag state byte, or -1 if raw_idm is too short to hold it.
int State(const RecordView& record) {
  if (record.raw_idm.size() <= kStateOffset) return -1;
  return static_cast<unsigned char>(record.raw_idm[kStateOffset]);
}

}  // namespace

const char* ChangeName(Change change) {
  switch (change) {
    case Change::kNone:
      return "none";
    case Change::kNew:
      return "new";
    case Change::kStateChange:
      return "state";
    case Change::kNoTcpInfo:
      return "no_tcp_info";
    case Change::kCounterChange:
      return "counters";
    case Change::kNewAttribute:
      return "new_attribute";
    case Change::kLostAttribute:
      return "lost_attribute";
    case Change::kAttributeLength:
      return "attribute_length";
    case Change::kOther:
      return "other";
  }
  return "unknown";
}

Change Compare(const RecordView& previous, const RecordView& current) {
  if (State(previous) != State(current)) return Change::kStateChange;
  if (!previous.Has(inetdiag::kInfo) || !current.Has(inetdiag::kInfo)) {
    return Change::kNoTcpInfo;
  }
  const absl::string_view a = previous.attributes[inetdiag::kInfo];
  const absl::string_view b = current.attributes[inetdiag::kInfo];
  // The packet, byte and segment counters first: they are what usually moves.
  if (RangeDiffers(a, b, kPmtu, kBusyTime) ||
      RangeDiffers(a, b, 0, kLastDataSent)) {
    return Change::kCounterChange;
  }
  if (previous.attribute_slots < current.attribute_slots) {
    return Change::kNewAttribute;
  }
  if (previous.attribute_slots > current.attribute_slots) {
    return Change::kLostAttribute;
  }
  for (int t = 0; t < previous.attribute_slots; ++t) {
    if (t == inetdiag::kInfo) continue;
    const absl::string_view pa = previous.attributes[t];
    const absl::string_view ca = current.attributes[t];
    const bool had = pa.data() != nullptr, has = ca.data() != nullptr;
    if (!had && !has) continue;
    if (!had) return Change::kNewAttribute;
    if (!has) return Change::kLostAttribute;
    if (pa.size() != ca.size()) return Change::kAttributeLength;
    if (pa != ca) return Change::kOther;
  }
  return Change::kNone;
}

}  // namespace parse
