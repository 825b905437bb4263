#include "parse/record_view.h"

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace parse {

inetdiag::Msg RecordView::Idm() const {
  inetdiag::Msg msg{};
  std::memcpy(&msg, raw_idm.data(), std::min(raw_idm.size(), sizeof(msg)));
  return msg;
}

absl::Status SplitMessageInto(absl::string_view payload, RecordView* view,
                              int* dropped_attributes) {
  constexpr size_t kIdmSize = sizeof(inetdiag::Msg);  // already 4-aligned
  // Only the slots the previous message used can be non-empty.
  for (int t = 0; t < view->attribute_slots; ++t) view->attributes[t] = {};
  view->attribute_slots = 0;
  view->raw_idm = {};
  if (payload.size() < kIdmSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("inet_diag message of ", payload.size(),
                     " bytes, want at least ", kIdmSize));
  }
  int slots = 0;
  size_t off = kIdmSize;
  while (payload.size() - off >= 4) {
    uint16_t len, type;
    std::memcpy(&len, payload.data() + off, 2);
    std::memcpy(&type, payload.data() + off + 2, 2);
    if (len < 4 || len > payload.size() - off) {
      for (int t = 0; t < slots; ++t) view->attributes[t] = {};
      return absl::InvalidArgumentError(absl::StrCat(
          "attribute of type ", type, " at offset ", off, " has length ", len,
          " with ", payload.size() - off, " bytes left"));
    }
    if (type < kMaxAttributeSlots) {
      view->attributes[type] = payload.substr(off + 4, len - 4);
      if (type + 1 > slots) slots = type + 1;
    } else if (dropped_attributes != nullptr) {
      ++*dropped_attributes;
    }
    const size_t aligned = (static_cast<size_t>(len) + 3) & ~size_t{3};
    off += std::min(aligned, payload.size() - off);
  }
  view->raw_idm = payload.substr(0, kIdmSize);
  view->attribute_slots = slots;
  return absl::OkStatus();
}

absl::StatusOr<RecordView> SplitMessage(absl::string_view payload,
                                        int* dropped_attributes) {
  RecordView view;
  absl::Status status = SplitMessageInto(payload, &view, dropped_attributes);
  if (!status.ok()) return status;
  return view;
}

}  // namespace parse
