// ApiHandler: the query API under /api/ of the metrics server (an
// HttpHandler route): parses the request (request.h), reads the
// ConnectionStore, and answers JSON:
//
//   200 {"Connections":[{...},...]}      GET /api/v1/connections
//   200 {...}                            GET /api/v1/connections/{id}
//   400/404 {"Error":"...","Status":N}   malformed request / no such path or
//                                        connection (never seen, or closed
//                                        longer than -api.keep-closed ago)
//
// Threading: Handle from the server's thread (as HttpHandler requires);
// it takes the store's lock only to look up or copy pointers.
#ifndef TCPINFO_API_API_HANDLER_H_
#define TCPINFO_API_API_HANDLER_H_

#include <memory>
#include <vector>

#include "api/connection_json.h"
#include "api/connection_store.h"
#include "metrics/http_handler.h"

namespace api {

inline constexpr char kApiPrefix[] = "/api/";

class ApiHandler : public metrics::HttpHandler {
 public:
  // `store` must outlive the handler.
  explicit ApiHandler(
      const ConnectionStore* store,
      std::vector<std::shared_ptr<const ConnectionAnnotator>> annotators = {});

  metrics::HttpResponse Handle(absl::string_view path,
                               absl::string_view query) override;

 private:
  const ConnectionStore* const store_;
  const std::vector<std::shared_ptr<const ConnectionAnnotator>> annotators_;
};

}  // namespace api

#endif  // TCPINFO_API_API_HANDLER_H_
