// HttpClient: HTTP/1.1 requests to one server over libcurl, for writers
// whose destination speaks HTTP (influx_writer.cc). One connection, kept
// alive between requests and reopened when the server closed it; every
// request is bounded by the connect timeout and a total timeout, and never
// follows redirects. libcurl (not NetClient) because HTTP/1.1 done right
// -- keep-alive, chunked and Content-Length framing, 100-continue, basic
// authentication -- is what libcurl is, and it brings HTTPS for free.
//
// Thread contract: one thread at a time. Not copyable.
#ifndef TCPINFO_SINKS_HTTP_CLIENT_H_
#define TCPINFO_SINKS_HTTP_CLIENT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace sinks {

struct HttpResponse {
  int status = 0;    // 204, 400, 503...
  std::string body;  // at most Options::max_body bytes of it
};

class HttpClient {
 public:
  struct Options {
    absl::Duration connect_timeout = absl::Seconds(2);
    absl::Duration timeout = absl::Seconds(10);  // a whole request
    // Basic authentication when user is not empty.
    std::string user;
    std::string password;
    // What a response body may keep (the rest is read and discarded).
    size_t max_body = 4096;
    // Extra request headers, "Name: value" (e.g. "Authorization: Token x").
    std::vector<std::string> headers;
  };

  explicit HttpClient(Options options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // POSTs `body` (Content-Type text/plain) to `url`; GET when `method` is
  // "GET" (body ignored). The response whatever its status; Unavailable
  // when no response came (refused, reset, timed out: the reason in the
  // message).
  absl::StatusOr<HttpResponse> Request(absl::string_view method,
                                       const std::string& url,
                                       absl::string_view body);

  // `text` %-encoded for a URL's query.
  std::string Escape(absl::string_view text);

 private:
  struct Rep;
  Rep* rep_;
};

}  // namespace sinks

#endif  // TCPINFO_SINKS_HTTP_CLIENT_H_
