#include "sinks/influx_writer.h"

#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "sinks/http_client.h"
#include "sinks/line_protocol.h"

namespace sinks {

namespace {

// At most one log line about refused points this often.
constexpr absl::Duration kLogInterval = absl::Seconds(10);

bool IsBadData(int status) {
  return status == 400 || status == 413 || status == 422;
}

// One line of a response body, for a log or a status.
std::string OneLine(absl::string_view body) {
  return absl::StrReplaceAll(absl::StripTrailingAsciiWhitespace(body),
                             {{"\r", ""}, {"\n", "; "}});
}

HttpClient::Options ClientOptions(const SinkUrl& url, const std::string& token,
                                  const InfluxOptions& options) {
  HttpClient::Options o;
  o.connect_timeout = options.connect_timeout;
  o.timeout = options.request_timeout;
  o.user = url.user;
  o.password = url.password;
  if (!token.empty()) o.headers.push_back("Authorization: Token " + token);
  return o;
}

class InfluxWriter : public SinkWriter {
 public:
  InfluxWriter(const SinkUrl& url, const std::string& token,
               const InfluxOptions& options)
      : name_(url.redacted),
        v2_(url.scheme == "influx2"),
        database_(url.database),
        options_(options),
        client_(ClientOptions(url, token, options)) {
    base_ = "http://" + url.hosts;
    write_url_ =
        v2_ ? absl::StrCat(base_, "/api/v2/write?org=", client_.Escape(url.org),
                           "&bucket=", client_.Escape(url.database),
                           "&precision=ns")
            : absl::StrCat(base_, "/write?db=", client_.Escape(url.database),
                           "&precision=ns");
  }

  absl::Status Connect() override {
    absl::StatusOr<HttpResponse> r;
    if (v2_) {
      r = client_.Request("GET", base_ + "/ping", "");
    } else {
      const std::string q = absl::StrCat(
          "CREATE DATABASE \"",
          absl::StrReplaceAll(database_, {{"\\", "\\\\"}, {"\"", "\\\""}}),
          "\"");
      r = client_.Request("POST", base_ + "/query?q=" + client_.Escape(q), "");
    }
    if (!r.ok()) return r.status();
    if (r->status >= 500) return HttpError(*r);
    return absl::OkStatus();
  }

  WriteResult Write(absl::Span<const flows::FlowRecord> records) override {
    Batch batch;
    for (const flows::FlowRecord& r : records) {
      AppendFlowRecordLine(r, &batch.body);
      batch.ends.push_back(batch.body.size());
    }
    return Send(batch);
  }

  bool Accepts(flows::MeasurementKind kind) const override { return true; }

  WriteResult WriteMeasurements(
      absl::Span<const flows::Measurement> measurements) override {
    Batch batch;
    for (const flows::Measurement& m : measurements) {
      AppendMeasurementLine(m, &batch.body);  // nothing when it has no field
      batch.ends.push_back(batch.body.size());
    }
    return Send(batch);
  }

 private:
  // The lines of a batch, one after another; item i is
  // body[ends[i-1], ends[i]) (empty: a point with no field).
  struct Batch {
    std::string body;
    std::vector<size_t> ends;
    size_t Begin(size_t i) const { return i == 0 ? 0 : ends[i - 1]; }
  };

  absl::Status HttpError(const HttpResponse& r) const {
    const std::string what =
        absl::StrCat("HTTP ", r.status, ": ", OneLine(r.body));
    if (r.status == 401 || r.status == 403) {
      return absl::PermissionDeniedError(what);
    }
    if (r.status == 404) return absl::NotFoundError(what);
    return absl::UnavailableError(what);
  }

  WriteResult Send(const Batch& batch) {
    WriteResult result;
    const absl::Time deadline = absl::Now() + options_.write_budget;
    result.status = Post(batch, 0, batch.ends.size(), deadline, &result);
    if (result.status.ok()) result.written = batch.ends.size();
    // Points with no field among those taken (the rest come again).
    size_t empty = 0;
    for (size_t i = 0; i < result.written; ++i) {
      if (batch.Begin(i) == batch.ends[i]) ++empty;
    }
    if (empty > 0) Reject(empty, "a point with no field", &result);
    return result;
  }

  // Posts items [begin, end), splitting on bad data. On success they are
  // all written or rejected; on error result->written says how many of
  // the batch's leading items were.
  absl::Status Post(const Batch& batch, size_t begin, size_t end,
                    absl::Time deadline, WriteResult* result) {
    const size_t from = batch.Begin(begin), to = batch.Begin(end);
    if (from == to) {  // points with no field only (counted by Send)
      result->written = end;
      return absl::OkStatus();
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          "write budget spent splitting a refused batch; the rest is retried");
    }
    absl::StatusOr<HttpResponse> r =
        client_.Request("POST", write_url_,
                        absl::string_view(batch.body).substr(from, to - from));
    if (!r.ok()) return r.status();
    if (r->status >= 200 && r->status < 300) {
      result->written = end;
      return absl::OkStatus();
    }
    if (!IsBadData(r->status)) return HttpError(*r);
    if (end - begin == 1) {
      Reject(1, absl::StrCat("HTTP ", r->status, ": ", OneLine(r->body)),
             result);
      result->written = end;
      return absl::OkStatus();
    }
    const size_t mid = begin + (end - begin) / 2;
    if (absl::Status s = Post(batch, begin, mid, deadline, result); !s.ok()) {
      return s;
    }
    return Post(batch, mid, end, deadline, result);
  }

  // Counts `n` refused points and logs why, at most once per kLogInterval.
  void Reject(size_t n, const std::string& why, WriteResult* result) {
    result->rejected += n;
    rejected_ += n;
    const absl::Time now = absl::Now();
    if (now - last_log_ < kLogInterval) return;
    last_log_ = now;
    std::fprintf(stderr,
                 "tcp-info: sink %s: points refused, dropped, not retried: "
                 "%zu (the last: %s)\n",
                 name_.c_str(), rejected_, why.c_str());
    rejected_ = 0;
  }

  const std::string name_;
  const bool v2_;
  const std::string database_;
  const InfluxOptions options_;
  HttpClient client_;
  std::string base_;       // http://HOST:PORT
  std::string write_url_;  // with its query
  size_t rejected_ = 0;    // since the last log line
  absl::Time last_log_ = absl::InfinitePast();
};

}  // namespace

absl::StatusOr<std::string> InfluxToken(const SinkUrl& url) {
  if (url.scheme != "influx2") return std::string();
  const char* token = std::getenv(kInfluxTokenEnv);
  if (token == nullptr || *token == '\0') {
    return absl::InvalidArgumentError(
        absl::StrCat("-sink=", url.redacted, ": $", kInfluxTokenEnv,
                     " is not set (the InfluxDB 2.x API token)"));
  }
  return std::string(token);
}

std::unique_ptr<SinkWriter> NewInfluxWriter(const SinkUrl& url,
                                            std::string token,
                                            const InfluxOptions& options) {
  return std::make_unique<InfluxWriter>(url, token, options);
}

}  // namespace sinks
