// Saver: writes each connection's snapshots into its archive files, the
// layout and format M-Lab's Go tcp-info writes:
//
//   <output>/YYYY/MM/DD/<uuid>.<sequence %05d>.jsonl.zst
//   uuid = <prefix>_<cookie as 16 upper-case hex digits>
//
// Line one of every file is the Metadata record (UUID, Sequence, StartTime).
// Sequence 0 is dated by the connection's first snapshot (UTC); once a
// snapshot comes `rotation` or more after the current file was started, that
// file is finished and sequence+1 starts, dated by that snapshot. A file's
// age is measured on the monotonic clock, as the reference's is (Go compares
// time.Now() with a deadline on their monotonic readings): a step of the
// wall clock, back or forward by any amount, neither rotates a file nor
// keeps it open longer; the snapshots' timestamps (and so the dates of files
// started after the step) follow the wall clock. Every file's metadata
// carries the connection's first sighting as StartTime, as the reference
// does. Close() hands a connection's last frame to the writer
// at once; the file is finished, a complete zstd stream, as soon as the
// writer has appended it (WaitForWriter() waits for that). A file appears
// with its first frame, so every file holds its metadata and at least one
// snapshot. Should a file already exist and not be empty (the daemon
// restarted within one boot), frames are appended to it without a second
// metadata line; before the first of them the file is cut back to the end of
// its last complete frame, so that a frame a killed predecessor left half
// written cannot make the new ones undecodable (counted in repaired_files;
// a file whose metadata frame was cut gets its metadata line again).
//
// Resources do not grow with connections: pending snapshots of all
// connections are appended, in packed binary form (cache/packed_record.h;
// after a connection's first in the batch, as the delta against that first
// one when it is a quarter smaller or more: saver/snapshot_delta.h, about a
// third of the size for a streaming connection), to one shared batch
// buffer, each connection's threaded as a list. Once the
// batch's first snapshot is `flush_interval` old (or the batch reaches
// `batch_bytes`) it goes to a single writer thread, which turns each
// connection's snapshots into JSON lines, compresses them into one zstd
// frame with its one context, appends the frame to the file (open O_APPEND,
// write, close) and forgets the file. A file is thus a concatenation of
// frames, one zstd stream that `zstd -dc` reads. At most one descriptor is
// open at a time; the polling thread keeps 56 bytes per connection. Memory
// for pending and queued snapshots is bounded by `max_buffered_bytes`
// (beyond it snapshots are dropped and counted), so a slow disk never
// blocks or grows the polling thread.
//
// Thread contract: all public methods are called from one thread (the
// collector's polling thread). The Saver uses one internal writer thread.
// Errors while writing (disk full, directory gone, read-only) are counted in
// stats(), logged at a bounded rate (once per 10 s), and never damage frames
// already written: a failed or short write is truncated away (should even
// that fail, the file is checked and cut like a predecessor's before its
// next frame). The frame's snapshots are dropped (counted); writing resumes
// when the cause goes away, re-creating the YYYY/MM/DD directories if they
// were removed.
#ifndef TCPINFO_SAVER_SAVER_H_
#define TCPINFO_SAVER_SAVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "parse/record_view.h"
#include "parse/timestamp.h"

namespace saver {

struct Options {
  std::string output_dir;   // must exist and be writable
  std::string uuid_prefix;  // e.g. "host_1553815964_unsafe"
  absl::Duration rotation = absl::Minutes(10);
  absl::Duration flush_interval = absl::Seconds(1);
  // zstd level of every frame. Level 3 compresses these small frames no
  // better than 1 and costs up to 30 % more CPU (bench/saver_bench).
  int compression_level = 1;
  // Pending snapshots are handed to the writer early once they total this
  // (at most 1 GiB).
  size_t batch_bytes = size_t{8} << 20;
  // Bound on snapshots held in memory, pending plus queued for the writer.
  size_t max_buffered_bytes = size_t{64} << 20;
  // The monotonic clock files' ages are measured on (any epoch), read once
  // per Write() on the polling thread. Empty: CLOCK_MONOTONIC. Tests
  // substitute their own.
  std::function<absl::Duration()> monotonic_clock;
};

struct Stats {
  uint64_t records_written = 0;  // snapshot lines accepted
  uint64_t files_created = 0;    // archive files started (any sequence)
  uint64_t write_errors = 0;     // failed writes or opens
  uint64_t bytes_written = 0;    // compressed bytes appended to files
  uint64_t connections = 0;      // connections with an unfinished file
  uint64_t open_files = 0;       // file descriptors held right now
  uint64_t frames_written = 0;   // zstd frames appended
  uint64_t repaired_files = 0;   // files cut back to their last complete
                                 // frame before appending (a predecessor
                                 // was killed while writing)
  uint64_t records_dropped = 0;  // snapshots lost to write errors or the
                                 // memory bound
  uint64_t buffered_bytes = 0;   // pending + queued snapshot bytes
};

class Saver {
 public:
  // Fails with a one-line InvalidArgument/FailedPrecondition if the output
  // directory does not exist, is not a directory, or is not writable, or if
  // an option is out of range (empty prefix, non-positive durations).
  static absl::StatusOr<std::unique_ptr<Saver>> Create(const Options& options);
  // Finishes every file (as CloseAll) and stops the writer thread.
  virtual ~Saver() = default;

  // Appends a snapshot of connection `cookie`, taken at `timestamp`. The
  // first snapshot of a connection starts its sequence-0 file. Copies what
  // it needs from `record` before returning.
  virtual void Write(uint64_t cookie, parse::Timestamp timestamp,
                     const parse::RecordView& record) = 0;

  // The connection is gone: hands its last frame to the writer now. Unknown
  // cookies are ignored. A later Write() of the same cookie starts a new
  // sequence (remembered for the last 4096 closed connections).
  virtual void Close(uint64_t cookie) = 0;

  // Periodic work, called at least once per polling cycle: flushes pending
  // frames older than the flush interval and rotates files older than the
  // rotation period.
  virtual void Tick(parse::Timestamp now) = 0;

  // Flushes and finishes every file (shutdown) and waits until they are on
  // disk. The Saver stays usable.
  virtual void CloseAll() = 0;

  // Hands every pending snapshot to the writer and waits until all of them
  // are on disk (or failed). Files stay open for more snapshots.
  virtual void Flush() = 0;

  // Waits until everything already handed to the writer is on disk, without
  // handing over pending snapshots (tests use it to observe Tick()).
  virtual void WaitForWriter() = 0;

  // The archive uuid of `cookie` (whether or not it is open).
  virtual std::string Uuid(uint64_t cookie) const = 0;

  virtual Stats stats() const = 0;
};

// "<prefix>_<cookie as %016X>".
std::string FormatUuid(const std::string& prefix, uint64_t cookie);

// The default uuid prefix: "<hostname>_<boot time, unix seconds>_unsafe",
// the boot time read from /proc/stat's btime.
absl::StatusOr<std::string> DefaultUuidPrefix();

// "<output>/YYYY/MM/DD/<uuid>.<sequence %05d>.jsonl.zst", date in UTC.
std::string ArchivePath(const std::string& output_dir, parse::Timestamp start,
                        const std::string& uuid, int64_t sequence);

}  // namespace saver

#endif  // TCPINFO_SAVER_SAVER_H_
