#include "metrics/http_request.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace metrics {

size_t RequestHeadLength(absl::string_view buffer) {
  for (size_t i = buffer.find('\n'); i != absl::string_view::npos;
       i = buffer.find('\n', i + 1)) {
    if (i + 1 < buffer.size() && buffer[i + 1] == '\n') return i + 2;
    if (i + 2 < buffer.size() && buffer[i + 1] == '\r' &&
        buffer[i + 2] == '\n') {
      return i + 3;
    }
  }
  return 0;
}

HttpRequestHead ParseRequestHead(absl::string_view head) {
  HttpRequestHead r;
  std::vector<absl::string_view> lines = absl::StrSplit(head, '\n');
  for (absl::string_view& line : lines) absl::ConsumeSuffix(&line, "\r");
  const std::vector<absl::string_view> parts =
      absl::StrSplit(lines.empty() ? "" : lines[0], ' ');
  if (parts.size() != 3 || parts[0].empty() || parts[1].empty() ||
      parts[1][0] != '/') {
    r.error_status = 400;
    return r;
  }
  int minor;
  if (parts[2] == "HTTP/1.1") {
    minor = 1;
  } else if (parts[2] == "HTTP/1.0") {
    minor = 0;
  } else {
    r.error_status = absl::StartsWith(parts[2], "HTTP/") ? 505 : 400;
    return r;
  }
  r.method = std::string(parts[0]);
  const size_t question = parts[1].find('?');
  r.path = std::string(parts[1].substr(0, question));
  if (question != absl::string_view::npos) {
    r.query = std::string(parts[1].substr(question + 1));
  }
  bool close = false, keep_alive = false;
  for (size_t i = 1; i < lines.size(); ++i) {
    const absl::string_view line = lines[i];
    if (line.empty()) break;
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos || colon == 0) {
      r.error_status = 400;
      return r;
    }
    const absl::string_view name = line.substr(0, colon);
    const absl::string_view value =
        absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (absl::EqualsIgnoreCase(name, "Connection")) {
      for (absl::string_view token : absl::StrSplit(value, ',')) {
        token = absl::StripAsciiWhitespace(token);
        close = close || absl::EqualsIgnoreCase(token, "close");
        keep_alive = keep_alive || absl::EqualsIgnoreCase(token, "keep-alive");
      }
    } else if (absl::EqualsIgnoreCase(name, "Transfer-Encoding") ||
               (absl::EqualsIgnoreCase(name, "Content-Length") &&
                value != "0")) {
      r.error_status = 400;  // a body we would have to skip
      return r;
    }
  }
  r.keep_alive = minor == 1 ? !close : keep_alive && !close;
  return r;
}

}  // namespace metrics
