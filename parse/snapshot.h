// Snapshot: one archived record with its inet_diag_msg and attributes parsed
// into kernel structs, exactly as M-Lab's Go tcp-info (snapshot.Decode)
// parses them. csvtool prints Snapshots; other readers share them.
//
// The reference casts each attribute onto a Go struct over min(attribute
// length, struct size) bytes, zero-filling a shorter attribute. We do the
// same with copies, never reading past either buffer, and reproduce its
// bookkeeping:
//
//  - Observed has bit (t - 1) for every present attribute of type t, where
//    the reference's `uint32(1) << uint8(t-1)` leaves a bit: types 1..32
//    (and, as uint8 wraps, 257..288); type 0 and types 33..256 set none.
//  - NotFullyParsed has the same bit when the reference's parser says "not
//    ok": a struct attribute longer than the reference's Go struct
//    (tcp_info > 232 bytes, i.e. kernels from 6.2 on, which added
//    tcpi_rcv_wnd; bbr > 24; mem, vegas, dctcp > 16; skmeminfo > 36), a
//    one-byte attribute (tos, tclass,
//    shutdown, protocol, class id) that is empty, a mark that is not exactly
//    4 bytes, an empty congestion name, and every type the reference does
//    not decode (0, 11-14, 18 and above). A *shorter* struct attribute is
//    zero-filled and counts as fully parsed, as in the reference.
//  - Go's zero Timestamp (0001-01-01T00:00:00Z) becomes 2009-05-29T23:59:59Z,
//    the reference snapshot reader's stand-in.
//
// Plain value type; functions are thread-safe.
#ifndef TCPINFO_PARSE_SNAPSHOT_H_
#define TCPINFO_PARSE_SNAPSHOT_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "inetdiag/inet_diag.h"
#include "parse/record_view.h"
#include "parse/timestamp.h"
#include "tcp/tcp_info.h"

namespace parse {

// Sizes of the reference's Go structs, which decide NotFullyParsed.
// LinuxTCPInfo ends at tcpi_snd_wnd; Go pads BBRInfo{int64,3*uint32} to 24.
inline constexpr size_t kReferenceTcpInfoSize = 232;
inline constexpr size_t kReferenceBbrInfoSize = 24;

// The timestamp the reference gives records whose Timestamp is Go's zero.
inline constexpr Timestamp kZeroTimestampStandIn = {1243641599, 0, 0};

struct Snapshot {
  Timestamp timestamp;
  uint32_t observed = 0;
  uint32_t not_fully_parsed = 0;
  // The record carried Metadata (the first line of an archive file).
  bool has_metadata = false;

  // Each has_* flag says the attribute (or RawIDM) was present; the struct
  // then holds its first min(length, sizeof) bytes, the rest zero.
  bool has_idm = false;
  bool has_tcp_info = false;
  bool has_mem_info = false;
  bool has_sk_mem_info = false;
  bool has_vegas = false;
  bool has_dctcp = false;
  bool has_bbr = false;
  bool has_congestion_algorithm = false;
  bool has_tos = false;
  bool has_tclass = false;
  bool has_class_id = false;
  bool has_shutdown = false;
  bool has_protocol = false;
  bool has_mark = false;

  inetdiag::Msg idm{};
  tcp::TcpInfo tcp_info{};
  // Length of the INET_DIAG_INFO payload (tells which tcp_info fields the
  // kernel filled in).
  uint32_t tcp_info_length = 0;
  inetdiag::MemInfo mem_info{};
  inetdiag::SkMemInfo sk_mem_info{};
  inetdiag::VegasInfo vegas{};
  inetdiag::DctcpInfo dctcp{};
  inetdiag::BbrInfo bbr{};

  // INET_DIAG_CONG without its last byte (the kernel's NUL), as the
  // reference slices it.
  std::string congestion_algorithm;
  // Single-byte attributes: the first byte of the payload (the reference
  // reads INET_DIAG_CLASS_ID's u32 as its first byte, too).
  uint8_t tos = 0;
  uint8_t tclass = 0;
  uint8_t class_id = 0;
  uint8_t shutdown = 0;
  uint8_t protocol = 0;
  // INET_DIAG_MARK when exactly 4 bytes, else 0.
  uint32_t mark = 0;
};

// Decodes one record into `*out`, overwriting every field (and reusing the
// congestion_algorithm buffer). `raw_idm.data() == nullptr` means the record
// has no RawIDM; `attributes[t].data() == nullptr` means type t is absent,
// and attributes may be any length. Fails with InvalidArgument, as the
// reference does, when the record has neither RawIDM nor metadata, or a
// RawIDM shorter than an inet_diag_msg (a longer one is read like the
// reference: its first 72 bytes).
absl::Status DecodeSnapshot(Timestamp timestamp, absl::string_view raw_idm,
                            absl::Span<const absl::string_view> attributes,
                            bool has_metadata, Snapshot* out);

// The same for a split netlink message (no metadata, Go's zero timestamp
// unless given).
absl::Status DecodeSnapshot(Timestamp timestamp, const RecordView& record,
                            Snapshot* out);

}  // namespace parse

#endif  // TCPINFO_PARSE_SNAPSHOT_H_
