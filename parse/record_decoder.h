// RecordDecoder: a fast decoder of archive lines (ArchivalRecord JSON) into
// views, for readers that go through millions of lines. It accepts what Go's
// encoding/json accepts for an ArchivalRecord:
//
//  - the whole line must be one valid JSON object (whitespace around it);
//  - keys match case-insensitively (ASCII), a repeated key wins over earlier
//    ones, unknown keys are skipped (their values still validated);
//  - Timestamp, RawIDM, Attributes and Metadata may be null (= absent);
//  - RawIDM and each Attributes element are base64 strings (Attributes
//    elements may be null), Timestamp and Metadata.StartTime RFC 3339
//    strings, Metadata.Sequence an integer.
//
// Errors are InvalidArgument with a short reason ("RawIDM: illegal base64
// data at input byte 8", "malformed JSON at byte 17: expected ':'").
//
// A decoder reuses its buffers: after warm-up, decoding allocates nothing.
// Not thread-safe; use one decoder per thread.
#ifndef TCPINFO_PARSE_RECORD_DECODER_H_
#define TCPINFO_PARSE_RECORD_DECODER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "parse/archival_record.h"
#include "parse/timestamp.h"

namespace parse {
namespace record_decoder_internal {
class Parser;
}  // namespace record_decoder_internal

// One decoded line. Views point into the decoder that filled it and are
// valid until its next Decode.
struct DecodedRecord {
  // Go's zero time when the line has none.
  Timestamp timestamp = Timestamp::GoZero();
  // data() == nullptr when absent; a present but empty RawIDM is "" with a
  // non-null data().
  absl::string_view raw_idm;
  // attributes[t].data() == nullptr where the line has null; any length.
  absl::Span<const absl::string_view> attributes;
  bool has_metadata = false;
  Metadata metadata;  // meaningful only when has_metadata
};

class RecordDecoder {
 public:
  RecordDecoder() = default;
  RecordDecoder(const RecordDecoder&) = delete;
  RecordDecoder& operator=(const RecordDecoder&) = delete;

  // Decodes `line` (without its '\n') into `*out`.
  absl::Status Decode(absl::string_view line, DecodedRecord* out);

 private:
  // Where a payload lies in arena_; begin == SIZE_MAX when absent.
  struct Slot {
    size_t begin, size;
  };
  // Room for `n` more bytes at arena_[used_].
  char* Room(size_t n);
  // Decodes the base64 string value at the parser into the arena; `index`
  // names the attribute in errors, -1 for RawIDM.
  absl::Status DecodeBase64Value(record_decoder_internal::Parser& parser,
                                 int index, Slot* slot);

  std::string arena_;    // decoded payloads of the current line
  size_t used_ = 0;      // bytes of arena_ in use
  std::string scratch_;  // unescaped strings
  std::string decoded_;  // output of the exact (slow) base64 path
  std::vector<Slot> slots_;
  std::vector<absl::string_view> attributes_;
};

}  // namespace parse

#endif  // TCPINFO_PARSE_RECORD_DECODER_H_
