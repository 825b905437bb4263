#include "sinks/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sinks {

namespace {

// Where a response body goes, up to `max` bytes.
struct BodySink {
  std::string* body;
  size_t max;
};

size_t CollectBody(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  const size_t bytes = size * n;
  const size_t room = sink->max - std::min(sink->body->size(), sink->max);
  sink->body->append(data, std::min(bytes, room));
  return bytes;  // the rest is read and discarded, not an error
}

}  // namespace

struct HttpClient::Rep {
  CURL* curl = nullptr;
  curl_slist* headers = nullptr;
  Options options;
  char error[CURL_ERROR_SIZE] = {};
};

HttpClient::HttpClient(Options options) : rep_(new Rep) {
  // Once per process, before the first handle (not thread-safe in older
  // libcurls, so behind call_once).
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  rep_->options = std::move(options);
  rep_->curl = curl_easy_init();
  rep_->headers =
      curl_slist_append(nullptr, "Content-Type: text/plain; charset=utf-8");
  // No "Expect: 100-continue" round trip before large bodies.
  rep_->headers = curl_slist_append(rep_->headers, "Expect:");
  for (const std::string& h : rep_->options.headers) {
    rep_->headers = curl_slist_append(rep_->headers, h.c_str());
  }
}

HttpClient::~HttpClient() {
  if (rep_->curl != nullptr) curl_easy_cleanup(rep_->curl);
  curl_slist_free_all(rep_->headers);
  delete rep_;
}

std::string HttpClient::Escape(absl::string_view text) {
  char* e =
      curl_easy_escape(rep_->curl, text.data(), static_cast<int>(text.size()));
  std::string out = e != nullptr ? e : "";
  curl_free(e);
  return out;
}

absl::StatusOr<HttpResponse> HttpClient::Request(absl::string_view method,
                                                 const std::string& url,
                                                 absl::string_view body) {
  CURL* c = rep_->curl;
  if (c == nullptr) return absl::InternalError("curl_easy_init failed");
  HttpResponse response;
  const Options& o = rep_->options;
  curl_easy_reset(c);  // keeps the open connection
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(
      c, CURLOPT_CONNECTTIMEOUT_MS,
      static_cast<long>(absl::ToInt64Milliseconds(o.connect_timeout)));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(o.timeout)));
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, rep_->headers);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, rep_->error);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, CollectBody);
  BodySink sink{&response.body, o.max_body};
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  if (!o.user.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERNAME, o.user.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, o.password.c_str());
  }
  if (method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(body.size()));
  }
  rep_->error[0] = '\0';
  const CURLcode code = curl_easy_perform(c);
  if (code != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat(
        method, " ", url.substr(0, url.find('?')), ": ",
        rep_->error[0] != '\0' ? rep_->error : curl_easy_strerror(code)));
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  return response;
}

}  // namespace sinks
