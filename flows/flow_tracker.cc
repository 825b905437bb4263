#include "flows/flow_tracker.h"

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>

#include "absl/container/flat_hash_map.h"
#include "collector/ip_address.h"
#include "flows/counters.h"
#include "flows/listening_ports.h"
#include "inetdiag/inet_diag.h"
#include "saver/saver.h"
#include "tcp/tcp_info.h"

namespace flows {

namespace {

// Flow::due_ns when the flow is in no queue.
constexpr int64_t kUnscheduled = -1;
// At most this many congestion control names are told apart; later ones
// read as "".
constexpr size_t kMaxCcNames = 256;

// What the tracker keeps of one open flow.
struct Flow {
  FlowCounters total;     // at the last snapshot
  FlowCounters recorded;  // `total` when the previous record was made
  int64_t start_ns = 0;   // wall clock, first sighting
  int64_t last_ns = 0;    // wall clock, last snapshot
  // Monotonic: when the flow's queue entry is due; kUnscheduled when it has
  // none (opened since the last cycle, or due while idle).
  int64_t due_ns = kUnscheduled;
  uint64_t max_delivery_rate = 0;
  uint32_t min_rtt_us = 0;
  uint32_t rtt_us = 0;
  uint32_t seq = 0;  // of the next record
  collector::IpAddress local;
  collector::IpAddress remote;
  uint16_t local_port = 0;
  uint16_t remote_port = 0;
  uint8_t state = 0;
  uint8_t cc = 0;      // index into Rep::cc_names
  uint16_t netns = 0;  // index into Rep::netns (-netns; 0: none)
  bool direction_decided : 1 = false;
  bool incoming : 1 = false;
  // Due while idle: its next counter change puts it on the ready list.
  bool overdue : 1 = false;
};

struct Due {
  int64_t due_ns;
  uint64_t cookie;
};

int64_t Nanos(parse::Timestamp t) { return t.seconds * 1000000000 + t.nanos; }

int64_t MonotonicNanos(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             t.time_since_epoch())
      .count();
}

// The INET_DIAG_CONG name, without its terminating NUL.
// REQUIRES: record.Has(inetdiag::kCong).
absl::string_view CcName(const parse::RecordView& record) {
  const absl::string_view a = record.attributes[inetdiag::kCong];
  return a.substr(0, a.find('\0'));
}

uint8_t StateOf(const parse::RecordView& record) {
  return static_cast<uint8_t>(record.raw_idm[offsetof(inetdiag::Msg, state)]);
}

// The namespace names of open flows (-netns), each once, by a 16-bit index
// that a Flow keeps; a name is forgotten with its last flow. Index 0 is "",
// and the one every flow gets once 65,535 names are in use.
class NamespaceNames {
 public:
  uint16_t Acquire(absl::string_view name) {
    if (name.empty()) return 0;
    auto it = index_.find(name);
    if (it == index_.end()) {
      uint16_t i;
      if (!free_.empty()) {
        i = free_.back();
        free_.pop_back();
      } else if (names_.size() < 65536) {
        i = static_cast<uint16_t>(names_.size());
        names_.emplace_back();
        refs_.push_back(0);
      } else {
        return 0;
      }
      names_[i] = std::string(name);
      it = index_.emplace(names_[i], i).first;
    }
    ++refs_[it->second];
    return it->second;
  }
  void Release(uint16_t i) {
    if (i == 0 || --refs_[i] > 0) return;
    index_.erase(names_[i]);
    names_[i].clear();
    free_.push_back(i);
  }
  const std::string& Name(uint16_t i) const { return names_[i]; }

 private:
  std::vector<std::string> names_ = {""};
  std::vector<uint32_t> refs_ = {0};
  std::vector<uint16_t> free_;
  absl::flat_hash_map<std::string, uint16_t> index_;
};

static_assert(sizeof(Flow) <= 280, "a flow's memory (see flow_tracker.h)");

}  // namespace

LimitedBy LimitedByOf(const FlowCounters& d) {
  if (d.busy_us == 0) return LimitedBy::kNone;
  const uint64_t limited = d.rwnd_limited_us + d.sndbuf_limited_us;
  const uint64_t network = d.busy_us > limited ? d.busy_us - limited : 0;
  if (network >= d.rwnd_limited_us && network >= d.sndbuf_limited_us) {
    return LimitedBy::kNetwork;
  }
  return d.rwnd_limited_us >= d.sndbuf_limited_us ? LimitedBy::kReceiver
                                                  : LimitedBy::kSender;
}

struct FlowTracker::Rep {
  Rep(FlowTrackerOptions o, RecordConsumer* c)
      : options(std::move(o)),
        consumer(c),
        timeout_ns(absl::ToInt64Nanoseconds(options.active_timeout)) {
    cc_names.emplace_back();
  }

  Flow* Find(uint64_t cookie) {
    const auto it = flows.find(cookie);
    return it == flows.end() ? nullptr : it->second.get();
  }

  // Queues `f` for an interim record at `due_ns` (never before the last
  // entry: the queue stays ordered).
  void Schedule(uint64_t cookie, Flow& f, int64_t due_ns) {
    if (!queue.empty()) due_ns = std::max(due_ns, queue.back().due_ns);
    f.due_ns = due_ns;
    queue.push_back({due_ns, cookie});
  }

  uint8_t InternCc(absl::string_view name) {
    for (size_t i = 0; i < cc_names.size(); ++i) {
      if (cc_names[i] == name) return static_cast<uint8_t>(i);
    }
    if (cc_names.size() == kMaxCcNames) return 0;
    cc_names.emplace_back(name);
    return static_cast<uint8_t>(cc_names.size() - 1);
  }

  // The flow's next record, which it counts as made.
  void Emit(uint64_t cookie, Flow& f, RecordKind kind, EndReason reason) {
    if (!f.direction_decided) {
      f.direction_decided = true;
      f.incoming = listening.Contains(f.local_port);
    }
    FlowRecord r;
    r.uuid = saver::FormatUuid(options.uuid_prefix, cookie);
    r.cookie = cookie;
    r.seq = f.seq++;
    r.kind = kind;
    r.end_reason = reason;
    r.local = f.local;
    r.remote = f.remote;
    r.local_port = f.local_port;
    r.remote_port = f.remote_port;
    r.direction = f.incoming ? Direction::kIn : Direction::kOut;
    r.congestion_algorithm = cc_names[f.cc];
    r.netns = netns.Name(f.netns);
    r.state = f.state;
    r.start_time = parse::Timestamp::FromUnixNanos(f.start_ns);
    r.end_time = parse::Timestamp::FromUnixNanos(f.last_ns);
    r.total = f.total;
    r.delta = Subtract(f.total, f.recorded);
    r.min_rtt_us = f.min_rtt_us;
    r.rtt_us = f.rtt_us;
    r.max_delivery_rate = f.max_delivery_rate;
    r.limited_by = LimitedByOf(r.delta);
    f.recorded = f.total;
    if (options.owners != nullptr) options.owners->FillOwner(cookie, &r.owner);
    consumer->Consume(std::move(r));
  }

  // An interim record for a due flow that moved, and its next due time; an
  // idle one waits for its next change.
  void HandleDue(uint64_t cookie, Flow& f, int64_t now_ns) {
    if (f.total == f.recorded) {
      f.due_ns = kUnscheduled;
      f.overdue = true;
      return;
    }
    Emit(cookie, f, RecordKind::kInterim, EndReason::kInterim);
    Schedule(cookie, f, now_ns + timeout_ns);
  }

  const FlowTrackerOptions options;
  RecordConsumer* const consumer;
  const int64_t timeout_ns;
  ListeningPorts listening;
  // Each flow on the heap, so that the table's free slots cost a pointer,
  // not a Flow, and a closed flow's memory goes back at once.
  absl::flat_hash_map<uint64_t, std::unique_ptr<Flow>> flows;
  std::deque<Due> queue;              // by due_ns
  std::vector<uint64_t> opened;       // since the last cycle, not yet queued
  std::vector<uint64_t> ready;        // overdue flows that moved since
  std::vector<std::string> cc_names;  // [0] is ""
  NamespaceNames netns;
};

FlowTracker::FlowTracker(FlowTrackerOptions options, RecordConsumer* consumer)
    : rep_(std::make_unique<Rep>(std::move(options), consumer)) {
  if (rep_->options.watch_listeners) {
    const absl::Status started = rep_->listening.Start();
    if (!started.ok()) {
      std::fprintf(stderr,
                   "tcp-info: flows: cannot watch listening sockets (%s); "
                   "every flow's direction will be out\n",
                   std::string(started.message()).c_str());
    }
  }
}

FlowTracker::~FlowTracker() = default;

void FlowTracker::OnFlowOpen(uint64_t cookie, parse::Timestamp timestamp,
                             const parse::RecordView& first) {
  OnFlowOpenIn(cookie, timestamp, first, collector::NamespaceRef{});
}

void FlowTracker::OnFlowOpenIn(uint64_t cookie, parse::Timestamp timestamp,
                               const parse::RecordView& first,
                               const collector::NamespaceRef& ns) {
  const inetdiag::Msg msg = first.Idm();
  if (msg.state == tcp::kListen) return;
  std::unique_ptr<Flow>& slot = rep_->flows[cookie];
  if (slot != nullptr) return;
  slot = std::make_unique<Flow>();
  Flow& f = *slot;
  f.netns = rep_->netns.Acquire(ns.name);
  f.start_ns = Nanos(timestamp);
  f.last_ns = f.start_ns;
  f.local = collector::IpAddress::FromSockId(msg.family, msg.id.src);
  f.remote = collector::IpAddress::FromSockId(msg.family, msg.id.dst);
  f.local_port = ntohs(msg.id.sport_be);
  f.remote_port = ntohs(msg.id.dport_be);
  f.state = msg.state;
  rep_->opened.push_back(cookie);
}

void FlowTracker::OnSnapshot(uint64_t cookie, parse::Timestamp timestamp,
                             const parse::RecordView& record, parse::Change) {
  Flow* const found = rep_->Find(cookie);
  if (found == nullptr) return;
  Flow& f = *found;
  const tcp::TcpInfo info = ReadTcpInfo(record);
  AdvanceCounters(info, &f.total);
  f.last_ns = Nanos(timestamp);
  f.state = StateOf(record);
  f.rtt_us = info.rtt;
  // ~0U: no RTT sample yet.
  if (info.min_rtt != 0 && info.min_rtt != ~0u &&
      (f.min_rtt_us == 0 || info.min_rtt < f.min_rtt_us)) {
    f.min_rtt_us = info.min_rtt;
  }
  f.max_delivery_rate = std::max(f.max_delivery_rate, info.delivery_rate);
  // A destroy event names none: the last one named stays.
  if (record.Has(inetdiag::kCong)) {
    const absl::string_view cc = CcName(record);
    if (cc != rep_->cc_names[f.cc]) f.cc = rep_->InternCc(cc);
  }
  if (f.overdue && !(f.total == f.recorded)) {
    f.overdue = false;
    rep_->ready.push_back(cookie);
  }
}

void FlowTracker::OnFlowClose(uint64_t cookie, parse::Timestamp,
                              collector::CloseReason reason) {
  const auto it = rep_->flows.find(cookie);
  if (it == rep_->flows.end()) return;
  rep_->Emit(cookie, *it->second, RecordKind::kFinal,
             reason == collector::CloseReason::kDestroyed
                 ? EndReason::kDestroyed
                 : EndReason::kAbsent);
  rep_->netns.Release(it->second->netns);
  rep_->flows.erase(it);
}

void FlowTracker::OnCycle(const collector::CycleStats& stats) {
  Rep& r = *rep_;
  const int64_t now = MonotonicNanos(stats.monotonic_start);
  for (uint64_t cookie : r.opened) {
    Flow* const f = r.Find(cookie);
    if (f != nullptr && f->due_ns == kUnscheduled && !f->overdue) {
      r.Schedule(cookie, *f, now + r.timeout_ns);
    }
  }
  r.opened.clear();
  for (uint64_t cookie : r.ready) {
    if (Flow* const f = r.Find(cookie)) r.HandleDue(cookie, *f, now);
  }
  r.ready.clear();
  while (!r.queue.empty() && r.queue.front().due_ns <= now) {
    const Due d = r.queue.front();
    r.queue.pop_front();
    Flow* const f = r.Find(d.cookie);
    // Gone, or an entry of an earlier flow with the same cookie.
    if (f == nullptr || f->due_ns != d.due_ns) continue;
    r.HandleDue(d.cookie, *f, now);
  }
}

size_t FlowTracker::FinishAll() {
  Rep& r = *rep_;
  const size_t n = r.flows.size();
  for (auto& [cookie, flow] : r.flows) {
    r.Emit(cookie, *flow, RecordKind::kFinal, EndReason::kDaemonStop);
    r.netns.Release(flow->netns);
  }
  r.flows.clear();
  r.queue.clear();
  r.opened.clear();
  r.ready.clear();
  return n;
}

size_t FlowTracker::open_flows() const { return rep_->flows.size(); }

void FlowTracker::SetListeningPortsForTest(const std::vector<uint16_t>& ports) {
  rep_->listening.Set(ports);
}

}  // namespace flows
