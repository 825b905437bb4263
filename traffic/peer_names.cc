#include "traffic/peer_names.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "inetdiag/inet_diag.h"

namespace traffic {

namespace {

using Clock = std::chrono::steady_clock;

struct Key {
  uint8_t family;
  std::array<uint8_t, 16> bytes;
  friend bool operator==(const Key&, const Key&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const Key& k) {
    return H::combine(std::move(h), k.family, k.bytes);
  }
};

struct Entry {
  std::string name;
  Clock::time_point expires{};
  bool pending = false;  // queued or being resolved
  bool resolved = false;
};

}  // namespace

struct PeerNames::Shared {
  explicit Shared(PeerNamesOptions o) : options(std::move(o)) {
    if (!options.resolve) options.resolve = ResolveWithGetnameinfo;
  }

  PeerNamesOptions options;
  std::mutex mu;
  std::condition_variable wake;
  bool stop = false;                       // guarded by mu
  std::deque<collector::IpAddress> queue;  // guarded by mu
  absl::flat_hash_map<Key, Entry> cache;   // guarded by mu
  std::atomic<int64_t> resolved{0};
  std::atomic<int64_t> dropped{0};

  // The resolver thread's loop.
  void Run() {
    const auto gap = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(1.0 / options.max_per_second));
    Clock::time_point next = Clock::now();
    std::unique_lock<std::mutex> lock(mu);
    while (true) {
      wake.wait(lock, [&] { return stop || !queue.empty(); });
      if (stop) return;
      // The rate bound: wait until the next resolve may start.
      if (wake.wait_until(lock, next, [&] { return stop; })) return;
      const collector::IpAddress address = queue.front();
      queue.pop_front();
      lock.unlock();
      std::string name = options.resolve(address);
      next = Clock::now() + gap;
      lock.lock();
      if (stop) return;
      resolved.fetch_add(1, std::memory_order_relaxed);
      Entry& e = cache[Key{address.family, address.bytes}];
      e.name = std::move(name);
      e.expires = Clock::now() + absl::ToChronoNanoseconds(options.ttl);
      e.pending = false;
      e.resolved = true;
    }
  }
};

std::string ResolveWithGetnameinfo(const collector::IpAddress& address) {
  sockaddr_storage ss{};
  socklen_t length;
  if (address.family == inetdiag::kAfInet) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    std::memcpy(&sin->sin_addr, address.bytes.data(), 4);
    length = sizeof(*sin);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    std::memcpy(&sin6->sin6_addr, address.bytes.data(), 16);
    length = sizeof(*sin6);
  }
  char host[NI_MAXHOST];
  if (getnameinfo(reinterpret_cast<sockaddr*>(&ss), length, host, sizeof(host),
                  nullptr, 0, NI_NAMEREQD) != 0) {
    return "";
  }
  std::string name(host);
  if (!name.empty() && name.back() == '.') name.pop_back();
  return name;
}

PeerNames::PeerNames(PeerNamesOptions options)
    : shared_(std::make_shared<Shared>(std::move(options))) {
  // The thread holds its own reference: it may outlive this object while a
  // resolve hangs.
  std::thread([shared = shared_] { shared->Run(); }).detach();
}

PeerNames::~PeerNames() {
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->stop = true;
  }
  shared_->wake.notify_all();
}

const std::string& PeerNames::Lookup(const collector::IpAddress& address) {
  Shared& s = *shared_;
  const Clock::time_point now = Clock::now();
  bool queued = false;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.cache.find(Key{address.family, address.bytes});
    if (it == s.cache.end()) {
      if (s.cache.size() >= s.options.max_cache) {
        result_.clear();
        return result_;
      }
      it = s.cache.emplace(Key{address.family, address.bytes}, Entry{}).first;
    }
    Entry& e = it->second;
    if (e.resolved) {
      result_ = e.name;
    } else {
      result_.clear();
    }
    if (!e.pending && (!e.resolved || now >= e.expires)) {
      if (s.queue.size() < s.options.max_queue) {
        s.queue.push_back(address);
        e.pending = true;
        queued = true;
      } else {
        s.dropped.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }
  if (queued) s.wake.notify_one();
  return result_;
}

int64_t PeerNames::resolved() const {
  return shared_->resolved.load(std::memory_order_relaxed);
}

int64_t PeerNames::dropped() const {
  return shared_->dropped.load(std::memory_order_relaxed);
}

}  // namespace traffic
