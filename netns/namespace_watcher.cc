#include "netns/namespace_watcher.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "collector/destroy_listener.h"
#include "collector/dump_socket.h"
#include "metrics/single_metric.h"
#include "netns/namespace_dump_source.h"

namespace netns {
namespace {

using Clock = std::chrono::steady_clock;

void LogLine(const std::string& line) {
  std::fprintf(stderr, "tcp-info: netns: %s\n", line.c_str());
}

void RaiseFileLimit() {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

// One namespace being polled, as the watcher keeps it.
struct Watched {
  int fd = -1;  // the namespace, to remake sockets in it
  std::string name;
  std::shared_ptr<ReopenSlot> slot;
};

}  // namespace

struct NamespaceWatcher::Rep : public prometheus::Collectable {
  ~Rep() override;
  std::vector<prometheus::MetricFamily> Collect() const override;

  void Scan();
  void WatchNamedDirectories();
  void Loop();
  // Runs `fn` on this thread inside namespace `fd`, then back home.
  absl::Status InNamespace(int fd, absl::FunctionRef<absl::Status()> fn);
  void Enter(const FoundNamespace& found);
  void Remake(Watched& w);
  void Fail(const std::string& what, const std::string& why);

  WatcherOptions options;
  collector::SourceHandoff* handoff = nullptr;
  int own_fd = -1;
  int stop_fd = -1;
  int inotify_fd = -1;
  absl::flat_hash_set<std::string> watched_dirs;
  std::thread thread;
  bool stopped = false;

  // Thread state (the first scan runs in Start, before the thread).
  absl::flat_hash_map<uint64_t, Watched> watched;
  absl::flat_hash_set<uint64_t> failed;  // entering failed; while it exists
  // Files without a namespace: when first seen, and whether counted.
  absl::flat_hash_map<std::string, std::pair<Clock::time_point, bool>> empty;

  std::atomic<uint64_t> n_watched{0}, n_added{0}, n_removed{0}, n_errors{0},
      n_scans{0};
};

NamespaceWatcher::Rep::~Rep() {
  for (auto& [inode, w] : watched) close(w.fd);
  for (int fd : {own_fd, stop_fd, inotify_fd}) {
    if (fd >= 0) close(fd);
  }
}

std::vector<prometheus::MetricFamily> NamespaceWatcher::Rep::Collect() const {
  using T = prometheus::MetricType;
  return {
      metrics::SingleMetric("tcpinfo_netns_added_total",
                            "Network namespaces that -netns began to poll.",
                            T::Counter, static_cast<double>(n_added.load())),
      metrics::SingleMetric(
          "tcpinfo_netns_errors_total",
          "Network namespaces that could not be entered (each once).",
          T::Counter, static_cast<double>(n_errors.load())),
      metrics::SingleMetric(
          "tcpinfo_netns_removed_total",
          "Network namespaces that went away and are no longer polled.",
          T::Counter, static_cast<double>(n_removed.load())),
      metrics::SingleMetric("tcpinfo_netns_watched",
                            "Network namespaces polled now.", T::Gauge,
                            static_cast<double>(n_watched.load())),
  };
}

void NamespaceWatcher::Rep::Fail(const std::string& what,
                                 const std::string& why) {
  n_errors.fetch_add(1);
  LogLine(absl::StrCat("cannot enter ", what, ": ", why,
                       " (skipped while it exists; logged once)"));
}

absl::Status NamespaceWatcher::Rep::InNamespace(
    int fd, absl::FunctionRef<absl::Status()> fn) {
  if (setns(fd, CLONE_NEWNET) != 0) {
    return absl::UnavailableError(absl::StrCat("setns: ", strerror(errno)));
  }
  const absl::Status status = fn();
  if (setns(own_fd, CLONE_NEWNET) != 0) {
    // Cannot happen with the rights that entered; the thread would open
    // later sockets in the wrong namespace, so it says so loudly.
    LogLine(absl::StrCat("cannot return to the agent's namespace: ",
                         strerror(errno)));
  }
  return status;
}

void NamespaceWatcher::Rep::Enter(const FoundNamespace& found) {
  const int fd = open(found.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    // Gone since the scan (a process exited): not an error.
    if (errno == ENOENT || errno == ESRCH) return;
    failed.insert(found.inode);
    Fail(found.path, strerror(errno));
    return;
  }
  std::unique_ptr<collector::DumpSocket> dump;
  std::unique_ptr<collector::DestroyListener> destroy;
  const absl::Status status = InNamespace(fd, [&]() -> absl::Status {
    absl::StatusOr<std::unique_ptr<collector::DumpSocket>> s =
        collector::DumpSocket::Open();
    if (!s.ok()) return s.status();
    dump = *std::move(s);
    if (options.destroy_events) {
      absl::StatusOr<std::unique_ptr<collector::DestroyListener>> l =
          collector::DestroyListener::Open();
      if (l.ok()) destroy = *std::move(l);
    }
    return absl::OkStatus();
  });
  if (!status.ok()) {
    close(fd);
    failed.insert(found.inode);
    Fail(found.path, std::string(status.message()));
    return;
  }
  Watched w;
  w.fd = fd;
  w.name = found.name.empty() ? absl::StrCat(found.inode) : found.name;
  w.slot = std::make_shared<ReopenSlot>();
  collector::NamespaceSource source;
  source.id = found.inode;
  source.name = w.name;
  source.dump = std::make_unique<NamespaceDumpSource>(std::move(dump), w.slot);
  source.destroy = std::move(destroy);
  LogLine(absl::StrCat(
      "polling ", w.name, " (", found.path, ")",
      source.destroy == nullptr ? ", without destroy events" : ""));
  handoff->Add(std::move(source));
  watched.emplace(found.inode, std::move(w));
  n_added.fetch_add(1);
  n_watched.store(watched.size());
}

void NamespaceWatcher::Rep::Remake(Watched& w) {
  std::unique_ptr<collector::DumpSocket> dump;
  const absl::Status status = InNamespace(w.fd, [&]() -> absl::Status {
    absl::StatusOr<std::unique_ptr<collector::DumpSocket>> s =
        collector::DumpSocket::Open();
    if (!s.ok()) return s.status();
    dump = *std::move(s);
    return absl::OkStatus();
  });
  if (!status.ok()) return;  // tried again at the next scan
  std::lock_guard<std::mutex> lock(w.slot->mu);
  w.slot->fresh = std::move(dump);
  w.slot->wanted.store(false);
}

void NamespaceWatcher::Rep::WatchNamedDirectories() {
  if (inotify_fd < 0) return;
  for (const std::string& dir : options.roots.named_dirs) {
    if (watched_dirs.contains(dir)) continue;
    if (inotify_add_watch(inotify_fd, dir.c_str(),
                          IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                              IN_DELETE_SELF | IN_ATTRIB) >= 0) {
      watched_dirs.insert(dir);
    }
  }
}

void NamespaceWatcher::Rep::Scan() {
  WatchNamedDirectories();
  const Discovered d = Discover(options.spec, options.roots);
  absl::flat_hash_set<uint64_t> present;
  for (const FoundNamespace& f : d.namespaces) {
    present.insert(f.inode);
    if (watched.contains(f.inode) || failed.contains(f.inode)) continue;
    Enter(f);
  }
  for (auto it = watched.begin(); it != watched.end();) {
    if (present.contains(it->first)) {
      if (it->second.slot->wanted.load()) Remake(it->second);
      ++it;
      continue;
    }
    LogLine(absl::StrCat("no longer polling ", it->second.name, " (gone)"));
    handoff->Remove(it->first);
    close(it->second.fd);
    watched.erase(it++);
    n_removed.fetch_add(1);
  }
  n_watched.store(watched.size());
  absl::erase_if(failed, [&](uint64_t i) { return !present.contains(i); });
  const Clock::time_point now = Clock::now();
  absl::flat_hash_set<std::string> empty_now(d.not_namespaces.begin(),
                                             d.not_namespaces.end());
  absl::erase_if(empty,
                 [&](const auto& e) { return !empty_now.contains(e.first); });
  for (const std::string& path : d.not_namespaces) {
    auto [it, inserted] = empty.try_emplace(path, now, false);
    if (!it->second.second && absl::FromChrono(now - it->second.first) >=
                                  options.not_namespace_grace) {
      it->second.second = true;
      Fail(path, "no network namespace is mounted on it");
    }
  }
  n_scans.fetch_add(1);
}

void NamespaceWatcher::Rep::Loop() {
  const int timeout_ms =
      static_cast<int>(absl::ToInt64Milliseconds(options.scan_interval));
  while (true) {
    struct pollfd fds[2] = {{stop_fd, POLLIN, 0}, {inotify_fd, POLLIN, 0}};
    const int n = poll(fds, 2, timeout_ms);
    if (n > 0 && fds[0].revents != 0) return;
    if (n > 0 && fds[1].revents != 0) {
      char buffer[4096];
      while (read(inotify_fd, buffer, sizeof(buffer)) > 0) {
      }
      // A directory removed and made again must be watched anew.
      watched_dirs.clear();
    }
    Scan();
  }
}

absl::StatusOr<std::unique_ptr<NamespaceWatcher>> NamespaceWatcher::Start(
    const WatcherOptions& options, collector::SourceHandoff* handoff) {
  auto rep = std::make_shared<Rep>();
  rep->options = options;
  rep->handoff = handoff;
  rep->own_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (rep->own_fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("-netns: cannot open the agent's own network namespace: ",
                     strerror(errno)));
  }
  rep->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  rep->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (rep->stop_fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("-netns: eventfd: ", strerror(errno)));
  }
  RaiseFileLimit();
  rep->Scan();
  rep->thread = std::thread([r = rep.get()] { r->Loop(); });
  return std::unique_ptr<NamespaceWatcher>(new NamespaceWatcher(rep));
}

NamespaceWatcher::NamespaceWatcher(std::shared_ptr<Rep> rep)
    : rep_(std::move(rep)) {}

NamespaceWatcher::~NamespaceWatcher() { Stop(); }

void NamespaceWatcher::Stop() {
  if (rep_->stopped) return;
  rep_->stopped = true;
  const uint64_t one = 1;
  if (write(rep_->stop_fd, &one, sizeof(one)) < 0) {
    LogLine(absl::StrCat("stop: ", strerror(errno)));
  }
  rep_->thread.join();
}

WatcherStats NamespaceWatcher::stats() const {
  WatcherStats s;
  s.watched = rep_->n_watched.load();
  s.added = rep_->n_added.load();
  s.removed = rep_->n_removed.load();
  s.errors = rep_->n_errors.load();
  s.scans = rep_->n_scans.load();
  return s;
}

std::shared_ptr<prometheus::Collectable> NamespaceWatcher::collectable() const {
  return rep_;
}

}  // namespace netns
