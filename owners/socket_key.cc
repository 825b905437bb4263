#include "owners/socket_key.h"

#include <cstring>

#include "inetdiag/inet_diag.h"

namespace owners {

SocketKey SocketKeyOf(uint64_t cookie, const parse::RecordView& record) {
  const inetdiag::Msg idm = record.Idm();
  SocketKey key;
  key.cookie = cookie;
  key.inode = idm.inode;
  if (idm.inode == 0) return key;
  key.uid = idm.uid;
  if (record.Has(inetdiag::kCgroupId) &&
      record.attributes[inetdiag::kCgroupId].size() >= sizeof(uint64_t)) {
    std::memcpy(&key.cgroup_id, record.attributes[inetdiag::kCgroupId].data(),
                sizeof(uint64_t));
  }
  return key;
}

}  // namespace owners
