#include "parse/archival_record.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "parse/base64.h"
#include "parse/json_string.h"
#include "parse/record_decoder.h"

namespace parse {
namespace {

void AppendTimestampValue(Timestamp t, std::string* out) {
  out->push_back('"');
  AppendRfc3339(t, out);
  out->push_back('"');
}

void AppendBase64Value(absl::string_view bytes, std::string* out) {
  out->push_back('"');
  AppendBase64(bytes, out);
  out->push_back('"');
}

void AppendMetadataObject(const Metadata& m, std::string* out) {
  out->append("{\"UUID\":");
  AppendJsonString(m.uuid, out);
  absl::StrAppend(out, ",\"Sequence\":", m.sequence, ",\"StartTime\":");
  AppendTimestampValue(m.start_time, out);
  out->push_back('}');
}

}  // namespace

RecordView ArchivalRecord::View() const {
  RecordView view;
  view.raw_idm = raw_idm;
  const int n =
      std::min<int>(static_cast<int>(attributes.size()), kMaxAttributeSlots);
  for (int t = 0; t < n; ++t) {
    // std::string::data() is never null, so present-but-empty stays present.
    if (attributes[t].has_value()) view.attributes[t] = *attributes[t];
  }
  // Trailing nulls still count in the reference's array length.
  view.attribute_slots = n;
  return view;
}

void AppendSnapshotJson(Timestamp timestamp, const RecordView& record,
                        std::string* out) {
  out->append("{\"Timestamp\":");
  AppendTimestampValue(timestamp, out);
  if (!record.raw_idm.empty()) {
    out->append(",\"RawIDM\":");
    AppendBase64Value(record.raw_idm, out);
  }
  if (record.attribute_slots > 0) {
    out->append(",\"Attributes\":[");
    for (int t = 0; t < record.attribute_slots; ++t) {
      if (t > 0) out->push_back(',');
      if (record.attributes[t].data() == nullptr) {
        out->append("null");
      } else {
        AppendBase64Value(record.attributes[t], out);
      }
    }
    out->push_back(']');
  }
  out->append("}\n");
}

void AppendMetadataJson(const Metadata& metadata, std::string* out) {
  out->append("{\"Timestamp\":");
  AppendTimestampValue(Timestamp::GoZero(), out);
  out->append(",\"Metadata\":");
  AppendMetadataObject(metadata, out);
  out->append("}\n");
}

void AppendRecordJson(const ArchivalRecord& record, std::string* out) {
  out->append("{\"Timestamp\":");
  AppendTimestampValue(record.timestamp, out);
  if (!record.raw_idm.empty()) {
    out->append(",\"RawIDM\":");
    AppendBase64Value(record.raw_idm, out);
  }
  if (!record.attributes.empty()) {
    out->append(",\"Attributes\":[");
    for (size_t t = 0; t < record.attributes.size(); ++t) {
      if (t > 0) out->push_back(',');
      if (record.attributes[t].has_value()) {
        AppendBase64Value(*record.attributes[t], out);
      } else {
        out->append("null");
      }
    }
    out->push_back(']');
  }
  if (record.metadata.has_value()) {
    out->append(",\"Metadata\":");
    AppendMetadataObject(*record.metadata, out);
  }
  out->append("}\n");
}

absl::StatusOr<ArchivalRecord> DecodeRecordJson(absl::string_view line) {
  // One decoder serves csvtool's hot path and this owning form.
  RecordDecoder decoder;
  DecodedRecord decoded;
  absl::Status s = decoder.Decode(line, &decoded);
  if (!s.ok()) return s;
  ArchivalRecord record;
  record.timestamp = decoded.timestamp;
  record.raw_idm = std::string(decoded.raw_idm);
  record.attributes.reserve(decoded.attributes.size());
  for (absl::string_view a : decoded.attributes) {
    if (a.data() == nullptr) {
      record.attributes.emplace_back();
    } else {
      record.attributes.emplace_back(std::string(a));
    }
  }
  if (decoded.has_metadata) record.metadata = std::move(decoded.metadata);
  return record;
}

}  // namespace parse
