// A small blocking HTTP/1.1 client over loopback for tests of the metrics
// server: connect, send, read whole responses (Content-Length framed,
// keep-alive and pipelining aware), wait for the server to close.
//
// Every read is bounded by a timeout. Thread-compatible: one connection
// per thread.
#ifndef TCPINFO_TESTS_TESTUTIL_HTTP_CLIENT_H_
#define TCPINFO_TESTS_TESTUTIL_HTTP_CLIENT_H_

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/strings/string_view.h"

namespace testutil {

// Milliseconds from `t` to now.
int64_t MsSince(std::chrono::steady_clock::time_point t);

// A blocking connection to 127.0.0.1 (AF_INET) or ::1 (AF_INET6) at
// `port`, with SO_RCVBUF `rcvbuf` if not 0; -1 on failure.
int Connect(int port, int family = AF_INET, int rcvbuf = 0);

// Sends all of `data`; false if the connection fails.
bool SendAll(int fd, absl::string_view data);

// Reads from `fd` into `buffer` until `done(buffer)` or end of stream,
// error or `timeout`. Returns false on end of stream, error or timeout.
bool ReadUntil(int fd, std::string* buffer, std::chrono::milliseconds timeout,
               const std::function<bool(const std::string&)>& done);

struct Response {
  bool ok = false;  // a whole, well-formed HTTP/1.1 response
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// One response from a connection; `pending` holds bytes already read past
// the previous one and keeps those of the next. `head_only`: a response to
// HEAD, no body read.
Response ReadResponse(
    int fd, std::string* pending, bool head_only = false,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

// Waits until the peer closes `fd` (end of stream or reset), discarding
// what it sends; the milliseconds it took, or -1 after `timeout`.
int64_t WaitClosed(int fd, std::chrono::milliseconds timeout);

// GET /metrics on a fresh connection: the response, and in `ms` how long it
// took, connect included.
Response Scrape(int port, int64_t* ms = nullptr, int family = AF_INET);

}  // namespace testutil

#endif  // TCPINFO_TESTS_TESTUTIL_HTTP_CLIENT_H_
