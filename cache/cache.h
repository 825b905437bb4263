// Cache: the last archived snapshot of every live connection, keyed by the
// kernel's socket cookie, and the set of connections seen in the current
// polling cycle.
//
// Thread contract: owned by the collector's polling thread; not thread-safe.
//
// Cost contract (the hot path): Observe() on an unchanged connection does one
// hash lookup and one one-pass comparison against the stored snapshot and
// allocates nothing. Only a changed or new connection copies its bytes, into
// a buffer it reuses while the snapshot fits.
//
// Memory: per connection a 32-byte table slot (the table grows at half
// full and, once a burst has gone, shrinks back to at most a quarter full:
// 64-256 bytes) and one heap block holding the packed snapshot
// (cache/packed_record.h), about 470 bytes for a 6.18 kernel record: ~570
// bytes of heap per connection in all (bench/cache_bench).
#ifndef TCPINFO_CACHE_CACHE_H_
#define TCPINFO_CACHE_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/functional/function_ref.h"
#include "parse/change.h"
#include "parse/record_view.h"

namespace cache {

class Cache {
 public:
  Cache();
  ~Cache();
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  // Records that `record` (views into the caller's buffer) was seen in the
  // current cycle and returns how it differs from the last snapshot stored
  // for its cookie: parse::Change::kNew for an unknown cookie, kNone when
  // nothing worth archiving changed. Whenever the result is not kNone the
  // record's bytes are stored as the connection's new reference.
  // REQUIRES: record.raw_idm is a whole inet_diag_msg.
  parse::Change Observe(const parse::RecordView& record);

  // Hints for connections about to be observed, no effect on the contents.
  // Prefetch() starts loading the table slot of `cookie` into the CPU cache
  // (its line follows from the cookie alone); PrefetchSnapshot(), once that
  // slot is loaded, starts loading the stored snapshot that Observe()
  // compares with. Issued early enough (the collector prefetches the slots
  // of every message in a received buffer, and each snapshot a few messages
  // ahead), Observe() of an unchanged connection does not wait on memory.
  void Prefetch(uint64_t cookie) const;
  void PrefetchSnapshot(uint64_t cookie) const;

  // Ends a complete dump: calls `closed(cookie)` for every connection not
  // observed since the previous EndCycle (it is gone from the kernel's
  // table) and forgets it. Returns the number closed.
  size_t EndCycle(absl::FunctionRef<void(uint64_t cookie)> closed);

  // Starts a new cycle without closing anything: what was observed so far
  // no longer counts as observed for the next EndCycle(). The adaptive
  // poller calls it before a full dump, so that connections observed only
  // by exact requests since the last full dump are judged by the dump.
  void RestartCycle();

  // Forgets one connection at once (its destroy event arrived). Returns
  // false if it was unknown.
  bool Remove(uint64_t cookie);

  // The last stored snapshot of `cookie`, valid until the next call that
  // changes the cache; nullptr-data raw_idm if unknown.
  parse::RecordView Last(uint64_t cookie) const;

  // Connections currently held.
  size_t size() const;

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace cache

#endif  // TCPINFO_CACHE_CACHE_H_
