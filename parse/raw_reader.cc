#include "parse/raw_reader.h"

#include <linux/netlink.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "inetdiag/inet_diag.h"

namespace parse {

RawReader::RawReader(std::unique_ptr<InputStream> input)
    : buffer_(std::move(input), kMaxRawMessageBytes) {}

absl::Status RawReader::MessageError(const absl::Status& status) const {
  return absl::Status(status.code(),
                      absl::StrCat("message ", message_number_, " at byte ",
                                   message_offset_, ": ", status.message()));
}

absl::StatusOr<bool> RawReader::Fill(size_t n) {
  while (buffer_.data().size() < n) {
    absl::StatusOr<bool> more = buffer_.ReadMore();
    if (!more.ok() || !*more) return more;
  }
  return true;
}

absl::StatusOr<bool> RawReader::Next(RecordView* record) {
  buffer_.Consume(pending_);
  pending_ = 0;
  while (true) {
    message_offset_ = buffer_.consumed();
    ++message_number_;
    absl::StatusOr<bool> got = Fill(sizeof(nlmsghdr));
    if (!got.ok()) return MessageError(got.status());
    if (!*got) {
      if (buffer_.data().empty()) {
        --message_number_;
        return false;
      }
      return MessageError(absl::DataLossError(
          absl::StrCat("input ends inside a netlink header (",
                       buffer_.data().size(), " bytes)")));
    }
    nlmsghdr header;
    std::memcpy(&header, buffer_.data().data(), sizeof(header));
    if (header.nlmsg_len < sizeof(header) ||
        header.nlmsg_len > kMaxRawMessageBytes) {
      return MessageError(absl::InvalidArgumentError(
          absl::StrCat("impossible nlmsg_len ", header.nlmsg_len)));
    }
    got = Fill(header.nlmsg_len);
    if (!got.ok()) return MessageError(got.status());
    if (!*got) {
      return MessageError(absl::DataLossError(
          absl::StrCat("input ends inside a message of ", header.nlmsg_len,
                       " bytes (", buffer_.data().size(), " left)")));
    }
    if (header.nlmsg_type == NLMSG_NOOP || header.nlmsg_type == NLMSG_DONE) {
      buffer_.Consume(header.nlmsg_len);
      continue;
    }
    if (header.nlmsg_type != inetdiag::kSockDiagByFamily) {
      return MessageError(absl::InvalidArgumentError(
          absl::StrCat("netlink message type ", header.nlmsg_type,
                       " is not SOCK_DIAG_BY_FAMILY")));
    }
    absl::StatusOr<RecordView> view = SplitMessage(buffer_.data().substr(
        sizeof(header), header.nlmsg_len - sizeof(header)));
    if (!view.ok()) return MessageError(view.status());
    *record = *view;
    pending_ = header.nlmsg_len;
    return true;
  }
}

}  // namespace parse
