#include "flows/record_json.h"

#include "absl/strings/str_cat.h"
#include "flows/record_columns.h"
#include "parse/json_string.h"

namespace flows {

namespace {

class JsonVisitor : public ColumnVisitor {
 public:
  explicit JsonVisitor(std::string* out) : out_(out) {}

  void Text(const Column& column, absl::string_view value) override {
    Key(column);
    parse::AppendJsonString(value, out_);
  }
  void Integer(const Column& column, uint64_t value) override {
    Key(column);
    absl::StrAppend(out_, value);
  }
  void Time(const Column& column, parse::Timestamp value) override {
    Key(column);
    out_->push_back('"');
    parse::AppendRfc3339(value, out_);
    out_->push_back('"');
  }
  void Address(const Column& column,
               const collector::IpAddress& value) override {
    Key(column);
    parse::AppendJsonString(collector::FormatIpAddress(value), out_);
  }

 private:
  void Key(const Column& column) {
    out_->push_back(first_ ? '{' : ',');
    first_ = false;
    parse::AppendJsonString(column.name, out_);
    out_->push_back(':');
  }
  std::string* out_;
  bool first_ = true;
};

}  // namespace

void AppendRecordJson(const FlowRecord& record, std::string* out) {
  JsonVisitor visitor(out);
  VisitColumns(record, visitor);
  out->push_back('}');
}

}  // namespace flows
