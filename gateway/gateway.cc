#include "gateway/gateway.h"

#include <linux/capability.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "collector/ip_address.h"
#include "gateway/device_usage.h"
#include "gateway/neighbours.h"
#include "gateway/nft_counters.h"
#include "metrics/labelled_counters.h"
#include "parse/timestamp.h"
#include "prometheus/metric_family.h"

namespace gateway {

namespace {

bool HaveNetAdmin() {
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  return (data[CAP_NET_ADMIN / 32].effective & (1u << (CAP_NET_ADMIN % 32))) !=
         0;
}

// The per-device families and the gateway's own counters.
class GatewayCollectable : public prometheus::Collectable {
 public:
  explicit GatewayCollectable(size_t max_series)
      : devices_(metrics::LabelledCountersOptions{
            .families = {{"tcpinfo_gateway_device_bytes_total",
                          "IP-layer bytes forwarded to (download) or from "
                          "(upload) a LAN device, by MAC."},
                         {"tcpinfo_gateway_device_packets_total",
                          "Packets forwarded to (download) or from (upload) "
                          "a LAN device, by MAC."}},
            .label_names = {"mac", "direction"},
            .max_series = max_series,
            .overflow_value = "other",
            .overflow_name = "tcpinfo_gateway_device_series_overflow_total",
            .overflow_help = "Device counter updates summed under "
                             "mac=\"other\" once -gateway.max-series "
                             "label sets exist."}) {}

  metrics::LabelledCounters& devices() { return devices_; }
  std::atomic<uint64_t> reads{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> neighbour_overflows{0};

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out = devices_.Collect();
    auto counter = [&](const char* name, const char* help, uint64_t value) {
      prometheus::MetricFamily f;
      f.name = name;
      f.help = help;
      f.type = prometheus::MetricType::Counter;
      prometheus::ClientMetric m;
      m.counter.value = static_cast<double>(value);
      f.metric.push_back(m);
      out.push_back(std::move(f));
    };
    counter("tcpinfo_gateway_counter_reads_total",
            "Reads of the nftables per-device counters.", reads.load());
    counter("tcpinfo_gateway_errors_total",
            "Failed reads of the per-device counters or neighbour table.",
            errors.load());
    counter("tcpinfo_gateway_neighbour_overflows_total",
            "Times neighbour events were lost (ENOBUFS) and the table was "
            "dumped again.",
            neighbour_overflows.load());
    return out;
  }

 private:
  metrics::LabelledCounters devices_;
};

std::string Address(const std::optional<collector::IpAddress>& a) {
  return a.has_value() ? collector::FormatIpAddress(*a) : std::string();
}

}  // namespace

struct Gateway::Rep {
  GatewayOptions options;
  flows::MeasurementConsumer* consumer = nullptr;
  std::unique_ptr<NftCounters> counters;
  std::unique_ptr<Neighbours> neighbours;
  DeviceUsage usage;
  std::shared_ptr<GatewayCollectable> collectable;
  std::vector<NftCount> read;
  int stop_fd = -1;
  std::thread thread;
  absl::Time last_error_log = absl::InfinitePast();

  ~Rep() {
    if (stop_fd >= 0) close(stop_fd);
  }

  void LogError(const absl::Status& s) {
    collectable->errors.fetch_add(1);
    const absl::Time now = absl::Now();
    if (now - last_error_log < absl::Seconds(10)) return;
    last_error_log = now;
    std::fprintf(stderr, "tcp-info: gateway: %s\n",
                 std::string(s.message()).c_str());
  }

  // One interval: neighbours, counters, measurements.
  void Tick() {
    if (absl::Status s = neighbours->Drain(); !s.ok()) LogError(s);
    collectable->neighbour_overflows.store(neighbours->overflows());
    if (absl::Status s = counters->Read(&read); !s.ok()) {
      LogError(s);
      return;
    }
    collectable->reads.fetch_add(1);
    std::vector<DeviceDelta> deltas = usage.Account(
        read,
        [&](const collector::IpAddress& a) { return neighbours->Lookup(a); });
    const parse::Timestamp now = parse::Timestamp::Now();
    for (const DeviceDelta& d : deltas) {
      const std::string mac = FormatMac(d.mac);
      const absl::string_view down[] = {mac, "download"};
      const absl::string_view up[] = {mac, "upload"};
      const uint64_t down_values[] = {d.download_bytes, d.download_packets};
      const uint64_t up_values[] = {d.upload_bytes, d.upload_packets};
      if (d.download_packets != 0) {
        collectable->devices().Add(down, down_values);
      }
      if (d.upload_packets != 0) collectable->devices().Add(up, up_values);
      if (consumer == nullptr) continue;
      const DeviceAddresses addresses = neighbours->AddressesOf(d.mac);
      flows::Measurement m;
      m.kind = flows::MeasurementKind::kDeviceUsage;
      m.time = now;
      m.tags = {{"mac", mac}};
      auto address = [](const std::optional<collector::IpAddress>& a) {
        return a.has_value() ? flows::FieldValue(Address(a))
                             : flows::FieldValue(std::monostate());
      };
      m.fields = {{"download", static_cast<int64_t>(d.download_bytes)},
                  {"upload", static_cast<int64_t>(d.upload_bytes)},
                  {"ipv4", address(addresses.ipv4)},
                  {"ipv6", address(addresses.ipv6)}};
      consumer->ConsumeMeasurement(std::move(m));
    }
  }

  void Loop() {
    pthread_setname_np(pthread_self(), "tcpinfo-gateway");
    absl::Time next = absl::Now() + options.interval;
    while (true) {
      const int64_t wait_ms = std::max<int64_t>(
          0, absl::ToInt64Milliseconds(next - absl::Now()) + 1);
      pollfd fds[2] = {{stop_fd, POLLIN, 0}, {neighbours->fd(), POLLIN, 0}};
      const int n = poll(fds, 2, static_cast<int>(wait_ms));
      if (n > 0 && (fds[0].revents & POLLIN) != 0) break;
      if (n > 0 && (fds[1].revents & POLLIN) != 0) {
        if (absl::Status s = neighbours->Drain(); !s.ok()) LogError(s);
      }
      const absl::Time now = absl::Now();
      if (now < next) continue;
      Tick();
      next += options.interval;
      if (next < now) next = now + options.interval;  // none queue up
    }
    Tick();  // the last partial interval
  }
};

Gateway::Gateway(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}

Gateway::~Gateway() { Stop(); }

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Start(
    GatewayOptions options, flows::MeasurementConsumer* consumer) {
  if (options.lan_interfaces.empty()) {
    return absl::InvalidArgumentError("gateway mode needs -gateway.lan");
  }
  if (!HaveNetAdmin()) {
    return absl::PermissionDeniedError(
        "gateway mode needs CAP_NET_ADMIN (to create its nftables table and "
        "read conntrack)");
  }
  std::vector<int> ifindexes;
  for (const std::string& name : options.lan_interfaces) {
    const unsigned index = if_nametoindex(name.c_str());
    if (index == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "-gateway.lan: no interface \"", name, "\" in this namespace"));
    }
    ifindexes.push_back(static_cast<int>(index));
  }
  auto rep = std::make_unique<Rep>();
  rep->options = options;
  rep->consumer = consumer;
  rep->collectable = std::make_shared<GatewayCollectable>(options.max_series);
  absl::StatusOr<std::unique_ptr<Neighbours>> neighbours =
      Neighbours::Open(ifindexes);
  if (!neighbours.ok()) return neighbours.status();
  rep->neighbours = *std::move(neighbours);
  absl::StatusOr<std::unique_ptr<NftCounters>> counters =
      NftCounters::Create(options.lan_interfaces, options.max_keys);
  if (!counters.ok()) return counters.status();
  rep->counters = *std::move(counters);
  rep->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (rep->stop_fd < 0) return absl::InternalError("gateway: eventfd");
  Rep* r = rep.get();
  rep->thread = std::thread([r] { r->Loop(); });
  return std::unique_ptr<Gateway>(new Gateway(std::move(rep)));
}

void Gateway::Stop() {
  if (!rep_->thread.joinable()) return;
  const uint64_t one = 1;
  (void)!write(rep_->stop_fd, &one, sizeof(one));
  rep_->thread.join();
  rep_->counters.reset();  // removes the table
}

std::shared_ptr<prometheus::Collectable> Gateway::collectable() const {
  return rep_->collectable;
}

}  // namespace gateway
