#include "eventsocket/server.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "eventsocket/bounded_queue.h"

namespace eventsocket {

namespace {

// Events formatted between two attempts to write to the clients, so that a
// burst is streamed out rather than piled up in the clients' buffers.
constexpr int kEventsPerWrite = 64;

struct Client {
  int fd = -1;
  std::string out;  // unsent bytes are out[sent..]
  size_t sent = 0;
  size_t pending() const { return out.size() - sent; }
};

std::string Errno(absl::string_view what, const std::string& path) {
  return absl::StrCat(what, " ", path, ": ", std::strerror(errno));
}

}  // namespace

struct Server::Rep {
  explicit Rep(const ServerOptions& o) : options(o), queue(o.queue_capacity) {}

  ServerOptions options;
  BoundedQueue<FlowEvent> queue;
  int listen_fd = -1;
  int wake_fd = -1;
  ino_t socket_inode = 0;  // of the file we created, to remove only ours
  std::thread thread;

  std::atomic<bool> wake_pending{false};
  std::atomic<bool> stopping{false};
  std::atomic<bool> stopped{false};
  std::atomic<int64_t> stop_deadline_ns{0};

  std::atomic<uint64_t> queued{0};
  std::atomic<uint64_t> dropped{0};
  std::atomic<uint64_t> handled{0};  // events taken off the queue
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> connected{0};
  std::atomic<uint64_t> overflowed{0};
  std::atomic<uint64_t> pending_bytes{0};  // unsent bytes of all clients

  std::mutex progress_mu;
  std::condition_variable progress_cv;

  // Owned by the server thread.
  std::vector<Client> clients;
  std::string line;

  void Wake() {
    if (!wake_pending.exchange(true)) {
      const uint64_t one = 1;
      ssize_t ignored = write(wake_fd, &one, sizeof(one));
      (void)ignored;
    }
  }

  void Run();
  void AcceptClients();
  void ReadFromClients(const std::vector<pollfd>& fds, size_t first_client);
  void DrainQueue();
  void Distribute(const FlowEvent& event);
  void WriteToClients();
  void CloseClient(Client& client);
  void RemoveClosedClients();
  void PublishProgress();
};

void Server::Rep::CloseClient(Client& client) {
  if (client.fd < 0) return;
  close(client.fd);
  client.fd = -1;
  client.out.clear();
  client.out.shrink_to_fit();
  client.sent = 0;
  connected.fetch_sub(1);
}

void Server::Rep::RemoveClosedClients() {
  std::erase_if(clients, [](const Client& c) { return c.fd < 0; });
}

void Server::Rep::AcceptClients() {
  for (;;) {
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or a client that gave up
    clients.push_back(Client{fd, {}, 0});
    accepted.fetch_add(1);
    connected.fetch_add(1);
  }
}

void Server::Rep::ReadFromClients(const std::vector<pollfd>& fds,
                                  size_t first_client) {
  // Clients have nothing to say; whatever they send is discarded, and EOF
  // or an error means they are gone.
  char discard[512];
  for (size_t i = first_client; i < fds.size(); ++i) {
    if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    Client& client = clients[i - first_client];
    if (client.fd != fds[i].fd) continue;
    for (;;) {
      ssize_t n = recv(client.fd, discard, sizeof(discard), MSG_DONTWAIT);
      if (n > 0) continue;
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      CloseClient(client);
      break;
    }
  }
}

void Server::Rep::Distribute(const FlowEvent& event) {
  line.clear();
  AppendJsonLine(event, &line);
  for (Client& client : clients) {
    if (client.fd < 0) continue;
    if (client.pending() + line.size() > options.client_buffer_bytes) {
      overflowed.fetch_add(1);
      CloseClient(client);
      continue;
    }
    client.out.append(line);
  }
  sent.fetch_add(1, std::memory_order_relaxed);
}

void Server::Rep::WriteToClients() {
  uint64_t pending = 0;
  for (Client& client : clients) {
    while (client.fd >= 0 && client.pending() > 0) {
      ssize_t n = send(client.fd, client.out.data() + client.sent,
                       client.pending(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        client.sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      CloseClient(client);
    }
    if (client.fd < 0) continue;
    if (client.pending() == 0) {
      client.out.clear();
      client.sent = 0;
    } else if (client.sent > client.out.size() / 2) {
      client.out.erase(0, client.sent);
      client.sent = 0;
    }
    pending += client.pending();
  }
  pending_bytes.store(pending);
}

void Server::Rep::DrainQueue() {
  FlowEvent event;
  int since_write = 0;
  while (queue.TryPop(&event)) {
    Distribute(event);
    handled.fetch_add(1);
    if (++since_write == kEventsPerWrite) {
      WriteToClients();
      since_write = 0;
    }
  }
  WriteToClients();
}

void Server::Rep::PublishProgress() {
  std::lock_guard<std::mutex> lock(progress_mu);
  progress_cv.notify_all();
}

void Server::Rep::Run() {
  std::vector<pollfd> fds;
  for (;;) {
    const bool stop = stopping.load();
    if (stop) {
      const bool drained = handled.load() >= queued.load();
      const bool late = std::chrono::steady_clock::now().time_since_epoch() >=
                        std::chrono::nanoseconds(stop_deadline_ns.load());
      if ((drained && pending_bytes.load() == 0) || late) break;
    }
    fds.clear();
    fds.push_back({wake_fd, POLLIN, 0});
    fds.push_back({listen_fd, static_cast<short>(stop ? 0 : POLLIN), 0});
    for (const Client& c : clients) {
      fds.push_back(
          {c.fd, static_cast<short>(POLLIN | (c.pending() ? POLLOUT : 0)), 0});
    }
    const int timeout_ms = stop ? 10 : 1000;
    if (poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) break;
    if (fds[0].revents & POLLIN) {
      uint64_t count;
      ssize_t ignored = read(wake_fd, &count, sizeof(count));
      (void)ignored;
    }
    // Reset before draining: an event pushed after this either is seen by
    // the drain below or writes the eventfd again.
    wake_pending.store(false);
    ReadFromClients(fds, 2);
    if (fds[1].revents & POLLIN) AcceptClients();
    DrainQueue();
    RemoveClosedClients();
    PublishProgress();
  }
  for (Client& client : clients) CloseClient(client);
  clients.clear();
  pending_bytes.store(0);
  PublishProgress();
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    const ServerOptions& options) {
  const std::string& path = options.path;
  if (path.empty()) {
    return absl::InvalidArgumentError("event socket path is empty");
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("event socket path is longer than ",
                     sizeof(addr.sun_path) - 1, " bytes: ", path));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());

  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("event socket path exists and is not a socket: ", path));
    }
    // A socket file left by an earlier run (or a running one, which then
    // loses its clients, as with the reference).
    if (unlink(path.c_str()) != 0) {
      return absl::FailedPreconditionError(
          Errno("cannot remove stale event socket", path));
    }
  }

  auto rep = std::make_unique<Rep>(options);
  rep->listen_fd =
      socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (rep->listen_fd < 0) {
    return absl::InternalError(Errno("cannot create event socket", path));
  }
  auto fail = [&](absl::string_view what) {
    absl::Status status = absl::FailedPreconditionError(Errno(what, path));
    close(rep->listen_fd);
    return status;
  };
  if (bind(rep->listen_fd, reinterpret_cast<const sockaddr*>(&addr),
           sizeof(addr)) != 0) {
    return fail("cannot bind event socket");
  }
  // Before listen(), so no client connects through looser permissions.
  if (chmod(path.c_str(), 0660) != 0) {
    absl::Status status = fail("cannot chmod event socket");
    unlink(path.c_str());
    return status;
  }
  if (listen(rep->listen_fd, 128) != 0) {
    absl::Status status = fail("cannot listen on event socket");
    unlink(path.c_str());
    return status;
  }
  if (lstat(path.c_str(), &st) == 0) rep->socket_inode = st.st_ino;
  rep->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (rep->wake_fd < 0) {
    absl::Status status = fail("cannot create eventfd for event socket");
    unlink(path.c_str());
    return status;
  }
  Rep* r = rep.get();
  rep->thread = std::thread([r] { r->Run(); });
  return std::unique_ptr<Server>(new Server(std::move(rep)));
}

Server::Server(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}

Server::~Server() { Stop(); }

void Server::Enqueue(const FlowEvent& event) {
  if (rep_->stopped.load(std::memory_order_relaxed) ||
      !rep_->queue.TryPush(event)) {
    rep_->dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  rep_->queued.fetch_add(1);
  rep_->Wake();
}

void Server::FlowCreated(parse::Timestamp timestamp, absl::string_view uuid,
                         const inetdiag::SockId& id, const EventOwner* owner,
                         absl::string_view netns) {
  FlowEvent event;
  event.type = EventType::kOpen;
  event.timestamp = timestamp;
  event.id = id;
  if (owner != nullptr) {
    event.has_owner = true;
    event.owner = *owner;
  }
  event.SetUuid(uuid);
  event.SetNetns(netns);
  Enqueue(event);
}

void Server::FlowDeleted(parse::Timestamp timestamp, absl::string_view uuid,
                         absl::string_view netns) {
  FlowEvent event;
  event.type = EventType::kClose;
  event.timestamp = timestamp;
  event.SetUuid(uuid);
  event.SetNetns(netns);
  Enqueue(event);
}

bool Server::Flush(absl::Duration timeout) {
  const uint64_t target = rep_->queued.load();
  const auto deadline =
      std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  std::unique_lock<std::mutex> lock(rep_->progress_mu);
  for (;;) {
    if (rep_->handled.load() >= target && rep_->pending_bytes.load() == 0) {
      return true;
    }
    if (!rep_->thread.joinable()) return false;
    // The server thread also wakes every second; a short wait bounds the
    // cost of a missed notification.
    if (rep_->progress_cv.wait_until(
            lock, std::min(deadline, std::chrono::steady_clock::now() +
                                         std::chrono::milliseconds(10))) ==
            std::cv_status::timeout &&
        std::chrono::steady_clock::now() >= deadline) {
      return rep_->handled.load() >= target && rep_->pending_bytes.load() == 0;
    }
  }
}

void Server::Stop(absl::Duration timeout) {
  if (!rep_ || rep_->stopped.exchange(true)) return;
  const auto deadline =
      std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  rep_->stop_deadline_ns.store(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          deadline.time_since_epoch())
          .count());
  rep_->stopping.store(true);
  const uint64_t one = 1;
  ssize_t ignored = write(rep_->wake_fd, &one, sizeof(one));
  (void)ignored;
  if (rep_->thread.joinable()) rep_->thread.join();
  close(rep_->listen_fd);
  close(rep_->wake_fd);
  // Remove the socket file unless another server has replaced it since.
  struct stat st;
  if (lstat(rep_->options.path.c_str(), &st) == 0 &&
      st.st_ino == rep_->socket_inode) {
    unlink(rep_->options.path.c_str());
  }
}

ServerStats Server::stats() const {
  ServerStats s;
  s.events_queued = rep_->queued.load();
  s.events_dropped = rep_->dropped.load();
  s.events_sent = rep_->sent.load();
  s.clients_accepted = rep_->accepted.load();
  s.clients_connected = rep_->connected.load();
  s.clients_overflowed = rep_->overflowed.load();
  return s;
}

const std::string& Server::path() const { return rep_->options.path; }

}  // namespace eventsocket
