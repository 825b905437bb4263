// NamespaceDumpSource: the dump source of a namespace other than the
// polling thread's, a DumpSocket made inside it.
//
// A DumpSocket that breaks (a truncated reply, ENOBUFS, a socket error)
// closes itself and would reopen at its next dump, in the namespace of the
// thread that dumps: the wrong one. So this source never lets it: a dump
// that finds its socket closed reports a socket error (an incomplete dump,
// which closes nothing) and raises ReopenSlot::wanted; the netns thread
// makes a fresh socket inside the namespace and leaves it in the slot,
// where the next dump picks it up.
//
// Thread contract: Dump on the polling thread; the slot is shared with the
// netns thread (an atomic flag, and a mutex held only to move a pointer).
#ifndef TCPINFO_NETNS_NAMESPACE_DUMP_SOURCE_H_
#define TCPINFO_NETNS_NAMESPACE_DUMP_SOURCE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "collector/dump_socket.h"
#include "collector/netlink_dump.h"

namespace netns {

struct ReopenSlot {
  std::atomic<bool> wanted{false};  // the source's socket is closed
  std::mutex mu;
  std::unique_ptr<collector::DumpSocket> fresh;  // made in the namespace
};

class NamespaceDumpSource : public collector::DumpSource {
 public:
  // REQUIRES: socket != nullptr, slot != nullptr.
  NamespaceDumpSource(std::unique_ptr<collector::DumpSocket> socket,
                      std::shared_ptr<ReopenSlot> slot);

  collector::DumpResult Dump(uint8_t family,
                             collector::DumpMessageHandler handler) override;

 private:
  std::unique_ptr<collector::DumpSocket> socket_;
  std::shared_ptr<ReopenSlot> slot_;
};

}  // namespace netns

#endif  // TCPINFO_NETNS_NAMESPACE_DUMP_SOURCE_H_
