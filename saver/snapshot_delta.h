// SnapshotDelta: a connection's pending snapshot stored as the bytes in
// which it differs from the one before it, so that a second of snapshots of
// a busy connection waits for the writer in a fraction of its size (a
// streaming socket changes about a third of its packed record from one cycle
// to the next: counters, RTT, rates, memory).
//
// A delta is a sequence of runs over two byte strings of equal size:
//   u16 gap (bytes equal to the previous snapshot's, kept),
//   u16 length, then `length` bytes that replace the previous snapshot's;
// the bytes after the last run are kept. AppendDelta ends a run at 8 equal
// bytes in a row (a shorter gap costs less as literal bytes than a new run
// header); ApplyDelta takes any runs.
//
// Plain functions, thread-safe.
#ifndef TCPINFO_SAVER_SNAPSHOT_DELTA_H_
#define TCPINFO_SAVER_SNAPSHOT_DELTA_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace saver {

// Appends to `out` the delta that turns `previous` into `current` and
// returns true, if it is shorter than `max_size`; otherwise (or if the
// sizes differ, or exceed 65,535 bytes) appends nothing and returns false.
bool AppendDelta(absl::string_view previous, absl::string_view current,
                 size_t max_size, std::string* out);

// Applies `delta` to `bytes` in place (turning the previous snapshot into
// the next). Returns false, with `bytes` partly updated, if the delta does
// not fit `bytes` (it was not made from a string of this size).
bool ApplyDelta(absl::string_view delta, std::string* bytes);

}  // namespace saver

#endif  // TCPINFO_SAVER_SNAPSHOT_DELTA_H_
