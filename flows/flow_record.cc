#include "flows/flow_record.h"

namespace flows {

absl::string_view KindName(RecordKind kind) {
  return kind == RecordKind::kFinal ? "final" : "interim";
}

absl::string_view EndReasonName(EndReason reason) {
  switch (reason) {
    case EndReason::kInterim:
      return "interim";
    case EndReason::kDestroyed:
      return "destroyed";
    case EndReason::kAbsent:
      return "absent";
    case EndReason::kDaemonStop:
      return "daemon_stop";
  }
  return "interim";
}

absl::string_view DirectionName(Direction direction) {
  return direction == Direction::kIn ? "in" : "out";
}

absl::string_view LimitedByName(LimitedBy limited_by) {
  switch (limited_by) {
    case LimitedBy::kNone:
      return "none";
    case LimitedBy::kSender:
      return "sender";
    case LimitedBy::kReceiver:
      return "receiver";
    case LimitedBy::kNetwork:
      return "network";
  }
  return "none";
}

}  // namespace flows
