#include "sinks/line_protocol.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <variant>

#include "absl/strings/str_cat.h"
#include "collector/ip_address.h"
#include "flows/record_columns.h"

namespace sinks {

namespace {

// Appends `name` (a measurement, tag key or value, or field key) with a
// backslash before each of `specials`; newlines become spaces, trailing
// backslashes go (line_protocol.h).
void AppendName(absl::string_view name, absl::string_view specials,
                std::string* out) {
  while (!name.empty() && name.back() == '\\') name.remove_suffix(1);
  for (char c : name) {
    if (c == '\n' || c == '\r') c = ' ';
    if (specials.find(c) != absl::string_view::npos) out->push_back('\\');
    out->push_back(c);
  }
}

constexpr absl::string_view kMeasurementSpecials = ", ";
constexpr absl::string_view kKeySpecials = ",= ";

// What AppendName would write is not empty.
bool HasName(absl::string_view name) {
  return name.find_first_not_of('\\') != absl::string_view::npos;
}

void AppendTag(absl::string_view key, absl::string_view value,
               std::string* out) {
  if (!HasName(key) || !HasName(value)) return;
  out->push_back(',');
  AppendName(key, kKeySpecials, out);
  out->push_back('=');
  AppendName(value, kKeySpecials, out);
}

// Writes "key=value" fields, with the ',' between them.
class FieldWriter {
 public:
  explicit FieldWriter(std::string* out) : out_(out) {}

  void Integer(absl::string_view key, int64_t value) {
    Key(key);
    absl::StrAppend(out_, value, "i");
  }
  void Unsigned(absl::string_view key, uint64_t value) {
    constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
    Integer(key, static_cast<int64_t>(value > kMax ? kMax : value));
  }
  void Double(absl::string_view key, double value) {
    if (!std::isfinite(value)) return;
    Key(key);
    char buffer[32];
    const std::to_chars_result r =
        std::to_chars(buffer, buffer + sizeof(buffer), value);
    out_->append(buffer, r.ptr);
  }
  void String(absl::string_view key, absl::string_view value) {
    Key(key);
    out_->push_back('"');
    for (char c : value) {
      if (c == '"' || c == '\\') out_->push_back('\\');
      out_->push_back(c);
    }
    out_->push_back('"');
  }
  size_t count() const { return count_; }

 private:
  void Key(absl::string_view key) {
    out_->push_back(count_++ == 0 ? ' ' : ',');
    AppendName(key, kKeySpecials, out_);
    out_->push_back('=');
  }

  std::string* out_;
  size_t count_ = 0;
};

int64_t UnixNanos(parse::Timestamp t) {
  constexpr int64_t kMaxSeconds =
      std::numeric_limits<int64_t>::max() / 1000000000 - 1;
  if (t.seconds > kMaxSeconds) return std::numeric_limits<int64_t>::max();
  if (t.seconds < -kMaxSeconds) return std::numeric_limits<int64_t>::min();
  return t.seconds * 1000000000 + t.nanos;
}

void AppendTimestamp(parse::Timestamp t, std::string* out) {
  absl::StrAppend(out, " ", UnixNanos(t), "\n");
}

// Tags first (text columns), then fields: two passes over the columns.
class FlowTags : public flows::ColumnVisitor {
 public:
  explicit FlowTags(std::string* out) : out_(out) {}
  void Text(const flows::Column& c, absl::string_view value) override {
    AppendTag(c.name, value, out_);
  }
  void Integer(const flows::Column&, uint64_t) override {}
  void Time(const flows::Column&, parse::Timestamp) override {}
  void Address(const flows::Column&, const collector::IpAddress&) override {}

 private:
  std::string* out_;
};

class FlowFields : public flows::ColumnVisitor {
 public:
  explicit FlowFields(std::string* out) : fields_(out) {}
  void Text(const flows::Column&, absl::string_view) override {}
  void Integer(const flows::Column& c, uint64_t value) override {
    // A uint64 that may pass 2^63-1: its exact decimal text.
    if (absl::string_view(c.name) == "cookie") {
      fields_.String(c.name, absl::StrCat(value));
    } else {
      fields_.Unsigned(c.name, value);
    }
  }
  void Time(const flows::Column& c, parse::Timestamp value) override {
    // end_time is the point's timestamp.
    if (absl::string_view(c.name) != "end_time") {
      fields_.Integer(c.name, UnixNanos(value));
    }
  }
  void Address(const flows::Column& c,
               const collector::IpAddress& value) override {
    fields_.String(c.name, collector::FormatIpAddress(value));
  }

 private:
  FieldWriter fields_;
};

}  // namespace

absl::string_view InfluxMeasurementName(flows::MeasurementKind kind) {
  switch (kind) {
    case flows::MeasurementKind::kProcessTraffic:
      return "network_data";
    case flows::MeasurementKind::kDeviceUsage:
      return "measures";
  }
  return "unknown";
}

bool AppendMeasurementLine(const flows::Measurement& m, std::string* out) {
  const size_t start = out->size();
  AppendName(InfluxMeasurementName(m.kind), kMeasurementSpecials, out);
  for (const auto& [key, value] : m.tags) AppendTag(key, value, out);
  FieldWriter fields(out);
  for (const auto& [key, value] : m.fields) {
    if (!HasName(key)) continue;
    if (const auto* i = std::get_if<int64_t>(&value)) {
      fields.Integer(key, *i);
    } else if (const auto* d = std::get_if<double>(&value)) {
      fields.Double(key, *d);
    } else if (const auto* s = std::get_if<std::string>(&value)) {
      fields.String(key, *s);
    }
  }
  if (fields.count() == 0) {
    out->resize(start);
    return false;
  }
  AppendTimestamp(m.time, out);
  return true;
}

void AppendFlowRecordLine(const flows::FlowRecord& record, std::string* out) {
  out->append(kFlowMeasurement);
  FlowTags tags(out);
  flows::VisitColumns(record, tags);
  FlowFields fields(out);
  flows::VisitColumns(record, fields);
  AppendTimestamp(record.end_time, out);
}

}  // namespace sinks
