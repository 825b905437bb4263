// ApiRequest: what a query API request asks for, parsed from its path and
// query (the router of /api/; api_handler.h answers it):
//
//   /api/v1/connections            every open connection
//   /api/v1/connections/{id}       one, open or closed within -api.keep-closed
//   ?fields=a,b                    only these fields ("TCP.RTT": one member
//                                  of a section, "TCP": all of it)
//
// {id} is a cookie in decimal ("1000") or hex with 0x ("0x3E8"), or the
// connection's archive uuid ("<prefix>_<16 hex digits>", prefix_ given).
// Stateless, callable from any thread.
#ifndef TCPINFO_API_REQUEST_H_
#define TCPINFO_API_REQUEST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace api {

struct ApiRequest {
  bool one = false;     // a single connection (by cookie), else the list
  uint64_t cookie = 0;  // when `one`
  // Requested field names in order, duplicates kept; empty: every field.
  std::vector<std::string> fields;
};

// At most this many names in ?fields=, each at most kMaxFieldName bytes.
inline constexpr size_t kMaxFields = 64;
inline constexpr size_t kMaxFieldName = 64;

// NotFoundError: a path the API does not have, or a uuid of another prefix
// (so no connection of ours). InvalidArgumentError (answered 400): a
// malformed id (a decimal or 0x number that does not fit 64 bits, bad
// digits), an unknown query parameter, a bad percent-escape, too many or
// malformed field names. Messages are one line, safe to send back.
absl::StatusOr<ApiRequest> ParseApiRequest(absl::string_view path,
                                           absl::string_view query,
                                           absl::string_view uuid_prefix);

}  // namespace api

#endif  // TCPINFO_API_REQUEST_H_
