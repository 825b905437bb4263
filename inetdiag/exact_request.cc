#include "inetdiag/exact_request.h"

#include <linux/netlink.h>

namespace inetdiag {

DumpRequest MakeExactRequest(uint8_t family, const SockId& id,
                             uint32_t sequence, uint8_t extensions) {
  // The kernel does not filter an exact request by state; the reply's
  // state is checked by the reader instead.
  DumpRequest r = MakeDumpRequest(family, sequence, kDumpStates, extensions);
  r.header.nlmsg_flags = NLM_F_REQUEST;
  r.request.id = id;
  return r;
}

}  // namespace inetdiag
