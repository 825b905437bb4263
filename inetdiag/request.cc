#include "inetdiag/request.h"

namespace inetdiag {

DumpRequest MakeDumpRequest(uint8_t family, uint32_t sequence, uint32_t states,
                            uint8_t extensions) {
  DumpRequest r{};
  r.header.nlmsg_len = sizeof(DumpRequest);
  r.header.nlmsg_type = kSockDiagByFamily;
  r.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  r.header.nlmsg_seq = sequence;
  r.header.nlmsg_pid = 0;
  r.request.family = family;
  r.request.protocol = kProtocolTcp;
  r.request.ext = extensions;
  r.request.states = states;
  return r;
}

}  // namespace inetdiag
