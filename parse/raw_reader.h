// RawReader: reads a raw netlink dump, i.e. SOCK_DIAG_BY_FAMILY messages
// (nlmsghdr + inet_diag_msg + attributes) back to back as the kernel sent
// them, zstd-compressed or not (recognised by content), in constant memory.
// Each message advances by its nlmsg_len, as the reference's
// LoadRawNetlinkMessage reads them. NLMSG_NOOP and NLMSG_DONE messages are
// skipped.
//
// Errors name the message and its byte offset in the (decompressed) input:
// "message 7 at byte 2480: attribute of type 2 at offset 72 has length 900
// with 240 bytes left". A message whose nlmsg_len is shorter than its header
// or longer than kMaxRawMessageBytes, one cut short by the end of the input,
// NLMSG_ERROR and any other type are errors.
//
// Not thread-safe.
#ifndef TCPINFO_PARSE_RAW_READER_H_
#define TCPINFO_PARSE_RAW_READER_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "parse/input_stream.h"
#include "parse/record_view.h"
#include "parse/stream_buffer.h"

namespace parse {

inline constexpr size_t kMaxRawMessageBytes = 1 << 20;

class RawReader {
 public:
  explicit RawReader(std::unique_ptr<InputStream> input);
  RawReader(const RawReader&) = delete;
  RawReader& operator=(const RawReader&) = delete;

  // Splits the next message into `*record` (views valid until the next
  // call). Returns false at the end of the input.
  absl::StatusOr<bool> Next(RecordView* record);

  // Number of the message last read (1-based; 0 before the first).
  int64_t message_number() const { return message_number_; }
  // Decompressed bytes consumed so far.
  uint64_t bytes_read() const { return buffer_.consumed(); }

 private:
  // Ensures data() holds `n` bytes; false if the input ends first.
  absl::StatusOr<bool> Fill(size_t n);
  absl::Status MessageError(const absl::Status& status) const;

  StreamBuffer buffer_;
  int64_t message_number_ = 0;
  uint64_t message_offset_ = 0;
  size_t pending_ = 0;  // bytes of the last message still to consume
};

}  // namespace parse

#endif  // TCPINFO_PARSE_RAW_READER_H_
