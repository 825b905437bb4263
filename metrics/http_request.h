// HttpRequestHead: what the metrics server needs from an HTTP/1.x request
// head (request line and header fields), and the parser of one.
//
// Accepts CRLF or bare LF line ends, as Go's net/http does. Stateless
// functions, callable from any thread.
#ifndef TCPINFO_METRICS_HTTP_REQUEST_H_
#define TCPINFO_METRICS_HTTP_REQUEST_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace metrics {

struct HttpRequestHead {
  // The HTTP status the request itself calls for before routing: 0 when it
  // is well formed, else 400 (malformed, or it has a body: the server takes
  // none) or 505 (not HTTP/1.x). The server closes after answering those.
  int error_status = 0;
  std::string method;       // "GET", as sent (methods are case-sensitive)
  std::string path;         // the target without its query: "/metrics"
  std::string query;        // after the first '?', "" if none (not decoded)
  bool keep_alive = false;  // HTTP/1.1 unless "Connection: close";
                            // HTTP/1.0 only with "Connection: keep-alive"
};

// The length of the request head at the start of `buffer` (through its
// blank line), or 0 if the blank line has not arrived yet.
size_t RequestHeadLength(absl::string_view buffer);

// Parses a whole head as RequestHeadLength delimits it.
HttpRequestHead ParseRequestHead(absl::string_view head);

}  // namespace metrics

#endif  // TCPINFO_METRICS_HTTP_REQUEST_H_
