// Collector: the polling loop. Every cycle (in PollMode::kFull, the
// default; see "Adaptive polling" below for kAdaptive) it dumps the
// kernel's TCP sockets (AF_INET6, then AF_INET) through one long-lived
// DumpSocket and, for each inet_diag message, in the receive buffer and
// without allocating:
//
//   (the kernel runs the -filter program's bytecode)
//   Filter::Skip, filter::Program::Matches (on the inet_diag_msg)
//     -> Anonymizer::Apply (in place)
//     -> parse::SplitMessage -> cache::Cache::Observe
//     -> (new or changed) saver::Saver::Write
//
// After a cycle whose two dumps were both complete, connections missing from
// it are closed (cache::Cache::EndCycle -> saver::Saver::Close); after an
// incomplete one nothing is closed. saver::Saver::Tick runs every cycle.
// Snapshots are stamped with the time their buffer was received, in UTC,
// truncated to the millisecond as the reference does.
//
// Run() repeats cycles every `interval`, measured start to start; a cycle
// that overruns it is followed at once by the next, and missed cycles are
// not made up. Between cycles it sleeps in poll(), on the stop descriptor
// and any descriptors added with AddWatch() (e.g. a destroy-event socket).
//
// Clocks. The wall clock (CLOCK_REALTIME) only stamps: snapshots, destroy
// events and close events carry the wall time they were taken at, and the
// saver names files by it. Every duration, deadline and schedule (the
// interval, the destroy grace, the memory of finished connections, the
// summary interval, dump and cycle times, CycleStats::since_previous) is
// measured on the monotonic clock (CLOCK_MONOTONIC), which a step of the
// wall clock does not move. So when the wall clock is stepped (by hand, or
// by NTP after a long drift), back or forward by any amount:
//   - polling goes on every `interval`, without a pause or a burst;
//   - snapshot timestamps follow the wall clock at once, as the reference's
//     do: after a step back, a file's timestamps go back by the step;
//   - no duration is negative or includes the step (the polling interval
//     histogram sees 10 ms, not -1 h or +1 day);
//   - nothing is closed early or late: a connection gone from the dumps
//     still waits exactly destroy_grace for its event;
//   - files are rotated by their age on the monotonic clock (saver.h), so a
//     step neither rotates nor splits a file; files started after it are
//     dated (YYYY/MM/DD) by the stepped clock.
// absl::Now() may take up to ~2 s to notice a step (it interpolates the
// kernel's clock with the cycle counter), so snapshots of those seconds
// may still carry the clock from before it.
//
// Adaptive polling (PollMode::kAdaptive). A cycle is either a full dump,
// as above, or an exact cycle: exact requests (collector/exact_socket.h)
// for the active connections only (collector/activity.h: those that
// changed in one of their last active_cycles cycles), handled like dump
// messages. A full dump is made when discovery_interval has passed since
// the last one (it finds new connections, sees the idle ones' changes and
// closes what is gone, as in full mode), and whenever the cost model
// (collector/cost_model.h) predicts it cheaper than the exact requests.
// Before a full dump the cache restarts its cycle (cache::Cache::
// RestartCycle), so that a connection observed only by an exact cycle is
// still closed by its absence from the dump. In an exact cycle:
//   - a reply for a connection in a state a dump leaves out (TIME_WAIT,
//     SYN_RECV, CLOSE), or an ENOENT/ESTALE answer (the socket, or that
//     cookie on its tuple, is gone) ends the connection as its absence
//     from a complete dump does: the destroy grace, then its close; a new
//     socket on a reused tuple is a new connection, found by the next
//     full dump;
//   - a query that is incomplete (a truncated or lost reply, an
//     unexpected error) falls back to a full dump in the same cycle,
//     counted in poll_fallbacks;
//   - nothing else is closed, and the cache's cycle does not end.
// Bounds: an active connection is polled every interval as in full mode;
// a new connection's first snapshot and an idle connection's first change
// come at most discovery_interval (plus one interval) late; final states
// come from destroy events as in full mode.
//
// Namespaces (-netns): created with CreateWithSources, the collector polls
// the set of NamespaceSources (collector/namespace_sources.h) another thread
// hands over, instead of its own namespace: each cycle applies the changes
// handed over since the last one, then dumps every source (AF_INET6 then
// AF_INET each; CycleStats::dumps sums them, complete only if all were), so
// one cache and one saver serve every namespace (socket cookies are unique
// host-wide). Between cycles it drains every source's destroy listener
// itself. A removed source is dumped a last time, its events drained, then
// dropped: its connections are closed by absence (final records). Each
// flow's namespace reaches the observer through OnFlowOpenIn.
//
// Thread contract: not thread-safe; all methods, the saver and the observer
// are used from the one thread that calls Run() or RunCycle().
#ifndef TCPINFO_COLLECTOR_COLLECTOR_H_
#define TCPINFO_COLLECTOR_COLLECTOR_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "collector/anonymizer.h"
#include "collector/exact_socket.h"
#include "collector/filter.h"
#include "collector/namespace_sources.h"
#include "collector/netlink_dump.h"
#include "collector/observer.h"
#include "filter/program.h"
#include "saver/saver.h"

namespace collector {

// How a cycle asks the kernel (see "Adaptive polling" below).
enum class PollMode {
  kFull,      // a full dump every cycle, as the reference
  kAdaptive,  // exact requests for the active connections, full dumps at
              // least every discovery_interval and whenever cheaper
};

struct CollectorOptions {
  absl::Duration interval = absl::Milliseconds(10);
  int64_t reps = 0;  // cycles Run() performs; 0 = until stopped
  FilterOptions filter;
  // -filter: only the connections it selects are dumped (its queries carry
  // its bytecode), archived, counted and reported; null selects all. A
  // destroy event passes if the program matches it (state CLOSE) or its
  // connection was selected while alive (it is tracked).
  std::shared_ptr<const filter::Program> program;
  AnonymizeMode anonymize = AnonymizeMode::kNone;
  // Addresses never anonymized; Anonymizer::HostAddresses() if empty.
  std::vector<IpAddress> host_addresses;
  // How often Run() writes its one-line summary to stderr.
  absl::Duration summary_interval = absl::Minutes(1);
  // With destroy events (HandleDestroyed): how long a connection missing
  // from a complete dump waits for its destroy event, which carries its
  // final state, before it is closed anyway. Zero closes it at once, as
  // without destroy events. Monotonic, as every duration here.
  absl::Duration destroy_grace = absl::ZeroDuration();
  // How long a connection finished by its destroy event is remembered, so
  // that a dump already in flight does not reopen it (from the moment the
  // event is handled, whatever wall time it carries).
  absl::Duration finished_memory = absl::Seconds(60);
  PollMode poll_mode = PollMode::kFull;
  // kAdaptive: the longest time between two full dumps.
  absl::Duration discovery_interval = absl::Seconds(1);
  // kAdaptive: a connection is polled exactly while it changed in one of
  // its last `active_cycles` cycles (collector/activity.h); 0 = the
  // default rule, max(10, 500 ms / interval) cycles: a connection that
  // moves at least twice a second stays active.
  int64_t active_cycles = 0;
};

// Totals since creation.
struct CollectorStats {
  int64_t cycles = 0;
  int64_t incomplete_cycles = 0;
  int64_t messages = 0;
  int64_t skipped = 0;
  int64_t bad_messages = 0;
  int64_t changes = 0;
  int64_t opened = 0;
  int64_t closed = 0;
  int64_t connections = 0;  // tracked now
  DumpIssueCounts dump_issues{};
  int64_t destroy_events = 0;       // destroy messages handled
  int64_t event_only_archives = 0;  // connections no poll ever saw
  int64_t destroy_duplicates = 0;   // events for connections already finished
  int64_t destroy_overflows = 0;    // times the kernel dropped events
  int64_t late_dump_records = 0;    // dump records of finished connections
  int64_t full_dumps = 0;           // cycles that dumped (both families)
  int64_t exact_cycles = 0;         // cycles of exact requests only
  int64_t exact_requests = 0;       // exact requests sent
  int64_t exact_gone = 0;           // answered ENOENT/ESTALE
  int64_t poll_fallbacks = 0;       // exact cycles that fell back to a dump
};

class Collector {
 public:
  // `saver` must outlive the collector; `observer` may be null.
  // Fails if the netlink socket cannot be opened.
  static absl::StatusOr<std::unique_ptr<Collector>> Create(
      const CollectorOptions& options, saver::Saver* saver,
      CollectorObserver* observer);
  // The same, dumping from `source` instead of the kernel (tests), and
  // with PollMode::kAdaptive asking `exact` (which must then be given).
  static std::unique_ptr<Collector> CreateWithSource(
      const CollectorOptions& options, std::unique_ptr<DumpSource> source,
      saver::Saver* saver, CollectorObserver* observer,
      std::unique_ptr<ExactSource> exact = nullptr);
  // Polls the namespace sources handed over through `handoff` (which must
  // outlive the collector), none at first, instead of its own namespace.
  // Full polling only (exact requests are its own namespace's).
  static std::unique_ptr<Collector> CreateWithSources(
      const CollectorOptions& options, SourceHandoff* handoff,
      saver::Saver* saver, CollectorObserver* observer);
  ~Collector();
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  // Runs one polling cycle now and returns what it did.
  const CycleStats& RunCycle();

  // Runs cycles until `reps` are done or `stop_fd` (e.g. a signalfd; -1 for
  // none) becomes readable, which ends the loop after the current cycle.
  // Does not read stop_fd. Returns the number of cycles run. Does not
  // finish the saver's files: the caller calls saver::Saver::CloseAll().
  int64_t Run(int stop_fd);

  // While Run() waits between cycles and `fd` is readable, calls
  // `on_readable` (on the polling thread).
  void AddWatch(int fd, absl::AnyInvocable<void()> on_readable);

  // The kernel destroyed a socket: `payload` (an inet_diag message with its
  // final tcp_info, state CLOSE; modified in place by anonymization) is its
  // final snapshot, stamped `received` (wall clock). Filtered and anonymized
  // like a dumped one, then written if it differs from the last snapshot
  // written (always, for a connection no poll saw or one already waiting in the
  // destroy grace), and its file is finished at once. Events for a connection
  // already finished are ignored, and so are its records in later dumps.
  // Polling thread only.
  void HandleDestroyed(char* payload, size_t size, absl::Time received);

  // The kernel dropped destroy events (ENOBUFS): counted; what was missed
  // is closed by dump absence after the grace.
  void CountDestroyOverflow();

  // With sources: reads every destroy event pending now on every source's
  // listener (as Run does between cycles), e.g. after Run returns. Without
  // sources it does nothing.
  void DrainDestroyEvents();

  // Namespace sources polled now (0 without CreateWithSources).
  size_t namespaces() const;

  CollectorStats stats() const;

  // The summary line Run() logs every summary_interval.
  std::string SummaryLine() const;

 private:
  struct Rep;
  explicit Collector(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace collector

#endif  // TCPINFO_COLLECTOR_COLLECTOR_H_
