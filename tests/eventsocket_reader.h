// Test helpers for event socket clients: connect to a unix socket, read
// lines in a background thread, wait for a server's clients.
#ifndef TCPINFO_TESTS_EVENTSOCKET_READER_H_
#define TCPINFO_TESTS_EVENTSOCKET_READER_H_

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "eventsocket/server.h"
#include "gtest/gtest.h"

namespace testutil {

inline int ConnectUnix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Waits until a server listens on `path`: a connection is accepted (the
// file exists from bind(), and its mode is set before listen()). Up to
// `timeout_ms`: a daemon's start-up on a loaded 2-core machine.
inline bool WaitUntilListening(const std::string& path,
                               int timeout_ms = 15000) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    const int fd = ConnectUnix(path);
    if (fd >= 0) {
      close(fd);
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// A client that reads lines in a background thread.
class ReadingClient {
 public:
  explicit ReadingClient(const std::string& path) : fd_(ConnectUnix(path)) {
    EXPECT_GE(fd_, 0) << path;
    if (fd_ >= 0) thread_ = std::thread([this] { Read(); });
  }
  ~ReadingClient() {
    if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) close(fd_);
  }

  // Waits until `n` lines arrived (true) or the connection ended or 10 s
  // passed (false).
  bool WaitForLines(size_t n) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (line_count() >= n) return true;
      if (eof_) return line_count() >= n;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
  }
  bool WaitForEof() {
    for (int i = 0; i < 5000 && !eof_; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return eof_;
  }
  size_t line_count() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_.size() + counted_only_;
  }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }
  // Stop keeping the text of lines (for large volumes).
  void CountOnly() { count_only_ = true; }

 private:
  void Read() {
    char buf[65536];
    std::string partial;
    for (;;) {
      ssize_t n = read(fd_, buf, sizeof(buf));
      if (n <= 0) break;
      partial.append(buf, n);
      size_t start = 0, nl;
      std::lock_guard<std::mutex> lock(mu_);
      while ((nl = partial.find('\n', start)) != std::string::npos) {
        if (count_only_) {
          ++counted_only_;
        } else {
          lines_.push_back(partial.substr(start, nl - start + 1));
        }
        start = nl + 1;
      }
      partial.erase(0, start);
    }
    eof_ = true;
  }

  int fd_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> lines_;
  size_t counted_only_ = 0;
  std::atomic<bool> count_only_{false};
  std::atomic<bool> eof_{false};
};

inline bool WaitForClients(const eventsocket::Server& server, uint64_t n) {
  for (int i = 0; i < 5000; ++i) {
    if (server.stats().clients_connected == n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

}  // namespace testutil

#endif  // TCPINFO_TESTS_EVENTSOCKET_READER_H_
