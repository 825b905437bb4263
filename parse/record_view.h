// RecordView: a non-owning, zero-copy view of one inet_diag reply (the
// payload of a SOCK_DIAG_BY_FAMILY netlink message): the raw inet_diag_msg
// bytes and each attribute's payload, indexed by INET_DIAG_* type.
//
// This is the hot-path representation: the collector splits every message of
// a dump into a RecordView without allocating, compares it with the cache, and
// encodes it only when it changed. Views point into the buffer they were
// split from and are valid only as long as it is.
//
// Plain value type, not thread-safe by itself; copying copies the views.
#ifndef TCPINFO_PARSE_RECORD_VIEW_H_
#define TCPINFO_PARSE_RECORD_VIEW_H_

#include <array>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "inetdiag/inet_diag.h"

namespace parse {

// The reference keeps attribute types up to 2 * INET_DIAG_MAX (its
// INET_DIAG_MAX being 19) and drops higher ones; we keep the same slots.
inline constexpr int kMaxAttributeSlots = 2 * 19 + 1;

struct RecordView {
  // The inet_diag_msg, exactly sizeof(inetdiag::Msg) bytes.
  absl::string_view raw_idm;
  // attributes[t] is the payload of the attribute of type t. An absent
  // attribute has data() == nullptr; a present one may be empty.
  std::array<absl::string_view, kMaxAttributeSlots> attributes{};
  // One more than the highest attribute type present; 0 if none. This is
  // the length of the reference's Attributes array.
  int attribute_slots = 0;

  bool Has(int type) const {
    return type < attribute_slots && attributes[type].data() != nullptr;
  }
  // The parsed inet_diag_msg (copied out: the view may be unaligned).
  inetdiag::Msg Idm() const;
  // The socket cookie, read without copying the whole inet_diag_msg.
  // REQUIRES: raw_idm is a whole inet_diag_msg.
  uint64_t Cookie() const { return inetdiag::CookieOfMsg(raw_idm.data()); }
};

// Splits the payload of one SOCK_DIAG_BY_FAMILY message (the bytes after the
// nlmsghdr) into a RecordView. Fails with InvalidArgument if the payload is
// shorter than an inet_diag_msg, or an attribute header is shorter than 4 or
// claims more bytes than remain. Attributes of a type beyond the kept slots
// are skipped; `*dropped_attributes` (if not null) counts them. A repeated
// type keeps the last payload, as the reference does.
absl::StatusOr<RecordView> SplitMessage(absl::string_view payload,
                                        int* dropped_attributes = nullptr);

// The same split into `*view`, a view the caller reuses from message to
// message (the hot path: nothing is zero-filled but the slots the previous
// message used, nothing is copied out). On error `*view` is left empty.
absl::Status SplitMessageInto(absl::string_view payload, RecordView* view,
                              int* dropped_attributes = nullptr);

}  // namespace parse

#endif  // TCPINFO_PARSE_RECORD_VIEW_H_
