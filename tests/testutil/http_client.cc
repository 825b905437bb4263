#include "tests/testutil/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace testutil {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

int64_t MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t).count();
}

int Connect(int port, int family, int rcvbuf) {
  const int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(int));
  int rc;
  if (family == AF_INET) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  } else {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(static_cast<uint16_t>(port));
    a.sin6_addr = in6addr_loopback;
    rc = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  }
  if (rc != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool ReadUntil(int fd, std::string* buffer, milliseconds timeout,
               const std::function<bool(const std::string&)>& done) {
  const Clock::time_point end = Clock::now() + timeout;
  while (!done(*buffer)) {
    const int64_t left =
        std::chrono::duration_cast<milliseconds>(end - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[65536];
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    buffer->append(buf, static_cast<size_t>(n));
  }
  return true;
}

Response ReadResponse(int fd, std::string* pending, bool head_only,
                      milliseconds timeout) {
  Response r;
  if (!ReadUntil(fd, pending, timeout, [](const std::string& b) {
        return b.find("\r\n\r\n") != std::string::npos;
      })) {
    return r;
  }
  const size_t end = pending->find("\r\n\r\n");
  const std::string head = pending->substr(0, end);
  pending->erase(0, end + 4);
  std::vector<std::string> lines = absl::StrSplit(head, "\r\n");
  std::vector<std::string> status_line = absl::StrSplit(lines[0], ' ');
  if (status_line.size() < 2 || status_line[0] != "HTTP/1.1" ||
      !absl::SimpleAtoi(status_line[1], &r.status)) {
    return r;
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(": ");
    if (colon == std::string::npos) return r;
    r.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
        lines[i].substr(colon + 2);
  }
  size_t length = 0;
  if (!absl::SimpleAtoi(r.headers["content-length"], &length)) return r;
  if (!head_only) {
    if (!ReadUntil(fd, pending, timeout, [length](const std::string& b) {
          return b.size() >= length;
        })) {
      return r;
    }
    r.body = pending->substr(0, length);
    pending->erase(0, length);
  }
  r.ok = true;
  return r;
}

int64_t WaitClosed(int fd, milliseconds timeout) {
  const Clock::time_point start = Clock::now();
  std::string ignored;
  ReadUntil(fd, &ignored, timeout, [&ignored](const std::string&) {
    ignored.clear();
    return false;
  });
  const int64_t ms = MsSince(start);
  return ms >= timeout.count() ? -1 : ms;
}

Response Scrape(int port, int64_t* ms, int family) {
  const Clock::time_point start = Clock::now();
  const int fd = Connect(port, family);
  if (fd < 0) return {};
  std::string pending;
  Response r;
  if (SendAll(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")) {
    r = ReadResponse(fd, &pending);
  }
  if (ms != nullptr) *ms = MsSince(start);
  close(fd);
  return r;
}

}  // namespace testutil
