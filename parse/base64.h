// Standard base64 (RFC 4648 section 4, with '=' padding), as Go's
// encoding/json writes []byte values.
//
// All functions are thread-safe and allocate only by growing `out`.
#ifndef TCPINFO_PARSE_BASE64_H_
#define TCPINFO_PARSE_BASE64_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace parse {

// Length of the encoding of `n` bytes.
constexpr size_t Base64EncodedSize(size_t n) { return (n + 2) / 3 * 4; }

// Appends the base64 encoding of `bytes` to `out`.
void AppendBase64(absl::string_view bytes, std::string* out);

// Appends the bytes that `text` encodes to `out`. Accepts exactly what Go's
// base64.StdEncoding accepts (padding required; '\r' and '\n' ignored).
// On error `out` may hold a partial result.
absl::Status DecodeBase64(absl::string_view text, std::string* out);

}  // namespace parse

#endif  // TCPINFO_PARSE_BASE64_H_
