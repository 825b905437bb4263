// ConnectionStore: the latest parsed snapshot of every open connection, and
// the final one of each connection closed within keep_closed, for the query
// API. A collector observer on the polling thread feeds it; the HTTP
// server's thread reads it.
//
// The polling thread never waits: during a cycle it only records what
// changed (one immutable ConnectionState per changed connection, made from
// the snapshot the saver got); at the cycle's end it publishes those with
// try_lock, pointer swaps only (O(changed)), and if a reader holds the lock
// it keeps them for the next cycle. Readers hold the lock for a lookup or
// a copy of the pointers, never while rendering; what they get is
// immutable and stays valid as long as they keep it.
//
// Threading: the CollectorObserver methods from the polling thread; Find,
// Open and uuid_prefix from any thread.
#ifndef TCPINFO_API_CONNECTION_STORE_H_
#define TCPINFO_API_CONNECTION_STORE_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "collector/observer.h"
#include "parse/snapshot.h"

namespace api {

// One connection as the API shows it. Immutable once published.
struct ConnectionState {
  uint64_t cookie = 0;
  parse::Snapshot snapshot;  // its latest (when closed: final) snapshot
  bool open = true;
  parse::Timestamp closed_at;  // when !open
  collector::CloseReason close_reason = collector::CloseReason::kAbsent;
};

class ConnectionStore : public collector::CollectorObserver {
 public:
  // `uuid_prefix`: the archives' (saver::FormatUuid). A closed connection
  // is kept `keep_closed` (measured on the cycles' monotonic clock).
  ConnectionStore(std::string uuid_prefix, absl::Duration keep_closed);
  ConnectionStore(const ConnectionStore&) = delete;
  ConnectionStore& operator=(const ConnectionStore&) = delete;

  void OnSnapshot(uint64_t cookie, parse::Timestamp timestamp,
                  const parse::RecordView& record,
                  parse::Change change) override;
  void OnFlowClose(uint64_t cookie, parse::Timestamp timestamp,
                   collector::CloseReason reason) override;
  void OnCycle(const collector::CycleStats& stats) override;

  // The connection as last published; null if unknown or expired.
  std::shared_ptr<const ConnectionState> Find(uint64_t cookie) const;
  // Every open connection as last published, in no particular order.
  std::vector<std::shared_ptr<const ConnectionState>> Open() const;

  const std::string& uuid_prefix() const { return uuid_prefix_; }

  // Runs `fn` holding the lock readers take, as a slow reader would: a
  // cycle ending meanwhile publishes nothing and keeps its changes. For
  // tests.
  template <typename Fn>
  void WhileLocked(Fn fn) const {
    std::lock_guard<std::mutex> lock(mu_);
    fn();
  }

 private:
  using StatePtr = std::shared_ptr<const ConnectionState>;
  // The state of `cookie` the polling thread last made (pending or
  // published); null if none. Polling thread only: it is the only writer.
  const ConnectionState* Latest(uint64_t cookie) const;

  const std::string uuid_prefix_;
  const std::chrono::steady_clock::duration keep_closed_;

  // Polling thread only. pending_: made this cycle (or kept from cycles
  // whose publication found the lock taken); closing_: closed this cycle;
  // expiries_: closed cookies in order of when they may go.
  absl::flat_hash_map<uint64_t, StatePtr> pending_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, uint64_t>>
      closing_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, uint64_t>>
      expiries_;
  parse::Snapshot scratch_;

  mutable std::mutex mu_;
  // Written by the polling thread under mu_; read by it without (it is the
  // only writer), by others under mu_.
  absl::flat_hash_map<uint64_t, StatePtr> published_;
};

}  // namespace api

#endif  // TCPINFO_API_CONNECTION_STORE_H_
