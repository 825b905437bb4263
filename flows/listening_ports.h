// ListeningPorts: the local TCP ports that listening sockets of this
// network namespace hold, for telling incoming flows from outgoing ones.
//
// Start() opens a NETLINK_SOCK_DIAG socket (in the calling thread's network
// namespace), dumps the LISTEN-state sockets of both families once at once,
// then once a second on a thread of its own. A port is listening from the
// dump that first shows it until kMemory after the last dump that showed
// it. The set is published as a bitset of 65536 atomic bits, so Contains()
// never waits: the polling thread reads a word, the watcher writes it.
// Without Start() the set is what Set() made it (tests).
//
// Thread contract: Contains() from any thread; Start(), Set() and the
// destructor (which stops the thread) from the owner's thread.
#ifndef TCPINFO_FLOWS_LISTENING_PORTS_H_
#define TCPINFO_FLOWS_LISTENING_PORTS_H_

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"

namespace collector {
class DumpSocket;
}

namespace flows {

class ListeningPorts {
 public:
  // How long a port stays listening after the last dump that showed it.
  static constexpr absl::Duration kMemory = absl::Seconds(60);
  // Time between dumps.
  static constexpr absl::Duration kPeriod = absl::Seconds(1);

  ListeningPorts();
  ~ListeningPorts();
  ListeningPorts(const ListeningPorts&) = delete;
  ListeningPorts& operator=(const ListeningPorts&) = delete;

  // Opens the dump socket, dumps once, and starts the watcher thread. Fails
  // (and starts nothing) if the socket cannot be opened.
  // REQUIRES: called at most once.
  absl::Status Start();

  // Whether `port` is listening (or was within kMemory).
  bool Contains(uint16_t port) const {
    return (bits_[port >> 6].load(std::memory_order_relaxed) >> (port & 63)) &
           1;
  }

  // Replaces the set with `ports` (for a ListeningPorts not started).
  void Set(const std::vector<uint16_t>& ports);

  // Dumps completed so far by the watcher (Start's first included).
  int64_t dumps() const { return dumps_.load(std::memory_order_relaxed); }

 private:
  static constexpr size_t kWords = 65536 / 64;
  using Bits = std::array<uint64_t, kWords>;

  void Publish(const Bits& bits);
  // One LISTEN dump of both families; updates last_seen_ and publishes.
  void Refresh();
  void Watch();

  std::array<std::atomic<uint64_t>, kWords> bits_{};
  std::atomic<int64_t> dumps_{0};

  // The watcher's own.
  std::unique_ptr<collector::DumpSocket> socket_;
  // When each port was last seen listening (monotonic), for those seen
  // within kMemory.
  absl::flat_hash_map<uint16_t, std::chrono::steady_clock::time_point>
      last_seen_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace flows

#endif  // TCPINFO_FLOWS_LISTENING_PORTS_H_
