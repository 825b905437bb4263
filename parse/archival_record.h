// ArchivalRecord: one line of a tcp-info archive, in the JSON form M-Lab's Go
// tcp-info writes and reads:
//
//   {"Timestamp":"2019-04-02T14:12:37.511Z","RawIDM":"<base64>",
//    "Attributes":[null,"<base64>",...]}
//   {"Timestamp":"0001-01-01T00:00:00Z","Metadata":{"UUID":"...",
//    "Sequence":0,"StartTime":"..."}}
//
// Keys in that order; RawIDM, Attributes and Metadata are omitted when empty
// (Go's omitempty); Attributes has one entry per type up to the highest
// present, null where absent.
//
// Plain value types and thread-safe functions.
#ifndef TCPINFO_PARSE_ARCHIVAL_RECORD_H_
#define TCPINFO_PARSE_ARCHIVAL_RECORD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "parse/record_view.h"
#include "parse/timestamp.h"

namespace parse {

// Per-file metadata, the first line of every archive file.
struct Metadata {
  std::string uuid;
  int64_t sequence = 0;
  Timestamp start_time;
};

// An owning ArchivalRecord, as decoded from a line.
struct ArchivalRecord {
  Timestamp timestamp = Timestamp::GoZero();
  std::string raw_idm;  // empty when absent
  // attributes[t] is the payload of type t, nullopt where the line has null.
  std::vector<std::optional<std::string>> attributes;
  std::optional<Metadata> metadata;

  // A view of this record's bytes (valid while *this is unchanged).
  // Attributes beyond kMaxAttributeSlots are not in the view.
  RecordView View() const;
};

// Appends one JSON line (with the trailing '\n') for a snapshot. Does not
// allocate beyond growing `out`.
void AppendSnapshotJson(Timestamp timestamp, const RecordView& record,
                        std::string* out);

// Appends the metadata line (with the trailing '\n').
void AppendMetadataJson(const Metadata& metadata, std::string* out);

// Appends the JSON line of any owning record (snapshot, metadata, or both).
void AppendRecordJson(const ArchivalRecord& record, std::string* out);

// Decodes one line (without its '\n'). Unknown keys are ignored, as Go's
// encoding/json does; a missing Timestamp is Go's zero time. Fails with
// InvalidArgument naming the problem on malformed JSON, wrong value types,
// bad base64 or a bad timestamp.
absl::StatusOr<ArchivalRecord> DecodeRecordJson(absl::string_view line);

}  // namespace parse

#endif  // TCPINFO_PARSE_ARCHIVAL_RECORD_H_
