#include "owners/owner_tracker.h"

#include <pthread.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "flows/counters.h"
#include "inetdiag/inet_diag.h"
#include "metrics/labelled_counters.h"
#include "metrics/single_metric.h"
#include "owners/cgroup_path.h"
#include "owners/socket_key.h"
#include "prometheus/metric_family.h"
#include "tcp/tcp_info.h"

namespace owners {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint8_t kListen = 10;
// sent bytes, received bytes, sent segments, received segments.
constexpr size_t kValues = 4;
using Values = std::array<uint64_t, kValues>;

Values ValuesOf(const flows::FlowCounters& c) {
  return {c.bytes_sent, c.bytes_received, c.segs_out, c.segs_in};
}

std::shared_ptr<metrics::LabelledCounters> Families(absl::string_view what,
                                                    absl::string_view label,
                                                    size_t max_series) {
  metrics::LabelledCountersOptions o;
  for (auto [dir, unit, field] :
       {std::array<const char*, 3>{"sent", "bytes", "tcpi_bytes_sent"},
        std::array<const char*, 3>{"received", "bytes", "tcpi_bytes_received"},
        std::array<const char*, 3>{"sent", "segments", "tcpi_segs_out"},
        std::array<const char*, 3>{"received", "segments", "tcpi_segs_in"}}) {
    o.families.push_back(
        {absl::StrCat("tcpinfo_owner_", what, "_", dir, "_", unit, "_total"),
         absl::StrCat("TCP ", unit, " ", dir, " by the connections of each ",
                      label, " (", field, ")")});
  }
  o.label_names = {std::string(label)};
  o.max_series = max_series;
  o.overflow_name =
      absl::StrCat("tcpinfo_owner_", what, "_series_overflow_total");
  o.overflow_help = absl::StrCat("Additions to the ", label,
                                 " families summed under \"other\" (cap)");
  return std::make_shared<metrics::LabelledCounters>(std::move(o));
}

// Traffic summed under one (process, user, group) label triple.
struct Agg {
  std::string process, user, group;
  Values pending{};  // not yet added to the families
  uint64_t interval_sent = 0, interval_received = 0;
  bool dirty = false;
  size_t refs = 0;  // connections pointing here
};

struct Conn {
  SocketKey key;
  flows::FlowCounters total;
  Values credited{};
  std::shared_ptr<const Owner> owner;  // null: being resolved
  Agg* agg = nullptr;
  bool closed = false;
};

struct Request {
  SocketKey key;
  Clock::time_point asked;
  int retries = 0;
};

constexpr int kHookRetries = 20;
constexpr std::chrono::milliseconds kHookRetryGap{50};

struct Result {
  uint64_t cookie;
  std::shared_ptr<const Owner> owner;
};

class Collectable : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out;
    for (const auto& f : families) {
      std::vector<prometheus::MetricFamily> got = f->Collect();
      for (auto& m : got) out.push_back(std::move(m));
    }
    prometheus::MetricFamily hook{
        "tcpinfo_owners_hook",
        "1 for how connections' owners are found: bpf (a kernel hook "
        "records each connection's process as it is made, and /proc) or "
        "proc_only (/proc scans alone)",
        prometheus::MetricType::Gauge,
        {}};
    prometheus::ClientMetric m;
    m.label = {{"state", hook_state}};
    m.gauge.value = 1;
    hook.metric.push_back(m);
    out.push_back(std::move(hook));
    out.push_back(metrics::SingleMetric(
        "tcpinfo_owners_proc_scans_total",
        "Scans of every /proc/PID/fd for socket inodes",
        prometheus::MetricType::Counter, static_cast<double>(scans->load())));
    out.push_back(metrics::SingleMetric(
        "tcpinfo_owners_proc_quick_scans_total",
        "Scans of the /proc/PID/fd of new and changed processes",
        prometheus::MetricType::Counter,
        static_cast<double>(quick_scans->load())));
    return out;
  }

  std::vector<std::shared_ptr<metrics::LabelledCounters>> families;
  std::string hook_state;
  std::shared_ptr<std::atomic<uint64_t>> scans;
  std::shared_ptr<std::atomic<uint64_t>> quick_scans;
};

}  // namespace

std::string OwnerTracker::ProcessLabel(const Owner& o) {
  return o.comm.empty() ? "unknown" : o.comm;
}
std::string OwnerTracker::UserLabel(const Owner& o) {
  return o.user.empty() ? "unknown" : o.user;
}
std::string OwnerTracker::GroupLabel(const Owner& o) {
  if (!o.container.empty()) return absl::StrCat("container:", o.container);
  if (!o.unit.empty()) return absl::StrCat("unit:", o.unit);
  return o.cgroup.empty() ? "unknown" : "none";
}

struct OwnerTracker::Rep {
  explicit Rep(OwnerTrackerOptions o)
      : options(std::move(o)),
        interval_ns(absl::ToInt64Nanoseconds(options.interval)),
        process(Families("process", "process", options.max_series)),
        user(Families("user", "user", options.max_series)),
        group(Families("group", "group", options.max_series)),
        collectable(std::make_shared<Collectable>()) {
    collectable->families = {process, user, group};
    collectable->hook_state = options.hook_state;
    collectable->scans = scans;
    collectable->quick_scans = quick_scans;
    thread = std::thread([this] { ResolverLoop(); });
  }

  ~Rep() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    thread.join();
  }

  // --- resolver thread ---------------------------------------------------
  void ResolverLoop() {
    pthread_setname_np(pthread_self(), "tcpinfo-owners");
    OwnerResolver resolver(options.resolver);
    std::deque<Request> work;
    std::unique_lock<std::mutex> lock(mu);
    while (!stop) {
      if (requests.empty()) {
        if (work.empty()) {
          cv.wait(lock, [&] { return stop || !requests.empty(); });
        } else {
          cv.wait_until(
              lock,
              std::min(resolver.next_scan(), Clock::now() + kHookRetryGap),
              [&] { return stop || !requests.empty(); });
        }
        if (stop) break;
      }
      for (Request& r : requests) work.push_back(r);
      requests.clear();
      lock.unlock();
      std::vector<Result> answered;
      std::vector<std::pair<uint32_t, std::string>> users;
      std::vector<std::pair<uint64_t, std::string>> cgroups;
      for (size_t n = work.size(); n > 0; --n) {
        Request r = work.front();
        work.pop_front();
        std::optional<Owner> owner = resolver.TryResolve(r.key, r.asked);
        // With the hook, a socket no scan found and the hook does not know
        // yet (an accepted one before its first send or receive) is asked
        // again a few times before it is unknown.
        if (owner.has_value() && owner->pid == 0 &&
            options.resolver.hook != nullptr && r.retries < kHookRetries) {
          ++r.retries;
          owner.reset();
        }
        if (!owner.has_value()) {
          work.push_back(r);
          continue;
        }
        if (owner->uid != kUnknownUid)
          users.emplace_back(owner->uid, owner->user);
        if (owner->cgroup_id != 0) {
          cgroups.emplace_back(owner->cgroup_id, owner->cgroup);
        }
        answered.push_back({r.key.cookie, Intern(*std::move(owner))});
      }
      scans->store(resolver.scans());
      quick_scans->store(resolver.quick_scans());
      {
        std::lock_guard<std::mutex> cache_lock(cache_mu);
        for (auto& [uid, name] : users) known_users.try_emplace(uid, name);
        for (auto& [id, path] : cgroups) known_cgroups.try_emplace(id, path);
      }
      lock.lock();
      for (Result& a : answered) results.push_back(std::move(a));
      outstanding -= answered.size();
      if (outstanding == 0) idle_cv.notify_all();
    }
  }

  // One shared Owner for all the connections of one process, user and
  // cgroup (most of a host's connections share a few), so a connection
  // costs a pointer, not its own strings.
  std::shared_ptr<const Owner> Intern(Owner owner) {
    std::string key =
        absl::StrCat(owner.pid, "/", owner.holders, "/", owner.uid, "/",
                     owner.cgroup_id, "/", owner.comm, "/", owner.exe);
    std::weak_ptr<const Owner>& slot = interned[key];
    if (std::shared_ptr<const Owner> known = slot.lock()) {
      if (*known == owner) return known;
    }
    auto made = std::make_shared<const Owner>(std::move(owner));
    slot = made;
    if (interned.size() > 2 * interned_after_prune + 1024) {
      absl::erase_if(interned,
                     [](const auto& entry) { return entry.second.expired(); });
      interned_after_prune = interned.size();
    }
    return made;
  }

  // --- polling thread ----------------------------------------------------
  Agg* AggFor(const Owner& owner) {
    std::string p = ProcessLabel(owner), u = UserLabel(owner),
                g = GroupLabel(owner);
    std::string key = absl::StrCat(p, "\x1f", u, "\x1f", g);
    std::unique_ptr<Agg>& slot = aggs[key];
    if (slot == nullptr) {
      slot = std::make_unique<Agg>();
      slot->process = std::move(p);
      slot->user = std::move(u);
      slot->group = std::move(g);
    }
    ++slot->refs;
    return slot.get();
  }

  void Credit(Conn& c) {
    const Values now = ValuesOf(c.total);
    Agg& a = *c.agg;
    bool moved = false;
    for (size_t i = 0; i < kValues; ++i) {
      const uint64_t d = now[i] - c.credited[i];
      a.pending[i] += d;
      moved |= d != 0;
    }
    a.interval_sent += now[0] - c.credited[0];
    a.interval_received += now[1] - c.credited[1];
    c.credited = now;
    if (moved && !a.dirty) {
      a.dirty = true;
      dirty.push_back(&a);
    }
  }

  void Flush() {
    for (Agg* a : dirty) {
      process->Add({a->process}, a->pending);
      user->Add({a->user}, a->pending);
      group->Add({a->group}, a->pending);
      a->pending = {};
      a->dirty = false;
    }
    dirty.clear();
  }

  void Forget(uint64_t cookie) {
    auto it = conns.find(cookie);
    if (it == conns.end()) return;
    if (it->second->agg != nullptr) --it->second->agg->refs;
    conns.erase(it);
  }

  void EmitMeasurements(const collector::CycleStats& stats) {
    absl::flat_hash_map<std::string, std::pair<uint64_t, uint64_t>> by_name;
    for (auto it = aggs.begin(); it != aggs.end();) {
      Agg& a = *it->second;
      if (a.interval_sent + a.interval_received > 0) {
        auto& sum = by_name[a.process];
        sum.first += a.interval_sent;
        sum.second += a.interval_received;
      }
      a.interval_sent = a.interval_received = 0;
      if (a.refs == 0 && !a.dirty) {
        aggs.erase(it++);
      } else {
        ++it;
      }
    }
    if (options.measurements == nullptr) return;
    const parse::Timestamp time =
        parse::Timestamp::FromUnixNanos(absl::ToUnixNanos(stats.start));
    for (auto& [name, sum] : by_name) {
      flows::Measurement m;
      m.kind = flows::MeasurementKind::kProcessTraffic;
      m.time = time;
      m.tags = {{"name", name}};
      m.fields = {{"sent_bytes_last", static_cast<int64_t>(sum.first)},
                  {"recv_bytes_last", static_cast<int64_t>(sum.second)}};
      options.measurements->ConsumeMeasurement(std::move(m));
    }
  }

  // What is known of a connection without waiting for the resolver.
  flows::FlowOwner Partial(const Conn& c) {
    flows::FlowOwner o;
    if (c.owner != nullptr) {
      o.pid = c.owner->pid;
      o.comm = c.owner->comm;
      o.uid = c.owner->uid;
      o.user = c.owner->user;
      o.cgroup = c.owner->cgroup;
      o.container = c.owner->container;
      o.unit = c.owner->unit;
      return o;
    }
    HookRecord hooked;
    const bool has_hook = options.resolver.hook != nullptr &&
                          options.resolver.hook->Lookup(c.key.cookie, &hooked);
    if (has_hook) {
      o.pid = hooked.tgid;
      o.comm = hooked.comm;
    }
    o.uid = c.key.uid != kUnknownUid ? c.key.uid
            : has_hook               ? hooked.uid
                                     : kUnknownUid;
    const uint64_t cgroup_id = c.key.cgroup_id != 0 ? c.key.cgroup_id
                               : has_hook           ? hooked.cgroup_id
                                                    : 0;
    std::lock_guard<std::mutex> lock(cache_mu);
    if (auto it = known_users.find(o.uid); it != known_users.end()) {
      o.user = it->second;
    }
    if (auto it = known_cgroups.find(cgroup_id); it != known_cgroups.end()) {
      o.cgroup = it->second;
      CgroupInfo info = ParseCgroupPath(o.cgroup);
      o.container = std::move(info.container);
      o.unit = std::move(info.unit);
    }
    return o;
  }

  const OwnerTrackerOptions options;
  const int64_t interval_ns;
  std::shared_ptr<metrics::LabelledCounters> process, user, group;
  std::shared_ptr<std::atomic<uint64_t>> scans =
      std::make_shared<std::atomic<uint64_t>>(0);
  std::shared_ptr<std::atomic<uint64_t>> quick_scans =
      std::make_shared<std::atomic<uint64_t>>(0);
  std::shared_ptr<Collectable> collectable;

  // Polling thread.
  absl::flat_hash_map<uint64_t, std::unique_ptr<Conn>> conns;
  absl::flat_hash_map<std::string, std::unique_ptr<Agg>> aggs;
  std::vector<Agg*> dirty;
  std::vector<uint64_t> closing;  // closed and credited: forget next cycle
  std::vector<Result> taken;
  int64_t next_interval_ns = 0;

  // Shared with the resolver thread.
  std::mutex mu;
  std::condition_variable cv, idle_cv;
  bool stop = false;
  std::vector<Request> requests;
  std::vector<Result> results;
  size_t outstanding = 0;
  std::mutex cache_mu;
  absl::flat_hash_map<uint32_t, std::string> known_users;
  absl::flat_hash_map<uint64_t, std::string> known_cgroups;

  // Resolver thread.
  absl::flat_hash_map<std::string, std::weak_ptr<const Owner>> interned;
  size_t interned_after_prune = 0;

  std::thread thread;
};

OwnerTracker::OwnerTracker(OwnerTrackerOptions options)
    : rep_(std::make_unique<Rep>(std::move(options))) {}

OwnerTracker::~OwnerTracker() = default;

void OwnerTracker::OnFlowOpen(uint64_t cookie, parse::Timestamp,
                              const parse::RecordView& first) {
  const inetdiag::Msg idm = first.Idm();
  if (idm.state == kListen) return;
  Rep& r = *rep_;
  std::unique_ptr<Conn>& slot = r.conns[cookie];
  if (slot != nullptr) return;
  slot = std::make_unique<Conn>();
  slot->key = SocketKeyOf(cookie, first);
  const SocketKey& key = slot->key;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    r.requests.push_back({key, Clock::now(), 0});
    ++r.outstanding;
  }
  r.cv.notify_one();
}

void OwnerTracker::OnSnapshot(uint64_t cookie, parse::Timestamp,
                              const parse::RecordView& record, parse::Change) {
  auto it = rep_->conns.find(cookie);
  if (it == rep_->conns.end()) return;
  Conn& c = *it->second;
  flows::AdvanceCounters(flows::ReadTcpInfo(record), &c.total);
  if (c.agg != nullptr) rep_->Credit(c);
}

void OwnerTracker::OnFlowClose(uint64_t cookie, parse::Timestamp,
                               collector::CloseReason) {
  auto it = rep_->conns.find(cookie);
  if (it == rep_->conns.end()) return;
  it->second->closed = true;
  if (it->second->agg != nullptr) rep_->closing.push_back(cookie);
}

void OwnerTracker::OnCycle(const collector::CycleStats& stats) {
  Rep& r = *rep_;
  for (uint64_t cookie : r.closing) r.Forget(cookie);
  r.closing.clear();
  {
    std::lock_guard<std::mutex> lock(r.mu);
    r.taken.swap(r.results);
  }
  for (Result& res : r.taken) {
    auto it = r.conns.find(res.cookie);
    if (it == r.conns.end()) continue;
    Conn& c = *it->second;
    c.owner = std::move(res.owner);
    c.agg = r.AggFor(*c.owner);
    r.Credit(c);
    if (c.closed) r.closing.push_back(res.cookie);
  }
  r.taken.clear();
  r.Flush();
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             stats.monotonic_start.time_since_epoch())
                             .count();
  if (r.next_interval_ns == 0) r.next_interval_ns = now_ns + r.interval_ns;
  if (now_ns >= r.next_interval_ns) {
    r.next_interval_ns = now_ns + r.interval_ns;
    r.EmitMeasurements(stats);
  }
}

void OwnerTracker::FillOwner(uint64_t cookie, flows::FlowOwner* owner) {
  auto it = rep_->conns.find(cookie);
  if (it == rep_->conns.end()) return;
  *owner = rep_->Partial(*it->second);
}

bool OwnerTracker::OwnerAtOpen(uint64_t cookie, const parse::RecordView&,
                               eventsocket::EventOwner* owner) {
  auto it = rep_->conns.find(cookie);
  if (it == rep_->conns.end()) return false;
  const flows::FlowOwner o = rep_->Partial(*it->second);
  owner->pid = o.pid;
  owner->uid = o.uid;
  owner->comm.Set(o.comm);
  owner->user.Set(o.user);
  owner->container.Set(o.container);
  owner->unit.Set(o.unit);
  return true;
}

std::shared_ptr<prometheus::Collectable> OwnerTracker::collectable() const {
  return rep_->collectable;
}

const Owner* OwnerTracker::Find(uint64_t cookie) const {
  auto it = rep_->conns.find(cookie);
  return it == rep_->conns.end() ? nullptr : it->second->owner.get();
}

size_t OwnerTracker::connections() const { return rep_->conns.size(); }

bool OwnerTracker::WaitResolved(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(rep_->mu);
  return rep_->idle_cv.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                                [&] { return rep_->outstanding == 0; });
}

}  // namespace owners
