// PackedRecord: the bytes of one RecordView (the inet_diag_msg and every
// present attribute) laid end to end in a single buffer, about as long as the
// netlink message itself. It is how the cache keeps each connection's last
// snapshot and how the saver queues snapshots for its writer thread: one
// allocation-free copy per record instead of an owning ArchivalRecord.
//
// Layout (native byte order, no alignment):
//   u32 idm size, u8 attribute_slots, idm bytes,
//   then per present attribute in increasing type: u8 type, u32 size, bytes.
//
// Plain functions, thread-safe.
#ifndef TCPINFO_CACHE_PACKED_RECORD_H_
#define TCPINFO_CACHE_PACKED_RECORD_H_

#include <cstddef>

#include "absl/strings/string_view.h"
#include "parse/record_view.h"

namespace cache {

// The number of bytes Pack() writes for `record`.
size_t PackedSize(const parse::RecordView& record);

// Writes `record` into out[0, PackedSize(record)).
void Pack(const parse::RecordView& record, char* out);

// A view of the record packed in `packed` (pointing into it). Never reads
// past `packed`: a truncated buffer yields the attributes it fully holds.
parse::RecordView Unpack(absl::string_view packed);

// Whether parse::Compare(Unpack(packed), current) is kNone, found in one
// pass over `packed` without building a view: the hot path for a socket that
// did not change. REQUIRES: `packed` was produced by Pack().
bool UnchangedSincePacked(absl::string_view packed,
                          const parse::RecordView& current);

}  // namespace cache

#endif  // TCPINFO_CACHE_PACKED_RECORD_H_
