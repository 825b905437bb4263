// ServiceNames: TCP port -> service name, read from /etc/services (or a file
// in its format), as network-traffic-metrics labels `service`.
//
// A line is `name port/protocol [aliases...] [# comment]`; only tcp lines
// count, and the first line naming a port wins (the canonical name, as
// getservbyport returns it). A port without a line has the name "".
//
// Immutable after Load; Name() is thread-safe and allocates nothing.
#ifndef TCPINFO_TRAFFIC_SERVICE_NAMES_H_
#define TCPINFO_TRAFFIC_SERVICE_NAMES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace traffic {

class ServiceNames {
 public:
  // No names: every port is "".
  ServiceNames() = default;

  // The tcp names of file `path`; NotFound if it cannot be read (lines it
  // cannot read as a service are skipped).
  static absl::StatusOr<ServiceNames> Load(const std::string& path);
  // The same from the file's text.
  static ServiceNames Parse(absl::string_view text);

  // The name of `port`, "" if it has none.
  absl::string_view Name(uint16_t port) const {
    if (port >= index_.size() || index_[port] == 0) return "";
    return names_[index_[port] - 1];
  }

  size_t size() const { return names_.size(); }

 private:
  std::vector<std::string> names_;
  // Per port: 1 + its index in names_, 0 for none (65536 entries once a
  // name was read).
  std::vector<uint32_t> index_;
};

}  // namespace traffic

#endif  // TCPINFO_TRAFFIC_SERVICE_NAMES_H_
