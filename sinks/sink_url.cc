#include "sinks/sink_url.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace sinks {

namespace {

constexpr char kForms[] =
    "want sqlite:PATH, jsonl:PATH, jsonl:-, postgres://..., "
    "kafka://HOST:PORT/TOPIC, ipfix://HOST:PORT, ipfix+tcp://HOST:PORT, "
    "influx://HOST:PORT/DATABASE or influx2://HOST:PORT/ORG/BUCKET";

// A query parameter or property whose value is a secret.
bool IsSecretKey(absl::string_view key) {
  const std::string k = absl::AsciiStrToLower(key);
  return absl::StrContains(k, "password") || absl::StrContains(k, "secret");
}

// `query` ("a=1&b=2", no '?') without its secret parameters.
std::string RedactQuery(absl::string_view query) {
  std::vector<absl::string_view> kept;
  for (absl::string_view p : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    const absl::string_view key = p.substr(0, p.find('='));
    if (!IsSecretKey(key)) kept.push_back(p);
  }
  return absl::StrJoin(kept, "&");
}

// `text` without a password in its userinfo (scheme://user:pw@host) or
// its query (?password=...). Works on any URL-like text, parsed or not.
std::string Redact(absl::string_view text) {
  std::string out;
  absl::string_view rest = text;
  if (const size_t s = rest.find("://"); s != absl::string_view::npos) {
    absl::StrAppend(&out, rest.substr(0, s + 3));
    rest.remove_prefix(s + 3);
    const size_t end = rest.find_first_of("/?");
    const absl::string_view authority = rest.substr(0, end);
    if (const size_t at = authority.rfind('@'); at != absl::string_view::npos) {
      const absl::string_view userinfo = authority.substr(0, at);
      absl::StrAppend(&out, userinfo.substr(0, userinfo.find(':')));
      rest.remove_prefix(at);  // from the '@' on
    }
  }
  const size_t q = rest.find('?');
  if (q == absl::string_view::npos) {
    absl::StrAppend(&out, rest);
    return out;
  }
  absl::StrAppend(&out, rest.substr(0, q));
  const std::string query = RedactQuery(rest.substr(q + 1));
  if (!query.empty()) absl::StrAppend(&out, "?", query);
  return out;
}

// Decodes %XX escapes; false on a malformed one.
bool PercentDecode(absl::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    int value = 0;
    for (size_t j = i + 1; j <= i + 2; ++j) {
      if (j >= in.size() || !absl::ascii_isxdigit(in[j])) return false;
      const char c = absl::ascii_tolower(in[j]);
      value = value * 16 + (absl::ascii_isdigit(c) ? c - '0' : c - 'a' + 10);
    }
    out->push_back(static_cast<char>(value));
    i += 2;
  }
  return true;
}

// Checks one "HOST:PORT" ("[v6]:PORT" for IPv6); the reason it is bad.
absl::Status CheckHostPort(absl::string_view hp) {
  absl::string_view host, port;
  if (absl::StartsWith(hp, "[")) {
    const size_t close = hp.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", hp, "\": unclosed '['"));
    }
    host = hp.substr(1, close - 1);
    in6_addr a;
    if (inet_pton(AF_INET6, std::string(host).c_str(), &a) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", host, "\" is not an IPv6 address"));
    }
    if (close + 1 >= hp.size() || hp[close + 1] != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", hp, "\": want [IPV6]:PORT"));
    }
    port = hp.substr(close + 2);
  } else {
    const size_t colon = hp.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", hp, "\": want HOST:PORT"));
    }
    host = hp.substr(0, colon);
    port = hp.substr(colon + 1);
    if (host.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("\"", hp, "\": no host"));
    }
    for (char c : host) {
      if (!absl::ascii_isalnum(c) && c != '.' && c != '-' && c != '_') {
        return absl::InvalidArgumentError(absl::StrCat(
            "\"", host, "\" is not a host name or IPv4 address",
            c == ':' ? " (IPv6 addresses go in brackets: [fd77::1]:4739)"
                     : ""));
      }
    }
  }
  uint32_t n;
  if (port.empty() || !absl::SimpleAtoi(port, &n) || n == 0 || n > 65535 ||
      !absl::ascii_isdigit(port[0])) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", port, "\" is not a port (1-65535)"));
  }
  return absl::OkStatus();
}

// Checks that `path` can be created or appended to: its directory exists
// and is writable, and the file, if present, is a writable regular file.
absl::Status CheckFilePath(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("no file name");
  if (path.back() == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": names a directory, want a file"));
  }
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("directory ", dir, ": ", std::strerror(errno)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": not a directory"));
  }
  if (access(dir.c_str(), W_OK | X_OK) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "directory ", dir, ": not writable: ", std::strerror(errno)));
  }
  if (stat(path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": not a regular file"));
    }
    if (access(path.c_str(), W_OK) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": not writable: ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseFile(absl::string_view rest, SinkUrl* url) {
  // sqlite:///var/lib/x.db is sqlite:/var/lib/x.db.
  if (absl::StartsWith(rest, "//")) rest.remove_prefix(2);
  url->path = std::string(rest);
  if (url->scheme == "jsonl" && url->path == "-") return absl::OkStatus();
  if (url->path == "-") {
    return absl::InvalidArgumentError("standard output (-) is for jsonl only");
  }
  if (url->scheme == "sqlite" && absl::StartsWith(url->path, ":memory:")) {
    return absl::InvalidArgumentError("want a file, not an in-memory database");
  }
  return CheckFilePath(url->path);
}

// postgres:// or postgresql://: checked loosely (libpq has the last word
// at Connect), kept whole for libpq.
absl::Status ParsePostgres(absl::string_view text, absl::string_view rest,
                           SinkUrl* url) {
  url->conninfo = std::string(text);
  for (char c : text) {
    if (absl::ascii_isspace(c) || absl::ascii_iscntrl(c)) {
      return absl::InvalidArgumentError("white space or a control character");
    }
  }
  absl::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  if (const size_t at = authority.rfind('@'); at != absl::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  // host[:port][,host[:port]...]; each part may be empty (libpq defaults).
  for (absl::string_view h : absl::StrSplit(authority, ',')) {
    if (h.empty()) continue;
    const bool bracketed = absl::StartsWith(h, "[");
    const size_t colon = bracketed ? h.find("]:") : h.rfind(':');
    if (bracketed && h.find(']') == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", h, "\": unclosed '['"));
    }
    if (colon == absl::string_view::npos) continue;
    const absl::string_view port = h.substr(colon + (bracketed ? 2 : 1));
    uint32_t n;
    if (!port.empty() && (!absl::SimpleAtoi(port, &n) || n == 0 || n > 65535)) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", port, "\" is not a port (1-65535)"));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseKafka(absl::string_view rest, SinkUrl* url) {
  const size_t slash = rest.find('/');
  if (slash == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "no topic: want kafka://HOST:PORT[,HOST:PORT...]/TOPIC");
  }
  const absl::string_view brokers = rest.substr(0, slash);
  if (absl::StrContains(brokers, '@')) {
    return absl::InvalidArgumentError(
        "credentials go in the query: ?sasl.username=...&sasl.password=...");
  }
  std::vector<std::string> hosts;
  for (absl::string_view hp : absl::StrSplit(brokers, ',')) {
    if (absl::Status s = CheckHostPort(hp); !s.ok()) return s;
    hosts.emplace_back(hp);
  }
  url->hosts = absl::StrJoin(hosts, ",");
  absl::string_view after = rest.substr(slash + 1);
  const size_t q = after.find('?');
  url->topic = std::string(after.substr(0, q));
  if (url->topic.empty()) return absl::InvalidArgumentError("no topic");
  if (url->topic.size() > 249 || url->topic == "." || url->topic == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", url->topic, "\" is not a Kafka topic name"));
  }
  for (char c : url->topic) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != '-') {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", url->topic,
          "\" is not a Kafka topic name (letters, digits, '.', '_', '-')"));
    }
  }
  if (q == absl::string_view::npos) return absl::OkStatus();
  for (absl::string_view p :
       absl::StrSplit(after.substr(q + 1), '&', absl::SkipEmpty())) {
    const size_t eq = p.find('=');
    if (eq == absl::string_view::npos || eq == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", IsSecretKey(p) ? "..." : p, "\": want property=value"));
    }
    std::string key, value;
    if (!PercentDecode(p.substr(0, eq), &key) ||
        !PercentDecode(p.substr(eq + 1), &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad %-escape in \"", p.substr(0, eq), "\""));
    }
    url->params.emplace_back(std::move(key), std::move(value));
  }
  return absl::OkStatus();
}

absl::Status ParseIpfix(absl::string_view rest, SinkUrl* url) {
  if (absl::EndsWith(rest, "/")) rest.remove_suffix(1);
  if (rest.find_first_of("/?@") != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "want ipfix://HOST:PORT or ipfix+tcp://HOST:PORT, nothing after");
  }
  if (absl::Status s = CheckHostPort(rest); !s.ok()) return s;
  url->hosts = std::string(rest);
  return absl::OkStatus();
}

// influx://[user[:password]@]HOST:PORT/DATABASE or
// influx2://HOST:PORT/ORG/BUCKET; names %-decoded.
absl::Status ParseInflux(absl::string_view rest, SinkUrl* url) {
  const bool v2 = url->scheme == "influx2";
  const absl::string_view want =
      v2 ? "want influx2://HOST:PORT/ORG/BUCKET"
         : "want influx://[USER:PASSWORD@]HOST:PORT/DATABASE";
  if (rest.find('?') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(want, ", no query"));
  }
  const size_t slash = rest.find('/');
  absl::string_view authority = rest.substr(0, slash);
  if (const size_t at = authority.rfind('@'); at != absl::string_view::npos) {
    if (v2) {
      return absl::InvalidArgumentError(
          "no user or password: the token comes from $INFLUX_TOKEN");
    }
    const absl::string_view userinfo = authority.substr(0, at);
    const size_t colon = userinfo.find(':');
    if (!PercentDecode(userinfo.substr(0, colon), &url->user) ||
        (colon != absl::string_view::npos &&
         !PercentDecode(userinfo.substr(colon + 1), &url->password))) {
      return absl::InvalidArgumentError("bad %-escape in the user or password");
    }
    if (url->user.empty()) return absl::InvalidArgumentError("empty user");
    authority.remove_prefix(at + 1);
  }
  if (absl::Status s = CheckHostPort(authority); !s.ok()) return s;
  url->hosts = std::string(authority);
  std::vector<std::string> names;
  if (slash != absl::string_view::npos) {
    for (absl::string_view part : absl::StrSplit(rest.substr(slash + 1), '/')) {
      std::string name;
      if (!PercentDecode(part, &name)) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad %-escape in \"", part, "\""));
      }
      if (name.empty()) return absl::InvalidArgumentError(want);
      names.push_back(std::move(name));
    }
  }
  if (names.size() != (v2 ? 2u : 1u)) return absl::InvalidArgumentError(want);
  if (v2) url->org = names[0];
  url->database = names.back();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SinkUrl> ParseSinkUrl(absl::string_view text) {
  SinkUrl url;
  url.redacted = Redact(text);
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("-sink=", url.redacted, ": ", why));
  };
  const size_t colon = text.find(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return bad(absl::StrCat("no scheme: ", kForms));
  }
  const absl::string_view scheme = text.substr(0, colon);
  absl::string_view rest = text.substr(colon + 1);
  absl::Status status;
  if (scheme == "sqlite" || scheme == "jsonl") {
    url.scheme = std::string(scheme);
    status = ParseFile(rest, &url);
  } else if (scheme == "postgres" || scheme == "postgresql" ||
             scheme == "kafka" || scheme == "ipfix" || scheme == "ipfix+tcp" ||
             scheme == "influx" || scheme == "influx2") {
    url.scheme = scheme == "postgresql" ? "postgres" : std::string(scheme);
    if (!absl::StartsWith(rest, "//")) {
      return bad(absl::StrCat("want ", scheme, "://..."));
    }
    rest.remove_prefix(2);
    if (url.scheme == "postgres") {
      status = ParsePostgres(text, rest, &url);
    } else if (url.scheme == "kafka") {
      status = ParseKafka(rest, &url);
    } else if (url.scheme == "influx" || url.scheme == "influx2") {
      status = ParseInflux(rest, &url);
    } else {
      status = ParseIpfix(rest, &url);
    }
  } else {
    return bad(absl::StrCat("unknown scheme \"", scheme, "\" (", kForms, ")"));
  }
  if (!status.ok()) return bad(status.message());
  return url;
}

}  // namespace sinks
