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
// Thread contract: one FrameAppender per thread (it owns a zstd context and
// scratch buffers); open_files() may be read from any thread.
#ifndef TCPINFO_SAVER_FRAME_APPENDER_H_
#define TCPINFO_SAVER_FRAME_APPENDER_H_

#include <atomic>
#include <cstddef>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"

struct ZSTD_CCtx_s;

namespace saver {

class FrameAppender {
 public:
  explicit FrameAppender(int compression_level);
  ~FrameAppender();
  FrameAppender(const FrameAppender&) = delete;
  FrameAppender& operator=(const FrameAppender&) = delete;

  // Opens `path` (which lies below the existing directory `root`) for
  // appending, creating it and any missing directory between `root` and it.
  // Calls fill(file_is_empty, &text) to produce the frame's content, which
  // starts empty; compresses it into one frame (with a checksum) and
  // appends it. Returns the compressed bytes appended (0 if `text` stayed
  // empty: nothing is written), or an error naming the path and errno.
  absl::StatusOr<size_t> Append(
      const std::string& root, const std::string& path,
      absl::FunctionRef<void(bool file_is_empty, std::string* text)> fill);

  // Descriptors open right now (0 or 1).
  int open_files() const { return open_files_.load(std::memory_order_relaxed); }

 private:
  void ReleaseLargeBuffers();

  ZSTD_CCtx_s* cctx_;
  std::string text_;
  std::string frame_;
  std::atomic<int> open_files_{0};
};

}  // namespace saver

#endif  // TCPINFO_SAVER_FRAME_APPENDER_H_
