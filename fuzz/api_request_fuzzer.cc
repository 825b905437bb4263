// Fuzzes the query API's request path: an HTTP request head
// (metrics/http_request.h) routed and parsed by api/request.h, answered by
// api/api_handler.h over an empty store, and a connection rendered with
// the requested fields (api/connection_json.h). Invariants: a parsed
// request has at most kMaxFields valid names; every answer is 200, 400 or
// 404 with a JSON body; a rendered connection is JSON holding only
// selected members.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "api/api_handler.h"
#include "api/connection_json.h"
#include "api/connection_store.h"
#include "api/request.h"
#include "fuzz/fuzz_check.h"
#include "metrics/http_request.h"
#include "nlohmann/json.hpp"

namespace {

constexpr char kPrefix[] = "host_1700000000_unsafe";

bool IsSelected(const api::ApiRequest& request, absl::string_view key) {
  for (const std::string& f : request.fields) {
    if (f == key || absl::StartsWith(f, absl::StrCat(key, "."))) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using fuzz::FuzzCheck;
  static api::ConnectionStore store(kPrefix, absl::Seconds(10));
  static api::ApiHandler handler(&store);
  const absl::string_view input(reinterpret_cast<const char*>(data), size);

  // The head as the server takes it (whole heads only).
  const size_t length = metrics::RequestHeadLength(input);
  metrics::HttpRequestHead head;
  if (length > 0) {
    head = metrics::ParseRequestHead(input.substr(0, length));
  } else {
    // Also the bytes as a bare target: path, then ?query.
    const size_t question = input.find('?');
    head.path = std::string(input.substr(0, question));
    if (question != absl::string_view::npos) {
      head.query = std::string(input.substr(question + 1));
    }
  }
  if (head.error_status != 0) return 0;

  const metrics::HttpResponse response = handler.Handle(head.path, head.query);
  FuzzCheck(response.body != nullptr, "no body");
  FuzzCheck(response.status == 200 || response.status == 400 ||
                response.status == 404,
            "status not 200, 400 or 404");
  FuzzCheck(nlohmann::json::accept(*response.body), "answer is not JSON");

  absl::StatusOr<api::ApiRequest> request =
      api::ParseApiRequest(head.path, head.query, kPrefix);
  if (!request.ok()) return 0;
  FuzzCheck(request->fields.size() <= api::kMaxFields, "too many fields");
  for (const std::string& f : request->fields) {
    FuzzCheck(!f.empty() && f.size() <= api::kMaxFieldName, "bad field name");
  }
  // An empty store: the list is empty, one connection unknown.
  FuzzCheck(response.status == (request->one ? 404 : 200),
            "wrong status for an empty store");

  api::ConnectionState state;
  state.cookie = request->cookie;
  state.open = !request->one;
  state.snapshot.has_tcp_info = true;
  state.snapshot.tcp_info_length = sizeof(state.snapshot.tcp_info);
  std::string out;
  api::AppendConnectionJson(state, kPrefix, {}, request->fields, &out);
  const nlohmann::json j =
      nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  FuzzCheck(!j.is_discarded() && j.is_object(), "connection is not an object");
  if (!request->fields.empty()) {
    for (const auto& [key, value] : j.items()) {
      FuzzCheck(IsSelected(*request, key), "a member nobody asked for");
    }
  }
  return 0;
}
