#include "tcp/tcp_info.h"

namespace tcp {

const char* StateName(uint8_t state) {
  static constexpr const char* kNames[kMaxStates] = {
      "UNKNOWN",   "ESTABLISHED", "SYN_SENT",     "SYN_RECV",      "FIN_WAIT1",
      "FIN_WAIT2", "TIME_WAIT",   "CLOSE",        "CLOSE_WAIT",    "LAST_ACK",
      "LISTEN",    "CLOSING",     "NEW_SYN_RECV", "BOUND_INACTIVE"};
  return state < kMaxStates ? kNames[state] : "UNKNOWN";
}

}  // namespace tcp
