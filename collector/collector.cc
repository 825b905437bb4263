#include "collector/collector.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cache/cache.h"
#include "collector/activity.h"
#include "collector/cost_model.h"
#include "collector/dump_socket.h"
#include "collector/netlink_dump.h"
#include "inetdiag/inet_diag.h"
#include "parse/record_view.h"
#include "saver/error_log.h"

namespace collector {
namespace {

// Every duration, deadline and schedule is measured on the monotonic clock
// (CLOCK_MONOTONIC), which a step of the wall clock does not move; the wall
// clock only stamps what is written (see collector.h).
using MonotonicClock = std::chrono::steady_clock;
using MonotonicTime = MonotonicClock::time_point;

absl::Duration Between(MonotonicTime earlier, MonotonicTime later) {
  return absl::FromChrono(later - earlier);
}

// `t` + `d`, with `d` capped at a century so that an infinite option cannot
// overflow the clock's 64-bit nanoseconds.
MonotonicTime Plus(MonotonicTime t, absl::Duration d) {
  d = std::min(d, absl::Hours(24 * 365 * 100));
  return t + std::chrono::duration_cast<MonotonicClock::duration>(
                 absl::ToChronoNanoseconds(d));
}

// Zeroes the secret of every TCP-MD5 key in the INET_DIAG_MD5SIG attribute
// of `view` (which points into a writable message), keeping the family,
// prefix, key length and peer: the kernel hands the keys to a reader with
// CAP_NET_ADMIN, and no archive should hold them.
void ZeroMd5Keys(const parse::RecordView& view) {
  if (!view.Has(inetdiag::kMd5Sig)) return;
  const absl::string_view a = view.attributes[inetdiag::kMd5Sig];
  char* bytes = const_cast<char*>(a.data());
  for (size_t e = 0; a.size() - e >= inetdiag::kMd5SigEntrySize;
       e += inetdiag::kMd5SigEntrySize) {
    std::memset(bytes + e + inetdiag::kMd5SigKey, 0, inetdiag::kMd5SigKeySize);
  }
}

// The reference stamps snapshots with UTC time truncated to the millisecond
// (it compresses better, and a dump takes milliseconds anyway).
parse::Timestamp ToTimestamp(absl::Time t) {
  return parse::Timestamp::FromUnixNanos(absl::ToUnixMillis(t) * 1000000);
}

void LogLine(absl::string_view line) {
  std::fprintf(stderr, "tcp-info: %.*s\n", static_cast<int>(line.size()),
               line.data());
}

class NoObserver : public CollectorObserver {};

int64_t ActiveCycles(const CollectorOptions& o) {
  if (o.active_cycles > 0) return o.active_cycles;
  if (o.interval <= absl::ZeroDuration()) return 50;
  return std::max<int64_t>(
      10, absl::ToInt64Milliseconds(absl::Milliseconds(500)) /
              std::max<int64_t>(1, absl::ToInt64Milliseconds(o.interval)));
}

struct Watch {
  int fd;
  absl::AnyInvocable<void()> on_readable;
};

// A namespace source being polled; `removing`: dumped one last time this
// cycle, then dropped.
struct PolledSource {
  NamespaceSource source;
  bool removing = false;
};

// Adds the result of one namespace's dump to the cycle's sum for its family.
void AddDump(const DumpResult& d, DumpResult* sum) {
  sum->complete = sum->complete && d.complete;
  sum->messages += d.messages;
  sum->bytes += d.bytes;
  sum->buffers += d.buffers;
  sum->elapsed += d.elapsed;
  if (d.error != 0) sum->error = d.error;
  for (int i = 0; i < kDumpIssueCount; ++i) sum->issues[i] += d.issues[i];
}

}  // namespace

struct Collector::Rep {
  Rep(const CollectorOptions& o, std::unique_ptr<DumpSource> s,
      saver::Saver* sv, CollectorObserver* obs, std::unique_ptr<ExactSource> e)
      : options(o),
        socket(std::move(s)),
        exact(std::move(e)),
        adaptive(o.poll_mode == PollMode::kAdaptive && exact != nullptr),
        activity(ActiveCycles(o)),
        filter(o.filter),
        anonymizer(o.anonymize, o.host_addresses.empty() &&
                                        o.anonymize != AnonymizeMode::kNone
                                    ? Anonymizer::HostAddresses()
                                    : o.host_addresses),
        saver(sv),
        observer(obs != nullptr ? obs : &no_observer) {
    ahead.reserve(1024);
  }

  void LookAhead(const DumpMessage& m);
  void FullDump();
  bool ExactCycle();
  void HandleExactReply(const DumpMessage& m);
  void GoneFromExact(uint64_t cookie);
  void HandleMessage(const DumpMessage& m);
  void HandleDestroyed(char* payload, size_t size, absl::Time received);
  void CloseConnection(uint64_t cookie, parse::Timestamp now);
  void ExpireDestroyState(MonotonicTime now, parse::Timestamp stamp_now);
  void EndCycle(bool complete);
  void LogDumpIssues();
  bool WaitUntil(MonotonicTime deadline, int stop_fd);
  void ApplySourceChanges();
  void DumpSources();
  void DrainSource(PolledSource& p);

  CollectorOptions options;
  std::unique_ptr<DumpSource> socket;
  std::unique_ptr<ExactSource> exact;
  const bool adaptive;
  ActivityTracker activity;
  CostModel cost;
  MonotonicTime next_discovery{};
  std::vector<ExactTarget> targets;
  Filter filter;
  Anonymizer anonymizer;
  cache::Cache cache;
  saver::Saver* saver;
  NoObserver no_observer;
  CollectorObserver* observer;

  CycleStats cycle;
  CollectorStats totals;
  // Monotonic start of the current (or last) cycle and of the one before.
  MonotonicTime cycle_start{};
  MonotonicTime previous_start{};
  // Reused by HandleMessage: one conversion per received buffer.
  absl::Time stamped_time = absl::InfinitePast();
  parse::Timestamp stamp;

  // Connections missing from a complete dump, waiting (until the deadline)
  // for their destroy event; only with options.destroy_grace > 0.
  absl::flat_hash_map<uint64_t, MonotonicTime> awaiting_destroy;
  // Connections finished by their destroy event, and when.
  absl::flat_hash_map<uint64_t, MonotonicTime> finished;
  MonotonicTime next_expiry{};

  std::vector<Watch> watches;
  // With CreateWithSources: the handoff, the sources polled, the changes
  // taken from the handoff (reused), and the namespace of the messages being
  // handled ({} without sources).
  SourceHandoff* handoff = nullptr;
  std::vector<PolledSource> sources;
  std::vector<SourceChange> changes;
  NamespaceRef current_ns;
  std::vector<struct pollfd> poll_fds;

  // The split of the message being handled, reused from message to message.
  parse::RecordView view;
  // The cookies of the messages in the buffer being handled (capacity fixed
  // at start: a dump buffer holds far fewer), for look-ahead prefetching,
  // and the index of the next message.
  std::vector<uint64_t> ahead;
  size_t ahead_next = 0;

  saver::ErrorLog dump_log;
  saver::ErrorLog message_log;
  saver::ErrorLog poll_log;
};

// An unchanged socket costs two cache misses, its table slot and its stored
// snapshot (the kernel's dump evicts both between buffers). So while message
// n is handled, the slot of message n + kSlotAhead and the snapshot of
// message n + kSnapshotAhead (whose slot has arrived by then) are loaded
// into the CPU cache: a rolling window, since issuing every miss of a buffer
// at once only fills the CPU's miss queue. Hints only: nothing else depends
// on them.
void Collector::Rep::LookAhead(const DumpMessage& m) {
  constexpr size_t kSlotAhead = 12;
  constexpr size_t kSnapshotAhead = 6;
  if (m.first_in_buffer) {
    ahead.clear();
    ahead_next = 0;
    ForEachDiagPayload(m.buffer, m.buffer_size,
                       [this](const char* payload, size_t size) {
                         // A message too short for a cookie keeps its place in
                         // the order.
                         if (ahead.size() == ahead.capacity()) return;
                         ahead.push_back(size >= sizeof(inetdiag::Msg)
                                             ? inetdiag::CookieOfMsg(payload)
                                             : 0);
                       });
    for (size_t i = 0; i < kSlotAhead && i < ahead.size(); ++i) {
      cache.Prefetch(ahead[i]);
    }
  }
  if (ahead_next + kSlotAhead < ahead.size()) {
    cache.Prefetch(ahead[ahead_next + kSlotAhead]);
  }
  if (ahead_next + kSnapshotAhead < ahead.size()) {
    cache.PrefetchSnapshot(ahead[ahead_next + kSnapshotAhead]);
  }
  ++ahead_next;
}

void Collector::Rep::HandleMessage(const DumpMessage& m) {
  LookAhead(m);
  if (m.size < sizeof(inetdiag::Msg)) {
    ++cycle.bad_messages;
    return;
  }
  const uint64_t cookie = inetdiag::CookieOfMsg(m.payload);
  inetdiag::Msg msg;
  std::memcpy(&msg, m.payload, sizeof(msg));
  if (filter.Skip(msg) ||
      (options.program != nullptr && !options.program->Matches(msg))) {
    ++cycle.skipped;
    return;
  }
  // Back in a dump after all: it was not gone, its file is still open.
  const bool was_awaiting =
      !awaiting_destroy.empty() && awaiting_destroy.erase(cookie) > 0;
  anonymizer.ApplyToMessage(m.payload, m.size);
  int dropped = 0;
  const absl::Status split = parse::SplitMessageInto(
      absl::string_view(m.payload, m.size), &view, &dropped);
  if (!split.ok()) {
    ++cycle.bad_messages;
    if (const std::optional<uint64_t> suppressed = message_log.Admit()) {
      LogLine(absl::StrCat(
          "skipping a malformed inet_diag message: ", split.message(), " (",
          *suppressed, " similar suppressed)"));
    }
    return;
  }
  ZeroMd5Keys(view);
  const parse::Change change = cache.Observe(view);
  if (change == parse::Change::kNone) return;
  if (change == parse::Change::kNew && !finished.empty() &&
      finished.contains(cookie)) {
    // Finished by its destroy event while this dump was in flight. Checked
    // only for a cookie new to the cache, which a finished one must be.
    cache.Remove(cookie);
    ++totals.late_dump_records;
    return;
  }
  if (m.received != stamped_time) {
    stamped_time = m.received;
    stamp = ToTimestamp(m.received);
  }
  if (adaptive) activity.Changed(cookie, msg.family, msg.id, cycle.cycle);
  if (change == parse::Change::kNew && !was_awaiting) {
    ++cycle.opened;
    observer->OnFlowOpenIn(cookie, stamp, view, current_ns);
  }
  saver->Write(cookie, stamp, view);
  ++cycle.changes;
  observer->OnSnapshot(cookie, stamp, view, change);
}

void Collector::Rep::CloseConnection(uint64_t cookie, parse::Timestamp now) {
  if (adaptive) activity.Forget(cookie);
  saver->Close(cookie);
  ++cycle.closed;
  observer->OnFlowClose(cookie, now, CloseReason::kAbsent);
}

void Collector::Rep::HandleDestroyed(char* payload, size_t size,
                                     absl::Time received) {
  if (size < sizeof(inetdiag::Msg)) {
    ++totals.bad_messages;
    return;
  }
  inetdiag::Msg msg;
  std::memcpy(&msg, payload, sizeof(msg));
  if (filter.Skip(msg)) return;
  const uint64_t cookie = inetdiag::Cookie(msg.id);
  // Its state is CLOSE now: a connection the filter selected while alive
  // passes whatever the filter says of CLOSE.
  if (options.program != nullptr && !options.program->Matches(msg) &&
      !awaiting_destroy.contains(cookie) &&
      cache.Last(cookie).raw_idm.data() == nullptr) {
    return;
  }
  if (finished.contains(cookie)) {
    ++totals.destroy_duplicates;
    return;
  }
  anonymizer.ApplyToMessage(payload, size);
  absl::StatusOr<parse::RecordView> view =
      parse::SplitMessage(absl::string_view(payload, size));
  if (!view.ok()) {
    ++totals.bad_messages;
    return;
  }
  ZeroMd5Keys(*view);
  ++totals.destroy_events;
  const parse::Timestamp when = ToTimestamp(received);
  bool event_only = false;
  if (awaiting_destroy.erase(cookie) > 0) {
    // Already gone from the dumps and forgotten by the cache, file still
    // open: the event is its final snapshot.
    saver->Write(cookie, when, *view);
    observer->OnSnapshot(cookie, when, *view, parse::Change::kStateChange);
  } else {
    const parse::Change change = cache.Observe(*view);
    if (change == parse::Change::kNew) {
      event_only = true;
      ++totals.event_only_archives;
      ++totals.opened;
      observer->OnFlowOpenIn(cookie, when, *view, current_ns);
    }
    if (change != parse::Change::kNone) {
      saver->Write(cookie, when, *view);
      ++totals.changes;
      observer->OnSnapshot(cookie, when, *view, change);
    }
    cache.Remove(cookie);
  }
  if (adaptive) activity.Forget(cookie);
  saver->Close(cookie);
  ++totals.closed;
  observer->OnFlowClose(cookie, when, CloseReason::kDestroyed);
  observer->OnDestroyEvent(event_only);
  finished[cookie] = MonotonicClock::now();
}

void Collector::Rep::ExpireDestroyState(MonotonicTime now,
                                        parse::Timestamp stamp_now) {
  if (!awaiting_destroy.empty()) {
    for (auto it = awaiting_destroy.begin(); it != awaiting_destroy.end();) {
      if (it->second <= now) {
        CloseConnection(it->first, stamp_now);
        awaiting_destroy.erase(it++);
      } else {
        ++it;
      }
    }
  }
  // Forgetting finished connections is not urgent: once a second.
  if (now < next_expiry) return;
  next_expiry = Plus(now, absl::Seconds(1));
  absl::erase_if(finished, [&](const auto& entry) {
    return Between(entry.second, now) > options.finished_memory;
  });
}

void Collector::Rep::LogDumpIssues() {
  bool any = false;
  for (const DumpResult& d : cycle.dumps) {
    for (int64_t n : d.issues) any = any || n != 0;
  }
  if (!any) return;
  const std::optional<uint64_t> suppressed = dump_log.Admit();
  if (!suppressed.has_value()) return;
  std::string line = "netlink dump irregularities:";
  for (const DumpResult& d : cycle.dumps) {
    const std::string issues = DescribeDumpIssues(d);
    if (!issues.empty()) absl::StrAppend(&line, " ", issues);
  }
  if (!cycle.complete) {
    absl::StrAppend(&line, "; no connection closed this cycle");
  }
  absl::StrAppend(&line, " (", *suppressed, " similar suppressed)");
  LogLine(line);
}

void Collector::Rep::EndCycle(bool complete) {
  const MonotonicTime monotonic = MonotonicClock::now();
  const parse::Timestamp now = ToTimestamp(absl::Now());
  if (complete) {
    const MonotonicTime grace_end = Plus(monotonic, options.destroy_grace);
    cache.EndCycle([&](uint64_t cookie) {
      if (options.destroy_grace > absl::ZeroDuration()) {
        awaiting_destroy[cookie] = grace_end;
      } else {
        CloseConnection(cookie, now);
      }
    });
  } else {
    ++totals.incomplete_cycles;
  }
  LogDumpIssues();
  ExpireDestroyState(monotonic, now);
  saver->Tick(now);
}

void Collector::Rep::FullDump() {
  CycleStats& c = cycle;
  if (adaptive) cache.RestartCycle();
  const int64_t cpu_start = adaptive ? CostModel::ThreadCpuNanos() : 0;
  if (handoff != nullptr) {
    DumpSources();  // every namespace's, summed in c.dumps
  } else {
    const uint8_t families[2] = {inetdiag::kAfInet6, inetdiag::kAfInet};
    for (int i = 0; i < 2; ++i) {
      c.dumps[i] = socket->Dump(
          families[i], [this](const DumpMessage& m) { HandleMessage(m); });
    }
  }
  c.complete = c.dumps[0].complete && c.dumps[1].complete;
  c.full_dump = true;
  ++totals.full_dumps;
  if (adaptive) {
    cost.ObserveFull(CostModel::ThreadCpuNanos() - cpu_start);
    next_discovery = Plus(cycle_start, options.discovery_interval);
  }
}

// A reply in a state a dump leaves out (the connection went to TIME_WAIT,
// say) is the connection's end, as its absence from a dump would be.
void Collector::Rep::HandleExactReply(const DumpMessage& m) {
  if (m.size >= sizeof(inetdiag::Msg)) {
    const uint8_t state = static_cast<uint8_t>(m.payload[1]);
    if (state >= 32 || ((inetdiag::kDumpStates >> state) & 1) == 0) {
      GoneFromExact(inetdiag::CookieOfMsg(m.payload));
      return;
    }
  }
  HandleMessage(m);
}

void Collector::Rep::GoneFromExact(uint64_t cookie) {
  ++cycle.exact_gone;
  activity.Forget(cookie);
  // Unknown: already finished by its destroy event.
  if (!cache.Remove(cookie)) return;
  if (options.destroy_grace > absl::ZeroDuration()) {
    awaiting_destroy[cookie] =
        Plus(MonotonicClock::now(), options.destroy_grace);
  } else {
    CloseConnection(cookie, ToTimestamp(absl::Now()));
  }
}

// Returns false when the cycle must dump instead (or after it).
bool Collector::Rep::ExactCycle() {
  if (MonotonicClock::now() >= next_discovery) return false;
  activity.Collect(cycle.cycle, &targets);
  if (!cost.PreferExact(static_cast<int64_t>(targets.size()))) return false;
  cycle.full_dump = false;
  if (targets.empty()) return true;
  const int64_t cpu_start = CostModel::ThreadCpuNanos();
  const ExactResult r = exact->Query(
      targets, [this](const DumpMessage& m) { HandleExactReply(m); },
      [this](size_t index) {
        GoneFromExact(inetdiag::Cookie(targets[index].id));
      });
  cycle.exact_requests = r.requests;
  totals.exact_requests += r.requests;
  totals.messages += r.replies;
  if (!r.complete) {
    cycle.fallback = true;
    ++totals.poll_fallbacks;
    for (int i = 0; i < kDumpIssueCount; ++i)
      totals.dump_issues[i] += r.issues[i];
    if (const std::optional<uint64_t> suppressed = dump_log.Admit()) {
      LogLine(absl::StrCat("exact inet_diag requests incomplete (errno ",
                           r.error, "); dumping instead (", *suppressed,
                           " similar suppressed)"));
    }
    return false;
  }
  cost.ObserveExact(r.requests, CostModel::ThreadCpuNanos() - cpu_start);
  return true;
}

bool Collector::Rep::WaitUntil(MonotonicTime deadline, int stop_fd) {
  poll_fds.clear();
  poll_fds.push_back({stop_fd, POLLIN, 0});
  for (const Watch& w : watches) poll_fds.push_back({w.fd, POLLIN, 0});
  const size_t first_source = poll_fds.size();
  for (const PolledSource& p : sources) {
    const DestroyListener* l = p.source.destroy.get();
    poll_fds.push_back({l != nullptr ? l->fd() : -1, POLLIN, 0});
  }
  while (true) {
    const absl::Duration left = std::max(
        absl::ZeroDuration(), Between(MonotonicClock::now(), deadline));
    const struct timespec timeout = absl::ToTimespec(left);
    const int n = ppoll(poll_fds.data(), poll_fds.size(), &timeout, nullptr);
    if (n < 0 && errno != EINTR) {
      if (poll_log.Admit().has_value()) {
        LogLine(absl::StrCat("poll: ", std::strerror(errno)));
      }
    }
    if (n > 0) {
      if (poll_fds[0].revents != 0) return true;
      for (size_t i = 1; i < first_source; ++i) {
        if (poll_fds[i].revents != 0) watches[i - 1].on_readable();
      }
      for (size_t i = first_source; i < poll_fds.size(); ++i) {
        if (poll_fds[i].revents != 0) DrainSource(sources[i - first_source]);
      }
    }
    if (MonotonicClock::now() >= deadline) return false;
  }
}

void Collector::Rep::ApplySourceChanges() {
  if (!handoff->Take(&changes)) return;
  for (SourceChange& change : changes) {
    auto it = std::find_if(
        sources.begin(), sources.end(),
        [&](const PolledSource& p) { return p.source.id == change.source.id; });
    if (change.source.dump == nullptr) {
      if (it != sources.end()) it->removing = true;
    } else if (it != sources.end()) {
      *it = PolledSource{std::move(change.source)};
    } else {
      sources.push_back(PolledSource{std::move(change.source)});
    }
  }
  changes.clear();
}

void Collector::Rep::DrainSource(PolledSource& p) {
  if (p.source.destroy == nullptr) return;
  current_ns = {p.source.id, p.source.name};
  bool overflowed = false;
  p.source.destroy->Drain(
      [&](char* payload, size_t size) {
        HandleDestroyed(payload, size, absl::Now());
      },
      &overflowed);
  if (overflowed) {
    ++totals.destroy_overflows;
    observer->OnDestroyEventsLost();
  }
  current_ns = {};
}

void Collector::Rep::DumpSources() {
  ApplySourceChanges();
  const uint8_t families[2] = {inetdiag::kAfInet6, inetdiag::kAfInet};
  for (int i = 0; i < 2; ++i) {
    cycle.dumps[i].family = families[i];
    cycle.dumps[i].complete = true;
  }
  for (PolledSource& p : sources) {
    current_ns = {p.source.id, p.source.name};
    for (int i = 0; i < 2; ++i) {
      AddDump(
          p.source.dump->Dump(
              families[i], [this](const DumpMessage& m) { HandleMessage(m); }),
          &cycle.dumps[i]);
    }
  }
  current_ns = {};
  cycle.namespaces = static_cast<int64_t>(sources.size());
  for (PolledSource& p : sources) {
    if (p.removing) DrainSource(p);
  }
  std::erase_if(sources, [](const PolledSource& p) { return p.removing; });
}

absl::StatusOr<std::unique_ptr<Collector>> Collector::Create(
    const CollectorOptions& options, saver::Saver* saver,
    CollectorObserver* observer) {
  absl::StatusOr<std::unique_ptr<DumpSocket>> socket =
      options.program == nullptr
          ? DumpSocket::Open()
          : DumpSocket::OpenWithQueries(
                options.program->Queries(inetdiag::kDumpStates));
  if (!socket.ok()) return socket.status();
  std::unique_ptr<ExactSource> exact;
  if (options.poll_mode == PollMode::kAdaptive) {
    absl::StatusOr<std::unique_ptr<ExactSocket>> e = ExactSocket::Open();
    if (!e.ok()) return e.status();
    exact = *std::move(e);
  }
  return CreateWithSource(options, *std::move(socket), saver, observer,
                          std::move(exact));
}

std::unique_ptr<Collector> Collector::CreateWithSource(
    const CollectorOptions& options, std::unique_ptr<DumpSource> source,
    saver::Saver* saver, CollectorObserver* observer,
    std::unique_ptr<ExactSource> exact) {
  return std::unique_ptr<Collector>(new Collector(std::make_unique<Rep>(
      options, std::move(source), saver, observer, std::move(exact))));
}

std::unique_ptr<Collector> Collector::CreateWithSources(
    const CollectorOptions& options, SourceHandoff* handoff,
    saver::Saver* saver, CollectorObserver* observer) {
  auto rep = std::make_unique<Rep>(options, nullptr, saver, observer, nullptr);
  rep->handoff = handoff;
  return std::unique_ptr<Collector>(new Collector(std::move(rep)));
}

Collector::Collector(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
Collector::~Collector() = default;

const CycleStats& Collector::RunCycle() {
  Rep& r = *rep_;
  r.cycle = CycleStats{};
  CycleStats& c = r.cycle;
  c.cycle = ++r.totals.cycles;
  c.start = absl::Now();
  r.previous_start = r.cycle_start;
  r.cycle_start = MonotonicClock::now();
  c.monotonic_start = r.cycle_start;
  c.since_previous = c.cycle == 1 ? absl::ZeroDuration()
                                  : Between(r.previous_start, r.cycle_start);
  if (r.adaptive && r.ExactCycle()) {
    // Nothing is closed by absence, and the cache's cycle goes on.
    ++r.totals.exact_cycles;
    const parse::Timestamp now = ToTimestamp(absl::Now());
    r.ExpireDestroyState(MonotonicClock::now(), now);
    r.saver->Tick(now);
  } else {
    r.FullDump();
    r.EndCycle(c.complete);
  }
  c.connections = static_cast<int64_t>(r.cache.size());
  c.elapsed = Between(r.cycle_start, MonotonicClock::now());

  CollectorStats& t = r.totals;
  for (const DumpResult& d : c.dumps) {
    t.messages += d.messages;
    for (int i = 0; i < kDumpIssueCount; ++i) t.dump_issues[i] += d.issues[i];
  }
  t.skipped += c.skipped;
  t.bad_messages += c.bad_messages;
  t.changes += c.changes;
  t.opened += c.opened;
  t.closed += c.closed;
  t.connections = c.connections;
  r.observer->OnCycle(c);
  return c;
}

int64_t Collector::Run(int stop_fd) {
  Rep& r = *rep_;
  int64_t ran = 0;
  MonotonicTime next = MonotonicClock::now();
  MonotonicTime next_summary = Plus(next, r.options.summary_interval);
  while (!r.WaitUntil(next, stop_fd)) {
    RunCycle();
    ++ran;
    const MonotonicTime now = MonotonicClock::now();
    if (now >= next_summary) {
      LogLine(SummaryLine());
      next_summary = Plus(now, r.options.summary_interval);
    }
    if (r.options.reps > 0 && ran >= r.options.reps) break;
    next = Plus(r.cycle_start, r.options.interval);
  }
  return ran;
}

void Collector::HandleDestroyed(char* payload, size_t size,
                                absl::Time received) {
  rep_->HandleDestroyed(payload, size, received);
}

void Collector::CountDestroyOverflow() {
  ++rep_->totals.destroy_overflows;
  rep_->observer->OnDestroyEventsLost();
}

void Collector::DrainDestroyEvents() {
  for (PolledSource& p : rep_->sources) rep_->DrainSource(p);
}

size_t Collector::namespaces() const { return rep_->sources.size(); }

void Collector::AddWatch(int fd, absl::AnyInvocable<void()> on_readable) {
  rep_->watches.push_back({fd, std::move(on_readable)});
}

CollectorStats Collector::stats() const { return rep_->totals; }

std::string Collector::SummaryLine() const {
  const CollectorStats& t = rep_->totals;
  const saver::Stats s = rep_->saver->stats();
  return absl::StrFormat(
      "summary connections=%d records_written=%d changes=%d files_open=%d "
      "files_created=%d write_errors=%d cycles=%d incomplete_cycles=%d "
      "opened=%d closed=%d skipped=%d bad_messages=%d destroy_events=%d "
      "event_only_archives=%d destroy_overflows=%d repaired_files=%d",
      t.connections, s.records_written, t.changes, s.open_files,
      s.files_created, s.write_errors, t.cycles, t.incomplete_cycles, t.opened,
      t.closed, t.skipped, t.bad_messages, t.destroy_events,
      t.event_only_archives, t.destroy_overflows, s.repaired_files);
}

}  // namespace collector
