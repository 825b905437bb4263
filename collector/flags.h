// Command-line flags of tcp-info, compatible with the Go reference's (Go's
// flag package plus m-lab/go flagx.ArgsFromEnv):
//
//  - one or two leading dashes: -output=DIR, --output DIR;
//  - a boolean flag alone means true; otherwise -flag=false (Go's
//    strconv.ParseBool spellings: 1 0 t f true false TRUE ...);
//  - every other flag needs a value, -flag=value or -flag value (the next
//    argument, whatever it is); -logx.debug too: in the reference it is a
//    flag.Value that is not a bool flag, so it takes true/false like this;
//  - repeatable flags (-exclude-srcport, -exclude-dstip) add one value per
//    use; a comma-separated list adds several; -sink takes one URL per use
//    (a URL may hold commas), and $SINK several separated by white space;
//  - every flag can also come from the environment, named by upper-casing
//    it and turning '.' and '-' into '_' (PROMETHEUSX_LISTEN_ADDRESS); a
//    flag given on the command line ignores its variable;
//  - "--" ends the flags; positional arguments are refused;
//  - -h / -help asks for Usage().
//
// Thread-safe. ParseFlags, EnvName and Usage are pure; PrepareOutputDirectory
// and UuidPrefix touch the file system.
#ifndef TCPINFO_COLLECTOR_FLAGS_H_
#define TCPINFO_COLLECTOR_FLAGS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "collector/anonymizer.h"
#include "collector/collector.h"
#include "collector/ip_address.h"
#include "filter/program.h"

namespace collector {

struct Config {
  std::string output;  // "" = the current directory
  int64_t reps = 0;
  std::vector<uint16_t> exclude_srcports;
  std::vector<IpAddress> exclude_dstips;
  AnonymizeMode anonymize = AnonymizeMode::kNone;
  std::string uuid_prefix_file;  // "" = saver::DefaultUuidPrefix()
  absl::Duration interval = absl::Milliseconds(10);
  PollMode poll_mode = PollMode::kFull;
  absl::Duration discovery_interval = absl::Seconds(1);
  bool include_local = false;
  std::shared_ptr<const filter::Program> filter;  // -filter; null: none
  std::string prometheus_listen_address = ":9990";
  std::string eventsocket;
  bool destroy_events = true;
  // -sink, in order; checked by sinks::ParseSinkUrl in main.
  std::vector<std::string> sinks;
  size_t sink_queue_size = 65536;
  absl::Duration flows_active_timeout = absl::Seconds(60);
  // -api.keep-closed: how long the query API keeps a closed connection.
  absl::Duration api_keep_closed = absl::Seconds(10);
  // Gateway mode (-gateway.*): off while gateway_lan is empty.
  std::vector<std::string> gateway_lan;
  absl::Duration gateway_interval = absl::Seconds(1);
  size_t gateway_max_series = 1000;
  // -traffic: bytes and packets by peer and service (traffic/). The
  // prefixes are checked by traffic::AddressPrefix::Parse in main.
  bool traffic = false;
  std::string traffic_metric_prefix = "ntm";
  std::string traffic_local_prefix;   // "" = whole addresses
  std::string traffic_remote_prefix;  // "" = whole addresses
  size_t traffic_max_series = 1000;
  bool traffic_fqdn = false;
  bool owners = false;  // -owners: each connection's process, user, cgroup
  size_t owners_max_series = 500;
  absl::Duration owners_interval = absl::Seconds(10);
  // -netns: "" (the agent's own namespace), "all", or a comma list of
  // names, paths and pid:N; checked by netns::ParseNetnsSpec in main.
  std::string netns;
  // -netns.child-ehash: set net.ipv4.tcp_child_ehash_entries at start; -1
  // leaves it as it is.
  int64_t netns_child_ehash = -1;
  bool logx_debug = false;  // -logx.debug: debug lines on stderr
  bool trace = false;       // accepted for compatibility; no effect
  bool help = false;        // -h or -help was given; nothing else is checked
};

// Looks up an environment variable; nullopt if unset.
using EnvLookup =
    absl::FunctionRef<std::optional<std::string>(const std::string& name)>;

// Parses `args` (without the program name) and then the environment.
// InvalidArgument with one line ("unknown flag -x", "invalid value ... for
// flag -reps: ...") on any mistake.
absl::StatusOr<Config> ParseFlags(const std::vector<std::string>& args,
                                  EnvLookup env);

// The environment variable for `flag`: "prometheusx.listen-address" ->
// "PROMETHEUSX_LISTEN_ADDRESS".
std::string EnvName(absl::string_view flag);

// The -help text: every flag, its default, its variable and what it does.
std::string Usage(absl::string_view program);

// Makes `output` ("" = ".", relative to the working directory) ready:
// creates it and any missing parents, as mkdir -p and the reference's
// os.MkdirAll do (mode 0755 less the umask), then checks that it is a
// directory this process may write to. Symbolic links on the way are
// followed; one that dangles (its target missing) is refused rather than
// its target created, as mkdir -p and os.MkdirAll refuse it. Returns
// whether it created anything; FailedPrecondition with one line naming
// the path and the problem otherwise (a component that is a file, no
// permission, read-only file system, a dangling link). A failure may leave
// the parents it created.
absl::StatusOr<bool> PrepareOutputDirectory(const std::string& output);

// The uuid prefix: the contents of uuid_prefix_file without trailing
// whitespace, or saver::DefaultUuidPrefix() if none was given.
absl::StatusOr<std::string> UuidPrefix(const Config& config);

}  // namespace collector

#endif  // TCPINFO_COLLECTOR_FLAGS_H_
