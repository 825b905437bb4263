// ArchiveReader: reads a tcp-info archive (JSONL ArchivalRecords, zstd or
// plain, recognised by content) one record at a time, in constant memory.
//
// Lines end with '\n'; a trailing '\r' is dropped and so is a last line
// without '\n', as Go's bufio.ScanLines does. Empty lines are skipped. Every
// error names the 1-based line it happened on: "line 12: RawIDM: illegal
// base64 data at input byte 8", "line 40: corrupt zstd data: ...".
//
// Not thread-safe.
#ifndef TCPINFO_PARSE_ARCHIVE_READER_H_
#define TCPINFO_PARSE_ARCHIVE_READER_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "parse/input_stream.h"
#include "parse/record_decoder.h"
#include "parse/stream_buffer.h"

namespace parse {

// Longest line accepted (real lines are under 1 KiB).
inline constexpr size_t kMaxArchiveLineBytes = 16 << 20;

class ArchiveReader {
 public:
  explicit ArchiveReader(std::unique_ptr<InputStream> input);
  ArchiveReader(const ArchiveReader&) = delete;
  ArchiveReader& operator=(const ArchiveReader&) = delete;

  // Decodes the next record into `*record` (views valid until the next
  // call). Returns false at the end of the input. After an error, the
  // reader is done.
  absl::StatusOr<bool> Next(DecodedRecord* record);

  // Number of the line last read (0 before the first).
  int64_t line_number() const { return line_number_; }
  // Decompressed bytes consumed so far.
  uint64_t bytes_read() const { return buffer_.consumed(); }

 private:
  // Sets *line to the next line; false at the end.
  absl::StatusOr<bool> NextLine(absl::string_view* line);
  absl::Status LineError(const absl::Status& status) const;

  StreamBuffer buffer_;
  RecordDecoder decoder_;
  int64_t line_number_ = 0;
  size_t scanned_ = 0;  // bytes of data() known to hold no '\n'
  bool eof_ = false;
};

}  // namespace parse

#endif  // TCPINFO_PARSE_ARCHIVE_READER_H_
