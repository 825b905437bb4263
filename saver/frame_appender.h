// FrameAppender: appends one zstd frame to an archive file and closes it
// again, so that no descriptor is held between frames. A file written this
// way is a concatenation of complete frames, which zstd readers decode as one
// stream.
//
// Failure contract: a frame is either appended whole or not at all. If a
// write fails or is short (disk full, I/O error) the file is truncated back
// to its size before the frame, so the frames already in it stay decodable.
// A missing date directory (removed while running) is created again.
//
// Repair contract: a file may end in part of a frame that this process did
// not write: the previous process was killed (SIGKILL, OOM, power loss) in
// the middle of a write. A frame appended after such a tail could never be
// decoded. So before the first frame a process appends to a file (the
// caller says which one that is), and before the next frame to a file whose
// earlier append failed in a way that may have left part of a frame, the
// file is cut back to the end of its last complete frame. That check reads
// the file, walks its frame headers and decodes the last frame to verify its
// checksum (about 100 us for a 120 KB file, once per file and process);
// every other append costs nothing extra. Each repair is
// counted and logged at a bounded rate (once per 10 s).
//
// Thread contract: one FrameAppender per thread (it owns a zstd context and
// scratch buffers); open_files() and repaired_files() may be read from any
// thread.
#ifndef TCPINFO_SAVER_FRAME_APPENDER_H_
#define TCPINFO_SAVER_FRAME_APPENDER_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "saver/error_log.h"

struct ZSTD_CCtx_s;
struct ZSTD_DCtx_s;

namespace saver {

// The length of the longest prefix of `bytes` made of complete zstd frames
// (skippable frames included): bytes.size() if the data ends on a frame
// boundary, less if it ends in part of a frame or in bytes that are not a
// frame. Checks frame structure only (headers and block sizes), not content.
size_t CompleteFramesLength(absl::string_view bytes);

class FrameAppender {
 public:
  // `file_lifetime` bounds how long one file keeps receiving frames (the
  // rotation period plus the writer's delay); see Append().
  explicit FrameAppender(int compression_level,
                         std::chrono::steady_clock::duration file_lifetime =
                             std::chrono::hours(1));
  ~FrameAppender();
  FrameAppender(const FrameAppender&) = delete;
  FrameAppender& operator=(const FrameAppender&) = delete;

  // Opens `path` (which lies below the existing directory `root`) for
  // appending, creating it and any missing directory between `root` and it.
  // If `first_in_process` (set it for the first frame this process appends
  // to `path`) or an earlier Append to `path` failed before it could check
  // the file or leave it whole, a non-empty file is first cut back to the end
  // of its last complete, checksum-verified frame (see the repair contract).
  // Then calls fill(file_is_empty, &text) to produce the frame's content,
  // which starts empty; compresses it into one frame (with a checksum) and
  // appends it. Returns the compressed bytes appended (0 if `text` stayed
  // empty: nothing is written), or an error naming the path and errno.
  // Remembering which paths still need a check takes memory only after
  // failures, at most 64 Ki paths; beyond that every non-empty file is
  // checked before each append for `file_lifetime`.
  absl::StatusOr<size_t> Append(
      const std::string& root, const std::string& path, bool first_in_process,
      absl::FunctionRef<void(bool file_is_empty, std::string* text)> fill);

  // Descriptors open right now (0 or 1).
  int open_files() const { return open_files_.load(std::memory_order_relaxed); }

  // Files cut back to their last complete frame so far.
  uint64_t repaired_files() const {
    return repaired_files_.load(std::memory_order_relaxed);
  }

 private:
  // Cuts the file open as `fd`, `size` bytes long, back to the end of its
  // last complete, verified frame; returns its new size.
  absl::StatusOr<size_t> Repair(int fd, const std::string& path, size_t size);
  // Whether `path` must be checked before appending to it.
  bool NeedsCheck(const std::string& path, bool first_in_process);
  // `path` may end in part of a frame (or was never checked).
  void MarkUnsure(const std::string& path);
  void ReleaseLargeBuffers();

  ZSTD_CCtx_s* cctx_;
  ZSTD_DCtx_s* dctx_;
  std::string text_;
  std::string frame_;
  std::vector<size_t> frame_starts_;  // scratch of Repair()
  // Paths whose next append must check the file first.
  absl::flat_hash_set<std::string> unsure_;
  // Until then every non-empty file is checked (after unsure_ overflowed).
  std::chrono::steady_clock::time_point check_all_until_{};
  const std::chrono::steady_clock::duration file_lifetime_;
  ErrorLog repair_log_{"saver"};
  std::atomic<int> open_files_{0};
  std::atomic<uint64_t> repaired_files_{0};
};

}  // namespace saver

#endif  // TCPINFO_SAVER_FRAME_APPENDER_H_
