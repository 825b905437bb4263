#include "parse/archival_record.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "parse/base64.h"

namespace parse {
namespace {

void AppendJsonString(absl::string_view s, std::string* out) {
  out->push_back('"');
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (u < 0x20 || c == '<' || c == '>' || c == '&') {
      // Go's encoding/json escapes control characters and HTML characters.
      static constexpr char kHex[] = "0123456789abcdef";
      out->append("\\u00");
      out->push_back(kHex[u >> 4]);
      out->push_back(kHex[u & 15]);
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

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

absl::Status DecodeBase64Field(const nlohmann::json& v, absl::string_view what,
                               std::string* out) {
  if (!v.is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not a string"));
  }
  absl::Status s = DecodeBase64(v.get_ref<const std::string&>(), out);
  if (!s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<Timestamp> DecodeTime(const nlohmann::json& v,
                                     absl::string_view what) {
  if (!v.is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not a string"));
  }
  return ParseRfc3339(v.get_ref<const std::string&>());
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
  nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError("malformed JSON");
  if (!j.is_object()) {
    return absl::InvalidArgumentError("record is not a JSON object");
  }
  ArchivalRecord record;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const nlohmann::json& v = it.value();
    if (key == "Timestamp") {
      if (v.is_null()) continue;
      absl::StatusOr<Timestamp> t = DecodeTime(v, "Timestamp");
      if (!t.ok()) return t.status();
      record.timestamp = *t;
    } else if (key == "RawIDM") {
      if (v.is_null()) continue;
      absl::Status s = DecodeBase64Field(v, "RawIDM", &record.raw_idm);
      if (!s.ok()) return s;
    } else if (key == "Attributes") {
      if (v.is_null()) continue;
      if (!v.is_array()) {
        return absl::InvalidArgumentError("Attributes is not an array");
      }
      record.attributes.reserve(v.size());
      for (size_t i = 0; i < v.size(); ++i) {
        if (v[i].is_null()) {
          record.attributes.emplace_back();
          continue;
        }
        std::string bytes;
        absl::Status s = DecodeBase64Field(
            v[i], absl::StrCat("Attributes[", i, "]"), &bytes);
        if (!s.ok()) return s;
        record.attributes.emplace_back(std::move(bytes));
      }
    } else if (key == "Metadata") {
      if (v.is_null()) continue;
      if (!v.is_object()) {
        return absl::InvalidArgumentError("Metadata is not an object");
      }
      Metadata m;
      m.start_time = Timestamp::GoZero();
      if (auto u = v.find("UUID"); u != v.end() && !u->is_null()) {
        if (!u->is_string()) {
          return absl::InvalidArgumentError("Metadata.UUID is not a string");
        }
        m.uuid = u->get<std::string>();
      }
      if (auto s = v.find("Sequence"); s != v.end() && !s->is_null()) {
        if (!s->is_number_integer()) {
          return absl::InvalidArgumentError(
              "Metadata.Sequence is not an integer");
        }
        m.sequence = s->get<int64_t>();
      }
      if (auto st = v.find("StartTime"); st != v.end() && !st->is_null()) {
        absl::StatusOr<Timestamp> t = DecodeTime(*st, "Metadata.StartTime");
        if (!t.ok()) return t.status();
        m.start_time = *t;
      }
      record.metadata = std::move(m);
    }
  }
  return record;
}

}  // namespace parse
