// DebugObserver: the -logx.debug lines. A CollectorObserver (installed
// beside the others through ObserverFanout) that writes what the polling
// loop does, one line each, "tcp-info: debug: ..." on stderr:
//
//   cycle     every cycle's counts (dump sizes and times per family,
//             changes, opens, closes, skips, tracked connections, archive
//             files created); at most one line a second, the cycles in
//             between counted in the next line
//   dump      each cycle whose dumps met irregularities (interrupted,
//             errors, ENOBUFS, truncation, ...) and whether closes waited
//   open      a connection first archived: its uuid (so its file name),
//             addresses and ports
//   close     a connection ended: its uuid, and whether its destroy event
//             or its absence from the dumps closed it
//   destroy   a destroy event handled (after polls or alone) or lost
//
// The kinds other than cycle are each bounded to about 10 lines a second
// (one per 100 ms of the monotonic clock); a line let through after others
// were held back says how many. Without -logx.debug this observer is not
// installed, so normal runs pay nothing for it.
//
// Thread contract: as CollectorObserver, every call on the polling thread.
#ifndef TCPINFO_COLLECTOR_DEBUG_OBSERVER_H_
#define TCPINFO_COLLECTOR_DEBUG_OBSERVER_H_

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "collector/observer.h"
#include "saver/error_log.h"
#include "saver/saver.h"

namespace collector {

// Writes one debug line, "tcp-info: debug: <text>", to `out` and flushes.
void WriteDebugLine(absl::string_view text, std::FILE* out = stderr);

class DebugObserver : public CollectorObserver {
 public:
  // `saver` (uuids and file counts) must outlive the observer. Lines go to
  // `out`.
  explicit DebugObserver(const saver::Saver* saver, std::FILE* out = stderr);

  void OnFlowOpen(uint64_t cookie, parse::Timestamp timestamp,
                  const parse::RecordView& first) override;
  void OnFlowClose(uint64_t cookie, parse::Timestamp timestamp,
                   CloseReason reason) override;
  void OnCycle(const CycleStats& stats) override;
  void OnDestroyEvent(bool event_only) override;
  void OnDestroyEventsLost() override;

 private:
  // Writes make_text() if `log` admits a line now, with the number of lines
  // held back before it; the text is built only then.
  void Bounded(saver::ErrorLog& log,
               absl::FunctionRef<std::string()> make_text);

  const saver::Saver* saver_;
  std::FILE* out_;
  saver::ErrorLog cycle_log_;
  saver::ErrorLog dump_log_;
  saver::ErrorLog open_log_;
  saver::ErrorLog close_log_;
  saver::ErrorLog destroy_log_;
  uint64_t files_seen_ = 0;  // saver's files_created at the last cycle line
};

}  // namespace collector

#endif  // TCPINFO_COLLECTOR_DEBUG_OBSERVER_H_
