// PeerNames: reverse-DNS names of addresses for -traffic.fqdn, resolved on
// a thread of its own so that the polling thread never waits for a
// resolver.
//
//   Lookup(address)  from the polling thread: the cached name if there is
//                    one (a name that expired is still returned, and asked
//                    again), else "" and the address is queued for the
//                    resolver thread unless it is already queued, the queue
//                    holds max_queue addresses (it is then dropped and
//                    counted) or the cache is full.
//   resolver thread  takes queued addresses one at a time, at most
//                    max_per_second a second, calls `resolve` (getnameinfo
//                    with NI_NAMEREQD by default) without holding any lock,
//                    and caches the name ("" for an address without one:
//                    looked up again only after the TTL too).
//
// Lookup holds the one mutex only for a hash lookup and an enqueue; the
// resolver thread holds it only to take an address and to store a result,
// never while resolving. A resolve that hangs stops only this thread: the
// queue fills, later addresses are dropped, and Lookup returns "" for them
// at once. The destructor does not wait for a hanging resolve: it detaches
// the thread, which then owns what it uses (shared state).
//
// Thread contract: Lookup from one thread at a time; counters from any.
#ifndef TCPINFO_TRAFFIC_PEER_NAMES_H_
#define TCPINFO_TRAFFIC_PEER_NAMES_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "collector/ip_address.h"

namespace traffic {

struct PeerNamesOptions {
  // The name of an address, "" if it has none. Called on the resolver
  // thread only; may block.
  std::function<std::string(const collector::IpAddress&)> resolve;
  absl::Duration ttl = absl::Minutes(10);
  size_t max_queue = 256;
  size_t max_cache = 65536;
  double max_per_second = 20;
};

// getnameinfo(NI_NAMEREQD) of `address`, the name without a trailing dot;
// "" if it has none.
std::string ResolveWithGetnameinfo(const collector::IpAddress& address);

class PeerNames {
 public:
  // Starts the resolver thread. A null `resolve` means getnameinfo.
  explicit PeerNames(PeerNamesOptions options);
  ~PeerNames();
  PeerNames(const PeerNames&) = delete;
  PeerNames& operator=(const PeerNames&) = delete;

  // As above; the reference is valid until the next Lookup.
  const std::string& Lookup(const collector::IpAddress& address);

  // Resolves done, addresses dropped because the queue was full.
  int64_t resolved() const;
  int64_t dropped() const;

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
  std::string result_;  // Lookup's
};

}  // namespace traffic

#endif  // TCPINFO_TRAFFIC_PEER_NAMES_H_
