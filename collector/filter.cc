#include "collector/filter.h"

#include <arpa/inet.h>

namespace collector {

Filter::Filter(const FilterOptions& options)
    : include_local_(options.include_local) {
  for (uint16_t port : options.exclude_srcports) excluded_ports_.set(port);
  for (const IpAddress& a : options.exclude_dstips) {
    excluded_dsts_.push_back(a.Unmapped());
  }
}

bool Filter::Skip(const inetdiag::Msg& msg) const {
  if (excluded_ports_.test(ntohs(msg.id.sport_be))) return true;
  if (!include_local_ && (IsLocalAddress(msg.family, msg.id.dst) ||
                          IsLocalAddress(msg.family, msg.id.src))) {
    return true;
  }
  if (!excluded_dsts_.empty()) {
    const IpAddress dst =
        IpAddress::FromSockId(msg.family, msg.id.dst).Unmapped();
    for (const IpAddress& a : excluded_dsts_) {
      if (a == dst) return true;
    }
  }
  return false;
}

}  // namespace collector
