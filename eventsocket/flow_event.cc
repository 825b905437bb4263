#include "eventsocket/flow_event.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "parse/json_string.h"

namespace eventsocket {

void FlowEvent::SetUuid(absl::string_view value) {
  uuid_length = static_cast<uint8_t>(std::min(value.size(), kMaxUuidLength));
  std::memcpy(uuid, value.data(), uuid_length);
}

void FlowEvent::SetNetns(absl::string_view value) {
  netns_length = static_cast<uint8_t>(std::min(value.size(), kMaxNetnsLength));
  // An empty view may hold no pointer at all (memcpy's null is undefined).
  if (netns_length > 0) std::memcpy(netns, value.data(), netns_length);
}

namespace {

void AppendDottedQuad(const uint8_t* b, std::string* out) {
  absl::StrAppend(out, b[0], ".", b[1], ".", b[2], ".", b[3]);
}

// Go's net.IP.String() for 16 bytes that are not IPv4-mapped.
void AppendIpv6(const uint8_t* b, std::string* out) {
  // The longest run of zero groups; a run of one group is not shortened.
  int best_start = -1, best_end = -1;
  for (int i = 0; i < 16; i += 2) {
    int j = i;
    while (j < 16 && b[j] == 0 && b[j + 1] == 0) j += 2;
    if (j > i && j - i > best_end - best_start) {
      best_start = i;
      best_end = j;
    }
    if (j > i) i = j - 2;
  }
  if (best_end - best_start <= 2) best_start = best_end = -1;
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 16; i += 2) {
    if (i == best_start) {
      out->append("::");
      i = best_end - 2;
      continue;
    }
    if (i > 0 && i != best_end) out->push_back(':');
    const unsigned group = b[i] << 8 | b[i + 1];
    bool leading = true;
    for (int shift = 12; shift >= 0; shift -= 4) {
      const unsigned digit = (group >> shift) & 0xf;
      if (leading && digit == 0 && shift > 0) continue;
      leading = false;
      out->push_back(kHex[digit]);
    }
  }
}

}  // namespace

void AppendGoIp(const uint32_t address[4], std::string* out) {
  uint8_t b[16];
  std::memcpy(b, address, 16);
  if (std::all_of(b + 4, b + 16, [](uint8_t x) { return x == 0; })) {
    AppendDottedQuad(b, out);
    return;
  }
  static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0,    0,
                                                0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(b, kMappedPrefix, 12) == 0) {
    AppendDottedQuad(b + 12, out);
    return;
  }
  AppendIpv6(b, out);
}

namespace {

// The optional last field, and the line's end.
void AppendNetns(const FlowEvent& event, std::string* out) {
  if (event.netns_length > 0) {
    out->append(",\"Netns\":");
    parse::AppendJsonString(event.Netns(), out);
  }
  out->append("}\n");
}

}  // namespace

void AppendJsonLine(const FlowEvent& event, std::string* out) {
  absl::StrAppend(out, "{\"Event\":", static_cast<int>(event.type),
                  ",\"Timestamp\":\"");
  parse::AppendRfc3339(event.timestamp, out);
  out->append("\",\"UUID\":");
  parse::AppendJsonString(event.Uuid(), out);
  if (event.type != EventType::kOpen) {
    out->append(",\"ID\":null");
    AppendNetns(event, out);
    return;
  }
  const inetdiag::SockId& id = event.id;
  absl::StrAppend(out, ",\"ID\":{\"SPort\":", ntohs(id.sport_be),
                  ",\"DPort\":", ntohs(id.dport_be), ",\"SrcIP\":\"");
  AppendGoIp(id.src, out);
  out->append("\",\"DstIP\":\"");
  AppendGoIp(id.dst, out);
  // The reference reads the (host-order) interface index as big-endian and
  // the cookie as a signed int64; we write what it writes.
  absl::StrAppend(out, "\",\"Interface\":", ntohl(id.interface),
                  ",\"Cookie\":", static_cast<int64_t>(inetdiag::Cookie(id)),
                  "}");
  if (event.has_owner) {
    const EventOwner& o = event.owner;
    absl::StrAppend(out, ",\"Owner\":{\"PID\":", o.pid, ",\"Comm\":");
    parse::AppendJsonString(o.comm.view(), out);
    absl::StrAppend(out, ",\"UID\":", o.uid, ",\"User\":");
    parse::AppendJsonString(o.user.view(), out);
    out->append(",\"Container\":");
    parse::AppendJsonString(o.container.view(), out);
    out->append(",\"Unit\":");
    parse::AppendJsonString(o.unit.view(), out);
    out->push_back('}');
  }
  AppendNetns(event, out);
}

}  // namespace eventsocket
