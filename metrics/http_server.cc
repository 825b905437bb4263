#include "metrics/http_server.h"

#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "metrics/http_request.h"
#include "metrics/listen_address.h"
#include "metrics/text_format.h"

namespace metrics {

namespace {

using Clock = std::chrono::steady_clock;

// Accepts per wake-up, so that a connection flood cannot keep the loop
// from the connections it already has.
constexpr int kAcceptsPerWake = 64;
// How long to stop accepting when out of file descriptors with no
// connection to give up.
constexpr std::chrono::milliseconds kAcceptPause{100};
constexpr size_t kReadChunk = 16384;

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
  }
  return "Error";
}

struct Connection {
  int fd = -1;
  uint32_t events = EPOLLIN;  // as registered with epoll
  bool writing = false;       // a response is being sent; no reading
  bool idle = false;          // reading, nothing of a next request yet
  bool close_after = false;   // close once the response is sent
  std::string in;             // received bytes not yet handled
  std::string head;           // response status line and headers
  std::shared_ptr<const std::string> body;  // null for HEAD
  size_t sent = 0;                          // of head, then body
  Clock::time_point deadline;
  uint64_t last_progress = 0;  // Loop::progress_ when it last moved
};

}  // namespace

class MetricsServer::Loop {
 public:
  Loop(int listener, int wake, int epoll,
       std::vector<std::shared_ptr<prometheus::Collectable>> collectables,
       const MetricsServerOptions& options, std::vector<HttpRoute> routes)
      : listener_(listener),
        wake_(wake),
        epoll_(epoll),
        port_(BoundPort(listener)),
        collectables_(std::move(collectables)),
        options_(options),
        routes_(std::move(routes)) {
    thread_ = std::thread([this] { Run(); });
  }

  ~Loop() {
    const uint64_t one = 1;
    (void)!write(wake_, &one, sizeof(one));
    thread_.join();
    for (auto& [fd, c] : connections_) close(fd);
    close(epoll_);
    close(wake_);
    close(listener_);
  }

  int port() const { return port_; }

 private:
  void Run();
  void Accept(Clock::time_point now);
  enum class Progress { kClosed, kPending, kDone };
  void Read(Connection* c, Clock::time_point now);
  // Answers the complete requests in c->in, in order, until one cannot be
  // sent at once or there are no more.
  void HandleRequests(Connection* c, Clock::time_point now);
  // `routed`: the response of a route's handler for status 200 (and any
  // other status it chose); null for /metrics and the server's own errors.
  void Respond(Connection* c, int status, bool head_only, bool keep_alive,
               Clock::time_point now, const HttpResponse* routed = nullptr);
  // The route whose prefix `path` starts with; null if none.
  HttpHandler* Route(absl::string_view path) const;
  // Sends what the socket takes of the response; kDone: all of it (and the
  // connection waits for the next request), kPending: the rest on EPOLLOUT.
  Progress Flush(Connection* c, Clock::time_point now);
  // Closes every connection past its deadline; the time of the next one.
  Clock::time_point Expire(Clock::time_point now);
  void EvictOldest();
  void Watch(Connection* c, uint32_t events);
  // `abort`: reset the connection, dropping whatever the kernel still holds
  // for it, rather than leave an orphan socket draining to a stuck peer.
  void Close(Connection* c, bool abort = false);
  std::shared_ptr<const std::string> Scrape();

  const int listener_, wake_, epoll_, port_;
  const std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  const MetricsServerOptions options_;
  const std::vector<HttpRoute> routes_;
  absl::flat_hash_map<int, std::unique_ptr<Connection>> connections_;
  std::shared_ptr<const std::string> scrape_;  // this wake-up's, if any
  uint64_t progress_ = 0;  // orders connections by their last progress
  bool accepting_ = true;
  Clock::time_point accept_again_;
  std::thread thread_;
};

void MetricsServer::Loop::Run() {
  epoll_event events[64];
  Clock::time_point next_deadline = Clock::time_point::max();
  for (;;) {
    int timeout_ms = -1;
    if (next_deadline != Clock::time_point::max()) {
      const auto wait = std::chrono::ceil<std::chrono::milliseconds>(
          next_deadline - Clock::now());
      timeout_ms = static_cast<int>(std::max<int64_t>(0, wait.count()));
    }
    const int n = epoll_wait(epoll_, events, 64, timeout_ms);
    if (n < 0 && errno != EINTR) return;
    const Clock::time_point now = Clock::now();
    scrape_.reset();
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_) return;
      if (fd == listener_) {
        Accept(now);
        continue;
      }
      auto it = connections_.find(fd);
      if (it == connections_.end()) continue;  // closed in this batch
      Connection* c = it->second.get();
      // The readiness may be stale (the fd closed and reused in this
      // batch): both handlers cope with EAGAIN.
      if (c->writing) {
        if (Flush(c, now) == Progress::kDone) HandleRequests(c, now);
      } else {
        Read(c, now);
      }
    }
    scrape_.reset();
    next_deadline = Expire(Clock::now());
  }
}

void MetricsServer::Loop::Accept(Clock::time_point now) {
  for (int i = 0; i < kAcceptsPerWake; ++i) {
    const int fd =
        accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
          errno == ENOMEM) {
        if (!connections_.empty()) {
          EvictOldest();
          continue;
        }
        // Nothing to give up: stop accepting for a while rather than spin.
        epoll_ctl(epoll_, EPOLL_CTL_DEL, listener_, nullptr);
        accepting_ = false;
        accept_again_ = now + kAcceptPause;
      }
      return;  // EAGAIN, or an aborted connection: nothing more now
    }
    if (connections_.size() >= options_.max_connections) EvictOldest();
    if (options_.send_buffer_bytes > 0) {
      const int bytes = static_cast<int>(options_.send_buffer_bytes);
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
    }
    auto c = std::make_unique<Connection>();
    c->fd = fd;
    c->deadline = now + options_.header_timeout;
    c->last_progress = ++progress_;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      close(fd);
      continue;
    }
    connections_[fd] = std::move(c);
  }
}

void MetricsServer::Loop::Read(Connection* c, Clock::time_point now) {
  char buf[kReadChunk];
  const ssize_t n = read(c->fd, buf, sizeof(buf));
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {  // end of stream or error: nothing more to answer
    Close(c);
    return;
  }
  if (c->idle) {
    c->idle = false;
    c->deadline = now + options_.header_timeout;
  }
  c->last_progress = ++progress_;
  c->in.append(buf, static_cast<size_t>(n));
  HandleRequests(c, now);
}

void MetricsServer::Loop::HandleRequests(Connection* c, Clock::time_point now) {
  for (;;) {
    const size_t length = RequestHeadLength(c->in);
    if (length == 0 || length > options_.max_request_head_bytes) {
      if (length > 0 || c->in.size() > options_.max_request_head_bytes) {
        Respond(c, 431, false, false, now);
        Flush(c, now);
      }
      return;
    }
    const HttpRequestHead request =
        ParseRequestHead(absl::string_view(c->in).substr(0, length));
    c->in.erase(0, length);
    const bool head_only = request.method == "HEAD";
    int status = request.error_status;
    HttpHandler* handler = nullptr;
    if (status == 0) {
      handler = request.path == "/metrics" ? nullptr : Route(request.path);
      if (request.method != "GET" && !head_only) {
        status = 405;
      } else if (request.path != "/metrics" && handler == nullptr) {
        status = 404;
      } else {
        status = 200;
      }
    }
    const bool keep_alive = request.keep_alive && request.error_status == 0;
    if (status == 200 && handler != nullptr) {
      const HttpResponse routed = handler->Handle(request.path, request.query);
      Respond(c, routed.status, head_only, keep_alive, now, &routed);
    } else {
      Respond(c, status, head_only, keep_alive, now);
    }
    if (Flush(c, now) != Progress::kDone) return;
  }
}

void MetricsServer::Loop::Respond(Connection* c, int status, bool head_only,
                                  bool keep_alive, Clock::time_point now,
                                  const HttpResponse* routed) {
  std::shared_ptr<const std::string> body;
  absl::string_view type = "text/plain; charset=utf-8";
  if (routed != nullptr) {
    body = routed->body;
    type = routed->content_type;
  } else if (status == 200) {
    body = Scrape();
    type = kTextFormatContentType;
  } else {
    body = std::make_shared<const std::string>(
        absl::StrCat(status, " ", Reason(status), "\n"));
  }
  c->head = absl::StrCat("HTTP/1.1 ", status, " ", Reason(status),
                         "\r\nContent-Type: ", type,
                         "\r\nContent-Length: ", body->size(), "\r\n");
  if (status == 405) c->head.append("Allow: GET, HEAD\r\n");
  c->head.append(keep_alive ? "Connection: keep-alive\r\n\r\n"
                            : "Connection: close\r\n\r\n");
  c->body = head_only ? nullptr : std::move(body);
  c->sent = 0;
  c->writing = true;
  c->close_after = !keep_alive;
  c->deadline = now + options_.write_timeout;
}

MetricsServer::Loop::Progress MetricsServer::Loop::Flush(
    Connection* c, Clock::time_point now) {
  const size_t body_size = c->body ? c->body->size() : 0;
  const size_t total = c->head.size() + body_size;
  while (c->sent < total) {
    iovec iov[2];
    int count = 0;
    if (c->sent < c->head.size()) {
      iov[count++] = {c->head.data() + c->sent, c->head.size() - c->sent};
    }
    if (body_size > 0) {
      const size_t from =
          c->sent > c->head.size() ? c->sent - c->head.size() : 0;
      iov[count++] = {const_cast<char*>(c->body->data()) + from,
                      body_size - from};
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = count;
    const ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      Watch(c, EPOLLOUT);  // the rest when the client reads
      return Progress::kPending;
    }
    if (n < 0) {
      Close(c);
      return Progress::kClosed;
    }
    c->sent += static_cast<size_t>(n);
    c->last_progress = ++progress_;
  }
  c->writing = false;
  c->head.clear();
  c->body.reset();
  if (c->close_after) {
    Close(c);
    return Progress::kClosed;
  }
  Watch(c, EPOLLIN);
  c->idle = c->in.empty();
  c->deadline =
      now + (c->idle ? options_.idle_timeout : options_.header_timeout);
  return Progress::kDone;
}

Clock::time_point MetricsServer::Loop::Expire(Clock::time_point now) {
  Clock::time_point next = Clock::time_point::max();
  if (!accepting_) {
    if (now >= accept_again_) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = listener_;
      epoll_ctl(epoll_, EPOLL_CTL_ADD, listener_, &ev);
      accepting_ = true;
    } else {
      next = accept_again_;
    }
  }
  std::vector<Connection*> expired;
  for (auto& [fd, c] : connections_) {
    if (now >= c->deadline) {
      expired.push_back(c.get());
    } else {
      next = std::min(next, c->deadline);
    }
  }
  for (Connection* c : expired) {
    // Reset rather than leave the kernel a response the client never took.
    int unsent = 0;
    const bool stuck =
        c->writing || (ioctl(c->fd, SIOCOUTQ, &unsent) == 0 && unsent > 0);
    Close(c, /*abort=*/stuck);
  }
  return next;
}

HttpHandler* MetricsServer::Loop::Route(absl::string_view path) const {
  for (const HttpRoute& route : routes_) {
    if (absl::StartsWith(path, route.prefix)) return route.handler.get();
  }
  return nullptr;
}

void MetricsServer::Loop::EvictOldest() {
  Connection* oldest = nullptr;
  for (auto& [fd, c] : connections_) {
    if (oldest == nullptr || c->last_progress < oldest->last_progress) {
      oldest = c.get();
    }
  }
  if (oldest != nullptr) Close(oldest, /*abort=*/true);
}

void MetricsServer::Loop::Watch(Connection* c, uint32_t events) {
  if (c->events == events) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = c->fd;
  epoll_ctl(epoll_, EPOLL_CTL_MOD, c->fd, &ev);
  c->events = events;
}

void MetricsServer::Loop::Close(Connection* c, bool abort) {
  const int fd = c->fd;
  if (abort) {
    const linger reset{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  }
  close(fd);  // also leaves the epoll set
  connections_.erase(fd);
}

std::shared_ptr<const std::string> MetricsServer::Loop::Scrape() {
  if (scrape_ == nullptr) {
    std::vector<prometheus::MetricFamily> families;
    for (const auto& collectable : collectables_) {
      for (prometheus::MetricFamily& f : collectable->Collect()) {
        families.push_back(std::move(f));
      }
    }
    auto text = std::make_shared<std::string>();
    WriteTextFormat(std::move(families), text.get());
    scrape_ = std::move(text);
  }
  return scrape_;
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    absl::string_view address,
    std::vector<std::shared_ptr<prometheus::Collectable>> collectables,
    const MetricsServerOptions& options, std::vector<HttpRoute> routes) {
  absl::StatusOr<ListenAddress> resolved = ResolveListenAddress(address);
  if (!resolved.ok()) return resolved.status();
  absl::StatusOr<int> listener = OpenListener(*resolved, address);
  if (!listener.ok()) return listener.status();
  const int wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  const int epoll = epoll_create1(EPOLL_CLOEXEC);
  if (wake < 0 || epoll < 0) {
    if (wake >= 0) close(wake);
    if (epoll >= 0) close(epoll);
    close(*listener);
    return absl::ResourceExhaustedError(absl::StrCat(
        "cannot serve metrics on ", address, ": no eventfd or epoll instance"));
  }
  for (int fd : {*listener, wake}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &ev);
  }
  return std::unique_ptr<MetricsServer>(new MetricsServer(
      std::make_unique<Loop>(*listener, wake, epoll, std::move(collectables),
                             options, std::move(routes))));
}

MetricsServer::MetricsServer(std::unique_ptr<Loop> loop)
    : loop_(std::move(loop)) {}

MetricsServer::~MetricsServer() = default;

int MetricsServer::port() const { return loop_->port(); }

}  // namespace metrics
