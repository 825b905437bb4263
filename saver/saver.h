// Saver: writes each connection's snapshots into its archive files, the
// layout and format M-Lab's Go tcp-info writes:
//
//   <output>/YYYY/MM/DD/<uuid>.<sequence %05d>.jsonl.zst
//   uuid = <prefix>_<cookie as 16 upper-case hex digits>
//
// Line one of every file is the Metadata record (UUID, Sequence, StartTime).
// Sequence 0 is dated by the connection's first snapshot (UTC); after
// `rotation` a file is finished and sequence+1 starts, dated by the rotation.
// A file is finished, a complete zstd stream, as soon as Close() is called.
//
// Resources do not grow with connections: pending lines are buffered per
// connection and compressed into zstd frames by a small pool of contexts;
// each frame is appended to its file, which is then closed again. Frames
// reach the disk at least every `flush_interval`.
//
// Thread contract: all public methods are called from one thread (the
// collector's polling thread). The Saver may use internal threads.
// Errors while writing (disk full, directory gone) are counted in stats(),
// logged at a bounded rate, and never lose frames already written; writing
// resumes when the cause goes away.
#ifndef TCPINFO_SAVER_SAVER_H_
#define TCPINFO_SAVER_SAVER_H_

#include <cstdint>
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
};

struct Stats {
  uint64_t records_written = 0;  // snapshot lines accepted
  uint64_t files_created = 0;    // archive files started (any sequence)
  uint64_t write_errors = 0;     // failed writes or opens
  uint64_t bytes_written = 0;    // compressed bytes appended to files
  uint64_t connections = 0;      // connections with an unfinished file
  uint64_t open_files = 0;       // file descriptors held right now
};

class Saver {
 public:
  // Fails with a one-line InvalidArgument/FailedPrecondition if the output
  // directory does not exist, is not a directory, or is not writable.
  static absl::StatusOr<std::unique_ptr<Saver>> Create(const Options& options);
  virtual ~Saver() = default;

  // Appends a snapshot of connection `cookie`, taken at `timestamp`. The
  // first snapshot of a connection starts its sequence-0 file. Copies what
  // it needs from `record` before returning.
  virtual void Write(uint64_t cookie, parse::Timestamp timestamp,
                     const parse::RecordView& record) = 0;

  // The connection is gone: finishes its file now. Unknown cookies are
  // ignored. A later Write() of the same cookie starts a new sequence.
  virtual void Close(uint64_t cookie) = 0;

  // Periodic work, called at least once per polling cycle: flushes pending
  // frames older than the flush interval and rotates files older than the
  // rotation period.
  virtual void Tick(parse::Timestamp now) = 0;

  // Flushes and finishes every file (shutdown). The Saver stays usable.
  virtual void CloseAll() = 0;

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
