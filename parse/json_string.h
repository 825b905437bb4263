// JSON string literals as Go's encoding/json writes them (json.Marshal):
// '"' and '\\' backslash-escaped, \n \r \t short, other control bytes and
// the HTML characters < > & as \u00XX; other bytes as they are. Shared by
// the archive's Metadata line and the event socket. Thread-safe.
#ifndef TCPINFO_PARSE_JSON_STRING_H_
#define TCPINFO_PARSE_JSON_STRING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace parse {

// Appends `text` as a quoted JSON string.
void AppendJsonString(absl::string_view text, std::string* out);

}  // namespace parse

#endif  // TCPINFO_PARSE_JSON_STRING_H_
