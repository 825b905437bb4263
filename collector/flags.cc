#include "collector/flags.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "saver/saver.h"

namespace collector {
namespace {

struct FlagSpec {
  const char* name;
  const char* type;  // "" for booleans
  const char* default_text;
  const char* help;
  bool repeatable;
  // Parses one value into the config; the error says why it is bad.
  std::function<absl::Status(absl::string_view value, Config* config)> set;
};

absl::Status Bad(absl::string_view why) {
  return absl::InvalidArgumentError(why);
}

absl::StatusOr<bool> ParseBool(absl::string_view v) {
  for (const char* t : {"1", "t", "T", "true", "TRUE", "True"}) {
    if (v == t) return true;
  }
  for (const char* f : {"0", "f", "F", "false", "FALSE", "False"}) {
    if (v == f) return false;
  }
  return Bad("want true or false");
}

// A Go-syntax duration (10ms, 1m30s), at least `min`, not infinite.
absl::Status SetDuration(absl::string_view v, absl::Duration min,
                         absl::Duration* out) {
  absl::Duration d;
  if (!absl::ParseDuration(v, &d) || d < min || d == absl::InfiniteDuration()) {
    return Bad(absl::StrCat("want a duration >= ", absl::FormatDuration(min),
                            " such as 10ms or 1s"));
  }
  *out = d;
  return absl::OkStatus();
}

// A Prometheus metric name prefix.
bool IsMetricPrefix(absl::string_view v) {
  if (v.empty()) return false;
  for (size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    const bool letter = absl::ascii_isalpha(c) || c == '_' || c == ':';
    if (!letter && !(i > 0 && absl::ascii_isdigit(c))) return false;
  }
  return true;
}

// Flags whose repeated values are URLs, which may hold commas: one value
// per use on the command line, white-space separated in the environment.
bool TakesUrls(absl::string_view flag) { return flag == "sink"; }

absl::Status SetBool(absl::string_view v, bool* out) {
  absl::StatusOr<bool> b = ParseBool(v);
  if (!b.ok()) return b.status();
  *out = *b;
  return absl::OkStatus();
}

const std::vector<FlagSpec>& Specs() {
  static const std::vector<FlagSpec>* const specs = new std::vector<FlagSpec>{
      {"output", "string", "\"\" (the current directory)",
       "Directory in which to put the resulting tree of data "
       "(YYYY/MM/DD/<uuid>.<seq>.jsonl.zst). Created with its parents (mode "
       "0755 less the umask) if missing; it must then be a writable "
       "directory. A symbolic link to a directory is followed; a dangling "
       "one is refused, as by the reference and mkdir -p.",
       false,
       [](absl::string_view v, Config* c) {
         c->output = std::string(v);
         return absl::OkStatus();
       }},
      {"reps", "int", "0",
       "How many cycles should be recorded, 0 means continuous.", false,
       [](absl::string_view v, Config* c) {
         int64_t n;
         if (!absl::SimpleAtoi(v, &n) || n < 0) {
           return Bad("want a whole number >= 0");
         }
         c->reps = n;
         return absl::OkStatus();
       }},
      {"interval", "duration", "10ms",
       "Polling period, start to start (Go syntax: 10ms, 1s, 1m30s). A cycle "
       "that takes longer is followed at once by the next; none queue up.",
       false,
       [](absl::string_view v, Config* c) {
         return SetDuration(v, absl::ZeroDuration(), &c->interval);
       }},
      {"poll.mode", "mode", "full",
       "\"full\" dumps every TCP socket every -interval, as the reference. "
       "\"adaptive\" asks only about the connections that changed in their "
       "last max(10, 500ms/-interval) cycles (one exact inet_diag request "
       "each), dumping instead "
       "whenever that is cheaper and every -poll.discovery-interval (README, "
       "Adaptive polling).",
       false,
       [](absl::string_view v, Config* c) {
         if (v == "full") {
           c->poll_mode = PollMode::kFull;
         } else if (v == "adaptive") {
           c->poll_mode = PollMode::kAdaptive;
         } else {
           return Bad("want \"full\" or \"adaptive\"");
         }
         return absl::OkStatus();
       }},
      {"poll.discovery-interval", "duration", "1s",
       "With -poll.mode=adaptive: the longest time between two full dumps, "
       "which find new connections and the idle ones' changes (so the "
       "longest they can be late).",
       false,
       [](absl::string_view v, Config* c) {
         return SetDuration(v, absl::Milliseconds(1), &c->discovery_interval);
       }},
      {"exclude-srcport", "port", "none",
       "Exclude connections whose source (local) port is this one. "
       "Repeatable; a comma-separated list gives several.",
       true,
       [](absl::string_view v, Config* c) {
         uint32_t port;
         if (!absl::SimpleAtoi(v, &port) || port > 65535) {
           return Bad("want a port number 0-65535");
         }
         c->exclude_srcports.push_back(static_cast<uint16_t>(port));
         return absl::OkStatus();
       }},
      {"exclude-dstip", "ip", "none",
       "Exclude connections whose destination (remote) address is this IPv4 "
       "or IPv6 address. Repeatable; a comma-separated list gives several.",
       true,
       [](absl::string_view v, Config* c) {
         absl::StatusOr<IpAddress> a = ParseIpAddress(v);
         if (!a.ok()) return Bad("want an IPv4 or IPv6 address");
         c->exclude_dstips.push_back(*a);
         return absl::OkStatus();
       }},
      {"anonymize.ip", "method", "none",
       "Valid values are \"none\" and \"netblock\". netblock zeroes the host "
       "part of every address that is not this host's own (IPv4 to /24, IPv6 "
       "to /64) before anything is compared or written.",
       false,
       [](absl::string_view v, Config* c) {
         absl::StatusOr<AnonymizeMode> m = ParseAnonymizeMode(v);
         if (!m.ok()) return Bad("want \"none\" or \"netblock\"");
         c->anonymize = *m;
         return absl::OkStatus();
       }},
      {"uuid-prefix-file", "file", "\"\" (<hostname>_<boot time>_unsafe)",
       "The file holding the UUID prefix for sockets created in this network "
       "namespace.",
       false,
       [](absl::string_view v, Config* c) {
         c->uuid_prefix_file = std::string(v);
         return absl::OkStatus();
       }},
      {"include-local", "", "false",
       "Also archive loopback, link-local, multicast and unspecified "
       "connections (skipped by default, as the reference does).",
       false,
       [](absl::string_view v, Config* c) {
         return SetBool(v, &c->include_local);
       }},
      {"filter", "expr", "\"\" (every connection)",
       "Only connections this expression selects are archived, summarized, "
       "counted and reported; the kernel evaluates it (inet_diag bytecode). "
       "ss's filter syntax (state established, sport >= :1024, dst "
       "10.77.0.0/16, and/or/not, parentheses) or tcpdump's primitives "
       "(host, net, port, portrange, src/dst); see README \"Filters\". "
       "Combined with -exclude-* and -include-local.",
       false,
       [](absl::string_view v, Config* c) {
         absl::StatusOr<filter::Program> p = filter::Program::Create(v);
         if (!p.ok()) return p.status();
         c->filter = std::make_shared<const filter::Program>(*std::move(p));
         return absl::OkStatus();
       }},
      {"prometheusx.listen-address", "address", "\":9990\"",
       "Address to serve Prometheus metrics on.", false,
       [](absl::string_view v, Config* c) {
         c->prometheus_listen_address = std::string(v);
         return absl::OkStatus();
       }},
      {"tcpinfo.eventsocket", "path", "\"\" (none)",
       "The filename of the unix-domain socket on which events are served.",
       false,
       [](absl::string_view v, Config* c) {
         c->eventsocket = std::string(v);
         return absl::OkStatus();
       }},
      {"destroy-events", "", "true",
       "Listen to the kernel's TCP socket destroy events, to record every "
       "connection's final state (-destroy-events=false turns it off).",
       false,
       [](absl::string_view v, Config* c) {
         return SetBool(v, &c->destroy_events);
       }},
      {"sink", "url", "none",
       "Also write flow records (one per connection per active timeout, and "
       "one when it ends) to this sink: sqlite:PATH, jsonl:PATH, jsonl:- "
       "(standard output), postgres://[user[:password]@]host[:port]/db, "
       "kafka://HOST:PORT[,HOST:PORT...]/TOPIC[?property=value&...], "
       "ipfix://HOST:PORT (UDP), ipfix+tcp://HOST:PORT, "
       "influx://[user:password@]HOST:PORT/DATABASE (InfluxDB 1.x) or "
       "influx2://HOST:PORT/ORG/BUCKET (InfluxDB 2.x, token from "
       "$INFLUX_TOKEN). Repeatable, one URL per use; $SINK holds one or "
       "several separated by white space.",
       true,
       [](absl::string_view v, Config* c) {
         c->sinks.emplace_back(v);
         return absl::OkStatus();
       }},
      {"sink.queue-size", "records", "65536",
       "Flow records each sink holds while its destination is slow or down; "
       "beyond it new records are dropped and counted.",
       false,
       [](absl::string_view v, Config* c) {
         size_t n;
         if (!absl::SimpleAtoi(v, &n) || n < 1 || n > 100000000) {
           return Bad("want a whole number 1-100000000");
         }
         c->sink_queue_size = n;
         return absl::OkStatus();
       }},
      {"flows.active-timeout", "duration", "60s",
       "How often a live connection that moved gets an interim flow record "
       "(Go syntax: 30s, 5m).",
       false,
       [](absl::string_view v, Config* c) {
         return SetDuration(v, absl::Seconds(1), &c->flows_active_timeout);
       }},
      {"api.keep-closed", "duration", "10s",
       "How long the query API (/api/v1/connections on the metrics address) "
       "still answers for a connection after it closed, with its final "
       "record (Go syntax: 10s, 1m; 0s: not at all).",
       false,
       [](absl::string_view v, Config* c) {
         return SetDuration(v, absl::ZeroDuration(), &c->api_keep_closed);
       }},
      {"gateway.lan", "interface", "none (gateway mode off)",
       "Gateway mode: count every LAN device's download and upload (by MAC) "
       "forwarded through this router from or to this LAN interface. "
       "Repeatable; a comma-separated list gives several. Needs "
       "CAP_NET_ADMIN (README \"Gateway mode\").",
       true,
       [](absl::string_view v, Config* c) {
         if (v.empty()) return Bad("want an interface name");
         c->gateway_lan.emplace_back(v);
         return absl::OkStatus();
       }},
      {"gateway.interval", "duration", "1s",
       "Gateway mode: how often each device's usage is counted and written "
       "(one device_usage row per device with traffic).",
       false,
       [](absl::string_view v, Config* c) {
         return SetDuration(v, absl::Milliseconds(100), &c->gateway_interval);
       }},
      {"gateway.max-series", "count", "1000",
       "Gateway mode: at most this many per-device label sets (mac, "
       "direction) in the Prometheus counters; later devices are summed "
       "under mac=\"other\".",
       false,
       [](absl::string_view v, Config* c) {
         size_t n;
         if (!absl::SimpleAtoi(v, &n) || n < 1 || n > 1000000) {
           return Bad("want a whole number 1-1000000");
         }
         c->gateway_max_series = n;
         return absl::OkStatus();
       }},
      {"traffic", "", "false",
       "Also count bytes and packets by peer and service on the metrics "
       "port, as network-traffic-metrics does: <prefix>_bytes_total and "
       "<prefix>_packets_total with labels src, dst, service and proto, and "
       "tcpinfo_traffic_payload_bytes_total, from every connection's "
       "tcp_info counters (see the README, \"Traffic by peer and "
       "service\").",
       false,
       [](absl::string_view v, Config* c) {
         return SetBool(v, &c->traffic);
       }},
      {"traffic.metric-prefix", "prefix", "ntm",
       "Name prefix of the -traffic byte and packet counters.", false,
       [](absl::string_view v, Config* c) {
         if (!IsMetricPrefix(v)) {
           return Bad("want a metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)");
         }
         c->traffic_metric_prefix = std::string(v);
         return absl::OkStatus();
       }},
      {"traffic.local-prefix", "bits", "\"\" (whole addresses)",
       "Label local addresses by their network: V4 (IPv4 to /V4, IPv6 "
       "whole) or V4,V6 (IPv6 to /V6 too), e.g. 24,64. v4-mapped IPv6 "
       "addresses count as IPv4.",
       false,
       [](absl::string_view v, Config* c) {
         c->traffic_local_prefix = std::string(v);
         return absl::OkStatus();
       }},
      {"traffic.remote-prefix", "bits", "\"\" (whole addresses)",
       "The same for remote addresses.", false,
       [](absl::string_view v, Config* c) {
         c->traffic_remote_prefix = std::string(v);
         return absl::OkStatus();
       }},
      {"traffic.max-series", "series", "1000",
       "At most this many label sets per -traffic counter; traffic of new "
       "ones is summed under src=dst=service=proto=\"other\" and counted "
       "in tcpinfo_traffic_series_overflow_total.",
       false,
       [](absl::string_view v, Config* c) {
         size_t n;
         if (!absl::SimpleAtoi(v, &n) || n < 1 || n > 10000000) {
           return Bad("want a whole number 1-10000000");
         }
         c->traffic_max_series = n;
         return absl::OkStatus();
       }},
      {"traffic.fqdn", "", "false",
       "Label -traffic peers by their reverse-DNS names, resolved on a "
       "thread of their own (at most 20 a second, cached 10 minutes); an "
       "address is its own label until its name is known.",
       false,
       [](absl::string_view v, Config* c) {
         return SetBool(v, &c->traffic_fqdn);
       }},
      {"owners", "", "false",
       "Name each connection's owner: process (pid, name, executable), uid "
       "and user, cgroup v2 path, container id, Kubernetes pod, systemd "
       "unit; in flow records, open events, per-owner metrics "
       "(tcpinfo_owner_*) and per-process measurements. With the privilege "
       "a BPF hook records the process of each connection as it is made; "
       "without it /proc scans alone.",
       false,
       [](absl::string_view v, Config* c) { return SetBool(v, &c->owners); }},
      {"owners.max-series", "series", "500",
       "Label sets each per-owner metric family keeps (per process, per "
       "user, per container or unit); the rest is summed under \"other\".",
       false,
       [](absl::string_view v, Config* c) {
         size_t n;
         if (!absl::SimpleAtoi(v, &n) || n < 1 || n > 1000000) {
           return Bad("want a whole number 1-1000000");
         }
         c->owners_max_series = n;
         return absl::OkStatus();
       }},
      {"owners.interval", "duration", "10s",
       "Period of the per-process traffic measurements (network_data) "
       "handed to the sinks that take them.",
       false,
       [](absl::string_view v, Config* c) {
         return SetDuration(v, absl::Seconds(1), &c->owners_interval);
       }},
      {"netns", "list", "\"\" (the agent's own)",
       "Network namespaces to poll instead of the agent's own: all (every "
       "namespace on the host: /run/netns, /run/docker/netns and every "
       "process's, new ones within a second), or a comma list of names in "
       "/run/netns, paths to namespace files and pid:N. Records, events and "
       "metrics then carry each connection's namespace (its name, else its "
       "inode).",
       false,
       [](absl::string_view v, Config* c) {
         c->netns = std::string(v);
         return absl::OkStatus();
       }},
      {"netns.child-ehash", "buckets", "unset",
       "Set net.ipv4.tcp_child_ehash_entries of the agent's namespace at "
       "start (0 turns it off): namespaces created from it afterwards get "
       "a TCP established hash of their own, so that polling each one walks "
       "only its own sockets, not the host's whole table (kernel 5.19+).",
       false,
       [](absl::string_view v, Config* c) {
         int64_t n;
         if (!absl::SimpleAtoi(v, &n) || n < 0 || n > 16777216) {
           return Bad("want a whole number 0-16777216");
         }
         c->netns_child_ehash = n;
         return absl::OkStatus();
       }},
      {"logx.debug", "value", "false",
       "true or false (Go's spellings): debug lines on stderr, prefixed "
       "\"tcp-info: debug:\": at start the configuration and whether -output "
       "was created; each cycle's counts and the archive files created (at "
       "most one line a second); each connection opened (its uuid, which "
       "names its files, and addresses) or closed, each dump irregularity "
       "and destroy event (at most 10 lines a second of each kind, with the "
       "number held back). As in the reference it is a value flag, not a "
       "boolean: -logx.debug=true or -logx.debug true; alone it is an "
       "error.",
       false,
       [](absl::string_view v, Config* c) {
         return SetBool(v, &c->logx_debug);
       }},
      {"trace", "", "false", "Accepted for compatibility; has no effect.",
       false,
       [](absl::string_view v, Config* c) { return SetBool(v, &c->trace); }},
      {"prom", "address", "(unset)",
       "Older reference versions' name for -prometheusx.listen-address; "
       "sets the same thing.",
       false,
       [](absl::string_view v, Config* c) {
         c->prometheus_listen_address = std::string(v);
         return absl::OkStatus();
       }},
  };
  return *specs;
}

const FlagSpec* Find(absl::string_view name) {
  for (const FlagSpec& s : Specs()) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

// Applies `value` (split on commas for repeatable flags; URLs split on
// white space when from the environment) to `config`.
absl::Status Apply(const FlagSpec& spec, absl::string_view value,
                   absl::string_view source, Config* config) {
  std::vector<absl::string_view> values;
  if (TakesUrls(spec.name)) {
    if (absl::StartsWith(source, "$")) {
      values = absl::StrSplit(value, absl::ByAnyChar(" \t\n"),
                              absl::SkipWhitespace());
    } else {
      values.push_back(value);
    }
  } else if (spec.repeatable) {
    values = absl::StrSplit(value, ',', absl::SkipWhitespace());
  } else {
    values.push_back(value);
  }
  for (absl::string_view v : values) {
    absl::Status s = spec.set(absl::StripAsciiWhitespace(v), config);
    if (!s.ok()) {
      return Bad(absl::StrCat("invalid value \"", v, "\" for ", source, ": ",
                              s.message()));
    }
  }
  return absl::OkStatus();
}

// Appends `text` word-wrapped to `width` columns, each line indented by
// `indent` spaces.
void AppendWrapped(absl::string_view text, size_t indent, size_t width,
                   std::string* out) {
  size_t column = 0;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (column > 0 && column + 1 + word.size() > width) {
      out->push_back('\n');
      column = 0;
    }
    if (column == 0) {
      out->append(indent, ' ');
      column = indent;
    } else {
      out->push_back(' ');
      ++column;
    }
    absl::StrAppend(out, word);
    column += word.size();
  }
  out->push_back('\n');
}

}  // namespace

std::string EnvName(absl::string_view flag) {
  std::string name = absl::AsciiStrToUpper(flag);
  for (char& ch : name) {
    if (ch == '.' || ch == '-') ch = '_';
  }
  return name;
}

absl::StatusOr<Config> ParseFlags(const std::vector<std::string>& args,
                                  EnvLookup env) {
  Config config;
  std::set<std::string> given;
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "--") {
      if (i + 1 < args.size()) {
        return Bad(absl::StrCat("unexpected argument \"", args[i + 1], "\""));
      }
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      return Bad(absl::StrCat("unexpected argument \"", arg, "\""));
    }
    absl::string_view body = arg.substr(1);
    if (body[0] == '-') body.remove_prefix(1);
    if (body.empty() || body[0] == '-' || body[0] == '=') {
      return Bad(absl::StrCat("bad flag syntax: ", arg));
    }
    absl::string_view name = body, value;
    bool has_value = false;
    if (const size_t eq = body.find('='); eq != absl::string_view::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    if (name == "h" || name == "help") {
      config.help = true;
      return config;
    }
    const FlagSpec* spec = Find(name);
    if (spec == nullptr) {
      return Bad(absl::StrCat("unknown flag -", name, " (see -help)"));
    }
    const bool is_bool = spec->type[0] == '\0';
    if (!has_value) {
      if (is_bool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return Bad(absl::StrCat("flag needs an argument: -", name));
      }
    }
    absl::Status s =
        Apply(*spec, value, absl::StrCat("flag -", spec->name), &config);
    if (!s.ok()) return s;
    given.insert(spec->name);
  }
  for (const FlagSpec& spec : Specs()) {
    if (given.count(spec.name) != 0) continue;
    const std::string var = EnvName(spec.name);
    std::optional<std::string> value = env(var);
    if (!value.has_value()) continue;
    absl::Status s = Apply(spec, *value, absl::StrCat("$", var), &config);
    if (!s.ok()) return s;
  }
  return config;
}

std::string Usage(absl::string_view program) {
  std::string out = absl::StrCat(
      "Usage: ", program,
      " [flags]\n\n"
      "Archives the state of every TCP connection of this network namespace,\n"
      "polled through netlink inet_diag, as zstd-compressed JSONL files.\n\n"
      "Flags take one or two dashes and -flag=value or -flag value (booleans:\n"
      "-flag or -flag=false). Each can also be set from the environment\n"
      "variable named in brackets; the command line wins.\n\n");
  for (const FlagSpec& s : Specs()) {
    absl::StrAppend(&out, "  -", s.name, s.type[0] ? " " : "", s.type, "  [$",
                    EnvName(s.name), "]\n");
    AppendWrapped(absl::StrCat(s.help, " (default ", s.default_text, ")"), 6,
                  78, &out);
  }
  absl::StrAppend(&out, "  -help\n      Print this text and exit.\n");
  return out;
}

absl::StatusOr<bool> PrepareOutputDirectory(const std::string& output) {
  const std::string dir = output.empty() ? "." : output;
  // "-output <dir>: [<component>: ]<why>".
  auto fail = [&dir](absl::string_view why, const std::string& at = "") {
    const std::string where =
        at.empty() || at == dir ? "" : absl::StrCat(at, ": ");
    return absl::FailedPreconditionError(
        absl::StrCat("-output ", dir, ": ", where, why));
  };
  // mkdir -p, one component at a time from the first; an existing one
  // (EEXIST) is passed, and is checked by the next mkdir or the stat below.
  bool created = false;
  size_t end = 0;
  while (end != std::string::npos) {
    end = dir.find('/', end + 1);
    const std::string prefix = dir.substr(0, end);
    if (prefix.empty() || prefix.back() == '/') continue;  // "/" or "a//b"
    if (mkdir(prefix.c_str(), 0755) == 0) {
      created = true;
      continue;
    }
    const int error = errno;
    if (error != EEXIST) {
      return fail(absl::StrCat("cannot create: ", std::strerror(error)),
                  prefix);
    }
    struct stat st;
    if (lstat(prefix.c_str(), &st) == 0 && S_ISLNK(st.st_mode) &&
        stat(prefix.c_str(), &st) != 0 && errno == ENOENT) {
      char target[4096];
      const ssize_t n = readlink(prefix.c_str(), target, sizeof(target));
      return fail(absl::StrCat("symbolic link to missing ",
                               absl::string_view(
                                   target, n > 0 ? static_cast<size_t>(n) : 0)),
                  prefix);
    }
  }
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) return fail(std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) return fail("not a directory");
  if (access(dir.c_str(), W_OK | X_OK) != 0) {
    return fail(absl::StrCat("not writable: ", std::strerror(errno)));
  }
  return created;
}

absl::StatusOr<std::string> UuidPrefix(const Config& config) {
  if (config.uuid_prefix_file.empty()) return saver::DefaultUuidPrefix();
  std::ifstream in(config.uuid_prefix_file, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("-uuid-prefix-file ", config.uuid_prefix_file, ": ",
                     std::strerror(errno)));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string prefix(absl::StripTrailingAsciiWhitespace(ss.str()));
  if (prefix.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "-uuid-prefix-file ", config.uuid_prefix_file, ": file is empty"));
  }
  return prefix;
}

}  // namespace collector
