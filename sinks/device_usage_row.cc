#include "sinks/device_usage_row.h"

#include <string>
#include <variant>

namespace sinks {

DeviceUsageRow ToDeviceUsageRow(const flows::Measurement& m) {
  DeviceUsageRow row;
  row.time = m.time;
  for (const auto& [name, value] : m.tags) {
    if (name == "mac") row.mac = value;
  }
  for (const auto& [name, value] : m.fields) {
    const int64_t* integer = std::get_if<int64_t>(&value);
    const std::string* text = std::get_if<std::string>(&value);
    if (name == "download" && integer != nullptr) row.download = *integer;
    if (name == "upload" && integer != nullptr) row.upload = *integer;
    if (name == "ipv4" && text != nullptr) row.ipv4 = *text;
    if (name == "ipv6" && text != nullptr) row.ipv6 = *text;
  }
  return row;
}

}  // namespace sinks
