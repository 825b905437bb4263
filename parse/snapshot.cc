#include "parse/snapshot.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace parse {
namespace {

// Copies min(payload size, sizeof(T)) bytes into a zeroed *out. Returns the
// reference's "ok": the payload is not longer than the reference's struct
// (`reference_size`, which may differ from sizeof(T) by Go's padding).
template <typename T>
bool CopyStruct(absl::string_view payload, size_t reference_size, T* out) {
  *out = T{};
  std::memcpy(out, payload.data(), std::min(payload.size(), sizeof(T)));
  return payload.size() <= reference_size;
}

// The reference's toUint8: the first byte, not ok when empty.
bool FirstByte(absl::string_view payload, uint8_t* out) {
  if (payload.empty()) {
    *out = 0;
    return false;
  }
  *out = static_cast<uint8_t>(payload[0]);
  return true;
}

// Decodes attribute `type` into `s`; returns the reference's "ok".
bool DecodeAttribute(size_t type, absl::string_view payload, Snapshot* s) {
  switch (type) {
    case inetdiag::kMemInfo:
      s->has_mem_info = true;
      return CopyStruct(payload, sizeof(inetdiag::MemInfo), &s->mem_info);
    case inetdiag::kInfo:
      s->has_tcp_info = true;
      s->tcp_info_length = static_cast<uint32_t>(payload.size());
      return CopyStruct(payload, kReferenceTcpInfoSize, &s->tcp_info);
    case inetdiag::kVegasInfo:
      s->has_vegas = true;
      return CopyStruct(payload, sizeof(inetdiag::VegasInfo), &s->vegas);
    case inetdiag::kCong:
      s->has_congestion_algorithm = true;
      // The reference slices off the last byte; an empty payload makes it
      // panic, we keep "" and call it not fully parsed.
      if (payload.empty()) return false;
      s->congestion_algorithm.assign(payload.data(), payload.size() - 1);
      return true;
    case inetdiag::kTos:
      s->has_tos = true;
      return FirstByte(payload, &s->tos);
    case inetdiag::kTClass:
      s->has_tclass = true;
      return FirstByte(payload, &s->tclass);
    case inetdiag::kSkMemInfo:
      s->has_sk_mem_info = true;
      return CopyStruct(payload, sizeof(inetdiag::SkMemInfo), &s->sk_mem_info);
    case inetdiag::kShutdown:
      s->has_shutdown = true;
      return FirstByte(payload, &s->shutdown);
    case inetdiag::kDctcpInfo:
      s->has_dctcp = true;
      return CopyStruct(payload, sizeof(inetdiag::DctcpInfo), &s->dctcp);
    case inetdiag::kProtocol:
      s->has_protocol = true;
      return FirstByte(payload, &s->protocol);
    case inetdiag::kMark:
      s->has_mark = true;
      if (payload.size() != sizeof(uint32_t)) {
        s->mark = 0;
        return false;
      }
      std::memcpy(&s->mark, payload.data(), sizeof(uint32_t));
      return true;
    case inetdiag::kBbrInfo:
      s->has_bbr = true;
      return CopyStruct(payload, kReferenceBbrInfoSize, &s->bbr);
    case inetdiag::kClassId:
      s->has_class_id = true;
      return FirstByte(payload, &s->class_id);
    default:
      // NONE, SKV6ONLY, LOCALS, PEERS, PAD, MD5SIG and anything newer: the
      // reference only logs them.
      return false;
  }
}

// The reference's `uint32(1) << uint8(t-1)`: Go shifts of 32 or more give 0.
uint32_t ObservedBit(size_t type) {
  const uint8_t shift = static_cast<uint8_t>(type - 1);
  return shift < 32 ? uint32_t{1} << shift : 0;
}

}  // namespace

absl::Status DecodeSnapshot(Timestamp timestamp, absl::string_view raw_idm,
                            absl::Span<const absl::string_view> attributes,
                            bool has_metadata, Snapshot* out) {
  if (raw_idm.data() == nullptr && !has_metadata) {
    return absl::InvalidArgumentError("record has neither RawIDM nor Metadata");
  }
  if (raw_idm.data() != nullptr && raw_idm.size() < sizeof(inetdiag::Msg)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RawIDM is ", raw_idm.size(), " bytes, want ", sizeof(inetdiag::Msg)));
  }
  std::string congestion = std::move(out->congestion_algorithm);
  congestion.clear();
  *out = Snapshot{};
  out->congestion_algorithm = std::move(congestion);
  // Only Go's zero time itself (in UTC) is replaced, as with the
  // reference's `==` on time.Time.
  out->timestamp = timestamp.IsGoZero() && timestamp.utc_offset_minutes == 0
                       ? kZeroTimestampStandIn
                       : timestamp;
  out->has_metadata = has_metadata;
  if (raw_idm.data() != nullptr) {
    out->has_idm = true;
    std::memcpy(&out->idm, raw_idm.data(), sizeof(inetdiag::Msg));
  }
  for (size_t t = 0; t < attributes.size(); ++t) {
    const absl::string_view payload = attributes[t];
    if (payload.data() == nullptr) continue;
    const bool ok = DecodeAttribute(t, payload, out);
    const uint32_t bit = ObservedBit(t);
    out->observed |= bit;
    if (!ok) out->not_fully_parsed |= bit;
  }
  return absl::OkStatus();
}

absl::Status DecodeSnapshot(Timestamp timestamp, const RecordView& record,
                            Snapshot* out) {
  return DecodeSnapshot(
      timestamp, record.raw_idm,
      absl::MakeConstSpan(record.attributes.data(), record.attribute_slots),
      /*has_metadata=*/false, out);
}

}  // namespace parse
