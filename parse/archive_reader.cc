#include "parse/archive_reader.h"

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace parse {

ArchiveReader::ArchiveReader(std::unique_ptr<InputStream> input)
    : buffer_(std::move(input), kMaxArchiveLineBytes) {}

absl::Status ArchiveReader::LineError(const absl::Status& status) const {
  return absl::Status(status.code(), absl::StrCat("line ", line_number_, ": ",
                                                  status.message()));
}

absl::StatusOr<bool> ArchiveReader::NextLine(absl::string_view* line) {
  while (true) {
    const absl::string_view data = buffer_.data();
    const void* nl =
        std::memchr(data.data() + scanned_, '\n', data.size() - scanned_);
    size_t length, skip;
    if (nl != nullptr) {
      length = static_cast<size_t>(static_cast<const char*>(nl) - data.data());
      skip = length + 1;
    } else if (eof_) {
      if (data.empty()) return false;
      length = skip = data.size();
    } else {
      scanned_ = data.size();
      absl::StatusOr<bool> more = buffer_.ReadMore();
      if (!more.ok()) {
        ++line_number_;  // the error is in the line being read
        if (absl::IsResourceExhausted(more.status())) {
          return LineError(absl::InvalidArgumentError(absl::StrCat(
              "line longer than ", kMaxArchiveLineBytes, " bytes")));
        }
        return LineError(more.status());
      }
      eof_ = !*more;
      continue;
    }
    *line = data.substr(0, length);
    if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
    buffer_.Consume(skip);
    scanned_ = 0;
    ++line_number_;
    return true;
  }
}

absl::StatusOr<bool> ArchiveReader::Next(DecodedRecord* record) {
  while (true) {
    absl::string_view line;
    absl::StatusOr<bool> got = NextLine(&line);
    if (!got.ok() || !*got) return got;
    if (line.empty()) continue;
    absl::Status s = decoder_.Decode(line, record);
    if (!s.ok()) return LineError(s);
    return true;
  }
}

}  // namespace parse
