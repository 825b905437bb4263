#include "api/api_handler.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "api/request.h"
#include "parse/json_string.h"

namespace api {
namespace {

metrics::HttpResponse Json(int status, std::string body) {
  metrics::HttpResponse r;
  r.status = status;
  body.push_back('\n');
  r.body = std::make_shared<const std::string>(std::move(body));
  return r;
}

metrics::HttpResponse Error(int status, absl::string_view message) {
  std::string body = "{\"Error\":";
  parse::AppendJsonString(message, &body);
  absl::StrAppend(&body, ",\"Status\":", status, "}");
  return Json(status, std::move(body));
}

}  // namespace

ApiHandler::ApiHandler(
    const ConnectionStore* store,
    std::vector<std::shared_ptr<const ConnectionAnnotator>> annotators)
    : store_(store), annotators_(std::move(annotators)) {}

metrics::HttpResponse ApiHandler::Handle(absl::string_view path,
                                         absl::string_view query) {
  absl::StatusOr<ApiRequest> request =
      ParseApiRequest(path, query, store_->uuid_prefix());
  if (!request.ok()) {
    return Error(absl::IsNotFound(request.status()) ? 404 : 400,
                 request.status().message());
  }
  std::string body;
  if (request->one) {
    std::shared_ptr<const ConnectionState> state =
        store_->Find(request->cookie);
    if (state == nullptr) return Error(404, "no such connection");
    AppendConnectionJson(*state, store_->uuid_prefix(), annotators_,
                         request->fields, &body);
    return Json(200, std::move(body));
  }
  const std::vector<std::shared_ptr<const ConnectionState>> open =
      store_->Open();
  body = "{\"Connections\":[";
  for (size_t i = 0; i < open.size(); ++i) {
    if (i > 0) body.push_back(',');
    AppendConnectionJson(*open[i], store_->uuid_prefix(), annotators_,
                         request->fields, &body);
  }
  body.append("]}");
  return Json(200, std::move(body));
}

}  // namespace api
