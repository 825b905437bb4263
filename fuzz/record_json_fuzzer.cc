// Fuzzes the decoding of one archive line (parse/archival_record.h): a line
// that decodes must re-encode to a line that decodes to the same encoding,
// and the fast RecordDecoder (parse/record_decoder.h) must accept exactly
// the lines the exact decoder accepts, with the same contents.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "fuzz/fuzz_check.h"
#include "parse/archival_record.h"
#include "parse/record_decoder.h"

namespace {

using fuzz::FuzzCheck;

// Checks that the fast decoder's view of `line` holds what `exact` holds.
void CheckSameAsExact(const parse::ArchivalRecord& exact,
                      const parse::DecodedRecord& fast) {
  FuzzCheck(exact.timestamp == fast.timestamp, "decoders differ: Timestamp");
  FuzzCheck(exact.raw_idm == fast.raw_idm, "decoders differ: RawIDM");
  FuzzCheck(exact.metadata.has_value() == fast.has_metadata,
            "decoders differ: Metadata present");
  if (exact.metadata.has_value()) {
    FuzzCheck(exact.metadata->uuid == fast.metadata.uuid &&
                  exact.metadata->sequence == fast.metadata.sequence &&
                  exact.metadata->start_time == fast.metadata.start_time,
              "decoders differ: Metadata");
  }
  FuzzCheck(exact.attributes.size() == fast.attributes.size(),
            "decoders differ: number of Attributes");
  for (size_t t = 0; t < exact.attributes.size(); ++t) {
    const std::optional<std::string>& a = exact.attributes[t];
    const absl::string_view b = fast.attributes[t];
    FuzzCheck(a.has_value() == (b.data() != nullptr),
              "decoders differ: attribute presence");
    if (a.has_value()) FuzzCheck(*a == b, "decoders differ: attribute bytes");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view line(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<parse::ArchivalRecord> exact = parse::DecodeRecordJson(line);

  static parse::RecordDecoder* const fast = new parse::RecordDecoder;
  parse::DecodedRecord decoded;
  const absl::Status fast_status = fast->Decode(line, &decoded);
  FuzzCheck(exact.ok() == fast_status.ok(),
            "DecodeRecordJson and RecordDecoder disagree on validity");
  if (!exact.ok()) return 0;
  CheckSameAsExact(*exact, decoded);

  std::string encoded;
  parse::AppendRecordJson(*exact, &encoded);
  FuzzCheck(!encoded.empty() && encoded.back() == '\n',
            "AppendRecordJson: no trailing newline");
  absl::StatusOr<parse::ArchivalRecord> again = parse::DecodeRecordJson(
      absl::string_view(encoded).substr(0, encoded.size() - 1));
  FuzzCheck(again.ok(), "re-encoded line does not decode");
  std::string reencoded;
  parse::AppendRecordJson(*again, &reencoded);
  FuzzCheck(encoded == reencoded, "encode/decode/encode is not stable");
  return 0;
}
