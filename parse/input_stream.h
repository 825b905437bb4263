// InputStream: the bytes of a file or pipe, decompressed on the fly when they
// are zstd (recognised by the frame magic in the first bytes, not by name).
// Memory is constant: one compressed chunk and the zstd window.
//
// Not thread-safe; one reader at a time.
#ifndef TCPINFO_PARSE_INPUT_STREAM_H_
#define TCPINFO_PARSE_INPUT_STREAM_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace parse {

class InputStream {
 public:
  // Opens `path`; "-" is standard input. NotFound/PermissionDenied/... with
  // the path and errno text when it cannot be opened.
  static absl::StatusOr<std::unique_ptr<InputStream>> Open(
      const std::string& path);
  // Reads from `fd`, which the stream then owns (and closes) unless it is 0.
  static std::unique_ptr<InputStream> FromFd(int fd);

  ~InputStream();
  InputStream(const InputStream&) = delete;
  InputStream& operator=(const InputStream&) = delete;

  // Reads up to `n` (> 0) decompressed bytes into `buf`; returns 0 only at the
  // end. Fails with DataLoss on corrupt or truncated zstd data (naming the
  // reason) and Internal on read errors; after a failure, fails again.
  absl::StatusOr<size_t> Read(char* buf, size_t n);

  // True once the input is known to be zstd (after the first Read).
  bool compressed() const;
  // Bytes read from the file or pipe so far (compressed size).
  uint64_t raw_bytes_read() const;

 private:
  struct Rep;
  explicit InputStream(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace parse

#endif  // TCPINFO_PARSE_INPUT_STREAM_H_
