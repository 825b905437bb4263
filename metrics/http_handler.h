// HttpHandler: a part of the metrics server's URL space served by someone
// else (the query API), and what it answers. The server keeps /metrics;
// each HttpRoute owns the paths under its prefix.
//
// Threading: Handle is called from the server's thread only, one request at
// a time, and must return quickly: everything else the server does (the
// /metrics scrape included) waits for it. It must never wait on the
// polling thread.
#ifndef TCPINFO_METRICS_HTTP_HANDLER_H_
#define TCPINFO_METRICS_HTTP_HANDLER_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"

namespace metrics {

struct HttpResponse {
  int status = 200;  // 200, 400, 404 or 503
  std::string content_type = "application/json";
  std::shared_ptr<const std::string> body;  // never null
};

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // Answers a GET (or HEAD: the server drops the body) of `path` (as sent,
  // starting with the route's prefix) with `query` (after '?', "" if none,
  // not decoded).
  virtual HttpResponse Handle(absl::string_view path,
                              absl::string_view query) = 0;
};

struct HttpRoute {
  std::string prefix;  // e.g. "/api/": every path that starts with it
  std::shared_ptr<HttpHandler> handler;
};

}  // namespace metrics

#endif  // TCPINFO_METRICS_HTTP_HANDLER_H_
