// Namespace sources: what the collector polls when it watches several
// network namespaces (-netns), and the thread-safe handoff through which
// another thread (the netns layer's) adds and removes them between cycles.
//
// A NamespaceSource is one namespace's dump socket and destroy listener,
// both created inside it (a socket answers for the namespace it was made
// in, wherever it is used), with the namespace's identity. The collector
// dumps every source each cycle and drains every destroy listener between
// cycles, all on the polling thread, which never changes namespace.
//
// Without sources (the default) the collector polls its own namespace
// through its one DumpSocket, as before.
//
// Thread contract: SourceHandoff::Add/Remove from any thread; Take from the
// polling thread only. The mutex is held only to move a few pointers; an
// atomic flag lets Take return at once when nothing changed.
#ifndef TCPINFO_COLLECTOR_NAMESPACE_SOURCES_H_
#define TCPINFO_COLLECTOR_NAMESPACE_SOURCES_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "collector/destroy_listener.h"
#include "collector/netlink_dump.h"

namespace collector {

struct NamespaceSource {
  uint64_t id = 0;   // the namespace's inode (nsfs), unique while it lives
  std::string name;  // its name in /run/netns, else the inode in decimal
  std::unique_ptr<DumpSource> dump;          // required
  std::unique_ptr<DestroyListener> destroy;  // null: polling only
};

// One change to the set of sources, in the order it was made.
struct SourceChange {
  // Add `source` (replacing one with the same id), or, when source.dump is
  // null, remove the source `source.id`: it is dumped one last time and its
  // destroy events drained, then dropped; its connections, gone from the
  // next complete cycle, are closed by absence (final records).
  NamespaceSource source;
};

class SourceHandoff {
 public:
  SourceHandoff() = default;
  SourceHandoff(const SourceHandoff&) = delete;
  SourceHandoff& operator=(const SourceHandoff&) = delete;

  // REQUIRES: source.dump != nullptr.
  void Add(NamespaceSource source);
  void Remove(uint64_t id);

  // Moves every change made since the last call into `*changes` (cleared
  // first), in order. Returns false, without locking, when there are none.
  bool Take(std::vector<SourceChange>* changes);

 private:
  std::mutex mu_;
  std::vector<SourceChange> pending_;
  std::atomic<bool> has_pending_{false};
};

}  // namespace collector

#endif  // TCPINFO_COLLECTOR_NAMESPACE_SOURCES_H_
