// StreamBuffer: a window over an InputStream for readers that need whole
// lines or messages contiguous in memory. It holds at most `max_bytes`, so a
// reader's memory stays constant however large the input.
//
// Not thread-safe.
#ifndef TCPINFO_PARSE_STREAM_BUFFER_H_
#define TCPINFO_PARSE_STREAM_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "parse/input_stream.h"

namespace parse {

class StreamBuffer {
 public:
  StreamBuffer(std::unique_ptr<InputStream> input, size_t max_bytes);
  StreamBuffer(const StreamBuffer&) = delete;
  StreamBuffer& operator=(const StreamBuffer&) = delete;

  // The buffered, not yet consumed bytes. Valid until ReadMore().
  absl::string_view data() const {
    return absl::string_view(buf_.data() + begin_, end_ - begin_);
  }
  // Drops the first `n` buffered bytes. REQUIRES: n <= data().size().
  void Consume(size_t n) {
    begin_ += n;
    consumed_ += n;
  }
  // Appends more input to data(). Returns false at the end of input (nothing
  // added). Fails with ResourceExhausted when data() already holds
  // max_bytes, and with the stream's error when reading fails.
  absl::StatusOr<bool> ReadMore();

  // Offset in the (decompressed) input of data().begin().
  uint64_t consumed() const { return consumed_; }
  const InputStream& input() const { return *input_; }

 private:
  std::unique_ptr<InputStream> input_;
  const size_t max_bytes_;
  std::string buf_;
  size_t begin_ = 0, end_ = 0;
  uint64_t consumed_ = 0;
};

}  // namespace parse

#endif  // TCPINFO_PARSE_STREAM_BUFFER_H_
