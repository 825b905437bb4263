// FlowEvent: one open or close event of the event socket, and its JSON line
// exactly as the Go reference's eventsocket server writes it (json.Marshal of
// its FlowEvent, then '\n'):
//
//   {"Event":0,"Timestamp":"2026-11-22T01:26:45.264601601Z","UUID":"host_1_unsafe_00000000000013FD",
//    "ID":{"SPort":38064,"DPort":5001,"SrcIP":"10.77.0.2","DstIP":"10.77.0.1","Interface":0,"Cookie":5117}}
//   {"Event":1,"Timestamp":"2026-11-22T01:26:46.534682908Z","UUID":"host_1_unsafe_00000000000013FE","ID":null}
//
// (each on one line). With -owners an open event also carries its owner as
// far as it is known when the connection is first seen, after "ID":
//
//   ...,"Cookie":5117},"Owner":{"PID":4242,"Comm":"curl","UID":1000,
//    "User":"alice","Container":"","Unit":"session-2.scope"}}
//
// (PID 0 and UID 4294967295 when unknown). Clients that ignore unknown
// fields, as Go's encoding/json does, read the events as before. The ID fields
// follow the reference's inetdiag.SockID, quirks included: ports in host order,
// addresses as Go's net.IP.String() writes them (an address whose bytes 4..15
// are all zero is written as IPv4), Interface read big-endian from the kernel's
// host-order field, and Cookie as a signed int64.
//
// With -netns an event also names the connection's network namespace, as a
// last field "Netns" (a string) after "ID"; without it the line is the
// reference's, byte for byte.
//
// Plain value types and pure functions; thread-safe.
#ifndef TCPINFO_EVENTSOCKET_FLOW_EVENT_H_
#define TCPINFO_EVENTSOCKET_FLOW_EVENT_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"
#include "inetdiag/inet_diag.h"
#include "parse/record_view.h"
#include "parse/timestamp.h"

namespace eventsocket {

// The reference's TCPEvent values.
enum class EventType : uint8_t { kOpen = 0, kClose = 1 };

// Longest uuid an event carries; longer ones are cut (a uuid is
// "<hostname>_<boot seconds>_unsafe_<16 hex>", at most 99 bytes).
inline constexpr size_t kMaxUuidLength = 128;
// Longest namespace name an event carries; longer ones are cut (names in
// /run/netns are short: CNI's are 40 bytes).
inline constexpr size_t kMaxNetnsLength = 64;

// A fixed-size, NUL-terminated copy of a string, cut to N - 1 bytes.
template <size_t N>
struct FixedText {
  char text[N] = {};
  void Set(absl::string_view value) {
    const size_t n = std::min(value.size(), N - 1);
    std::memcpy(text, value.data(), n);
    text[n] = '\0';
  }
  absl::string_view view() const { return text; }
};

// The owner of an open event's socket (-owners): fixed-size, for the queue.
struct EventOwner {
  uint32_t pid = 0;            // 0 unknown
  uint32_t uid = 0xFFFFFFFFu;  // unknown
  FixedText<16> comm;
  FixedText<33> user;
  FixedText<65> container;
  FixedText<97> unit;
};

// What names an open event's owner (the owners layer). Called on the
// polling thread; must not block. Returns false to send no owner.
class EventOwnerSource {
 public:
  virtual ~EventOwnerSource() = default;
  virtual bool OwnerAtOpen(uint64_t cookie, const parse::RecordView& first,
                           EventOwner* owner) = 0;
};

// One event, fixed-size so that it can be queued without allocating.
struct FlowEvent {
  EventType type = EventType::kOpen;
  parse::Timestamp timestamp;
  inetdiag::SockId id{};  // the raw kernel id; only written for kOpen
  uint8_t uuid_length = 0;
  char uuid[kMaxUuidLength];
  bool has_owner = false;  // kOpen only
  EventOwner owner;

  uint8_t netns_length = 0;  // 0: no "Netns" field
  char netns[kMaxNetnsLength];

  absl::string_view Uuid() const { return {uuid, uuid_length}; }
  // Sets the uuid, cut to kMaxUuidLength bytes.
  void SetUuid(absl::string_view value);
  absl::string_view Netns() const { return {netns, netns_length}; }
  // Sets the namespace, cut to kMaxNetnsLength bytes.
  void SetNetns(absl::string_view value);
};

// Appends `event` as one JSON line, '\n' included.
void AppendJsonLine(const FlowEvent& event, std::string* out);

// Appends an inet_diag address (16 bytes, network order) as Go's
// inetdiag.SockID.SrcIP/DstIP strings: IPv4 dotted quad when bytes 4..15
// are zero, else Go's net.IP.String() of the 16 bytes (IPv4-mapped written
// dotted, otherwise RFC 5952 hex with the longest run of two or more zero
// groups, the first on ties, replaced by "::").
void AppendGoIp(const uint32_t address[4], std::string* out);

}  // namespace eventsocket

#endif  // TCPINFO_EVENTSOCKET_FLOW_EVENT_H_
