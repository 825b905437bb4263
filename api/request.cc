#include "api/request.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace api {
namespace {

constexpr absl::string_view kList = "/api/v1/connections";

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Up to 16 hex digits, at least one.
bool ParseHex(absl::string_view digits, uint64_t* out) {
  if (digits.empty() || digits.size() > 16) return false;
  uint64_t v = 0;
  for (char c : digits) {
    const int d = HexDigit(c);
    if (d < 0) return false;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  *out = v;
  return true;
}

absl::StatusOr<uint64_t> ParseId(absl::string_view id,
                                 absl::string_view uuid_prefix) {
  uint64_t cookie = 0;
  if (absl::ConsumePrefix(&id, "0x") || absl::ConsumePrefix(&id, "0X")) {
    if (!ParseHex(id, &cookie)) {
      return absl::InvalidArgumentError(
          "a hex cookie is 0x and 1 to 16 hex digits");
    }
    return cookie;
  }
  if (!id.empty() && absl::ascii_isdigit(static_cast<unsigned char>(id[0]))) {
    for (char c : id) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
        return absl::InvalidArgumentError(
            "a connection id is a decimal cookie, 0x and hex digits, or a "
            "uuid");
      }
    }
    if (!absl::SimpleAtoi(id, &cookie)) {
      return absl::InvalidArgumentError("the cookie does not fit 64 bits");
    }
    return cookie;
  }
  // A uuid: <prefix>_<16 hex digits>.
  const size_t underscore = id.rfind('_');
  if (underscore == absl::string_view::npos ||
      id.size() - underscore - 1 != 16 ||
      !ParseHex(id.substr(underscore + 1), &cookie)) {
    return absl::InvalidArgumentError(
        "a connection id is a decimal cookie, 0x and hex digits, or a uuid");
  }
  if (id.substr(0, underscore) != uuid_prefix) {
    return absl::NotFoundError("no such connection (another uuid prefix)");
  }
  return cookie;
}

// Percent-decodes a query component; '+' is a space, as in forms.
absl::StatusOr<std::string> Decode(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      const int hi = i + 1 < s.size() ? HexDigit(s[i + 1]) : -1;
      const int lo = i + 2 < s.size() ? HexDigit(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return absl::InvalidArgumentError("bad percent-escape in the query");
      }
      out.push_back(static_cast<char>(hi << 4 | lo));
      i += 2;
    } else {
      out.push_back(s[i] == '+' ? ' ' : s[i]);
    }
  }
  return out;
}

bool ValidFieldName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxFieldName || name.front() == '.' ||
      name.back() == '.') {
    return false;
  }
  int dots = 0;
  for (char c : name) {
    if (c == '.') {
      ++dots;
    } else if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
               c != '_') {
      return false;
    }
  }
  return dots <= 1;
}

absl::Status ParseQuery(absl::string_view query, ApiRequest* request) {
  bool seen_fields = false;
  for (absl::string_view param : absl::StrSplit(query, '&')) {
    if (param.empty()) continue;
    const size_t eq = param.find('=');
    absl::StatusOr<std::string> name = Decode(param.substr(0, eq));
    if (!name.ok()) return name.status();
    if (*name != "fields") {
      return absl::InvalidArgumentError(
          "unknown query parameter (the API takes fields= only)");
    }
    if (seen_fields) return absl::InvalidArgumentError("fields= given twice");
    seen_fields = true;
    absl::StatusOr<std::string> value =
        Decode(eq == absl::string_view::npos ? "" : param.substr(eq + 1));
    if (!value.ok()) return value.status();
    for (absl::string_view field : absl::StrSplit(*value, ',')) {
      if (!ValidFieldName(field)) {
        return absl::InvalidArgumentError(
            "a field is a name or Section.Name (letters, digits, _)");
      }
      if (request->fields.size() == kMaxFields) {
        return absl::InvalidArgumentError(
            absl::StrCat("at most ", kMaxFields, " fields"));
      }
      request->fields.emplace_back(field);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ApiRequest> ParseApiRequest(absl::string_view path,
                                           absl::string_view query,
                                           absl::string_view uuid_prefix) {
  ApiRequest request;
  if (!absl::ConsumePrefix(&path, kList)) {
    return absl::NotFoundError("no such path");
  }
  if (!path.empty()) {
    if (!absl::ConsumePrefix(&path, "/") || path.empty() ||
        absl::StrContains(path, '/')) {
      return absl::NotFoundError("no such path");
    }
    absl::StatusOr<uint64_t> cookie = ParseId(path, uuid_prefix);
    if (!cookie.ok()) return cookie.status();
    request.one = true;
    request.cookie = *cookie;
  }
  if (absl::Status s = ParseQuery(query, &request); !s.ok()) return s;
  return request;
}

}  // namespace api
