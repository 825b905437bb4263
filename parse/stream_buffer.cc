#include "parse/stream_buffer.h"

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace parse {
namespace {
constexpr size_t kInitialBytes = 1 << 20;
}  // namespace

StreamBuffer::StreamBuffer(std::unique_ptr<InputStream> input, size_t max_bytes)
    : input_(std::move(input)),
      max_bytes_(max_bytes),
      buf_(std::min(kInitialBytes, max_bytes), '\0') {}

absl::StatusOr<bool> StreamBuffer::ReadMore() {
  if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == buf_.size()) {
    if (buf_.size() >= max_bytes_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("more than ", max_bytes_, " bytes without an end"));
    }
    buf_.resize(std::min(buf_.size() * 2, max_bytes_));
  }
  absl::StatusOr<size_t> got =
      input_->Read(buf_.data() + end_, buf_.size() - end_);
  if (!got.ok()) return got.status();
  end_ += *got;
  return *got > 0;
}

}  // namespace parse
