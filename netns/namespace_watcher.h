// NamespaceWatcher: keeps the collector's set of namespace sources equal to
// the network namespaces -netns selects, from a thread of its own.
//
// Its thread scans (netns/discovery.h) at start, every `scan_interval`
// (500 ms), and at once when an entry of a named directory is created or
// removed (inotify), so a new namespace is polled within about a second and
// a removed one dropped at the first scan that misses it. For each new
// namespace the thread enters it (setns, on that thread only), opens a dump
// socket and, with destroy events, a destroy listener there, returns to its
// own namespace, and hands the pair to the collector (SourceHandoff::Add);
// a namespace gone is handed over for removal (its connections get final
// records by absence). It also remakes, inside the namespace, a dump socket
// that broke (netns/namespace_dump_source.h). The polling thread never
// changes namespace.
//
// A namespace that cannot be entered (setns refused, a file in a named
// directory with no namespace mounted on it for over a second, a socket
// that cannot be opened there) is logged once and counted
// (tcpinfo_netns_errors_total), and not tried again while it exists; the
// others go on. A namespace is reported by its name in a named directory,
// else by its inode in decimal.
//
// Each watched namespace holds one descriptor (the namespace, for remaking
// sockets) and its two sockets; Start raises the soft RLIMIT_NOFILE to the
// hard limit.
//
// Thread contract: Start, Stop and the destructor from one thread; stats()
// and the collectable from any thread.
#ifndef TCPINFO_NETNS_NAMESPACE_WATCHER_H_
#define TCPINFO_NETNS_NAMESPACE_WATCHER_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "collector/namespace_sources.h"
#include "netns/discovery.h"
#include "netns/netns_spec.h"
#include "prometheus/collectable.h"

namespace netns {

struct WatcherOptions {
  NetnsSpec spec;  // REQUIRES: spec.enabled()
  bool destroy_events = true;
  absl::Duration scan_interval = absl::Milliseconds(500);
  // A file in a named directory without a namespace is an error only after
  // this long (`ip netns add` creates the file before it mounts on it).
  absl::Duration not_namespace_grace = absl::Seconds(1);
  DiscoveryRoots roots;
};

struct WatcherStats {
  uint64_t watched = 0;  // namespaces handed over and not removed
  uint64_t added = 0;
  uint64_t removed = 0;
  uint64_t errors = 0;  // namespaces that could not be entered
  uint64_t scans = 0;
};

class NamespaceWatcher {
 public:
  // Runs the first scan (so that the first cycle polls what exists now),
  // then starts the thread. `handoff` must outlive the watcher. Fails if the
  // agent's own namespace cannot be opened (to return to it).
  static absl::StatusOr<std::unique_ptr<NamespaceWatcher>> Start(
      const WatcherOptions& options, collector::SourceHandoff* handoff);
  ~NamespaceWatcher();  // Stop()
  NamespaceWatcher(const NamespaceWatcher&) = delete;
  NamespaceWatcher& operator=(const NamespaceWatcher&) = delete;

  // Ends the thread (within a scan); idempotent.
  void Stop();

  WatcherStats stats() const;

  // tcpinfo_netns_watched (gauge), tcpinfo_netns_added_total,
  // tcpinfo_netns_removed_total, tcpinfo_netns_errors_total.
  std::shared_ptr<prometheus::Collectable> collectable() const;

 private:
  struct Rep;
  explicit NamespaceWatcher(std::shared_ptr<Rep> rep);
  std::shared_ptr<Rep> rep_;
};

}  // namespace netns

#endif  // TCPINFO_NETNS_NAMESPACE_WATCHER_H_
