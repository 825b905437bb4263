#include "inetdiag/request.h"

#include <cstring>

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

std::vector<char> MakeDumpRequestBytes(uint8_t family, uint32_t sequence,
                                       uint32_t states, uint8_t extensions,
                                       const std::vector<uint8_t>& bytecode) {
  DumpRequest r = MakeDumpRequest(family, sequence, states, extensions);
  const size_t attribute =
      bytecode.empty() ? 0 : NLA_HDRLEN + NLA_ALIGN(bytecode.size());
  r.header.nlmsg_len = static_cast<uint32_t>(sizeof(r) + attribute);
  std::vector<char> bytes(r.header.nlmsg_len, 0);
  std::memcpy(bytes.data(), &r, sizeof(r));
  if (!bytecode.empty()) {
    struct nlattr a;
    a.nla_len = static_cast<uint16_t>(NLA_HDRLEN + bytecode.size());
    a.nla_type = kReqBytecode;
    std::memcpy(bytes.data() + sizeof(r), &a, sizeof(a));
    std::memcpy(bytes.data() + sizeof(r) + NLA_HDRLEN, bytecode.data(),
                bytecode.size());
  }
  return bytes;
}

}  // namespace inetdiag
